package model_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/train"
)

// Models without trees (an MLP, a logistic regression) are explained by
// sampled Shapley values: on data whose label follows 2a + 0.5b plus noise,
// a feature that plays no part ranks last and far below a, and a ranks
// first; the same seed gives the same values.
func TestImportanceOfModelsWithoutTrees(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 2))
	var b strings.Builder
	b.WriteString("a,b,unused,y\n")
	for range 3000 {
		x, y, z := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		label := 0
		if 2*x+0.5*y+rng.NormFloat64()*0.5 > 0 {
			label = 1
		}
		fmt.Fprintf(&b, "%.4f,%.4f,%.4f,%d\n", x, y, z, label)
	}
	csv := filepath.Join(dir, "train.csv")
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"mlp", "logistic"} {
		t.Run(alg, func(t *testing.T) {
			out := filepath.Join(dir, alg)
			cfg := train.Config{Data: csv, Read: data.Options{Label: "y"}, Algorithm: alg, Objective: "binary", Seed: 1, Out: out}
			if _, err := train.Run(context.Background(), cfg, io.Discard, nil); err != nil {
				t.Fatal(err)
			}
			m, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			d, err := m.ReadData(context.Background(), csv, data.Options{Label: "y"})
			if err != nil {
				t.Fatal(err)
			}
			imp := m.Importance(d, 300)
			if len(imp) != 3 || !(imp[0] > imp[1] && imp[1] > imp[2]) || imp[2] > imp[0]/10 {
				t.Fatalf("mean |SHAP| of a, b, unused: %v; want a > b > unused, unused under a tenth of a", imp)
			}
			again := m.Importance(d, 300)
			for j := range imp {
				if imp[j] != again[j] {
					t.Fatalf("two runs differ: %v and %v", imp, again)
				}
			}
			t.Logf("%s: mean |SHAP| a %.3f, b %.3f, unused %.4f", alg, imp[0], imp[1], imp[2])
		})
	}
}
