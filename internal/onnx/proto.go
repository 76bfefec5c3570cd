package onnx

import (
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The parts of onnx.proto the executor reads, decoded straight from the
// wire format with protowire: field numbers are those of onnx.proto3
// (github.com/onnx/onnx, onnx/onnx.proto3), which every opset shares.
// Unknown fields are skipped, as protobuf requires. Decoding the file here
// keeps generated code for the whole schema, and the tensor library it
// used to come with, out of the server.

type modelProto struct {
	opsets []opsetID
	graph  *graphProto
}

type opsetID struct {
	domain  string
	version int64
}

type graphProto struct {
	nodes   []*nodeProto
	inits   []*tensorProto
	inputs  []*valueInfo
	outputs []*valueInfo
}

type nodeProto struct {
	inputs, outputs      []string
	name, opType, domain string
	attrs                []*attrProto
}

type attrProto struct {
	name   string
	f      float32
	i      int64
	t      *tensorProto
	floats []float32
	ints   []int64
}

type tensorProto struct {
	name       string
	dims       []int64
	dataType   int32
	floatData  []float32
	int32Data  []int32
	int64Data  []int64
	doubleData []float64
	raw        []byte
	hasRaw     bool
	external   bool
	// raw_data left in the model's file (ParseFile): rawLen bytes at rawAt.
	file          io.ReaderAt
	rawAt, rawLen int64
}

// valueInfo is a graph input or output: its name, element type and shape
// (a size, or -1 for a named or unknown dimension).
type valueInfo struct {
	name     string
	elemType int32
	dims     []int
}

// field is one decoded field: x for varint and fixed-width values, b for
// length-delimited ones.
type field struct {
	num protowire.Number
	typ protowire.Type
	x   uint64
	b   []byte
	// where a length-delimited field lies in a file, when walkAt left its
	// bytes there (b nil)
	at, n int64
}

// walk calls f for each field of a message.
func walk(b []byte, f func(field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		fl := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			fl.x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			fl.x = uint64(v)
		case protowire.Fixed64Type:
			fl.x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			fl.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(fl); err != nil {
			return err
		}
	}
	return nil
}

// varints appends a repeated integer field, packed or not.
func varints[T int32 | int64](dst []T, fl field) ([]T, error) {
	if fl.typ != protowire.BytesType {
		return append(dst, T(fl.x)), nil
	}
	for b := fl.b; len(b) > 0; {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		dst = append(dst, T(v))
		b = b[n:]
	}
	return dst, nil
}

// float32s appends a repeated float field, packed or not.
func float32s(dst []float32, fl field) ([]float32, error) {
	if fl.typ != protowire.BytesType {
		return append(dst, math.Float32frombits(uint32(fl.x))), nil
	}
	if len(fl.b)%4 != 0 {
		return nil, fmt.Errorf("packed floats of %d bytes", len(fl.b))
	}
	for b := fl.b; len(b) > 0; b = b[4:] {
		v, _ := protowire.ConsumeFixed32(b)
		dst = append(dst, math.Float32frombits(v))
	}
	return dst, nil
}

// float64s appends a repeated double field, packed or not.
func float64s(dst []float64, fl field) ([]float64, error) {
	if fl.typ != protowire.BytesType {
		return append(dst, math.Float64frombits(fl.x)), nil
	}
	if len(fl.b)%8 != 0 {
		return nil, fmt.Errorf("packed doubles of %d bytes", len(fl.b))
	}
	for b := fl.b; len(b) > 0; b = b[8:] {
		v, _ := protowire.ConsumeFixed64(b)
		dst = append(dst, math.Float64frombits(v))
	}
	return dst, nil
}

// message decodes a length-delimited field into a new message.
func message[T any](fl field, decode func([]byte, *T) error) (*T, error) {
	if fl.typ != protowire.BytesType {
		return nil, fmt.Errorf("field %d is not a message", fl.num)
	}
	v := new(T)
	return v, decode(fl.b, v)
}

func decodeModel(b []byte, m *modelProto) error { return walk(b, m.field) }

// field decodes one field of a ModelProto.
func (m *modelProto) field(fl field) error {
	switch fl.num {
	case 7: // graph
		g, err := message(fl, decodeGraph)
		m.graph = g
		return err
	case 8: // opset_import
		o, err := message(fl, decodeOpset)
		if err == nil {
			m.opsets = append(m.opsets, *o)
		}
		return err
	}
	return nil
}

func decodeOpset(b []byte, o *opsetID) error {
	return walk(b, func(fl field) error {
		switch fl.num {
		case 1:
			o.domain = string(fl.b)
		case 2:
			o.version = int64(fl.x)
		}
		return nil
	})
}

func decodeGraph(b []byte, g *graphProto) error { return walk(b, g.field) }

// field decodes one field of a GraphProto.
func (g *graphProto) field(fl field) error {
	var err error
	switch fl.num {
	case 1: // node
		var n *nodeProto
		if n, err = message(fl, decodeNode); err == nil {
			g.nodes = append(g.nodes, n)
		}
	case 5: // initializer
		var t *tensorProto
		if t, err = message(fl, decodeTensor); err == nil {
			g.inits = append(g.inits, t)
		}
	case 11, 12: // input, output
		var v *valueInfo
		if v, err = message(fl, decodeValueInfo); err == nil {
			if fl.num == 11 {
				g.inputs = append(g.inputs, v)
			} else {
				g.outputs = append(g.outputs, v)
			}
		}
	case 15: // sparse_initializer
		err = fmt.Errorf("sparse initializers are not supported: store the weights dense")
	}
	return err
}

func decodeNode(b []byte, n *nodeProto) error {
	return walk(b, func(fl field) error {
		switch fl.num {
		case 1:
			n.inputs = append(n.inputs, string(fl.b))
		case 2:
			n.outputs = append(n.outputs, string(fl.b))
		case 3:
			n.name = string(fl.b)
		case 4:
			n.opType = string(fl.b)
		case 7:
			n.domain = string(fl.b)
		case 5:
			a, err := message(fl, decodeAttr)
			if err != nil {
				return err
			}
			n.attrs = append(n.attrs, a)
		}
		return nil
	})
}

func decodeAttr(b []byte, a *attrProto) error {
	return walk(b, func(fl field) error {
		var err error
		switch fl.num {
		case 1:
			a.name = string(fl.b)
		case 2:
			a.f = math.Float32frombits(uint32(fl.x))
		case 3:
			a.i = int64(fl.x)
		case 5:
			a.t, err = message(fl, decodeTensor)
		case 7:
			a.floats, err = float32s(a.floats, fl)
		case 8:
			a.ints, err = varints(a.ints, fl)
		}
		return err
	})
}

func decodeTensor(b []byte, t *tensorProto) error { return walk(b, t.field) }

// field decodes one field of a TensorProto.
func (t *tensorProto) field(fl field) error {
	var err error
	switch fl.num {
	case 1:
		t.dims, err = varints(t.dims, fl)
	case 2:
		t.dataType = int32(fl.x)
	case 4:
		t.floatData, err = float32s(t.floatData, fl)
	case 5:
		t.int32Data, err = varints(t.int32Data, fl)
	case 7:
		t.int64Data, err = varints(t.int64Data, fl)
	case 8:
		t.name = string(fl.b)
	case 9:
		t.raw, t.hasRaw = fl.b, true
	case 10:
		t.doubleData, err = float64s(t.doubleData, fl)
	case 14:
		t.external = fl.x == 1 // DataLocation EXTERNAL
	}
	return err
}

// decodeValueInfo reads name (1) and type (2): TypeProto.tensor_type (1),
// whose elem_type (1) and shape (2) hold TensorShapeProto.dim (1), each a
// dim_value (1) or a dim_param (2).
func decodeValueInfo(b []byte, v *valueInfo) error {
	return walk(b, func(fl field) error {
		switch fl.num {
		case 1:
			v.name = string(fl.b)
		case 2:
			return walk(fl.b, func(tt field) error {
				if tt.num != 1 {
					return nil
				}
				return walk(tt.b, func(te field) error {
					switch te.num {
					case 1:
						v.elemType = int32(te.x)
					case 2:
						return walk(te.b, func(sd field) error {
							if sd.num != 1 {
								return nil
							}
							size := -1
							err := walk(sd.b, func(d field) error {
								if d.num == 1 && d.typ == protowire.VarintType {
									size = int(int64(d.x))
								}
								return nil
							})
							v.dims = append(v.dims, size)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
}
