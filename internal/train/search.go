package train

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/internal/search"
)

// Search is a training run's parameter search (ferry train --search, and
// --algorithm auto), from the flags over ferry.yaml's train.search.
type Search struct {
	Enabled  bool
	Strategy string // tpe, random or grid
	Trials   int
	Time     time.Duration // 0: no limit
	Folds    int           // 0: score on the validation file
	Parallel int           // trials at once; 0: 4 for ferry's trainers, 1 for the command trainer
	Metric   string        // default: the objective's (auc, rmse, ndcg@10)
	// Space is ferry.yaml's train.search.space; nil searches the
	// algorithm's default space.
	Space map[string]search.DimSpec
	// Algorithms are --algorithm auto's candidates; nil: every built-in
	// trainer that fits the objective.
	Algorithms []string
}

const spaceKey = "ferry.yaml train.search.space"

// defaultParallel is how many trials of ferry's own trainers run at once
// when not told: a constant, not the machine's cores, so that a search
// gives the same trials on every machine. The command trainer runs one at
// a time unless told, since its trials share the GPUs.
const defaultParallel = 4

// DefaultMetric is what a search maximises or minimises for the objective
// when not told.
func DefaultMetric(objective string) string {
	switch objective {
	case "regression":
		return "rmse"
	case "lambdarank":
		return "ndcg@10"
	}
	return "auc"
}

func ptr(x float64) *float64 { return &x }

// DefaultSpace is the trainer's searched parameters when ferry.yaml names
// none: the ranges XGBoost's, LightGBM's and scikit-learn's tuning guides
// start from.
func DefaultSpace(algorithm, objective string) map[string]search.DimSpec {
	switch algorithm {
	case "logistic":
		return map[string]search.DimSpec{"c": {Min: ptr(1e-3), Max: ptr(1e3), Scale: "log"}}
	case "mlp":
		return map[string]search.DimSpec{
			"hidden":        {Values: []string{"32", "64,32", "128,64"}},
			"learning-rate": {Min: ptr(3e-4), Max: ptr(3e-3), Scale: "log"},
			"l2":            {Min: ptr(1e-6), Max: ptr(1e-2), Scale: "log"},
			"dropout":       {Min: ptr(0), Max: ptr(0.3)},
		}
	}
	s := map[string]search.DimSpec{
		"learning-rate":    {Min: ptr(0.02), Max: ptr(0.3), Scale: "log"},
		"max-depth":        {Min: ptr(3), Max: ptr(10)},
		"max-leaves":       {Min: ptr(7), Max: ptr(127), Scale: "log"},
		"min-child-weight": {Min: ptr(1e-3), Max: ptr(10), Scale: "log"},
		"subsample":        {Min: ptr(0.5), Max: ptr(1)},
		"colsample":        {Min: ptr(0.5), Max: ptr(1)},
		"lambda":           {Min: ptr(1e-3), Max: ptr(10), Scale: "log"},
	}
	if objective == "lambdarank" {
		s["min-data-in-leaf"] = search.DimSpec{Min: ptr(5), Max: ptr(100), Scale: "log"}
	}
	return s
}

// candidates are the algorithms a run chooses among: its own, or with auto
// every built-in trainer that fits the objective (or those listed).
func candidates(cfg Config) ([]string, error) {
	if cfg.Algorithm != "auto" {
		return []string{cfg.Algorithm}, nil
	}
	fits := []string{"gbdt", "logistic", "mlp"}
	if cfg.Objective == "lambdarank" {
		fits = []string{"gbdt"}
	}
	if len(cfg.Search.Algorithms) == 0 {
		return fits, nil
	}
	for _, a := range cfg.Search.Algorithms {
		if !slices.Contains(fits, a) {
			return nil, &search.SpecError{Key: "ferry.yaml train.search.algorithms", Msg: fmt.Sprintf("%q: want some of %s for objective %s", a, strings.Join(fits, ", "), cfg.Objective)}
		}
	}
	return cfg.Search.Algorithms, nil
}

// tuner runs the search of one training run.
type tuner struct {
	cfg    Config
	algs   []string
	spaces map[string]search.Space
	base   search.Config
}

// newTuner checks the search before any data is read: the budget, the
// metric, the candidates and every space against its trainer.
func newTuner(cfg Config) (*tuner, error) {
	if cfg.Algorithm == "auto" && len(cfg.Params) > 0 {
		return nil, &ParamError{fmt.Errorf("--param %s with --algorithm auto: the parameters belong to one algorithm; name it, or let each candidate search its own space", cfg.Params[0])}
	}
	if cfg.Algorithm == "auto" && cfg.Search.Space != nil {
		return nil, &search.SpecError{Key: spaceKey, Msg: "a space belongs to one algorithm: with --algorithm auto each candidate searches its default space; name the algorithm to search this one"}
	}
	s := cfg.Search
	if s.Parallel == 0 {
		s.Parallel = defaultParallel
	}
	metric := cmp.Or(s.Metric, DefaultMetric(cfg.Objective))
	higher, ok := metrics.HigherIsBetter(metric)
	if !ok || !slices.Contains(metricNames(cfg.Objective), metric) {
		return nil, &search.SpecError{Key: "ferry.yaml train.search.metric", Msg: fmt.Sprintf("%q: want one of %s for objective %s", metric, strings.Join(metricNames(cfg.Objective), ", "), cfg.Objective)}
	}
	t := &tuner{cfg: cfg, spaces: map[string]search.Space{}, base: search.Config{
		Strategy: s.Strategy, Trials: s.Trials, Time: s.Time, Folds: s.Folds, Parallel: s.Parallel, Seed: cfg.Seed,
		Metric: metric, HigherIsBetter: higher, Prune: true,
	}}
	if !s.Enabled { // auto alone: each candidate once, at its defaults
		t.base.Strategy, t.base.Trials, t.base.Time = "grid", 1, 0
	}
	probe := t.base
	probe.Space = search.Space{{Name: "probe"}}
	if err := probe.Validate(); err != nil {
		return nil, err
	}
	var err error
	if t.algs, err = candidates(cfg); err != nil {
		return nil, err
	}
	for _, alg := range t.algs {
		if !s.Enabled {
			continue
		}
		spec, key := s.Space, spaceKey
		if spec == nil {
			spec, key = DefaultSpace(alg, cfg.Objective), "the default space of "+alg
		}
		if t.spaces[alg], err = search.ParseSpace(key, spec, t.setter(alg)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// setter tries one parameter on the algorithm's trainer, with the given
// parameters before it.
func (t *tuner) setter(alg string) func(name, value string) error {
	return func(name, value string) error {
		_, _, err := newFit(Config{Algorithm: alg, Objective: t.cfg.Objective, Params: append(slices.Clip(t.cfg.Params), name+"="+value)})
		return err
	}
}

// metricNames are the metrics Evaluate computes for the objective.
func metricNames(objective string) []string {
	switch objective {
	case "binary":
		return []string{"auc", "logloss", "accuracy", "precision", "recall", "f1", "brier", "ece"}
	case "regression":
		return []string{"rmse", "mse", "mae"}
	}
	var out []string
	for _, k := range []int{1, 3, 5, 10} {
		out = append(out, fmt.Sprintf("ndcg@%d", k), fmt.Sprintf("map@%d", k), fmt.Sprintf("precision@%d", k), fmt.Sprintf("recall@%d", k))
	}
	return append(out, "mrr")
}
