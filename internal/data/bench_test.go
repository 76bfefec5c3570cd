package data_test

import (
	"context"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/test/testenv"
)

// BenchmarkRead reads the shared HIGGS (TSV) and ranking (LibSVM) training
// files as ferry's own models read them (float32) and as a LightGBM model's
// are read (Options.Exact and AbsentIsZero: float64 values kept too), to
// measure what scoring LightGBM exactly costs: B/op is the memory.
func BenchmarkRead(b *testing.B) {
	for _, f := range []struct {
		name, path string
		opts       data.Options
	}{
		{"higgs", "lightgbm-binary/binary.train", data.Options{Format: data.TSV, Label: "0"}},
		{"rank", "lightgbm-lambdarank/rank.train", data.Options{}},
	} {
		path := testenv.SharedData(b, f.path)
		for _, exact := range []bool{false, true} {
			name := f.name + "/float32"
			if exact {
				name = f.name + "/exact"
			}
			b.Run(name, func(b *testing.B) {
				opts := f.opts
				opts.Exact, opts.AbsentIsZero = exact, exact
				b.ReportAllocs()
				for b.Loop() {
					if _, err := data.Read(context.Background(), path, opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
