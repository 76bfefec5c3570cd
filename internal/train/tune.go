package train

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gbdt"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/search"
)

// tuned is what a search settles on: the algorithm, and the parameters the
// final model is trained with on every training row.
type tuned struct {
	algorithm string
	params    []string
	result    *search.Result
}

// run searches on the training rows (k folds) or the validation file
// (folds 0), every candidate in turn with its share of the budget, and
// returns the best.
func (t *tuner) run(ctx context.Context, train, valid *data.Dataset, log io.Writer) (*tuned, error) {
	folds, err := t.split(train, valid)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	all := &search.Result{Strategy: t.base.Strategy, Metric: t.base.Metric, HigherIsBetter: t.base.HigherIsBetter,
		Folds: t.base.Folds, Seed: t.base.Seed, Stopped: "trials"}
	if t.cfg.Search.Enabled {
		fmt.Fprintf(log, "search: %s, %d trials, %s by %s, %d at once\n", t.base.Strategy, t.base.Trials, t.base.Metric, foldsNote(t.base.Folds), t.base.Parallel)
	}
	var bests []search.Trial
	each, budget := t.base.Trials, t.base.Time
	if len(t.algs) > 1 {
		each, budget = max(1, each/len(t.algs)), budget/time.Duration(len(t.algs))
	}
	pl := &progressLine{log: log, metric: t.base.Metric, total: each * len(t.algs), start: start, budget: t.base.Time}
	ref, err := t.ship(ctx, train, valid, folds, log)
	if err != nil {
		return nil, err
	}
	for _, alg := range t.algs {
		cfg := t.base
		cfg.Space, cfg.Trials, cfg.Time = t.spaces[alg], each, budget
		if t.cfg.Remote != nil {
			cfg.Batch = t.remoteBatch(alg, ref, cfg.Parallel, log)
		}
		offset := len(all.Trials)
		res, err := search.Run(ctx, cfg, t.scorer(alg, folds, cfg.Parallel), pl.of(alg, offset))
		if res == nil {
			return nil, err // the context ended, or the budget was not valid
		}
		for _, tr := range res.Trials {
			tr.Number += offset
			tr.Algorithm = alg
			all.Trials = append(all.Trials, tr)
		}
		if res.Stopped != "trials" {
			all.Stopped = res.Stopped
		}
		c := search.Candidate{Algorithm: alg}
		if err == nil {
			b := res.BestTrial()
			c.Trial, c.Score, c.SD = b.Number+offset, b.Score, b.SD
			bests = append(bests, all.Trials[c.Trial-1])
		} else {
			fmt.Fprintf(log, "%s: %v\n", alg, err)
		}
		all.Candidates = append(all.Candidates, c)
	}
	all.Seconds = time.Since(start).Seconds()
	if len(bests) == 0 {
		return nil, fmt.Errorf("search: no trial of %s completed; see the trials above", strings.Join(t.algs, ", "))
	}
	best := slices.MinFunc(bests, func(a, b search.Trial) int {
		if betterScore(a.Score, b.Score, all.HigherIsBetter) {
			return -1
		}
		if betterScore(b.Score, a.Score, all.HigherIsBetter) {
			return 1
		}
		return a.Number - b.Number
	})
	all.Best = best.Number
	switch {
	case t.cfg.Algorithm != "auto":
		all.Candidates = nil
	case len(t.algs) == 1 && len(t.cfg.Search.Algorithms) == 0:
		all.Why = why(all, best) + fmt.Sprintf("; the one built-in trainer for %s", t.cfg.Objective)
	case len(t.algs) == 1:
		all.Why = why(all, best) + "; the one candidate train.search.algorithms lists"
	default:
		all.Why = why(all, best)
	}
	if all.Why != "" {
		fmt.Fprintln(log, "auto: "+all.Why)
	}
	return &tuned{algorithm: best.Algorithm, params: t.refitParams(best), result: all}, nil
}

// ship sends the rows the trials score on to the remote runner, once; ""
// when the trials run here.
func (t *tuner) ship(ctx context.Context, train, valid *data.Dataset, folds *foldData, log io.Writer) (string, error) {
	if t.cfg.Remote == nil {
		return "", nil
	}
	if folds.k > 0 {
		valid = nil // the folds are cut from the training rows
	}
	rows, err := EncodeRows(train, valid)
	if err != nil {
		return "", err
	}
	ref, err := t.cfg.Remote.Ship(ctx, rows)
	if err != nil {
		return "", fmt.Errorf("search: ship the rows to the trials: %w", err)
	}
	fmt.Fprintf(log, "search: the trials' rows (%.1f MB) at %s\n", float64(len(rows))/1e6, ref)
	return ref, nil
}

func betterScore(a, b float64, higher bool) bool {
	if higher {
		return a > b
	}
	return a < b
}

func foldsNote(k int) string {
	if k == 0 {
		return "the validation file"
	}
	return fmt.Sprintf("%d-fold cross-validation", k)
}

// refitParams are the final model's: the given ones, the best trial's, and
// for trees that stopped early in their folds, the rounds they kept on
// average, as xgboost.cv's users do.
func (t *tuner) refitParams(best search.Trial) []string {
	out := slices.Clone(t.cfg.Params)
	if t.cfg.Algorithm == "auto" {
		out = nil
	}
	for _, k := range slices.Sorted(maps.Keys(best.Params)) {
		out = append(out, k+"="+best.Params[k])
	}
	if best.Algorithm == "gbdt" && t.base.Folds > 0 && len(best.Rounds) > 0 {
		sum := 0
		for _, r := range best.Rounds {
			sum += r
		}
		out = append(out, "trees="+strconv.Itoa(max(1, int(math.Round(float64(sum)/float64(len(best.Rounds)))))))
	}
	return out
}

// why says why auto chose the algorithm it did, with the runner-up's
// score, and whether the lead is within the folds' spread.
func why(r *search.Result, best search.Trial) string {
	var others []string
	closest := math.Inf(1)
	for _, c := range r.Candidates {
		if c.Algorithm == best.Algorithm {
			continue
		}
		if c.Trial == 0 {
			others = append(others, c.Algorithm+" (no trial completed)")
			continue
		}
		others = append(others, fmt.Sprintf("%s %.4f ± %.4f", c.Algorithm, c.Score, c.SD))
		closest = math.Min(closest, math.Abs(best.Score-c.Score))
	}
	s := fmt.Sprintf("%s: %s %.4f ± %.4f by %s", best.Algorithm, r.Metric, best.Score, best.SD, foldsNote(r.Folds))
	if len(others) > 0 {
		s += ", ahead of " + strings.Join(others, " and ")
	}
	if closest <= best.SD {
		s += "; the lead is within one standard deviation of the folds: a close call"
	}
	return s
}

// foldData cuts the training rows into the search's folds, each cut once
// and on first use; with folds 0 it is the training and validation files.
type foldData struct {
	train, valid *data.Dataset
	of           []int // each training row's fold
	k            int
	mu           sync.Mutex
	cut          map[int][2]*data.Dataset
}

func (t *tuner) split(train, valid *data.Dataset) (*foldData, error) {
	k := t.base.Folds
	if k == 0 {
		if valid == nil {
			return nil, &input.Error{Name: "folds", Value: "0", Want: "2 or more folds: 0 scores every trial on the validation file, and there is none (give it with valid)"}
		}
		return &foldData{train: train, valid: valid}, nil
	}
	of, err := search.Split(train.Label, train.Group, k, t.cfg.Objective == "binary", t.cfg.Seed)
	if err != nil {
		return nil, &input.Error{Name: "folds", Value: strconv.Itoa(k), Want: fmt.Sprintf("fewer folds: %s: %v", train.Path, err)}
	}
	return &foldData{train: train, of: of, k: k, cut: map[int][2]*data.Dataset{}}, nil
}

// fold returns the rows a trial trains on and the rows it is scored on.
func (f *foldData) fold(i int) (*data.Dataset, *data.Dataset) {
	if f.k == 0 {
		return f.train, f.valid
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.cut[i]; ok {
		return c[0], c[1]
	}
	var in, out []int
	for r, g := range f.of {
		if g == i {
			out = append(out, r)
		} else {
			in = append(in, r)
		}
	}
	c := [2]*data.Dataset{f.train.Subset(in), f.train.Subset(out)}
	f.cut[i] = c
	return c[0], c[1]
}

// scorer trains a trial on all folds but one and scores it on that one.
// The held-out fold is also the trial's early-stopping set, as in
// xgboost.cv. Trees running beside other trials share the cores.
func (t *tuner) scorer(alg string, folds *foldData, parallel int) search.Scorer {
	return func(ctx context.Context, _ int, params map[string]string, fold int) (search.Fold, error) {
		ps := slices.Clone(t.cfg.Params)
		if t.cfg.Algorithm == "auto" {
			ps = nil
		}
		for _, k := range slices.Sorted(maps.Keys(params)) {
			ps = append(ps, k+"="+params[k])
		}
		if alg == "gbdt" {
			ps = append(ps, "threads="+strconv.Itoa(max(1, runtime.GOMAXPROCS(0)/parallel)))
		}
		fit, _, err := newFit(Config{Algorithm: alg, Objective: t.cfg.Objective, Seed: t.cfg.Seed, Params: ps})
		if err != nil {
			return search.Fold{}, err
		}
		train, test := folds.fold(fold)
		out, err := fit(ctx, train, test, nil)
		if err != nil {
			return search.Fold{}, err
		}
		got, ok := Evaluate(t.cfg.Objective, test, out.predictor.PredictDataset(test))[t.base.Metric]
		if !ok {
			return search.Fold{}, fmt.Errorf("%s is undefined on fold %d (%d rows)", t.base.Metric, fold+1, test.Rows)
		}
		rounds := 0
		if m, ok := out.payload.(*gbdt.Model); ok {
			rounds = len(m.Trees)
		}
		return search.Fold{Score: got, Rounds: rounds}, nil
	}
}

// progressLine prints one line per finished trial: its score, the best so
// far, and the time left, over every candidate's trials.
type progressLine struct {
	log         io.Writer
	metric      string
	done, total int
	start       time.Time
	budget      time.Duration
}

// of is the progress callback of one candidate's search, whose trials are
// numbered after offset.
func (pl *progressLine) of(alg string, offset int) func(search.Trial, *search.Trial) {
	return func(tr search.Trial, best *search.Trial) {
		pl.done++
		var b strings.Builder
		fmt.Fprintf(&b, "trial %d/%d %s", tr.Number+offset, pl.total, alg)
		switch tr.State {
		case search.StateFailed:
			fmt.Fprintf(&b, "  failed: %s", tr.Error)
		case search.StatePruned:
			fmt.Fprintf(&b, "  pruned after %d folds: %s %.5f, behind the median", len(tr.Folds), pl.metric, tr.Score)
		default:
			fmt.Fprintf(&b, "  %s %.5f ± %.5f", pl.metric, tr.Score, tr.SD)
		}
		fmt.Fprintf(&b, "  %s  %.1fs", paramsLine(tr.Params), tr.Seconds)
		if best != nil {
			fmt.Fprintf(&b, "  best of %s %.5f (trial %d)", alg, best.Score, best.Number+offset)
		}
		elapsed := time.Since(pl.start)
		left := time.Duration(float64(elapsed) / float64(pl.done) * float64(pl.total-pl.done))
		if pl.budget > 0 {
			left = min(left, max(0, pl.budget-elapsed))
		}
		fmt.Fprintf(&b, "  elapsed %s, left ~%s", elapsed.Round(100*time.Millisecond), left.Round(time.Second))
		fmt.Fprintln(pl.log, b.String())
	}
}

func paramsLine(p map[string]string) string {
	if len(p) == 0 {
		return "defaults"
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		kv = append(kv, k+"="+p[k])
	}
	return strings.Join(kv, " ")
}
