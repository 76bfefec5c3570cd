package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/ferry-ml/ferry/internal/input"
)

// The states a trial ends in.
const (
	StateComplete = "complete" // every fold scored
	StatePruned   = "pruned"   // stopped early: its first folds lost to the median
	StateFailed   = "failed"   // the trainer refused it or failed
)

// Config is one search.
type Config struct {
	Strategy string        // tpe, random or grid
	Trials   int           // at most this many trials
	Time     time.Duration // start no trial after this long; 0: no limit
	Folds    int           // folds scored per trial
	// Parallel trials run at once. They are proposed together, from the
	// trials before them, so the results depend on Parallel and the seed,
	// not on the machine.
	Parallel int
	Seed     int64
	Space    Space
	// Metric names the score; HigherIsBetter says which way is better.
	Metric         string
	HigherIsBetter bool
	// Prune stops a trial after a fold when its mean so far is worse than
	// the median of the trials before it at the same fold (Optuna's
	// MedianPruner), once pruneStartup trials have finished.
	Prune bool
	// Batch, when set, scores each batch of proposed trials somewhere else
	// (a Kubernetes Indexed Job, one trial per index) instead of on this
	// process's goroutines; see BatchFunc.
	Batch BatchFunc
}

// BatchFunc scores a batch of proposed trials (Number and Params set) on
// every fold, as ScoreTrial does, each against bars, and fills in the rest
// of each trial. An error is the engine's, not a trial's: it ends the
// search. A trial that fails is a trial in StateFailed.
type BatchFunc func(ctx context.Context, batch []Trial, bars Bars) error

// Bars are the pruner's: for each fold f, the median of the earlier
// trials' means over folds 0 to f, or nil where fewer than pruneStartup
// trials reached that fold. They are fixed for a batch, so a trial scores
// the same wherever it runs.
type Bars []*float64

// pruneStartup trials run whole before the pruner judges any.
const pruneStartup = 5

// Validate checks the budget and the strategy. Errors name the flags by
// their declared names (input.Error), for the front end to rename.
func (c *Config) Validate() error {
	bad := func(name string, v any, want string) error {
		return &input.Error{Name: name, Value: fmt.Sprint(v), Want: want}
	}
	switch {
	case c.Strategy != "tpe" && c.Strategy != "random" && c.Strategy != "grid":
		return bad("strategy", c.Strategy, "tpe, random or grid")
	case c.Trials < 1:
		return bad("trials", c.Trials, "a budget of at least 1 trial")
	case c.Time < 0:
		return bad("search-time", c.Time, "a duration such as 30m, or 0 for no limit")
	case c.Folds < 2 && c.Folds != 0:
		return bad("folds", c.Folds, "2 or more folds, or 0 to score on the validation file")
	case c.Parallel < 1:
		return bad("parallel", c.Parallel, "1 or more trials at once")
	case len(c.Space) == 0 && c.Strategy != "grid":
		return &SpecError{Key: "space", Msg: "no parameter to search"}
	}
	return nil
}

// Fold is one scored fold of a trial.
type Fold struct {
	Score  float64
	Rounds int // the rounds or epochs training kept (early stopping); 0 when it does not say
}

// Scorer trains trial number trial's parameters on all folds but fold and
// scores it on fold (with Folds 0, there is one "fold": the validation
// file). The number is the one the Result records, whichever order
// parallel trials start in.
type Scorer func(ctx context.Context, trial int, params map[string]string, fold int) (Fold, error)

// Trial is one tried point of the space.
type Trial struct {
	Number    int               `json:"number"` // from 1
	Algorithm string            `json:"algorithm,omitempty"`
	Params    map[string]string `json:"params"`
	Folds     []float64         `json:"folds"`
	Rounds    []int             `json:"rounds,omitempty"`
	// Score is the mean of Folds, SD their standard deviation; 0 for a
	// failed trial.
	Score float64 `json:"score"`
	SD    float64 `json:"sd"`
	// Seconds is kept in run.json, not model.json: it differs between
	// two runs of the same search.
	Seconds float64 `json:"-"`
	State   string  `json:"state"`
	Error   string  `json:"error,omitempty"`
}

// Result is a finished search.
type Result struct {
	Strategy       string  `json:"strategy"`
	Metric         string  `json:"metric"`
	HigherIsBetter bool    `json:"higher_is_better"`
	Folds          int     `json:"folds"` // 0: scored on the validation file
	Seed           int64   `json:"seed"`
	Trials         []Trial `json:"trials"`
	Best           int     `json:"best"`    // Number of the best complete trial
	Stopped        string  `json:"stopped"` // trials, time or grid: why the search ended
	Seconds        float64 `json:"-"`
	// Candidates and Why, with --algorithm auto: each algorithm's best
	// trial, and why the chosen one won.
	Candidates []Candidate `json:"candidates,omitempty"`
	Why        string      `json:"why,omitempty"`
}

// Candidate is one algorithm's best under --algorithm auto.
type Candidate struct {
	Algorithm string  `json:"algorithm"`
	Trial     int     `json:"trial"` // number of its best trial; 0 when none completed
	Score     float64 `json:"score"`
	SD        float64 `json:"sd"`
}

// BestTrial is the best complete trial.
func (r *Result) BestTrial() Trial { return r.Trials[r.Best-1] }

// Run searches: it proposes up to cfg.Trials trials, Parallel at a time,
// and scores each on every fold through score; progress hears of each
// trial as it ends, with the best so far. It fails only when no trial
// completes, or when ctx ends.
func Run(ctx context.Context, cfg Config, score Scorer, progress func(t Trial, best *Trial)) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	res := &Result{Strategy: cfg.Strategy, Metric: cfg.Metric, HigherIsBetter: cfg.HigherIsBetter, Folds: cfg.Folds, Seed: cfg.Seed, Stopped: "trials"}
	var points []map[string]string
	if cfg.Strategy == "grid" {
		points = grid(cfg.Space, cfg.Seed)
		if len(points) < cfg.Trials {
			cfg.Trials, res.Stopped = len(points), "grid"
		}
	}
	var mu sync.Mutex
	var best *Trial
	for n := 0; n < cfg.Trials; {
		if cfg.Time > 0 && time.Since(start) >= cfg.Time {
			res.Stopped = "time"
			break
		}
		batch := make([]Trial, min(cfg.Parallel, cfg.Trials-n))
		for i := range batch {
			batch[i] = Trial{Number: n + i + 1, Params: propose(cfg, points, res.Trials, n+i)}
		}
		bars := PruneBars(cfg, res.Trials)
		done := func(t Trial) {
			mu.Lock()
			defer mu.Unlock()
			if t.State == StateComplete && (best == nil || better(t, *best, cfg.HigherIsBetter)) {
				best = &t
			}
			if progress != nil {
				progress(t, best)
			}
		}
		if cfg.Batch != nil {
			if err := cfg.Batch(ctx, batch, bars); err != nil {
				return nil, err
			}
			for _, t := range batch {
				done(t)
			}
		} else {
			var wg sync.WaitGroup
			for i := range batch {
				wg.Go(func() {
					ScoreTrial(ctx, cfg, score, bars, &batch[i])
					done(batch[i])
				})
			}
			wg.Wait()
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res.Trials = append(res.Trials, batch...)
		n += len(batch)
	}
	res.Seconds = time.Since(start).Seconds()
	if best == nil {
		return res, noTrial(res)
	}
	res.Best = best.Number
	return res, nil
}

// propose is trial i's point: the grid's, or the strategy's from the
// trials finished before its batch, with a generator of its own so that
// trial i is the same wherever it runs.
func propose(cfg Config, points []map[string]string, done []Trial, i int) map[string]string {
	if points != nil {
		return points[i]
	}
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)+1))
	if cfg.Strategy == "random" {
		return randomPoint(cfg.Space, r)
	}
	return tpePoint(cfg.Space, done, cfg.HigherIsBetter, r)
}

// ScoreTrial scores trial t on every fold, in order, and stops it after a
// fold whose mean so far is worse than that fold's bar (cfg.Prune).
func ScoreTrial(ctx context.Context, cfg Config, score Scorer, bars Bars, t *Trial) {
	start := time.Now()
	defer func() { t.Seconds = time.Since(start).Seconds() }()
	folds := max(cfg.Folds, 1)
	t.State = StateComplete
	for f := range folds {
		got, err := score(ctx, t.Number, t.Params, f)
		if err != nil {
			t.State, t.Error = StateFailed, err.Error()
			t.Score, t.SD = 0, 0
			return
		}
		t.Folds = append(t.Folds, got.Score)
		if got.Rounds > 0 {
			t.Rounds = append(t.Rounds, got.Rounds)
		}
		t.Score, t.SD = meanSD(t.Folds)
		if cfg.Prune && f < folds-1 && f < len(bars) && bars[f] != nil && worse(t.Score, *bars[f], cfg.HigherIsBetter) {
			t.State = StatePruned
			return
		}
	}
}

// PruneBars are the pruner's bars for the trials proposed after history:
// per fold, the median of the earlier trials' means over the folds up to
// it. Nil without cfg.Prune.
func PruneBars(cfg Config, history []Trial) Bars {
	if !cfg.Prune {
		return nil
	}
	bars := make(Bars, max(cfg.Folds, 1))
	for f := range bars {
		var means []float64
		for _, h := range history {
			if h.State != StateFailed && len(h.Folds) > f {
				m, _ := meanSD(h.Folds[:f+1])
				means = append(means, m)
			}
		}
		if len(means) < pruneStartup {
			continue
		}
		sort.Float64s(means)
		median := means[len(means)/2]
		if len(means)%2 == 0 {
			median = (means[len(means)/2-1] + median) / 2
		}
		bars[f] = &median
	}
	return bars
}

// worse reports whether mean is worse than bar.
func worse(mean, bar float64, higher bool) bool {
	if higher {
		return mean < bar
	}
	return mean > bar
}

func meanSD(xs []float64) (float64, float64) {
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	if len(xs) < 2 {
		return m, 0
	}
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)-1))
}

// noTrial is the error of a search in which no trial completed: the first
// failure's reason, which is usually every trial's.
func noTrial(res *Result) error {
	for _, t := range res.Trials {
		if t.State == StateFailed {
			return fmt.Errorf("search: none of %d trials completed; trial %d failed: %s", len(res.Trials), t.Number, t.Error)
		}
	}
	if len(res.Trials) == 0 {
		return errors.New("search: the time budget ended before the first trial")
	}
	return fmt.Errorf("search: none of %d trials completed", len(res.Trials))
}
