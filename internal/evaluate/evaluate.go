package evaluate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/templates/report"
)

// Config is what one evaluation needs.
type Config struct {
	// Candidate and Champion are model directories or image references;
	// Champion "" or "none" for none ("none" states it: the first model).
	Candidate, Champion string
	// CandidatePredictions and ChampionPredictions are predictions files
	// (label, score[, group]) to compare instead of models.
	CandidatePredictions, ChampionPredictions string
	Data                                      string       // the evaluation rows, which both models score
	Read                                      data.Options // how to read Data
	Gates                                     []string     // as written, such as "auc max-drop 1%"
	Slice, Weight                             string       // columns of Data
	Resamples                                 int          // bootstrap resamples, 0 to 100000
	Confidence                                float64      // of the intervals, in (0, 1)
	Seed                                      uint64
	Report, JSON                              string // files to write; "" for none
	// FirstModel says no champion exists yet: one that cannot be found is
	// then not an error (unless its repository has a champion tag).
	FirstModel bool
	// AllowDataChange compares on Data even when its bytes changed since
	// the candidate was last evaluated on it (a candidate directory records
	// each evaluation's data in evaluations.json); the report says so.
	AllowDataChange bool

	// In an action: the run's GitHub context, and what to publish.
	Event             *actionio.Event
	Comment, CheckRun bool
	Token             string
	HeadSHA           string // overrides the event's
	// ModelChanged false reports "no model change" under Name's check run
	// without evaluating.
	ModelChanged bool
	Name         string

	gates []compare.Gate
}

// Validate checks the config before any file is read, and parses the
// gates.
func (c *Config) Validate() error {
	publishing := c.Event != nil && (c.Comment || c.CheckRun)
	if publishing && c.Token == "" && !c.Event.Fork {
		return &input.Error{Name: "github-token", Missing: true,
			Want: "a token to comment and create the check run with: it is empty (github-token: '', or a secret that is not set); leave it out to use the job's token, or set comment and check-run to false"}
	}
	if c.HeadSHA != "" && (len(c.HeadSHA) != 40 || strings.Trim(strings.ToLower(c.HeadSHA), "0123456789abcdef") != "") {
		return &input.Error{Name: "head-sha", Value: c.HeadSHA, Want: "a full 40-character commit sha"}
	}
	if !c.ModelChanged {
		if c.Name == "" {
			return &input.Error{Name: "model-changed", Value: "false",
				Want: "true, or a ferry.yaml with the model's name (name:), which the check run is named after"}
		}
		return nil
	}
	if c.Resamples < 0 || c.Resamples > 100000 {
		return &input.Error{Name: "bootstrap", Value: fmt.Sprint(c.Resamples), Want: "a number of resamples from 0 to 100000"}
	}
	if !(c.Confidence > 0 && c.Confidence < 1) {
		return &input.Error{Name: "confidence", Value: fmt.Sprint(c.Confidence), Want: "a level between 0 and 1, such as 0.95"}
	}
	c.gates = nil
	for _, t := range c.Gates {
		g, err := compare.ParseGate(t)
		var syntax *compare.SyntaxError
		if errors.As(err, &syntax) {
			return &input.Error{Name: "gate", Value: t, Want: syntax.Want}
		}
		if err != nil {
			return err
		}
		c.gates = append(c.gates, g)
	}
	switch {
	case c.CandidatePredictions != "" && c.Candidate != "":
		return &input.Error{Name: "candidate-predictions", Value: c.CandidatePredictions, Want: "a predictions file instead of a candidate model, not both"}
	case c.CandidatePredictions != "" && c.Slice != "":
		return &input.Error{Name: "slice", Value: c.Slice, Want: "nothing with predictions files: slices need the evaluation data (data, with a candidate model)"}
	case c.CandidatePredictions == "" && c.Candidate == "":
		return &input.Error{Name: "candidate", Missing: true, Want: "the candidate model directory or image (or a candidate predictions file)"}
	case c.CandidatePredictions == "" && c.Data == "":
		return &input.Error{Name: "data", Missing: true, Want: "the evaluation data both models score"}
	}
	return nil
}

// Deps are what Run uses of the outside world.
type Deps struct {
	Stdout io.Writer // the summary, and what was published
	Stderr io.Writer // warnings
	// Action, in an action, takes the annotations; nil on the command line.
	Action *actionio.Action
	// Auth carries the registry credentials for model images.
	Auth remote.Option
}

// Result is an evaluation's outcome, for the front end to write.
type Result struct {
	Verdict    string // compare.Pass or compare.Fail
	Headline   string // the report's one line
	Summary    string // Markdown for the job summary
	Metrics    string // the comparison as JSON
	Report     string // the report file written, if any
	CommentURL string
	// Err fails the run after the outputs and summary are written: a
	// *compare.GateError when a gate failed (which decides the exit code),
	// else a publishing error.
	Err error

	unchanged bool // no model change: nothing was evaluated
}

// Outputs are the action's outputs.
func (r *Result) Outputs() map[string]string {
	if r.unchanged {
		return map[string]string{"verdict": r.Verdict, "metrics": r.Metrics}
	}
	return map[string]string{"verdict": r.Verdict, "report": r.Report, "metrics": r.Metrics, "comment-url": r.CommentURL}
}

// Run evaluates; cfg must have passed Validate.
func Run(ctx context.Context, cfg Config, deps Deps) (*Result, error) {
	ev := cfg.Event
	if ev != nil && cfg.HeadSHA != "" {
		e := *ev
		e.HeadSHA, ev = cfg.HeadSHA, &e
	}
	if !cfg.ModelChanged {
		return noModelChange(ctx, cfg, ev, deps)
	}
	sc, err := score(ctx, cfg, deps)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(cfg.Candidate); err == nil && st.IsDir() && sc.rows != nil {
		if err := model.RecordEvaluation(cfg.Candidate, *sc.rows); err != nil {
			return nil, fmt.Errorf("record the evaluation in the candidate: %w", err)
		}
	}
	scores := sc.scores
	res, err := compare.Compare(*scores, compare.Options{Resamples: cfg.Resamples, Confidence: cfg.Confidence, Seed: cfg.Seed, K: []int{1, 3, 5, 10}, Gates: cfg.gates})
	if err != nil {
		return nil, err
	}
	var runURL, headSHA string
	if ev != nil {
		runURL, headSHA = ev.RunURL, ev.HeadSHA
	}
	rep := evaluation(cfg, sc, res, runURL, headSHA)
	summary, err := report.Summary(rep)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(deps.Stdout, summary)
	if cfg.Report != "" {
		if err := data.WriteFileAtomic(cfg.Report, func(w io.Writer) error { _, err := io.WriteString(w, summary); return err }); err != nil {
			return nil, fmt.Errorf("write the report: %w", err)
		}
	}
	metricsJSON, err := json.Marshal(res.Document())
	if err != nil {
		return nil, fmt.Errorf("encode the results: %w", err)
	}
	if cfg.JSON != "" {
		if err := data.WriteFileAtomic(cfg.JSON, func(w io.Writer) error { _, err := w.Write(append(metricsJSON, '\n')); return err }); err != nil {
			return nil, fmt.Errorf("write the results: %w", err)
		}
	}
	out := &Result{Verdict: cmp.Or(res.Verdict(), compare.Pass), Headline: rep.Headline, Summary: summary, Metrics: string(metricsJSON), Report: cfg.Report}
	// Outputs and the summary are written whatever publishing does: the
	// publishing error is the step's failure, after them.
	var publishErr error
	if ev != nil && deps.Action != nil && (cfg.Comment || cfg.CheckRun) {
		out.CommentURL, publishErr = publish(ctx, cfg, ev, deps, rep, res, summary)
	}
	failed := res.Failed()
	if deps.Action != nil {
		for _, g := range failed {
			deps.Action.Error(actionio.Annotation{Title: "ferry evaluate: gate " + g.Gate.Text, Message: g.Message})
		}
	}
	switch {
	case len(failed) > 0 && publishErr != nil:
		// The gate decides the exit code; the publishing error is shown too.
		deps.Action.Error(actionio.Annotation{Title: "ferry evaluate", Message: publishErr.Error()})
		out.Err = &compare.GateError{Failed: failed}
	case len(failed) > 0:
		out.Err = &compare.GateError{Failed: failed}
	case publishErr != nil:
		out.Err = publishErr
	}
	return out, nil
}

// evaluation is the report of res: named as ferry.yaml names the model,
// when it does (as the check run of a pull request that changes no model
// is: one required check either way), with why the numbers moved, the data
// compared on, and the slices.
func evaluation(cfg Config, sc *scored, res *compare.Result, runURL, headSHA string) report.Report {
	rep := report.Evaluation(cmp.Or(cfg.Name, sc.name), res, sc.curve, runURL, headSHA)
	rep.Why = strings.TrimSpace(sc.why + "\n\n" + sc.search)
	if sc.snapshot != "" {
		rep.Details = sc.snapshot + "\n\n" + rep.Details
	}
	if cfg.Slice != "" {
		slices := compare.Slices(*sc.scores, sc.kept[cfg.Slice], report.SliceMetrics(res),
			compare.Options{Resamples: cfg.Resamples, Confidence: cfg.Confidence, Seed: cfg.Seed, K: []int{10}})
		rep.Details += "\n\n" + report.SliceTable(cfg.Slice, slices)
		if w := report.SliceWarnings(cfg.Slice, slices); w != "" {
			rep.Why = strings.TrimSpace(w + "\n\n" + rep.Why)
		}
	}
	return rep
}

// score scores the evaluation rows with both models (or reads both
// predictions files), with the rows' weights; a champion that cannot be
// found is an error naming the champion parameter.
func score(ctx context.Context, cfg Config, deps Deps) (*scored, error) {
	read := cfg.Read
	if cfg.Slice != "" {
		read.Keep = append(read.Keep, cfg.Slice)
	}
	fromData := cfg.CandidatePredictions == ""
	if cfg.Weight != "" && fromData {
		read.Keep = append(read.Keep, cfg.Weight)
	}
	champion, firstModel := cfg.Champion, cfg.FirstModel
	if champion == "none" {
		champion, firstModel = "", true // stated for this run: no champion
	}
	sc, err := scoreBoth(ctx, cfg, champion, read, firstModel, deps.Auth)
	var missing *missingChampion
	if errors.As(err, &missing) {
		// Never "first model" by accident: a mistyped tag or host looks
		// exactly like a champion that does not exist yet.
		return nil, &input.Error{Name: "champion", Value: missing.ref, Want: "a champion image that exists (" + missing.tags + "); " +
			"if this pull request brings the first model, say so: first-model: true under evaluate in ferry.yaml, or champion none"}
	}
	if err != nil {
		return nil, err
	}
	scores := sc.scores
	if cfg.FirstModel && champion != "" && scores.Champion != nil {
		msg := fmt.Sprintf("ferry.yaml says first-model: true, but the champion %s exists and was compared with: remove first-model, so that a champion that cannot be found fails the evaluation", champion)
		fmt.Fprintln(deps.Stderr, "ferry evaluate: "+msg)
		if deps.Action != nil {
			deps.Action.Warning(actionio.Annotation{Title: "ferry evaluate", Message: msg})
		}
	}
	if cfg.Weight != "" && fromData {
		for i, text := range sc.kept[cfg.Weight] {
			w, err := data.ParseWeight(text)
			if err != nil {
				return nil, &data.Error{Path: cfg.Data, Line: i + 2, Column: cfg.Weight, Msg: err.Error()}
			}
			scores.Weights = append(scores.Weights, w)
		}
	}
	return sc, nil
}

// noModelChange reports a pull request that changes no file of the train
// step's paths: nothing to evaluate, and a successful check run under the
// model's usual name, so a required check appears on every pull request.
func noModelChange(ctx context.Context, cfg Config, ev *actionio.Event, deps Deps) (*Result, error) {
	const text = "no model change: this pull request changes none of the files the model is trained from"
	summary := "### ✅ " + cfg.Name + ": " + text + "\n"
	fmt.Fprint(deps.Stdout, summary)
	if cfg.CheckRun && ev != nil && ev.HeadSHA != "" && !ev.Fork {
		fc, err := forge.ForRepository(cfg.Token, ev.APIURL, ev.Repository)
		if err != nil {
			return nil, err
		}
		run, kind, err := fc.ReportStatus(ctx, forge.CheckRun{Name: "ferry / " + cfg.Name, HeadSHA: ev.HeadSHA, Conclusion: "success",
			Title: "no model change", Summary: summary, DetailsURL: ev.RunURL})
		if err != nil {
			return nil, fmt.Errorf("%w (the job needs permissions: checks: write)", err)
		}
		fmt.Fprintf(deps.Stdout, "%s success: %s\n", kind, run)
	}
	return &Result{Verdict: compare.Pass, Summary: summary, Metrics: "{}", unchanged: true}, nil
}
