package report

import (
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/search"
)

func TestSearchSection(t *testing.T) {
	s := &search.Result{Strategy: "tpe", Metric: "auc", HigherIsBetter: true, Folds: 5, Best: 3, Trials: []search.Trial{
		{Number: 1, Algorithm: "gbdt", Params: map[string]string{"max-depth": "4"}, Score: 0.80, SD: 0.01, State: search.StateComplete},
		{Number: 2, Algorithm: "gbdt", Params: map[string]string{"max-depth": "9"}, Score: 0.70, State: search.StatePruned},
		{Number: 3, Algorithm: "gbdt", Params: map[string]string{"max-depth": "6"}, Score: 0.83, SD: 0.02, State: search.StateComplete},
		{Number: 4, Algorithm: "gbdt", Params: map[string]string{"max-depth": "0"}, State: search.StateFailed, Error: "max-depth=0 needs max-leaves"},
		{Number: 5, Algorithm: "gbdt", Params: map[string]string{"max-depth": "5"}, Score: 0.81, SD: 0.01, State: search.StateComplete},
	}}
	got := SearchSection(s)
	for _, want := range []string{
		"tpe search, 5 trials (3 complete, 1 pruned, 1 failed) by 5-fold cross-validation on the training rows; the best, trial 3, scored auc 0.8300 ± 0.0200.",
		"| 3 | 0.8300 ± 0.0200 | `max-depth=6` |\n| 5 | 0.8100 ± 0.0100 | `max-depth=5` |\n| 1 | 0.8000 ± 0.0100 | `max-depth=4` |\n",
		`x-axis "trial" [1, 2, 3, 5]`,
		"bar [0.8000, 0.7000, 0.8300, 0.8100]",
		"line [0.8000, 0.8000, 0.8300, 0.8300]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "algorithm") {
		t.Error("one algorithm: no algorithm column")
	}
	s.Candidates, s.Why = []search.Candidate{{Algorithm: "gbdt", Trial: 3}, {Algorithm: "logistic"}}, "gbdt: auc 0.83, ahead of logistic"
	if got := SearchSection(s); !strings.Contains(got, "Chosen by `--algorithm auto`: gbdt: auc 0.83, ahead of logistic.") || !strings.Contains(got, "| 3 | gbdt | 0.8300") {
		t.Errorf("auto:\n%s", got)
	}
	sum, err := TrainSummary(TrainReport{Manifest: model.Manifest{Name: "m", Search: s}})
	if err != nil || !strings.Contains(sum, "**How the parameters were chosen**") {
		t.Errorf("the train summary lacks the search: %v\n%s", err, sum)
	}
	if SearchSection(nil) != "" {
		t.Error("no search, no section")
	}
}
