package gbdt

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// Objective is what the trees are fitted to.
type Objective string

// The objectives.
const (
	Binary     Objective = "binary"     // log-loss; scores are probabilities
	Regression Objective = "regression" // squared error
	LambdaRank Objective = "lambdarank" // LambdaMART for NDCG
)

// Params are the training parameters. Zero values are not defaults: start from
// DefaultParams.
type Params struct {
	Objective      Objective
	Trees          int     // boosting rounds
	LearningRate   float64 // η, shrinkage of every leaf
	MaxDepth       int     // 0: no limit (then MaxLeaves must be set)
	MaxLeaves      int     // 0: no limit beyond MaxDepth
	MinChildWeight float64 // least hessian sum in a leaf
	MinDataInLeaf  int     // least rows in a leaf
	Lambda         float64 // L2 on leaf values
	Gamma          float64 // least gain to split
	Subsample      float64 // share of rows per tree
	Colsample      float64 // share of features per tree
	MaxBin         int     // bins per feature, at most 255
	// EarlyStopping stops when the validation metric has not improved for
	// this many rounds (0: never); it needs validation data.
	EarlyStopping int
	// TruncationLevel limits LambdaMART's pairs to those with a member in
	// this many top positions.
	TruncationLevel int
	EvalAt          int   // k of the NDCG@k watched for ranking
	Seed            int64 // row and feature sampling
	Threads         int   // 0: all cores
}

// DefaultParams are defaults in the spirit of XGBoost's and LightGBM's, good
// without tuning on the data sets in ../shared/datasets.
//
// LambdaMART's gradients are normalised per query and much smaller than
// log-loss's, so ranking takes LightGBM's lambdarank leaf limits instead of
// XGBoost's min-child-weight of 1.
func DefaultParams(obj Objective) Params {
	p := Params{
		Objective: obj, Trees: 100, LearningRate: 0.1, MaxDepth: 6,
		MinChildWeight: 1, MinDataInLeaf: 1, Lambda: 1, Subsample: 1, Colsample: 1,
		MaxBin: 255, EarlyStopping: 20, TruncationLevel: 30, EvalAt: 10, Seed: 1,
	}
	if obj == LambdaRank {
		p.MinChildWeight, p.MinDataInLeaf = 1e-3, 20
	}
	return p
}

type paramSpec struct {
	help  string
	set   func(p *Params, v string) error
	value func(p Params) string
}

func intParam(field func(*Params) *int, lo, hi int, help string) paramSpec {
	return paramSpec{help: help,
		set: func(p *Params, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				return fmt.Errorf("want a whole number from %d to %d", lo, hi)
			}
			*field(p) = n
			return nil
		},
		value: func(p Params) string { return strconv.Itoa(*field(&p)) },
	}
}

func floatParam(field func(*Params) *float64, lo, hi float64, openLo bool, help string) paramSpec {
	return paramSpec{help: help,
		set: func(p *Params, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || f < lo || f > hi || (openLo && f == lo) {
				if openLo {
					return fmt.Errorf("want a number above %g and at most %g", lo, hi)
				}
				return fmt.Errorf("want a number from %g to %g", lo, hi)
			}
			*field(p) = f
			return nil
		},
		value: func(p Params) string { return strconv.FormatFloat(*field(&p), 'g', -1, 64) },
	}
}

var params = map[string]paramSpec{
	"trees":            intParam(func(p *Params) *int { return &p.Trees }, 1, 100000, "boosting rounds"),
	"learning-rate":    floatParam(func(p *Params) *float64 { return &p.LearningRate }, 0, 1, true, "shrinkage η"),
	"max-depth":        intParam(func(p *Params) *int { return &p.MaxDepth }, 0, 64, "tree depth limit, 0 for none"),
	"max-leaves":       intParam(func(p *Params) *int { return &p.MaxLeaves }, 0, 1<<16, "leaves per tree, 0 for no limit"),
	"min-child-weight": floatParam(func(p *Params) *float64 { return &p.MinChildWeight }, 0, math.MaxFloat64, false, "least hessian sum per leaf"),
	"min-data-in-leaf": intParam(func(p *Params) *int { return &p.MinDataInLeaf }, 1, math.MaxInt32, "least rows per leaf"),
	"lambda":           floatParam(func(p *Params) *float64 { return &p.Lambda }, 0, math.MaxFloat64, false, "L2 regularisation of leaf values"),
	"gamma":            floatParam(func(p *Params) *float64 { return &p.Gamma }, 0, math.MaxFloat64, false, "least gain to split"),
	"subsample":        floatParam(func(p *Params) *float64 { return &p.Subsample }, 0, 1, true, "share of rows per tree"),
	"colsample":        floatParam(func(p *Params) *float64 { return &p.Colsample }, 0, 1, true, "share of features per tree"),
	"max-bin":          intParam(func(p *Params) *int { return &p.MaxBin }, 2, 255, "bins per feature"),
	"early-stopping":   intParam(func(p *Params) *int { return &p.EarlyStopping }, 0, 100000, "rounds without improvement before stopping, 0 for never"),
	"truncation-level": intParam(func(p *Params) *int { return &p.TruncationLevel }, 1, 100000, "LambdaMART: top positions whose pairs count"),
	"eval-at":          intParam(func(p *Params) *int { return &p.EvalAt }, 1, 100000, "ranking: k of the NDCG@k watched for early stopping"),
	"threads":          intParam(func(p *Params) *int { return &p.Threads }, 0, 1024, "threads, 0 for all cores"),
}

// ParamNames lists the parameters Set accepts, sorted.
func ParamNames() []string {
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Set sets one parameter by its name as users write it (--param name=value).
func (p *Params) Set(name, value string) error {
	spec, ok := params[name]
	if !ok {
		return fmt.Errorf("unknown gbdt parameter %q: known are %s", name, strings.Join(ParamNames(), ", "))
	}
	if err := spec.set(p, strings.TrimSpace(value)); err != nil {
		return fmt.Errorf("gbdt parameter %s=%q: %w", name, value, err)
	}
	return nil
}

// Map returns every parameter as name=value text, for model.json.
func (p Params) Map() map[string]string {
	m := map[string]string{"objective": string(p.Objective), "seed": strconv.FormatInt(p.Seed, 10)}
	for n, s := range params {
		if n != "threads" {
			m[n] = s.value(p)
		}
	}
	return m
}

// Validate checks the parameters together.
func (p Params) Validate() error {
	switch p.Objective {
	case Binary, Regression, LambdaRank:
	default:
		return fmt.Errorf("gbdt objective %q: want binary, regression or lambdarank", p.Objective)
	}
	if p.MaxDepth == 0 && p.MaxLeaves == 0 {
		return fmt.Errorf("gbdt: max-depth=0 needs max-leaves to bound the trees")
	}
	if p.Trees < 1 || p.LearningRate <= 0 || p.MaxBin < 2 || p.MaxBin > 255 || p.Subsample <= 0 || p.Colsample <= 0 {
		return fmt.Errorf("gbdt: parameters out of range: %+v", p)
	}
	return nil
}

// ThreadCount is how many threads training uses: Threads, or every core.
func (p Params) ThreadCount() int {
	if p.Threads > 0 {
		return p.Threads
	}
	return runtime.GOMAXPROCS(0)
}
