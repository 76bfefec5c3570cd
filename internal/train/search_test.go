package train_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/search"
	"github.com/ferry-ml/ferry/internal/train"
)

// writeCSV writes rows of features and a 0/1 label drawn from the
// probability p gives them.
func writeCSV(t *testing.T, rows, cols int, seed uint64, x func(r *rand.Rand, j int) float64, p func(x []float64) float64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	for j := range cols {
		fmt.Fprintf(&b, "f%d,", j)
	}
	b.WriteString("y\n")
	xs := make([]float64, cols)
	for range rows {
		for j := range cols {
			xs[j] = x(r, j)
			fmt.Fprintf(&b, "%g,", xs[j])
		}
		y := 0
		if r.Float64() < p(xs) {
			y = 1
		}
		fmt.Fprintf(&b, "%d\n", y)
	}
	path := filepath.Join(t.TempDir(), "data.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// basket is a shopping basket: 150 sparse 0/1 columns (items), each with
// its own small effect on a purchase, the kind of data on which a linear
// model beats trees of the default depth.
func basket(t *testing.T) string {
	return writeCSV(t, 1500, 150, 11,
		func(r *rand.Rand, _ int) float64 {
			if r.Float64() < 0.08 {
				return 1
			}
			return 0
		},
		func(x []float64) float64 {
			z := -1.0
			for j, v := range x {
				z += v * (float64(j%7) - 3) * 0.35
			}
			return sigmoid(z)
		})
}

// interactions has a label that sharp thresholds on pairs of features
// tell, as trees split: no linear model fits it, and a network only
// smooths it.
func interactions(t *testing.T) string {
	return writeCSV(t, 1500, 4, 12,
		func(r *rand.Rand, _ int) float64 { return r.Float64()*2 - 1 },
		func(x []float64) float64 {
			if (x[0] > 0.3) != (x[1] < -0.2) || x[2] > 0.8 {
				return 0.95
			}
			return 0.05
		})
}

func searchConfig(path, out string) train.Config {
	return train.Config{Data: path, Read: data.Options{Label: "y"}, Algorithm: "gbdt", Objective: "binary", Seed: 3, Out: out,
		Search: train.Search{Enabled: true, Strategy: "tpe", Trials: 6, Folds: 3, Parallel: 2}}
}

func TestAutoChoosesByCrossValidation(t *testing.T) {
	for _, c := range []struct {
		name, data, want string
	}{
		{"basket", basket(t), "logistic"},
		{"interactions", interactions(t), "gbdt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := searchConfig(c.data, filepath.Join(t.TempDir(), "model"))
			cfg.Algorithm, cfg.Search.Enabled = "auto", false
			res, err := train.Run(context.Background(), cfg, io.Discard, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := res.Manifest
			if m.Algorithm != c.want || m.Search == nil || len(m.Search.Candidates) != 3 || !strings.HasPrefix(m.Search.Why, c.want+": auc ") {
				t.Fatalf("chose %s (%+v), want %s", m.Algorithm, m.Search, c.want)
			}
			for _, tr := range m.Search.Trials {
				if len(tr.Params) != 0 || len(tr.Folds) != 3 || tr.State != search.StateComplete {
					t.Errorf("trial %+v: auto without --search scores each trainer's defaults on every fold", tr)
				}
			}
			t.Log(m.Search.Why)
		})
	}
}

func TestSearchRecordsEveryTrialAndRefits(t *testing.T) {
	out := filepath.Join(t.TempDir(), "model")
	cfg := searchConfig(interactions(t), out)
	if _, err := train.Run(context.Background(), cfg, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Manifest.Search
	if s == nil || len(s.Trials) != 6 || s.Metric != "auc" || !s.HigherIsBetter || s.Folds != 3 {
		t.Fatalf("search record %+v", s)
	}
	best := s.BestTrial()
	for k, v := range best.Params {
		if m.Manifest.Params[k] != v {
			t.Errorf("the model's %s is %s, the best trial's %s", k, m.Manifest.Params[k], v)
		}
	}
	if len(best.Rounds) != 3 || m.Manifest.Params["trees"] != fmt.Sprint(int(math.Round(mean(best.Rounds)))) {
		t.Errorf("trees %s: want the mean of the folds' rounds %v", m.Manifest.Params["trees"], best.Rounds)
	}
	if m.Manifest.Run.Search == nil || len(m.Manifest.Run.Search.Trials) != 6 {
		t.Errorf("run.json's search timings: %+v", m.Manifest.Run.Search)
	}
	// The same seed gives the same trials, however many run at once.
	cfg.Out, cfg.Search.Parallel = filepath.Join(t.TempDir(), "again"), 2
	again, err := train.Run(context.Background(), cfg, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range again.Manifest.Search.Trials {
		if fmt.Sprint(tr.Params, tr.Folds) != fmt.Sprint(s.Trials[i].Params, s.Trials[i].Folds) {
			t.Fatalf("trial %d differs between two runs with the same seed", i+1)
		}
	}
}

func mean(xs []int) float64 {
	s := 0
	for _, x := range xs {
		s += x
	}
	return float64(s) / float64(len(xs))
}

func TestSearchConfigErrorsNameTheKey(t *testing.T) {
	data := interactions(t)
	ptr := func(x float64) *float64 { return &x }
	for _, c := range []struct {
		name string
		set  func(*train.Config)
		want string
		key  string // input.Error's Name, when the error is one
	}{
		{"zero trials", func(c *train.Config) { c.Search.Trials = 0 }, "a budget of at least 1 trial", "trials"},
		{"unknown parameter", func(c *train.Config) {
			c.Search.Space = map[string]search.DimSpec{"depth": {Values: []string{"4"}}}
		}, `ferry.yaml train.search.space.depth: unknown gbdt parameter "depth"`, ""},
		{"contradictory range", func(c *train.Config) {
			c.Search.Space = map[string]search.DimSpec{"max-depth": {Min: ptr(8), Max: ptr(2), Line: 9}}
		}, "ferry.yaml train.search.space.max-depth (line 9): min 8 is above max 2", ""},
		{"empty space", func(c *train.Config) { c.Search.Space = map[string]search.DimSpec{} }, "no parameter to search", ""},
		{"more folds than positives", func(c *train.Config) { c.Search.Folds = 2000 }, "fewer than the 2000 folds", "folds"},
		{"folds 0 without validation", func(c *train.Config) { c.Search.Folds = 0 }, "there is none", "folds"},
		{"metric of another task", func(c *train.Config) { c.Search.Metric = "ndcg@10" }, `ferry.yaml train.search.metric: "ndcg@10": want one of auc`, ""},
		{"params with auto", func(c *train.Config) { c.Algorithm, c.Params = "auto", []string{"trees=5"} }, "--param trees=5 with --algorithm auto", ""},
		{"auto candidate", func(c *train.Config) { c.Algorithm, c.Search.Algorithms = "auto", []string{"xgboost"} }, `"xgboost": want some of gbdt, logistic, mlp`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := searchConfig(data, filepath.Join(t.TempDir(), "model"))
			c.set(&cfg)
			_, err := train.Run(context.Background(), cfg, io.Discard, nil)
			var bad interface{ BadInput() }
			var ie *input.Error
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if c.key != "" && (!errors.As(err, &ie) || ie.Name != c.key) {
				t.Errorf("%v: want an input error naming %s", err, c.key)
			}
			if c.key == "" && !errors.As(err, &bad) {
				t.Errorf("%v: want a bad-input error (exit code 2)", err)
			}
			if _, serr := os.Stat(cfg.Out); !os.IsNotExist(serr) {
				t.Errorf("a failed search left %s behind", cfg.Out)
			}
		})
	}
}
