package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gbdt"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/linear"
	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/internal/mlp"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/profile"
	"github.com/ferry-ml/ferry/internal/search"
	"github.com/ferry-ml/ferry/internal/version"
)

// Config is everything a training run needs.
type Config struct {
	Data      string
	Valid     string // optional
	Read      data.Options
	Algorithm string // gbdt, mlp, logistic, or auto: the best of them by cross-validation
	Objective string // binary, regression or lambdarank
	// Params are key=value trainer parameters, applied in order.
	Params []string
	Seed   int64
	Out    string
	Name   string // model name; default: the base name of Out
	GitSHA string // for lineage; may be empty
	// Search, when enabled, tunes Params by cross-validation first.
	Search Search
	// Remote, when set, runs the search's trials there (a Kubernetes
	// Indexed Job per batch); nil runs them on this machine's cores. The
	// refit on every row runs here either way.
	Remote TrialRunner
}

// Validate checks the config before any file is read.
func (c *Config) Validate() error {
	if c.Data == "" {
		return input.Paramf("data", "no training data: give the file with %s (or data: in ferry.yaml)")
	}
	if c.Out == "" {
		return input.Paramf("out", "no output directory: give one with %s")
	}
	switch c.Algorithm {
	case "gbdt", "mlp", "logistic", "auto":
	default:
		return fmt.Errorf("algorithm %q: want gbdt, mlp, logistic or auto", c.Algorithm)
	}
	switch c.Objective {
	case "binary", "regression":
	case "lambdarank":
		if c.Algorithm != "gbdt" && c.Algorithm != "auto" {
			return fmt.Errorf("objective lambdarank needs --algorithm gbdt (LambdaMART); %s trains binary or regression models", c.Algorithm)
		}
	default:
		return fmt.Errorf("objective %q: want binary, regression or lambdarank", c.Objective)
	}
	for _, kv := range c.Params {
		if k, _, ok := strings.Cut(kv, "="); !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("--param %q: want key=value, such as learning-rate=0.1", kv)
		}
	}
	if c.Name == "" {
		c.Name = filepath.Base(filepath.Clean(c.Out))
	}
	return nil
}

// Result is a finished run.
type Result struct {
	Dir      string
	Manifest model.Manifest
}

// Progress is one line of training progress.
type Progress struct {
	Step, Steps    int    // round or epoch
	Unit           string // "round" or "epoch"
	Metric         string
	Train, Valid   float64 // Valid is NaN without validation data
	Best           int
	Elapsed, ETA   time.Duration
	Stopped        bool
	HigherIsBetter bool
}

// String is the progress line people read.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d/%d  %s train %.5f", p.Unit, p.Step, p.Steps, p.Metric, p.Train)
	if !math.IsNaN(p.Valid) {
		fmt.Fprintf(&b, "  valid %.5f (best %d)", p.Valid, p.Best)
	}
	fmt.Fprintf(&b, "  elapsed %s", p.Elapsed.Round(10*time.Millisecond))
	if p.Stopped {
		fmt.Fprintf(&b, "  early stop: no better validation %s in the last rounds", p.Metric)
	} else if p.Step < p.Steps {
		fmt.Fprintf(&b, "  eta %s", p.ETA.Round(100*time.Millisecond))
	}
	return b.String()
}

// Run trains and writes the model. progress gets every round or epoch;
// log gets what people read (may be io.Discard).
func Run(ctx context.Context, cfg Config, log io.Writer, progress func(Progress)) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var (
		fit     fitFunc
		threads int // the fit's
		tuner   *tuner
		err     error
	)
	if cfg.Search.Enabled || cfg.Algorithm == "auto" {
		tuner, err = newTuner(cfg)
	} else {
		fit, threads, err = newFit(cfg)
	}
	if err != nil {
		return nil, err
	}
	started := time.Now()
	train, valid, err := readData(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	readDone := time.Now()
	var tune *tuned
	if tuner != nil {
		if tune, err = tuner.run(ctx, train, valid, log); err != nil {
			return nil, err
		}
		cfg.Algorithm, cfg.Params = tune.algorithm, tune.params
		fmt.Fprintf(log, "refit: %s %s on all %d training rows\n", cfg.Algorithm, strings.Join(tune.params, " "), train.Rows)
		if fit, _, err = newFit(cfg); err != nil {
			return nil, fmt.Errorf("refit the best trial: %w", err)
		}
	}
	features := profileBeside(train, threads > 1)
	out, err := fit(ctx, train, valid, progress)
	if err != nil {
		return nil, err
	}
	trained := time.Now()
	m := manifest(cfg, out, train, valid, features())
	m.Run = model.Run{Started: started.UTC().Truncate(time.Second), Hardware: model.ThisHardware()}
	if tune != nil {
		m.Search = tune.result
		m.Run.Search = searchRun(tune.result)
	}
	m.Run.Seconds = model.Timings{
		Read:  readDone.Sub(started).Seconds(),
		Train: trained.Sub(readDone).Seconds(),
		Total: time.Since(started).Seconds(),
	}
	if err := model.Save(cfg.Out, m, out.payload); err != nil {
		return nil, err
	}
	saved, err := model.Load(cfg.Out)
	if err != nil {
		return nil, fmt.Errorf("check the saved model: %w", err)
	}
	return &Result{Dir: cfg.Out, Manifest: saved.Manifest}, nil
}

// profileBeside returns the profile of train's features (profile.Compute
// without scores). It does not depend on the model: beside (a fit that may
// use more than one thread), it is computed on a goroutine of its own while
// the fit runs, and the function returned waits for it; else that function
// computes it, after the fit, as before.
func profileBeside(train *data.Dataset, beside bool) func() *profile.Profile {
	compute := func() *profile.Profile { return profile.Compute(train, nil, "", 0) }
	if !beside {
		return compute
	}
	done := make(chan *profile.Profile, 1)
	go func() { done <- compute() }()
	return func() *profile.Profile { return <-done }
}

// readData reads the training file and, when given, the validation file
// against its schema.
func readData(ctx context.Context, cfg Config, log io.Writer) (train, valid *data.Dataset, err error) {
	read := cfg.Read
	read.CheckLabel = labelCheck(cfg.Objective)
	if train, err = data.Read(ctx, cfg.Data, read); err != nil {
		return nil, nil, err
	}
	if train.Label == nil {
		return nil, nil, fmt.Errorf("%s: %w", cfg.Data, input.Paramf("label", "no label column: name it with %s"))
	}
	if cfg.Valid != "" {
		vread := read
		vread.Schema = train.Schema()
		if valid, err = data.Read(ctx, cfg.Valid, vread); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Objective == "lambdarank" && train.Group == nil {
		return nil, nil, fmt.Errorf("%s: %w", cfg.Data, input.Paramf("group", "lambdarank needs query groups: name their column with %s, or give LibSVM rows qid: or a "+escape(filepath.Base(cfg.Data))+".query file"))
	}
	fmt.Fprintf(log, "data: %s, %d rows, %d features%s\n", cfg.Data, train.Rows, len(train.Columns), groupsNote(train))
	if valid != nil {
		fmt.Fprintf(log, "validation: %s, %d rows%s\n", cfg.Valid, valid.Rows, groupsNote(valid))
	}
	return train, valid, nil
}

// manifest describes the trained model, its metrics and its lineage.
func manifest(cfg Config, out *fitted, train, valid *data.Dataset, features *profile.Profile) model.Manifest {
	trainScores := out.trainScores
	if trainScores == nil {
		trainScores = out.predictor.PredictDataset(train)
	}
	m := model.Manifest{
		Name:      cfg.Name,
		Format:    out.format,
		Task:      task(cfg.Objective),
		Objective: cfg.Objective,
		Algorithm: cfg.Algorithm,
		Input:     inputOf(cfg.Read, train),
		Features:  train.Schema(),
		Params:    out.params,
		Seed:      cfg.Seed,
		Metrics:   map[string]map[string]float64{"train": Evaluate(cfg.Objective, train, trainScores)},
		Curve:     out.curve,
		Lineage: model.Lineage{
			GitSHA: cfg.GitSHA, Data: cfg.Data, DataSHA256: train.SHA256, DataSources: train.Sources,
			FerryVersion: version.Version, Trainer: "ferry " + cfg.Algorithm,
		},
	}
	m.Profile = features
	m.Profile.SetScore(trainScores, "train", 0)
	addValidation(&m, cfg, out, valid)
	return m
}

// searchRun is the search's timings, for run.json.
func searchRun(r *search.Result) *model.SearchRun {
	sr := &model.SearchRun{Seconds: r.Seconds}
	for _, t := range r.Trials {
		sr.Trials = append(sr.Trials, t.Seconds)
	}
	return sr
}

// addValidation adds, with validation data, its metrics and lineage to m;
// the score's distribution is then profiled on the validation rows: what a
// model gives on rows it did not learn from.
func addValidation(m *model.Manifest, cfg Config, out *fitted, valid *data.Dataset) {
	if valid == nil {
		return
	}
	validScores := out.predictor.PredictDataset(valid)
	m.Metrics["valid"] = Evaluate(cfg.Objective, valid, validScores)
	m.Lineage.Valid, m.Lineage.ValidSHA256, m.Lineage.ValidSources = cfg.Valid, valid.SHA256, valid.Sources
	m.Profile.SetScore(validScores, "valid", 0)
}

func groupsNote(d *data.Dataset) string {
	if d.Group == nil {
		return ""
	}
	return fmt.Sprintf(" in %d queries", len(d.GroupKeys))
}

func task(objective string) string {
	switch objective {
	case "binary":
		return model.TaskBinary
	case "lambdarank":
		return model.TaskRanking
	}
	return model.TaskRegression
}

// inputOf records how the training data was read: what was given, and what
// was detected.
func inputOf(o data.Options, d *data.Dataset) model.Input {
	in := model.Input{Format: string(d.Format), Header: o.Header, Label: o.Label, Group: o.Group}
	if d.Delimiter != 0 {
		in.Delimiter = string(d.Delimiter)
	}
	return in
}

// labelCheck vets labels for the objective: binary wants 0 or 1, ranking
// whole relevance grades from 0 to 31 (2^rel - 1 must stay exact).
func labelCheck(objective string) func(float64) error {
	switch objective {
	case "binary":
		return func(v float64) error {
			if v != 0 && v != 1 {
				return fmt.Errorf("label %v: a binary label is 0 or 1 (or TRUE/FALSE); for other values use --objective regression", v)
			}
			return nil
		}
	case "lambdarank":
		return func(v float64) error {
			if v < 0 || v > 31 || v != math.Trunc(v) {
				return fmt.Errorf("label %v: a relevance grade is a whole number from 0 to 31", v)
			}
			return nil
		}
	}
	return nil
}

// Evaluate computes the metrics that fit the objective, for model.json and
// the summary: metrics.All at the cut-offs 1, 3, 5 and 10.
func Evaluate(objective string, d *data.Dataset, scores []float64) map[string]float64 {
	out, err := metrics.All(task(objective), d.Label, scores, d.Groups(), []int{1, 3, 5, 10})
	if err != nil {
		return map[string]float64{} // a lambdarank model always has groups; nothing to report otherwise
	}
	return out
}

// fitted is what an algorithm hands back.
type fitted struct {
	format    string
	payload   any
	predictor model.Predictor
	curve     model.Curve
	params    map[string]string
	// trainScores are predictor's scores on the training rows when the
	// trainer has them already; nil otherwise.
	trainScores []float64
}

// fitFunc trains one algorithm with parameters already checked.
type fitFunc func(ctx context.Context, train, valid *data.Dataset, progress func(Progress)) (*fitted, error)

// ParamError is a --param the algorithm does not accept.
type ParamError struct{ Err error }

func (e *ParamError) Error() string { return e.Err.Error() }
func (e *ParamError) Unwrap() error { return e.Err }

// BadInput marks the error as the caller's mistake (exit code 2).
func (e *ParamError) BadInput() {}

// setParams applies key=value parameters through set.
func setParams(kvs []string, set func(k, v string) error) error {
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if err := set(strings.TrimSpace(k), v); err != nil {
			return &ParamError{err}
		}
	}
	return nil
}

// newFit checks the parameters for the algorithm, before any data is read,
// and returns how many threads the fit may use: gbdt's threads parameter, 1
// for the other trainers.
func newFit(cfg Config) (fitFunc, int, error) {
	switch cfg.Algorithm {
	case "gbdt":
		p := gbdt.DefaultParams(gbdt.Objective(cfg.Objective))
		p.Seed = cfg.Seed
		if err := setParams(cfg.Params, p.Set); err != nil {
			return nil, 0, err
		}
		return func(ctx context.Context, train, valid *data.Dataset, progress func(Progress)) (*fitted, error) {
			return fitGBDT(ctx, p, train, valid, progress)
		}, p.ThreadCount(), nil
	case "logistic":
		p := linear.DefaultParams(cfg.Objective)
		if err := setParams(cfg.Params, p.Set); err != nil {
			return nil, 0, err
		}
		return func(ctx context.Context, train, valid *data.Dataset, progress func(Progress)) (*fitted, error) {
			return fitLinear(ctx, p, train, valid, progress)
		}, 1, nil
	case "mlp":
		p := mlp.DefaultParams(cfg.Objective)
		p.Seed = cfg.Seed
		if err := setParams(cfg.Params, p.Set); err != nil {
			return nil, 0, err
		}
		return func(ctx context.Context, train, valid *data.Dataset, progress func(Progress)) (*fitted, error) {
			return fitMLP(ctx, p, train, valid, progress)
		}, 1, nil
	}
	return nil, 0, fmt.Errorf("algorithm %q is not in this build yet", cfg.Algorithm)
}

func fitMLP(ctx context.Context, p mlp.Params, train, valid *data.Dataset, progress func(Progress)) (*fitted, error) {
	metric := "logloss"
	if p.Objective == "regression" {
		metric = "half-mse"
	}
	res, err := mlp.Train(ctx, p, train, valid, func(pr mlp.Progress) {
		if progress != nil {
			progress(Progress{Step: pr.Epoch, Steps: pr.Epochs, Unit: "epoch", Metric: metric, Train: pr.Train, Valid: pr.Valid,
				Best: pr.Best, Elapsed: pr.Elapsed, ETA: pr.ETA, Stopped: pr.Stopped})
		}
	})
	if err != nil {
		return nil, err
	}
	curve := model.Curve{Metric: metric, Best: res.Best}
	for _, c := range res.Curve {
		curve.Steps = append(curve.Steps, c.Epoch)
		curve.Train = append(curve.Train, c.Train)
		if !math.IsNaN(c.Valid) {
			curve.Valid = append(curve.Valid, c.Valid)
		}
	}
	return &fitted{format: model.FormatMLP, payload: res.Model, predictor: res.Model, curve: curve, params: p.Map()}, nil
}

func fitLinear(ctx context.Context, p linear.Params, train, valid *data.Dataset, progress func(Progress)) (*fitted, error) {
	res, err := linear.Train(ctx, p, train, valid, func(pr linear.Progress) {
		if progress != nil {
			progress(Progress{Step: pr.Iter, Steps: pr.MaxIter, Unit: "iteration", Metric: "objective", Train: pr.Loss, Valid: pr.Valid, Best: pr.Iter, Elapsed: pr.Elapsed})
		}
	})
	if err != nil {
		return nil, err
	}
	curve := model.Curve{Metric: "objective", Best: len(res.Curve)}
	for _, c := range res.Curve {
		curve.Steps = append(curve.Steps, c.Iter)
		curve.Train = append(curve.Train, c.Loss)
		if valid != nil {
			curve.Valid = append(curve.Valid, c.Valid)
		}
	}
	return &fitted{format: model.FormatLinear, payload: res.Model, predictor: res.Model, curve: curve, params: p.Map()}, nil
}

func fitGBDT(ctx context.Context, p gbdt.Params, train, valid *data.Dataset, progress func(Progress)) (*fitted, error) {
	res, err := gbdt.Train(ctx, p, train, valid, func(pr gbdt.Progress) {
		if progress != nil {
			progress(Progress{Step: pr.Round, Steps: pr.Rounds, Unit: "round", Metric: pr.Metric, Train: pr.Train, Valid: pr.Valid,
				Best: pr.BestRound, Elapsed: pr.Elapsed, ETA: pr.Remaining, Stopped: pr.Stopped, HigherIsBetter: pr.HigherIsBetter})
		}
	})
	if err != nil {
		return nil, err
	}
	curve := model.Curve{Best: res.BestRound}
	for _, c := range res.Curve {
		curve.Metric, curve.HigherIsBetter = c.Metric, c.HigherIsBetter
		if !c.Recorded {
			continue
		}
		curve.Steps = append(curve.Steps, c.Round)
		curve.Train = append(curve.Train, c.Train)
		if valid != nil {
			curve.Valid = append(curve.Valid, c.Valid)
		}
	}
	return &fitted{format: model.FormatGBDT, payload: res.Model, predictor: res.Model, curve: curve, params: p.Map(), trainScores: res.TrainScores}, nil
}

// escape keeps a name from being read as a verb in a ParamError's format.
func escape(s string) string { return strings.ReplaceAll(s, "%", "%%") }
