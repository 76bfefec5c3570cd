package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/external"
	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/search"
)

// commandSearch searches the parameters of the team's own command: each
// trial runs the command once on its backend, with the trial's values in
// FERRY_PARAM_<NAME>, and is scored by the validation metric the command
// reports in metrics.json. The command validates on its own rows
// (FERRY_DATA_VALID), so there are no folds, and the best trial's model is
// the run's model as it was trained: nothing is refitted.
type commandSearch struct {
	cfg    search.Config
	ec     external.Config
	deps   external.Deps
	metric string // as the user wrote it: auc, or a section and key, valid.auc
	dir    string // the trials' model directories, beside the output
}

// newCommandSearch checks the search before the command runs: a space is
// required (ferry cannot know the command's parameters), each parameter
// must reach the command under its own variable, and the metric must be
// one whose direction ferry knows.
func newCommandSearch(s Search, seed int64, objective string, ec external.Config, deps external.Deps) (*commandSearch, error) {
	if len(s.Space) == 0 {
		return nil, &search.SpecError{Key: spaceKey, Msg: "the command trainer has no default space: list the parameters your command reads from FERRY_PARAM_<NAME>, such as learning-rate: {min: 0.0001, max: 0.01, scale: log}"}
	}
	vars := map[string]string{}
	for name := range s.Space {
		v := external.ParamEnv(name)
		if other, ok := vars[v]; ok {
			return nil, &search.SpecError{Key: spaceKey, Msg: fmt.Sprintf("%q and %q both reach the command as %s: rename one", min(name, other), max(name, other), v)}
		}
		vars[v] = name
	}
	space, err := search.ParseSpace(spaceKey, s.Space, func(string, string) error { return nil })
	if err != nil {
		return nil, err
	}
	metric := cmp.Or(s.Metric, DefaultMetric(objective))
	base := metric[strings.LastIndexByte(metric, '.')+1:]
	higher, ok := metrics.HigherIsBetter(base)
	if !ok {
		return nil, &search.SpecError{Key: "ferry.yaml train.search.metric", Msg: fmt.Sprintf("%q: want a metric ferry knows the direction of (auc, logloss, rmse, ndcg@10, ...), as your command writes it to metrics.json, optionally under a section (valid.auc)", metric)}
	}
	parallel := s.Parallel
	if parallel == 0 {
		parallel = 1 // the command's GPUs are not shared unless asked
	}
	cfg := search.Config{Strategy: s.Strategy, Trials: s.Trials, Time: s.Time, Folds: 0, Parallel: parallel, Seed: seed,
		Space: space, Metric: metric, HigherIsBetter: higher}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &commandSearch{cfg: cfg, ec: ec, deps: deps, metric: metric}, nil
}

// run runs the trials and saves the best trial's model at the output, with
// every trial recorded in its model.json.
func (c *commandSearch) run(ctx context.Context, log io.Writer) (*external.Result, error) {
	parent := filepath.Dir(filepath.Clean(c.ec.Out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "."+filepath.Base(c.ec.Out)+".trials-")
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	defer os.RemoveAll(dir)
	c.dir = dir
	fmt.Fprintf(log, "search: %s, %d trials of %q, %s as the command reports it in metrics.json, %d at once\n",
		c.cfg.Strategy, c.cfg.Trials, c.ec.Command, c.metric, c.cfg.Parallel)
	log = &external.LockedWriter{W: log} // parallel trials stream their commands' output and progress into one log
	pl := &progressLine{log: log, metric: c.metric, total: c.cfg.Trials, start: time.Now(), budget: c.cfg.Time}
	// A metrics.json without the metric is the command's contract broken,
	// not a bad point of the space: it stops the search at once.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	cfg := c.cfg
	if ir, ok := c.deps.Backend.(indexedRunner); ok {
		cfg.Batch = c.batch(ir, log)
		fmt.Fprintf(log, "search: each batch of %d trials runs as one Kubernetes Indexed Job, a trial per index\n", cfg.Parallel)
	}
	res, err := search.Run(ctx, cfg, c.trial(log, stop), pl.of("command", 0))
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return nil, fmt.Errorf("search stopped: %w", cause)
	}
	if err != nil {
		return nil, err
	}
	return c.keep(res)
}

// trial is the search's scorer: it runs the command with one trial's
// parameters into the trial's own model directory and reads the metric it
// reported.
func (c *commandSearch) trial(log io.Writer, stop context.CancelCauseFunc) search.Scorer {
	return func(ctx context.Context, n int, params map[string]string, _ int) (search.Fold, error) {
		ec := c.ec
		ec.Out, ec.Params, ec.Trial = c.trialDir(n), params, n
		res, err := external.Train(ctx, ec, c.deps, log)
		if err != nil {
			return search.Fold{}, err
		}
		got, err := reported(res.Manifest.Metrics, c.metric)
		if err != nil {
			stop(fmt.Errorf("trial %d: %w", n, err))
			return search.Fold{}, err
		}
		return search.Fold{Score: got}, nil
	}
}

// indexedRunner runs a batch's commands as one Job, one per index: the
// kubernetes backend (external.Kubernetes.RunIndexed).
type indexedRunner interface {
	RunIndexed(ctx context.Context, jobs []external.Job, log io.Writer) ([]error, error)
}

// batch is the search's BatchFunc on an indexedRunner: it prepares each
// trial's run as trial would, runs their commands as one Job, and scores
// each trial by what its command reported. A metrics.json without the
// metric stops the search, as with trial.
func (c *commandSearch) batch(ir indexedRunner, log io.Writer) search.BatchFunc {
	return func(ctx context.Context, batch []search.Trial, _ search.Bars) error {
		runs := make([]*external.Prepared, len(batch))
		jobs := make([]external.Job, len(batch))
		for i, t := range batch {
			ec := c.ec
			ec.Out, ec.Params, ec.Trial = c.trialDir(t.Number), t.Params, t.Number
			r, err := external.Prepare(ctx, ec, c.deps, log)
			if err != nil {
				return fmt.Errorf("trial %d: %w", t.Number, err)
			}
			defer r.Close()
			runs[i], jobs[i] = r, r.Job
		}
		start := time.Now()
		outcomes, err := ir.RunIndexed(ctx, jobs, log)
		if err != nil {
			return err
		}
		took := time.Since(start)
		for i := range batch {
			t := &batch[i]
			t.Seconds, t.State = took.Seconds(), search.StateFailed
			if outcomes[i] != nil {
				t.Error = outcomes[i].Error()
				continue
			}
			res, err := runs[i].Finish(ctx, took)
			if err != nil {
				t.Error = err.Error()
				continue
			}
			got, err := reported(res.Manifest.Metrics, c.metric)
			if err != nil {
				return fmt.Errorf("trial %d: %w", t.Number, err)
			}
			t.Folds, t.Score, t.State = []float64{got}, got, search.StateComplete
		}
		return nil
	}
}

// keep saves the best trial's model at the output, with the search in its
// model.json and the trials' times in run.json.
func (c *commandSearch) keep(res *search.Result) (*external.Result, error) {
	best := res.BestTrial()
	m, err := model.Load(c.trialDir(best.Number))
	if err != nil {
		return nil, fmt.Errorf("search: the best trial's model (trial %d): %w", best.Number, err)
	}
	raw, err := os.ReadFile(filepath.Join(m.Dir, m.Manifest.Payload))
	if err != nil {
		return nil, fmt.Errorf("search: the best trial's model (trial %d): %w", best.Number, err)
	}
	man := m.Manifest
	man.Profile, man.Search, man.Run.Search = m.Profile, res, searchRun(res)
	if err := model.Save(c.ec.Out, man, raw); err != nil {
		return nil, err
	}
	return &external.Result{Dir: c.ec.Out, Manifest: man}, nil
}

// trialDir is trial n's model directory.
func (c *commandSearch) trialDir(n int) string { return filepath.Join(c.dir, "trial-"+strconv.Itoa(n)) }

// reported finds the search's metric in what the command reported: a
// top-level number (under "reported"), the one section that has it, or the
// section the metric names (valid.auc). Two sections with it are
// ambiguous: the search stops rather than guess.
func reported(got map[string]map[string]float64, metric string) (float64, error) {
	if v, ok := got["reported"][metric]; ok {
		return v, nil
	}
	if sec, key, ok := strings.Cut(metric, "."); ok {
		if v, ok := got[sec][key]; ok {
			return v, nil
		}
	}
	var in []string
	for _, sec := range slices.Sorted(maps.Keys(got)) {
		if _, ok := got[sec][metric]; ok {
			in = append(in, sec)
		}
	}
	switch len(in) {
	case 1:
		return got[in[0]][metric], nil
	case 0:
		var have []string
		for _, sec := range slices.Sorted(maps.Keys(got)) {
			for _, k := range slices.Sorted(maps.Keys(got[sec])) {
				if sec == "reported" {
					have = append(have, k)
				} else {
					have = append(have, sec+"."+k)
				}
			}
		}
		return 0, fmt.Errorf("the command's metrics.json has no %s (it has: %s): write the validation %s to $FERRY_OUTPUT/metrics.json", metric, orNone(have), metric)
	}
	hint := in[0]
	if i := slices.IndexFunc(in, func(s string) bool { return strings.Contains(s, "valid") }); i >= 0 {
		hint = in[i]
	}
	return 0, fmt.Errorf("the command's metrics.json has %s in %s: name one in train.search.metric, such as %s.%s", metric, strings.Join(in, " and "), hint, metric)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}
