package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// ParseFile reads and compiles an ONNX model from a file, as Parse does,
// without ever holding the file's bytes: the model's fields are read from
// the file one at a time, and each initializer's raw data (nearly all of a
// large network's bytes) goes from the file into its tensor a chunk at a
// time. Loading a network with a 1M x 64 embedding (256 MB) so costs about
// its weights, where reading the file first and converting it cost twice
// that at the peak.
func ParseFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	mp := &modelProto{}
	if err := decodeModelAt(f, st.Size(), mp); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	g, err := compile(mp)
	if err != nil {
		return nil, err
	}
	return &Model{g: g}, nil
}

// Field numbers left in the file by decodeModelAt.
const (
	modelGraph       = 7 // ModelProto.graph
	graphInitializer = 5 // GraphProto.initializer
	tensorRawData    = 9 // TensorProto.raw_data
)

// decodeModelAt decodes a ModelProto of size bytes from r, reading its
// graph's fields one at a time and leaving the initializers' raw data in r
// (tensorProto.file), read when the tensor is built.
func decodeModelAt(r io.ReaderAt, size int64, m *modelProto) error {
	return walkAt(r, 0, size, modelGraph, func(fl field) error {
		if fl.num != modelGraph || fl.b != nil {
			return m.field(fl)
		}
		m.graph = &graphProto{}
		return walkAt(r, fl.at, fl.at+fl.n, graphInitializer, func(gf field) error {
			if gf.num != graphInitializer || gf.b != nil {
				return m.graph.field(gf)
			}
			t := &tensorProto{}
			m.graph.inits = append(m.graph.inits, t)
			return walkAt(r, gf.at, gf.at+gf.n, tensorRawData, func(tf field) error {
				if tf.num != tensorRawData || tf.b != nil {
					return t.field(tf)
				}
				t.file, t.rawAt, t.rawLen, t.hasRaw = r, tf.at, tf.n, true
				return nil
			})
		})
	})
}

// walkAt calls f for each field of the message in r's bytes [off, end), as
// walk does for a message in memory. A length-delimited field numbered
// lazy is not read: it comes with b nil, at its offset in r and n its
// length.
func walkAt(r io.ReaderAt, off, end int64, lazy protowire.Number, f func(field) error) error {
	var head [2 * binary.MaxVarintLen64]byte
	for off < end {
		b := head[:min(int64(len(head)), end-off)]
		if _, err := r.ReadAt(b, off); err != nil {
			return err
		}
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		fl := field{num: num, typ: typ}
		var m int
		switch typ {
		case protowire.VarintType:
			fl.x, m = protowire.ConsumeVarint(b[n:])
		case protowire.Fixed32Type:
			var v uint32
			v, m = protowire.ConsumeFixed32(b[n:])
			fl.x = uint64(v)
		case protowire.Fixed64Type:
			fl.x, m = protowire.ConsumeFixed64(b[n:])
		case protowire.BytesType:
			var length uint64
			length, m = protowire.ConsumeVarint(b[n:])
			if m >= 0 && length > uint64(end-off-int64(n+m)) {
				return fmt.Errorf("field %d of %d bytes overruns its message", num, length)
			}
			fl.at, fl.n = off+int64(n+m), int64(length)
		default:
			return fmt.Errorf("field %d has wire type %d, which onnx.proto does not use", num, typ)
		}
		if m < 0 {
			return protowire.ParseError(m)
		}
		off += int64(n + m)
		if typ == protowire.BytesType {
			off += fl.n
			if num != lazy {
				fl.b = make([]byte, fl.n)
				if _, err := r.ReadAt(fl.b, fl.at); err != nil {
					return err
				}
			}
		}
		if err := f(fl); err != nil {
			return err
		}
	}
	return nil
}

// readRaw reads a tensor's raw data left in its file: float32 values a
// chunk at a time into dst when dst is not nil (the bytes are never held
// whole), else the bytes into tp.raw.
func (tp *tensorProto) readRaw(dst []float32) error {
	if dst == nil {
		tp.raw = make([]byte, tp.rawLen)
		_, err := tp.file.ReadAt(tp.raw, tp.rawAt)
		return err
	}
	buf := make([]byte, min(1<<20, 4*len(dst)))
	for k, off := 0, tp.rawAt; k < len(dst); {
		b := buf[:min(len(buf), 4*(len(dst)-k))]
		if _, err := tp.file.ReadAt(b, off); err != nil {
			return fmt.Errorf("tensor %q: %w", tp.name, err)
		}
		off += int64(len(b))
		for ; len(b) > 0; b, k = b[4:], k+1 {
			dst[k] = math.Float32frombits(binary.LittleEndian.Uint32(b))
		}
	}
	return nil
}
