// Package onnx scores ONNX models natively, in pure Go on
// github.com/advancedclimatesystems/gonnx (which runs on gorgonia's tensors),
// for the networks that tabular and ranking models use: Gemm, MatMul, Add,
// Relu, Sigmoid, Concat, Gather, Flatten, Reshape and the rest of gonnx's
// opset 13.
//
// Loading checks the opset (13, the one gonnx implements) and every node's
// operator, so an unsupported operator is an error that names it at load
// time, never at request time.
//
// How features reach the network: a model with one input takes every
// feature, in schema order, as float32 [rows, features]; a model with several
// inputs takes each feature by the input of its name, float32 for numeric
// features and int64 (the category index) for the int64 inputs that
// embeddings look up with Gather. Values go in as the data holds them: the
// network carries its own preprocessing.
package onnx

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/advancedclimatesystems/gonnx"
	onnxpb "github.com/advancedclimatesystems/gonnx/onnx"
	"gorgonia.org/tensor"

	"github.com/ferry-ml/ferry/internal/data"
)

// Opset is the ONNX operator set version this package scores.
const Opset = 13

// Model is a loaded ONNX model bound to a feature schema.
type Model struct {
	run    *gonnx.Model
	proto  *onnxpb.ModelProto
	inputs []input
	output string
}

// input is how features feed one input of the graph.
type input struct {
	name     string
	features []int // schema indexes
	int64s   bool  // int64 category indexes instead of float32 values
	rank     int   // 1: [rows], 2: [rows, n]
}

// ONNX tensor element types used here.
const (
	elemFloat = 1
	elemInt64 = 7
)

// Parse reads an ONNX model and checks that every operator is supported.
func Parse(b []byte) (*Model, error) {
	mp, err := gonnx.ModelProtoFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	if mp.GetGraph() == nil {
		return nil, fmt.Errorf("not an ONNX model: no graph")
	}
	var opset int64
	for _, o := range mp.GetOpsetImport() {
		if (o.GetDomain() == "" || o.GetDomain() == "ai.onnx") && o.GetVersion() > opset {
			opset = o.GetVersion()
		}
	}
	if opset != Opset {
		return nil, fmt.Errorf("ONNX opset %d is not supported: ferry scores opset %d models (torch.onnx.export(..., opset_version=13))", opset, Opset)
	}
	run, err := gonnx.NewModel(mp)
	if err != nil {
		return nil, fmt.Errorf("load the ONNX graph: %w", err)
	}
	var unsupported []string
	for _, n := range mp.GetGraph().GetNode() {
		if _, err := run.GetOperator(n.GetOpType()); err != nil && !slices.Contains(unsupported, n.GetOpType()) {
			unsupported = append(unsupported, n.GetOpType())
		}
	}
	if len(unsupported) > 0 {
		sort.Strings(unsupported)
		return nil, fmt.Errorf("ONNX operators not supported: %s", strings.Join(unsupported, ", "))
	}
	outs := run.OutputNames()
	if len(outs) == 0 {
		return nil, fmt.Errorf("the ONNX graph has no output")
	}
	return &Model{run: run, proto: mp, output: outs[0]}, nil
}

// Check binds the model to a feature schema, deciding which features feed
// which input, and fails when the two do not fit.
func (m *Model) Check(features []data.Feature) error {
	ins := m.proto.GetGraph().GetInput()
	// Initializers may be listed as inputs in older exports: skip them.
	params := map[string]bool{}
	for _, p := range m.run.ParamNames() {
		params[p] = true
	}
	var graphInputs []*onnxpb.ValueInfoProto
	for _, in := range ins {
		if !params[in.GetName()] {
			graphInputs = append(graphInputs, in)
		}
	}
	shapes := m.run.InputShapes()
	m.inputs = nil
	if len(graphInputs) == 1 {
		in := graphInputs[0]
		shape := shapes[in.GetName()]
		if len(shape) != 2 {
			return fmt.Errorf("ONNX input %q has shape %s: a one-input model takes [rows, features]", in.GetName(), shape)
		}
		if d := shape[1]; !d.IsDynamic && int(d.Size) != len(features) {
			return fmt.Errorf("ONNX input %q takes %d features and the schema lists %d", in.GetName(), d.Size, len(features))
		}
		if t := elemType(in); t != elemFloat {
			return fmt.Errorf("ONNX input %q has element type %d: a one-input model takes float32", in.GetName(), t)
		}
		all := make([]int, len(features))
		for i := range all {
			all[i] = i
		}
		m.inputs = []input{{name: in.GetName(), features: all, rank: 2}}
		return nil
	}
	index := map[string]int{}
	for i, f := range features {
		index[f.Name] = i
	}
	for _, in := range graphInputs {
		i, ok := index[in.GetName()]
		if !ok {
			var names []string
			for _, f := range features {
				names = append(names, f.Name)
			}
			return fmt.Errorf("ONNX input %q is not a feature of the schema (%s): name each input after the feature it takes", in.GetName(), strings.Join(names, ", "))
		}
		t := elemType(in)
		if t != elemFloat && t != elemInt64 {
			return fmt.Errorf("ONNX input %q has element type %d: want float32 or int64", in.GetName(), t)
		}
		m.inputs = append(m.inputs, input{name: in.GetName(), features: []int{i}, int64s: t == elemInt64, rank: len(shapes[in.GetName()])})
	}
	return nil
}

func elemType(in *onnxpb.ValueInfoProto) int32 {
	return in.GetType().GetTensorType().GetElemType()
}

// batchRows is how many rows one run of the graph scores.
const batchRows = 1024

// PredictDataset scores every row: the graph's first output, one value per
// row. A row the graph cannot score (a category index outside an embedding,
// say) gets NaN.
func (m *Model) PredictDataset(d *data.Dataset) []float64 {
	out := make([]float64, d.Rows)
	for lo := 0; lo < d.Rows; lo += batchRows {
		hi := min(lo+batchRows, d.Rows)
		scores, err := m.score(d, lo, hi)
		for i := lo; i < hi; i++ {
			if err != nil {
				out[i] = math.NaN()
			} else {
				out[i] = scores[i-lo]
			}
		}
	}
	return out
}

// Score runs rows [lo, hi) of d through the graph.
func (m *Model) score(d *data.Dataset, lo, hi int) ([]float64, error) {
	n := hi - lo
	feeds := gonnx.Tensors{}
	for _, in := range m.inputs {
		if in.int64s {
			v := make([]int64, n*len(in.features))
			for r := 0; r < n; r++ {
				for k, f := range in.features {
					x := d.Columns[f].Values[lo+r]
					if x != x {
						x = 0 // missing category: index 0
					}
					v[r*len(in.features)+k] = int64(x)
				}
			}
			feeds[in.name] = tensor.New(tensor.WithShape(shapeOf(in, n)...), tensor.WithBacking(v))
			continue
		}
		v := make([]float32, n*len(in.features))
		for r := 0; r < n; r++ {
			for k, f := range in.features {
				v[r*len(in.features)+k] = d.Columns[f].Values[lo+r]
			}
		}
		feeds[in.name] = tensor.New(tensor.WithShape(shapeOf(in, n)...), tensor.WithBacking(v))
	}
	res, err := m.run.Run(feeds)
	if err != nil {
		return nil, err
	}
	t, ok := res[m.output]
	if !ok || t == nil {
		return nil, fmt.Errorf("the graph produced no %q", m.output)
	}
	out := make([]float64, 0, n)
	switch v := t.Data().(type) {
	case []float32:
		for _, x := range v {
			out = append(out, float64(x))
		}
	case []float64:
		out = append(out, v...)
	default:
		return nil, fmt.Errorf("output %q has type %T, want float32 or float64", m.output, v)
	}
	if len(out) != n {
		return nil, fmt.Errorf("output %q has %d values for %d rows: want one score per row", m.output, len(out), n)
	}
	return out, nil
}

func shapeOf(in input, rows int) []int {
	if in.rank == 1 {
		return []int{rows}
	}
	return []int{rows, len(in.features)}
}
