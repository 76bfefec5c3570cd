package search

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// setter stands for a trainer: depth takes whole numbers from 1 to 16,
// rate numbers above 0 up to 1; others are unknown.
func setter(name, v string) error {
	switch name {
	case "depth":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 16 {
			return fmt.Errorf("depth=%q: want a whole number from 1 to 16", v)
		}
	case "rate", "x", "y":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1 {
			return fmt.Errorf("%s=%q: want a number above 0 up to 1", name, v)
		}
	case "kind":
	default:
		return fmt.Errorf("unknown parameter %q", name)
	}
	return nil
}

func f(x float64) *float64 { return &x }

func TestParseSpaceTakesTheTrainersTypes(t *testing.T) {
	s, err := ParseSpace("space", map[string]DimSpec{
		"depth": {Min: f(2), Max: f(10)},
		"rate":  {Min: f(0.01), Max: f(0.3), Scale: "log"},
		"kind":  {Values: []string{"a", "b"}},
	}, setter)
	if err != nil {
		t.Fatal(err)
	}
	want := Space{{Name: "depth", Min: 2, Max: 10, Int: true}, {Name: "kind", Values: []string{"a", "b"}}, {Name: "rate", Min: 0.01, Max: 0.3, Log: true}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v, want %+v", s, want)
	}
}

func TestParseSpaceNamesTheKey(t *testing.T) {
	for _, c := range []struct {
		name string
		spec DimSpec
		want string
	}{
		{"kind", DimSpec{Values: []string{}, Line: 7}, "space.kind (line 7): an empty list"},
		{"depth", DimSpec{Min: f(9), Max: f(3)}, "space.depth: min 9 is above max 3"},
		{"rate", DimSpec{Min: f(0), Max: f(1), Scale: "log"}, "space.rate: a log scale needs min above 0"},
		{"rate", DimSpec{Min: f(0.1), Max: f(2)}, `space.rate: rate="2": want a number above 0 up to 1`},
		{"trees", DimSpec{Values: []string{"1"}}, `space.trees: unknown parameter "trees"`},
		{"depth", DimSpec{Values: []string{"4"}, Min: f(1)}, "space.depth: a list or a range, not both"},
		{"depth", DimSpec{Min: f(1)}, "space.depth: a range needs min and max"},
		{"depth", DimSpec{Min: f(1.5), Max: f(4), Type: "int"}, "whole numbers from 1.5 to 4"},
		{"kind", DimSpec{Values: []string{"a", "a"}}, "a is listed twice"},
		{"rate", DimSpec{Min: f(0.1), Max: f(0.2), Scale: "ln"}, `scale "ln": want linear or log`},
	} {
		_, err := ParseSpace("space", map[string]DimSpec{c.name: c.spec}, setter)
		var se *SpecError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: got %v, want a SpecError with %q", c.name, c.spec, err, c.want)
		}
	}
	if _, err := ParseSpace("space", nil, setter); err == nil || !strings.Contains(err.Error(), "no parameter to search") {
		t.Errorf("an empty space: got %v", err)
	}
}

func TestGridCoversEveryPointOnce(t *testing.T) {
	s := Space{{Name: "depth", Min: 2, Max: 10, Int: true}, {Name: "kind", Values: []string{"a", "b"}}, {Name: "rate", Min: 0.01, Max: 1, Log: true}}
	points := grid(s, 1)
	seen := map[string]bool{}
	for _, p := range points {
		seen[fmt.Sprint(p)] = true
	}
	if len(points) != 3*2*3 || len(seen) != len(points) {
		t.Fatalf("%d points, %d distinct: want 18 distinct", len(points), len(seen))
	}
	for _, want := range []string{"map[depth:2 kind:a rate:0.01]", "map[depth:6 kind:b rate:0.1]", "map[depth:10 kind:a rate:1]"} {
		if !seen[want] {
			t.Errorf("the grid lacks %s", want)
		}
	}
	if reflect.DeepEqual(points, grid(s, 2)) || !reflect.DeepEqual(points, grid(s, 1)) {
		t.Error("the grid's order should follow the seed, and only the seed")
	}
}

// bowl is a smooth objective with its best (0) at x = 0.3, y = 0.7,
// scored with a little fold-to-fold noise.
func bowl(_ context.Context, _ int, p map[string]string, fold int) (Fold, error) {
	x, _ := strconv.ParseFloat(p["x"], 64)
	y, _ := strconv.ParseFloat(p["y"], 64)
	return Fold{Score: (x-0.3)*(x-0.3) + (y-0.7)*(y-0.7) + 0.001*float64(fold)}, nil
}

var bowlSpace = Space{{Name: "x", Min: 0.001, Max: 1}, {Name: "y", Min: 0.001, Max: 1}}

func TestTPEBeatsRandomSearch(t *testing.T) {
	// Over 20 seeds, the best of 40 trials: TPE models where the good
	// trials are, random search does not; a TPE that read l/g backwards
	// would do worse than random.
	mean := func(strategy string) float64 {
		total := 0.0
		for seed := range int64(20) {
			r, err := Run(context.Background(), Config{Strategy: strategy, Trials: 40, Folds: 2, Parallel: 4, Seed: seed, Space: bowlSpace, Metric: "loss"}, bowl, nil)
			if err != nil {
				t.Fatal(err)
			}
			total += r.BestTrial().Score
		}
		return total / 20
	}
	tpe, random := mean("tpe"), mean("random")
	t.Logf("mean best loss over 20 seeds: tpe %.5f, random %.5f", tpe, random)
	if !(tpe < random*0.7) {
		t.Errorf("TPE's mean best %.5f is not clearly under random search's %.5f", tpe, random)
	}
}

func TestRunIsTheSameForASeedAtAnySpeed(t *testing.T) {
	cfg := Config{Strategy: "tpe", Trials: 24, Folds: 3, Parallel: 3, Seed: 7, Space: bowlSpace, Metric: "loss", Prune: true}
	slow := func(ctx context.Context, _ int, p map[string]string, fold int) (Fold, error) {
		x, _ := strconv.ParseFloat(p["x"], 64)
		time.Sleep(time.Duration(x * float64(2*time.Millisecond))) // finish out of order
		return bowl(ctx, 0, p, fold)
	}
	a, err := Run(context.Background(), cfg, slow, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), cfg, bowl, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Trials {
		if !reflect.DeepEqual(a.Trials[i].Params, b.Trials[i].Params) || a.Trials[i].State != b.Trials[i].State {
			t.Fatalf("trial %d: %v %s against %v %s", i+1, a.Trials[i].Params, a.Trials[i].State, b.Trials[i].Params, b.Trials[i].State)
		}
	}
	if a.Best != b.Best {
		t.Errorf("best trial %d against %d", a.Best, b.Best)
	}
}

func TestThePrunerStopsLosingTrials(t *testing.T) {
	calls := 0
	score := func(_ context.Context, _ int, p map[string]string, fold int) (Fold, error) {
		calls++
		n, _ := strconv.Atoi(p["depth"])
		return Fold{Score: float64(n)}, nil // higher depth, higher score
	}
	space := Space{{Name: "depth", Values: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}}}
	r, err := Run(context.Background(), Config{Strategy: "grid", Trials: 12, Folds: 4, Parallel: 1, Seed: 3, Space: space, Metric: "auc", HigherIsBetter: true, Prune: true}, score, nil)
	if err != nil {
		t.Fatal(err)
	}
	pruned := 0
	for i, tr := range r.Trials {
		if tr.State == StatePruned {
			pruned++
			if i < pruneStartup || len(tr.Folds) != 1 {
				t.Errorf("trial %d pruned after %d folds; the first %d run whole and a pruned one stops after its first", tr.Number, len(tr.Folds), pruneStartup)
			}
		}
	}
	if pruned == 0 || calls != 12*4-pruned*3 {
		t.Errorf("%d pruned, %d folds scored", pruned, calls)
	}
	if got := r.BestTrial().Params["depth"]; got != "12" {
		t.Errorf("best depth %s, want 12", got)
	}
}

func TestFailedTrialsAreKeptAndAllFailedIsAnError(t *testing.T) {
	score := func(_ context.Context, _ int, p map[string]string, _ int) (Fold, error) {
		if p["kind"] == "bad" {
			return Fold{}, errors.New("the trainer refused it")
		}
		return Fold{Score: 1}, nil
	}
	cfg := Config{Strategy: "grid", Trials: 5, Folds: 2, Parallel: 2, Space: Space{{Name: "kind", Values: []string{"bad", "good"}}}, Metric: "auc", HigherIsBetter: true}
	r, err := Run(context.Background(), cfg, score, nil)
	if err != nil || len(r.Trials) != 2 || r.Stopped != "grid" || r.BestTrial().Params["kind"] != "good" {
		t.Fatalf("got %+v, %v", r, err)
	}
	cfg.Space[0].Values = []string{"bad"}
	if _, err := Run(context.Background(), cfg, score, nil); err == nil || !strings.Contains(err.Error(), "trial 1 failed: the trainer refused it") {
		t.Errorf("every trial failed: got %v", err)
	}
}

func TestBudgetErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Strategy: "tpe", Trials: 0, Folds: 5, Parallel: 1, Space: bowlSpace}, `--trials: "0" is not valid: want a budget of at least 1 trial`},
		{Config{Strategy: "bayes", Trials: 1, Folds: 5, Parallel: 1, Space: bowlSpace}, `--strategy: "bayes" is not valid`},
		{Config{Strategy: "tpe", Trials: 1, Folds: 1, Parallel: 1, Space: bowlSpace}, `--folds: "1" is not valid: want 2 or more folds`},
		{Config{Strategy: "tpe", Trials: 1, Folds: 5, Parallel: 0, Space: bowlSpace}, `--parallel: "0"`},
		{Config{Strategy: "tpe", Trials: 1, Folds: 5, Parallel: 1, Time: -time.Second, Space: bowlSpace}, `--search-time: "-1s"`},
	} {
		if _, err := Run(context.Background(), c.cfg, bowl, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestTheTimeBudgetStopsStartingTrials(t *testing.T) {
	score := func(ctx context.Context, _ int, p map[string]string, fold int) (Fold, error) {
		time.Sleep(20 * time.Millisecond)
		return bowl(ctx, 0, p, fold)
	}
	r, err := Run(context.Background(), Config{Strategy: "random", Trials: 100, Folds: 2, Parallel: 2, Time: 50 * time.Millisecond, Space: bowlSpace}, score, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stopped != "time" || len(r.Trials) >= 100 || len(r.Trials)%2 != 0 {
		t.Errorf("stopped by %s after %d trials", r.Stopped, len(r.Trials))
	}
}

func TestSplit(t *testing.T) {
	labels := make([]float64, 103)
	for i := range 23 {
		labels[i*4] = 1
	}
	fold, err := Split(labels, nil, 5, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	pos, rows := make([]int, 5), make([]int, 5)
	for i, k := range fold {
		rows[k]++
		pos[k] += int(labels[i])
	}
	for k := range 5 {
		// 23 positives over 5 folds: 4 or 5 each; 103 rows: 20 or 21 each.
		if pos[k] < 4 || pos[k] > 5 || rows[k] < 20 || rows[k] > 21 {
			t.Errorf("fold %d: %d rows, %d positive", k, rows[k], pos[k])
		}
	}
	group := make([]int32, 60)
	for i := range group {
		group[i] = int32(i / 7) // 9 queries, the last of 4 rows
	}
	fold, err = Split(make([]float64, 60), group, 3, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range group {
		if group[i] == group[i/7*7] && fold[i] != fold[i/7*7] {
			t.Fatalf("query %d is split between folds", group[i])
		}
	}
	if _, err := Split(make([]float64, 60), group, 10, false, 1); err == nil || !strings.Contains(err.Error(), "9 queries, fewer than the 10 folds") {
		t.Errorf("too few queries: %v", err)
	}
	if _, err := Split(labels, nil, 30, true, 1); err == nil || !strings.Contains(err.Error(), "label 1 has 23 rows, fewer than the 30 folds") {
		t.Errorf("too few positives: %v", err)
	}
	if _, err := Split(make([]float64, 3), nil, 5, false, 1); err == nil || !strings.Contains(err.Error(), "3 rows, fewer than the 5 folds") {
		t.Errorf("too few rows: %v", err)
	}
}
