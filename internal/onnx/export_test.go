package onnx

import "github.com/ferry-ml/ferry/internal/data"

// Feed is an input tensor as ferry builds it, for a reference runtime.
type Feed struct {
	Type string    `json:"type"` // float32 or int64
	Dims []int     `json:"dims"`
	Data []float64 `json:"data"`
}

// Feeds returns, by input name, the tensors PredictDataset feeds the graph
// for all of d's rows.
func Feeds(m *Model, d *data.Dataset) map[string]Feed {
	out := map[string]Feed{}
	byID := m.feeds(d, 0, d.Rows)
	for _, in := range m.inputs {
		t := byID[in.id]
		f := Feed{Type: "float32", Dims: t.shape}
		if in.int64s {
			f.Type = "int64"
			for _, v := range t.i {
				f.Data = append(f.Data, float64(v))
			}
		} else {
			for _, v := range t.f {
				f.Data = append(f.Data, float64(v))
			}
		}
		out[in.name] = f
	}
	return out
}
