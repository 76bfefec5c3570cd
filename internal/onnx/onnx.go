package onnx

import (
	"fmt"
	"math"
	"strings"

	"github.com/ferry-ml/ferry/internal/data"
)

// Model is a loaded ONNX model bound to a feature schema.
type Model struct {
	g      *graph
	inputs []input
}

// input is how features feed one input of the graph.
type input struct {
	name     string
	id       int   // the graph's value id
	features []int // schema indexes
	int64s   bool  // int64 category indexes instead of float32 values
	rank     int   // 1: [rows], 2: [rows, n]
}

// ONNX tensor element types used here.
const (
	elemFloat = protoFloat
	elemInt64 = protoInt64
)

// Parse reads an ONNX model and compiles it, failing on anything the
// executor does not implement.
func Parse(b []byte) (*Model, error) {
	mp := &modelProto{}
	if err := decodeModel(b, mp); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	g, err := compile(mp)
	if err != nil {
		return nil, err
	}
	return &Model{g: g}, nil
}

// dims is an input's declared shape: a size, or -1 for a named or unknown
// (dynamic) dimension.
func dims(in *valueInfo) []int { return in.dims }

// Check binds the model to a feature schema, deciding which features feed
// which input, and fails when the two do not fit. An input named after a
// feature takes that feature ([rows] or [rows, 1]; float32, or int64 for a
// category index). At most one input may be named otherwise: it takes every
// feature no named input took, in schema order, as float32 [rows, k] (a
// one-input network takes all features this way; a DLRM-style ranker takes
// its dense vector this way beside its embedding indexes).
func (m *Model) Check(features []data.Feature) error {
	index := map[string]int{}
	for i, f := range features {
		index[f.Name] = i
	}
	var inputs []input
	var rest *valueInfo
	taken := make([]bool, len(features))
	for _, in := range m.g.inputs {
		i, named := index[in.name]
		if !named {
			if rest != nil {
				return fmt.Errorf("ONNX inputs %q and %q are both named after no feature of the schema (%s): name each per-feature input after its feature; one other input may take the remaining features", rest.name, in.name, featureNames(features))
			}
			rest = in
			continue
		}
		t := elemType(in)
		if t != elemFloat && t != elemInt64 {
			return fmt.Errorf("ONNX input %q has element type %d: want float32 or int64", in.name, t)
		}
		shape := dims(in)
		if len(shape) != 1 && (len(shape) != 2 || shape[1] > 1) {
			return fmt.Errorf("ONNX input %q has shape %v: an input named after a feature takes [rows] or [rows, 1]", in.name, shape)
		}
		taken[i] = true
		inputs = append(inputs, input{name: in.name, id: m.g.ids[in.name], features: []int{i}, int64s: t == elemInt64, rank: len(shape)})
	}
	if rest != nil {
		var cols []int
		for i := range features {
			if !taken[i] {
				cols = append(cols, i)
			}
		}
		shape := dims(rest)
		if len(shape) != 2 {
			return fmt.Errorf("ONNX input %q has shape %v: an input that takes several features is [rows, features]", rest.name, shape)
		}
		if d := shape[1]; d >= 0 && d != len(cols) && len(m.g.inputs) > 1 {
			return fmt.Errorf("ONNX input %q is not a feature of the schema (%s): as the one input named otherwise it takes the %d features no input is named after, and it is [rows, %d]", rest.name, featureNames(features), len(cols), d)
		}
		if d := shape[1]; d >= 0 && d != len(cols) {
			return fmt.Errorf("ONNX input %q takes %d features and the schema lists %d for it (%s)", rest.name, d, len(cols), featureNames(features))
		}
		if t := elemType(rest); t != elemFloat {
			return fmt.Errorf("ONNX input %q has element type %d: an input that takes several features is float32", rest.name, t)
		}
		inputs = append(inputs, input{name: rest.name, id: m.g.ids[rest.name], features: cols, rank: 2})
	}
	m.inputs = inputs
	return nil
}

func featureNames(fs []data.Feature) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

func elemType(in *valueInfo) int32 { return in.elemType }

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

// score runs rows [lo, hi) of d through the graph.
func (m *Model) score(d *data.Dataset, lo, hi int) ([]float64, error) {
	n := hi - lo
	out := make([]float64, n)
	err := m.g.runWith(m.feeds(d, lo, hi), func(res *tensor) error {
		if res.dt != f32 {
			return fmt.Errorf("output %q is %s, want float", m.g.name, res)
		}
		if len(res.f) != n {
			return fmt.Errorf("output %q is %s for %d rows: want one score per row", m.g.name, res, n)
		}
		for k, v := range res.f {
			out[k] = float64(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// feeds builds the graph's input tensors from rows [lo, hi) of d, by the
// graph's value ids.
func (m *Model) feeds(d *data.Dataset, lo, hi int) map[int]*tensor {
	n := hi - lo
	feeds := make(map[int]*tensor, len(m.inputs))
	for _, in := range m.inputs {
		shape := []int{n, len(in.features)}
		if in.rank == 1 {
			shape = []int{n}
		}
		if in.int64s {
			t := newInt(i64, shape)
			for r := 0; r < n; r++ {
				for k, f := range in.features {
					x := d.Columns[f].Values[lo+r]
					if x != x {
						x = 0 // missing category: index 0
					}
					t.i[r*len(in.features)+k] = int64(x)
				}
			}
			feeds[in.id] = t
			continue
		}
		t := newFloat(shape)
		for r := 0; r < n; r++ {
			for k, f := range in.features {
				t.f[r*len(in.features)+k] = d.Columns[f].Values[lo+r]
			}
		}
		feeds[in.id] = t
	}
	return feeds
}
