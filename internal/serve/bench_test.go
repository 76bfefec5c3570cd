package serve_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gbdt"
	"github.com/ferry-ml/ferry/internal/mlp"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/profile"
	"github.com/ferry-ml/ferry/internal/serve"
)

// BenchmarkInfer measures one infer request through the handler, without the
// network: decoding, scoring (100 trees of depth 6, or a 64-32 MLP, on 15
// features), encoding. bench/servebench measures the server under load.
func BenchmarkInfer(b *testing.B) {
	const features = 15
	rng := rand.New(rand.NewPCG(1, 2))
	d := &data.Dataset{Rows: 2000}
	for j := 0; j < features; j++ {
		c := data.Column{Name: "f" + strconv.Itoa(j)}
		for i := 0; i < d.Rows; i++ {
			c.Values = append(c.Values, float32(rng.NormFloat64()*100))
		}
		d.Columns = append(d.Columns, c)
	}
	for i := 0; i < d.Rows; i++ {
		d.Label = append(d.Label, float64(i%2))
	}
	p := gbdt.DefaultParams(gbdt.Binary)
	p.Trees, p.MaxDepth, p.MinChildWeight = 100, 6, 0
	trees, err := gbdt.Train(context.Background(), p, d, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	mp := mlp.DefaultParams("binary")
	mp.Epochs = 1
	net, err := mlp.Train(context.Background(), mp, d, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	// Each with and without the training profile, whose drift counts
	// every request then pays for.
	prof := profile.Compute(d, trees.Model.PredictDataset(d), "train", 0)
	b.Run("gbdt", func(b *testing.B) { benchInfer(b, d, model.FormatGBDT, trees.Model, nil) })
	b.Run("gbdt-profiled", func(b *testing.B) { benchInfer(b, d, model.FormatGBDT, trees.Model, prof) })
	b.Run("mlp", func(b *testing.B) { benchInfer(b, d, model.FormatMLP, net.Model, nil) })
	b.Run("mlp-profiled", func(b *testing.B) { benchInfer(b, d, model.FormatMLP, net.Model, prof) })
}

func benchInfer(b *testing.B, d *data.Dataset, format string, payload any, prof *profile.Profile) {
	const features = 15
	dir := filepath.Join(b.TempDir(), "m")
	if err := model.Save(dir, model.Manifest{Name: "m", Format: format, Task: "binary", Objective: "binary", Features: d.Schema(), Profile: prof}, payload); err != nil {
		b.Fatal(err)
	}
	s, err := serve.New(serve.Config{ModelDir: dir, MaxRows: 1000, MaxBodyBytes: 1 << 22}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	for _, rows := range []int{1, 100} {
		// Values as a client holding float32 features writes them: the
		// shortest text that reads back as the same float32.
		vals := make([][]json.Number, rows)
		for i := range vals {
			for j := 0; j < features; j++ {
				vals[i] = append(vals[i], json.Number(strconv.FormatFloat(float64(d.Columns[j].Values[i]), 'g', -1, 32)))
			}
		}
		// The tensor's fields in the protocol's order (KServe's examples,
		// a Python dict written in that order): its data comes last.
		body, _ := json.Marshal(map[string]any{"inputs": []inferTensor{{"x", []int{rows, features}, "FP64", vals}}})
		b.Run(strconv.Itoa(rows)+"rows", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v2/models/m/infer", strings.NewReader(string(body))))
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// inferTensor is one input tensor of an infer request, its fields in the
// order the protocol documents them.
type inferTensor struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	Datatype string `json:"datatype"`
	Data     any    `json:"data"`
}
