package train_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/search"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/test/testenv"
)

// commandStage is a command trainer's stage on the host backend whose
// command saves a real XGBoost booster and reports a validation AUC that
// peaks at learning-rate 0.1 (1 - (lr - 0.1)^2), from its environment.
func commandStage(t *testing.T, out string, s train.Search) train.StageConfig {
	t.Helper()
	booster := filepath.Join(testenv.RepoRoot(t), "internal", "xgboost", "testdata", "higgs-binary.json")
	cmd := `cp '` + booster + `' "$FERRY_OUTPUT/booster.json" && ` +
		`echo "trial $FERRY_TRIAL: depth $FERRY_PARAM_MAX_DEPTH" && ` +
		`awk "BEGIN { printf \"{\\\"train\\\": {\\\"auc\\\": 0.99}, \\\"valid\\\": {\\\"auc\\\": %.6f}}\", 1 - ($FERRY_PARAM_LEARNING_RATE - 0.1)^2 }" > "$FERRY_OUTPUT/metrics.json"`
	return train.StageConfig{Trainer: "command", Command: cmd, Backend: "host",
		Builtin: train.Config{Out: out, Objective: "binary", Seed: 3, Search: s}}
}

func ptr(x float64) *float64 { return &x }

// The command trainer's search: each trial runs the command with its
// parameters in FERRY_PARAM_<NAME>, is scored by the metric it reports, and
// the best trial's model is kept as it was trained, with every trial in
// its model.json and nothing else left beside the output.
func TestCommandSearch(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "model")
	var log bytes.Buffer
	cfg := commandStage(t, out, train.Search{Enabled: true, Strategy: "tpe", Trials: 12, Parallel: 2, Metric: "valid.auc",
		Space: map[string]search.DimSpec{
			"learning-rate": {Min: ptr(0.01), Max: ptr(0.5), Scale: "log"},
			"max-depth":     {Values: []string{"3", "5"}},
		}})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := train.RunStage(context.Background(), cfg, train.StageDeps{Log: &log, Getenv: os.Getenv}); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	m, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Manifest.Search
	if s == nil || len(s.Trials) != 12 || s.Metric != "valid.auc" || !s.HigherIsBetter || s.Folds != 0 {
		t.Fatalf("search record %+v", s)
	}
	best := s.BestTrial()
	for _, tr := range s.Trials {
		if tr.State != search.StateComplete {
			t.Errorf("trial %d: %s %s", tr.Number, tr.State, tr.Error)
		}
		lr, _ := strconv.ParseFloat(tr.Params["learning-rate"], 64)
		// What the command computed from FERRY_PARAM_LEARNING_RATE, to
		// the 6 decimals it prints.
		if want := 1 - (lr-0.1)*(lr-0.1); abs(tr.Score-want) > 1e-6 {
			t.Errorf("trial %d: score %v, the command reported %v for learning-rate %v", tr.Number, tr.Score, want, lr)
		}
		if tr.Score > best.Score {
			t.Errorf("trial %d (%v) beats the best, %d (%v)", tr.Number, tr.Score, best.Number, best.Score)
		}
	}
	if got := m.Manifest.Metrics["valid"]["auc"]; got != best.Score {
		t.Errorf("the kept model reports valid auc %v; the best trial scored %v: not the best trial's model", got, best.Score)
	}
	for _, d := range []string{"3", "5"} {
		if !strings.Contains(log.String(), "depth "+d) {
			t.Errorf("no trial ran with FERRY_PARAM_MAX_DEPTH=%s:\n%s", d, log.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left beside the model: %v", entries)
	}
}

func abs(x float64) float64 { return max(x, -x) }

// A metric the command reports in two sections is ambiguous: the search
// stops after the first trial and says which to name.
func TestCommandSearchAmbiguousMetric(t *testing.T) {
	out := filepath.Join(t.TempDir(), "model")
	var log bytes.Buffer
	cfg := commandStage(t, out, train.Search{Enabled: true, Strategy: "random", Trials: 5, Parallel: 1,
		Space: map[string]search.DimSpec{"learning-rate": {Min: ptr(0.01), Max: ptr(0.5)}}})
	_, err := train.RunStage(context.Background(), cfg, train.StageDeps{Log: &log, Getenv: os.Getenv})
	if err == nil || !strings.Contains(err.Error(), "auc in train and valid") || !strings.Contains(err.Error(), "valid.auc") {
		t.Fatalf("got %v, want the ambiguity named", err)
	}
	if n := strings.Count(log.String(), "running: "); n != 1 {
		t.Errorf("%d trials ran after the metric was found ambiguous, want 1", n)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a model was written: %v", err)
	}
}

// What the command trainer's search refuses before anything runs, each a
// configuration error naming the key.
func TestCommandSearchBadSpace(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    train.Search
		want string
	}{
		{"no space", train.Search{}, "train.search.space: the command trainer has no default space"},
		{"two names, one variable", train.Search{Space: map[string]search.DimSpec{"max-depth": {Values: []string{"3"}}, "max_depth": {Values: []string{"4"}}}},
			`"max-depth" and "max_depth" both reach the command as FERRY_PARAM_MAX_DEPTH`},
		{"unknown metric", train.Search{Metric: "valid.goodness", Space: map[string]search.DimSpec{"x": {Values: []string{"1"}}}}, "train.search.metric"},
		{"empty range", train.Search{Space: map[string]search.DimSpec{"x": {Min: ptr(2), Max: ptr(1)}}}, "train.search.space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			s.Enabled, s.Strategy, s.Trials = true, "random", 3
			var log bytes.Buffer
			_, err := train.RunStage(context.Background(), commandStage(t, filepath.Join(t.TempDir(), "model"), s), train.StageDeps{Log: &log, Getenv: os.Getenv})
			var se *search.SpecError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a configuration error with %q", err, tc.want)
			}
			if strings.Contains(log.String(), "running: ") {
				t.Error("the command ran")
			}
		})
	}
}
