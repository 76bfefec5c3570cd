package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/evaluate"
	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/templates/report"
)

// GateError is a comparison whose gates did not all pass (exit code 1).
type GateError struct{ Failed []evaluate.GateResult }

func (e *GateError) Error() string {
	var msgs []string
	for _, g := range e.Failed {
		msgs = append(msgs, "gate failed: "+g.Message)
	}
	return strings.Join(msgs, "; ")
}

// runEvaluate is `ferry evaluate` and the evaluate action.
func runEvaluate(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	candidate, champion := in.String("candidate"), in.String("champion")
	dataPath := in.String("data")
	read, rerr := readOptions(in)
	candPreds, champPreds := in.String("candidate-predictions"), in.String("champion-predictions")
	gateTexts := in.List("gate")
	slice, weightCol := in.String("slice"), in.String("weight")
	resamples, confidence, seed := in.Int("bootstrap"), in.Float("confidence"), in.Int("seed")
	reportPath, jsonPath := in.String("report"), in.String("json")
	configPath := in.String("config")
	comment, checkRun, modelChanged := false, false, true
	var token, headSHA string
	if env.Action != nil {
		comment, checkRun, headSHA = in.Bool("comment"), in.Bool("check-run"), in.String("head-sha")
		token, modelChanged = in.String("github-token"), in.Bool("model-changed")
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	if env.Action != nil && (comment || checkRun) && token == "" && (env.Event == nil || !env.Event.Fork) {
		return nil, &input.Error{Param: in.Describe("github-token"), Missing: true,
			Want: "a token to comment and create the check run with: it is empty (github-token: '', or a secret that is not set); leave it out to use the job's token, or set comment and check-run to false"}
	}
	if headSHA != "" && env.Event != nil {
		if len(headSHA) != 40 || strings.Trim(strings.ToLower(headSHA), "0123456789abcdef") != "" {
			return nil, &input.Error{Param: in.Describe("head-sha"), Value: headSHA, Want: "a full 40-character commit sha"}
		}
		env.Event.HeadSHA = headSHA
	}
	file, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	if !modelChanged {
		return noModelChange(ctx, env, in, token, file, checkRun)
	}
	if file != nil {
		o := overlay{in}
		if read, err = o.dataOptions(read, file.Data); err != nil {
			return nil, err
		}
		dataPath = o.str("data", dataPath, file.Data.Test)
		gateTexts = o.list("gate", gateTexts, file.Evaluate.Gates)
		slice = o.str("slice", slice, file.Evaluate.Slice)
		if file.Evaluate.Bootstrap != nil && !in.Given("bootstrap") {
			resamples = *file.Evaluate.Bootstrap
		}
		if file.Evaluate.Confidence != nil && !in.Given("confidence") {
			confidence = *file.Evaluate.Confidence
		}
	}
	if resamples < 0 || resamples > 100000 {
		return nil, &input.Error{Param: in.Describe("bootstrap"), Value: fmt.Sprint(resamples), Want: "a number of resamples from 0 to 100000"}
	}
	if !(confidence > 0 && confidence < 1) {
		return nil, &input.Error{Param: in.Describe("confidence"), Value: fmt.Sprint(confidence), Want: "a level between 0 and 1, such as 0.95"}
	}
	var gates []evaluate.Gate
	for _, t := range gateTexts {
		g, err := evaluate.ParseGate(t)
		if err != nil {
			return nil, &input.Error{Param: in.Describe("gate"), Value: t, Want: strings.TrimPrefix(err.Error(), fmt.Sprintf("gate %q: ", t))}
		}
		gates = append(gates, g)
	}
	if slice != "" {
		if candPreds != "" {
			return nil, usageErrorf("--slice needs the evaluation data (--data with --candidate), not predictions files")
		}
		read.Keep = append(read.Keep, slice)
	}
	if weightCol != "" && candPreds == "" {
		read.Keep = append(read.Keep, weightCol)
	}
	firstModel := false
	if champion == "none" {
		champion, firstModel = "", true // stated for this run: no champion
	} else if file != nil {
		firstModel = file.Evaluate.FirstModel
	}
	scores, name, curve, kept, err := scoreBoth(ctx, candidate, champion, candPreds, champPreds, dataPath, read, weightCol, firstModel)
	var missing *missingChampion
	if errors.As(err, &missing) {
		// Never "first model" by accident: a mistyped tag or host looks
		// exactly like a champion that does not exist yet.
		return nil, &input.Error{Param: in.Describe("champion"), Value: missing.ref, Want: "a champion image that exists (" + missing.tags + "); " +
			"if this pull request brings the first model, say so: first-model: true under evaluate in ferry.yaml, or champion none"}
	}
	if err != nil {
		return nil, err
	}
	if firstModel && champion != "" && scores.Champion != nil {
		msg := fmt.Sprintf("ferry.yaml says first-model: true, but the champion %s exists and was compared with: remove first-model, so that a champion that cannot be found fails the evaluation", champion)
		fmt.Fprintln(env.Stderr, "ferry evaluate: "+msg)
		if env.Action != nil {
			env.Action.Warning(actionio.Annotation{Title: "ferry evaluate", Message: msg})
		}
	}
	if weightCol != "" && candPreds == "" {
		for i, text := range kept[weightCol] {
			w, err := parseWeight(text)
			if err != nil {
				return nil, &data.Error{Path: dataPath, Line: i + 2, Column: weightCol, Msg: err.Error()}
			}
			scores.Weights = append(scores.Weights, w)
		}
	}
	res, err := evaluate.Compare(*scores, evaluate.Options{Resamples: resamples, Confidence: confidence, Seed: uint64(seed), K: []int{1, 3, 5, 10}, Gates: gates})
	if err != nil {
		return nil, err
	}
	rep := reportOf(name, res, curve, env.Event)
	if slice != "" {
		rep.Details += "\n\n" + sliceTable(slice, evaluate.Slices(*scores, kept[slice], sliceMetrics(res), []int{10}))
	}
	summary, err := report.Summary(rep)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(env.Stdout, summary)
	if reportPath != "" {
		if err := writeFileAtomic(reportPath, func(w io.Writer) error { _, err := io.WriteString(w, summary); return err }); err != nil {
			return nil, fmt.Errorf("write the report: %w", err)
		}
	}
	metricsJSON, err := json.Marshal(jsonOf(res))
	if err != nil {
		return nil, fmt.Errorf("encode the results: %w", err)
	}
	if jsonPath != "" {
		if err := writeFileAtomic(jsonPath, func(w io.Writer) error { _, err := w.Write(append(metricsJSON, '\n')); return err }); err != nil {
			return nil, fmt.Errorf("write the results: %w", err)
		}
	}
	// Outputs and the summary are written whatever publishing does: the
	// publishing error is the step's failure, after them.
	commentURL := ""
	var publishErr error
	if env.Action != nil && (comment || checkRun) {
		commentURL, publishErr = publish(ctx, env, token, rep, res, summary, comment, checkRun)
	}
	verdict := "pass"
	var failed []evaluate.GateResult
	for _, g := range res.Gates {
		if !g.Pass {
			failed = append(failed, g)
			verdict = "fail"
			if env.Action != nil {
				env.Action.Error(actionio.Annotation{Title: "ferry evaluate: gate " + g.Gate.Text, Message: g.Message})
			}
		}
	}
	out := &Result{
		Outputs: map[string]string{"verdict": verdict, "report": reportPath, "metrics": string(metricsJSON), "comment-url": commentURL},
		Summary: summary,
	}
	switch {
	case len(failed) > 0 && publishErr != nil:
		// The gate decides the exit code; the publishing error is shown too.
		env.Action.Error(actionio.Annotation{Title: "ferry evaluate", Message: publishErr.Error()})
		out.Err = &GateError{Failed: failed}
	case len(failed) > 0:
		out.Err = &GateError{Failed: failed}
	case publishErr != nil:
		out.Err = publishErr
	}
	return out, nil
}

// noModelChange reports a pull request that changes no file of the train
// step's paths: nothing to evaluate, and a successful check run under the
// model's usual name, so a required check appears on every pull request.
func noModelChange(ctx context.Context, env *Env, in *input.Reader, token string, file *config.File, checkRun bool) (*Result, error) {
	if file == nil || file.Name == "" {
		return nil, &input.Error{Param: in.Describe("model-changed"), Value: "false",
			Want: "true, or a ferry.yaml with the model's name (name:), which the check run is named after"}
	}
	const text = "no model change: this pull request changes none of the files the model is trained from"
	summary := "### ✅ " + file.Name + ": " + text + "\n"
	fmt.Fprint(env.Stdout, summary)
	if checkRun && env.Event.HeadSHA != "" && !env.Event.Fork {
		fc, err := forge.ForRepository(token, env.Event.APIURL, env.Event.Repository)
		if err != nil {
			return nil, err
		}
		run, kind, err := fc.ReportStatus(ctx, forge.CheckRun{Name: "ferry / " + file.Name, HeadSHA: env.Event.HeadSHA, Conclusion: "success",
			Title: "no model change", Summary: summary, DetailsURL: env.Event.RunURL})
		if err != nil {
			return nil, fmt.Errorf("%w (the job needs permissions: checks: write)", err)
		}
		fmt.Fprintf(env.Stdout, "%s success: %s\n", kind, run)
	}
	return &Result{Outputs: map[string]string{"verdict": "pass", "metrics": "{}"}, Summary: summary}, nil
}

// scoreBoth scores the evaluation rows with both models (or reads both
// predictions files) and checks that they are the same rows.
func scoreBoth(ctx context.Context, candidate, champion, candPreds, champPreds, dataPath string, read data.Options, weightCol string, firstModel bool) (*evaluate.Scores, string, *model.Curve, map[string][]string, error) {
	if candPreds != "" {
		if candidate != "" {
			return nil, "", nil, nil, usageErrorf("give --candidate or --candidate-predictions, not both")
		}
		c, err := readPredictions(candPreds, "label", "score", "group", weightCol)
		if err != nil {
			return nil, "", nil, nil, err
		}
		s := &evaluate.Scores{Labels: c.labels, Candidate: c.scores, Groups: c.groups, Weights: c.weights}
		if champPreds != "" {
			ch, err := readPredictions(champPreds, "label", "score", "group", "")
			if err != nil {
				return nil, "", nil, nil, err
			}
			if err := sameRows(c.labels, ch.labels, candPreds, champPreds); err != nil {
				return nil, "", nil, nil, err
			}
			s.Champion = ch.scores
		}
		return s, "candidate", nil, nil, nil
	}
	if candidate == "" {
		return nil, "", nil, nil, &input.Error{Param: "--candidate", Missing: true, Want: "the candidate model directory (or --candidate-predictions FILE)"}
	}
	if dataPath == "" {
		return nil, "", nil, nil, &input.Error{Param: "--data", Missing: true, Want: "the evaluation data both models score"}
	}
	s, cm, kept, err := scoreModelsFirst(ctx, candidate, champion, dataPath, read, registryAuth("", ""), firstModel)
	if err != nil {
		return nil, "", nil, nil, err
	}
	return s, cm.Manifest.Name, &cm.Manifest.Curve, kept, nil
}

// scoreModels scores the evaluation rows with the candidate and, when there
// is one, the champion (model directories or image references, pulled with
// auth). A champion image that does not exist yet leaves Scores.Champion
// nil: the first model is judged alone.
func scoreModels(ctx context.Context, candidate, champion, dataPath string, read data.Options, auth remote.Option) (*evaluate.Scores, *model.Model, map[string][]string, error) {
	return scoreModelsFirst(ctx, candidate, champion, dataPath, read, auth, true)
}

// scoreModelsFirst is scoreModels where a champion image that does not
// exist is an error unless firstModel says none exists yet.
func scoreModelsFirst(ctx context.Context, candidate, champion, dataPath string, read data.Options, auth remote.Option, firstModel bool) (*evaluate.Scores, *model.Model, map[string][]string, error) {
	cm, err := loadModelArg(ctx, candidate, auth)
	if err != nil {
		return nil, nil, nil, err
	}
	cd, err := readForModel(dataPath, read, cm)
	if err != nil {
		return nil, nil, nil, err
	}
	if cd.Label == nil {
		return nil, nil, nil, fmt.Errorf("%s has no labels to evaluate against: pass --label", dataPath)
	}
	s := &evaluate.Scores{Labels: cd.Label, Candidate: cm.PredictDataset(cd), Groups: cd.Groups()}
	if champion == "" {
		return s, cm, cd.Kept, nil
	}
	chm, err := loadModelArg(ctx, champion, auth)
	if errors.Is(err, oci.ErrNoImage) && firstModel && !hasChampionTag(ctx, champion, auth) {
		return s, cm, cd.Kept, nil
	}
	if errors.Is(err, oci.ErrNoImage) {
		return nil, nil, nil, &missingChampion{ref: champion, tags: tagsOf(ctx, champion, auth)}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	chd, err := readForModel(dataPath, read, chm)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := sameRows(cd.Label, chd.Label, candidate, champion); err != nil {
		return nil, nil, nil, err
	}
	s.Champion = chm.PredictDataset(chd)
	return s, cm, cd.Kept, nil
}

// loadModelArg loads a model named by a flag: a model directory, or an image
// reference (pulled, its /model extracted). A reference is an image only
// when it names its registry (a first part with a dot or a port, or
// localhost, as in ghcr.io/shop/ranker:champion); anything else is a path,
// so a missing directory is reported as one, never looked up on Docker
// Hub. A missing image is reported as oci.ErrNoImage.
func loadModelArg(ctx context.Context, ref string, auth remote.Option) (*model.Model, error) {
	if _, err := os.Stat(ref); err == nil || !isImageRef(ref) {
		return model.Load(ref)
	}
	dir, err := os.MkdirTemp("", "ferry-model-")
	if err != nil {
		return nil, err
	}
	// The directory lives as long as the command: the model is loaded into
	// memory below, so it goes when the process ends.
	pinned, err := oci.PullModel(ctx, ref, dir, auth)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	m, err := model.Load(dir)
	os.RemoveAll(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pinned, err)
	}
	return m, nil
}

// hasChampionTag reports whether ref's repository has a champion tag: then
// a missing ref is a typo, whatever first-model says.
func hasChampionTag(ctx context.Context, ref string, auth remote.Option) bool {
	r, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	tags, err := remote.List(r.Context(), remote.WithContext(ctx), auth)
	return err == nil && slices.Contains(tags, "champion")
}

// missingChampion is a champion image the registry does not have.
type missingChampion struct{ ref, tags string }

func (e *missingChampion) Error() string {
	return "champion " + e.ref + ": no such image (" + e.tags + ")"
}

// tagsOf says which tags the champion's repository has, for an error about
// a champion that is not there: a typo shows next to what exists.
func tagsOf(ctx context.Context, ref string, auth remote.Option) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "the reference does not parse"
	}
	tags, err := remote.List(r.Context(), remote.WithContext(ctx), auth)
	if err != nil || len(tags) == 0 {
		return "the registry has no repository " + r.Context().String()
	}
	if len(tags) > 8 {
		tags = append(tags[:8], "...")
	}
	return r.Context().String() + " has tags " + strings.Join(tags, ", ")
}

// isImageRef reports whether ref names a registry: docker.io/library/x
// must be written out, so that models/prod is always a directory.
func isImageRef(ref string) bool {
	host, rest, ok := strings.Cut(ref, "/")
	return ok && rest != "" && (strings.ContainsAny(host, ".:") || host == "localhost")
}

func sameRows(a, b []float64, an, bn string) error {
	if len(a) != len(b) {
		return fmt.Errorf("%s and %s scored %d and %d rows: evaluate both on the same data", an, bn, len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Errorf("%s and %s disagree on row %d's label (%v and %v): they are not the same rows", an, bn, i, a[i], b[i])
		}
	}
	return nil
}

// headlineMetric is the metric the headline speaks of: the first gate's, or
// the task's usual one.
func headlineMetric(res *evaluate.Result) string {
	if len(res.Gates) > 0 && res.Metric(res.Gates[0].Gate.Metric) != nil {
		return res.Gates[0].Gate.Metric
	}
	switch res.Task {
	case "ranking":
		return "ndcg@10"
	case "regression":
		return "rmse"
	}
	return "auc"
}

func reportOf(name string, res *evaluate.Result, curve *model.Curve, ev *actionio.Event) report.Report {
	r := report.Report{Model: name, Confidence: res.Confidence, Version: version.Version, Undefined: res.Undefined}
	if ev != nil {
		r.RunURL, r.HeadSHA = ev.RunURL, ev.HeadSHA
	}
	hm := res.Metric(headlineMetric(res))
	switch {
	case !res.HasChampion:
		r.Headline = "first model: no champion to compare with"
		if hm != nil {
			r.Headline += fmt.Sprintf(", %s %.4f", hm.Name, hm.Candidate)
		}
	case hm != nil:
		sig := hm.Verdict
		if sig == "" {
			sig = "no interval"
		}
		r.Headline = fmt.Sprintf("%s %+.4f (%+.2f%%), %s", hm.Name, hm.Delta, 100*hm.RelDelta, sig)
	}
	if len(res.Gates) > 0 || res.HasChampion {
		r.Verdict = "pass"
		if !res.Pass {
			r.Verdict = "fail"
		}
	}
	if !res.Pass {
		r.Headline += ", gates failed"
	}
	var names, champ, cand []string
	for _, m := range res.Metrics {
		r.Metrics = append(r.Metrics, report.MetricRow{Name: m.Name, Champion: m.Champion, Candidate: m.Candidate,
			Delta: m.Delta, Low: m.Low, High: m.High, HasInterval: !math.IsNaN(m.Low), Verdict: m.Verdict})
		if res.HasChampion && charted[m.Name] {
			names = append(names, `"`+m.Name+`"`)
			champ = append(champ, fmt.Sprintf("%.4f", m.Champion))
			cand = append(cand, fmt.Sprintf("%.4f", m.Candidate))
		}
	}
	for _, g := range res.Gates {
		r.Gates = append(r.Gates, report.GateRow{Text: g.Gate.Text, Pass: g.Pass, Message: g.Message, Kind: g.Gate.Kind()})
	}
	if len(names) > 0 {
		r.Charts = append(r.Charts, fmt.Sprintf("xychart-beta\n    title \"champion (first bar) and candidate (second bar)\"\n    x-axis [%s]\n    bar [%s]\n    bar [%s]",
			strings.Join(names, ", "), strings.Join(champ, ", "), strings.Join(cand, ", ")))
	}
	if curve != nil && len(curve.Train) > 1 {
		c := fmt.Sprintf("xychart-beta\n    title \"the candidate's training %s\"\n    x-axis \"step\" %d --> %d\n    line [%s]",
			curve.Metric, curve.Steps[0], curve.Steps[len(curve.Steps)-1], report.Series(curve.Train))
		if len(curve.Valid) == len(curve.Train) {
			c += fmt.Sprintf("\n    line [%s]", report.Series(curve.Valid))
		}
		r.Charts = append(r.Charts, c)
	}
	var d strings.Builder
	fmt.Fprintf(&d, "%s task, %d rows", res.Task, res.Rows)
	if res.Groups > 0 {
		fmt.Fprintf(&d, " in %d queries (the bootstrap resamples queries)", res.Groups)
	}
	if res.HasChampion {
		fmt.Fprintf(&d, "; %d paired bootstrap resamples, %.0f%% intervals.", res.Resamples, 100*res.Confidence)
	}
	if curve != nil && len(curve.Train) > 1 {
		fmt.Fprintf(&d, "\n\nThe candidate's training %s went from %.4f to %.4f over %d steps (kept: %d).",
			curve.Metric, curve.Train[0], curve.Train[len(curve.Train)-1], curve.Steps[len(curve.Steps)-1], curve.Best)
	}
	r.Details = d.String()
	return r
}

// sliceMetrics are the metrics a slice table shows: the headline metric and
// one more of the task's.
func sliceMetrics(res *evaluate.Result) []string {
	names := []string{headlineMetric(res)}
	for _, n := range []string{"auc", "logloss", "rmse", "ndcg@10", "mrr"} {
		if n != names[0] && res.Metric(n) != nil && len(names) < 2 {
			names = append(names, n)
		}
	}
	return names
}

// sliceTable renders the comparison per segment as Markdown.
func sliceTable(column string, slices []evaluate.SliceResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**By %s** (point estimates; the %d largest segments)\n\n| %s | rows |", column, evaluate.MaxSlices, column)
	if len(slices) == 0 {
		return b.String()
	}
	for _, m := range slices[0].Metrics {
		fmt.Fprintf(&b, " %s champion | %s candidate | delta |", m.Name, m.Name)
	}
	b.WriteString("\n|---|---:|")
	for range slices[0].Metrics {
		b.WriteString("---:|---:|---:|")
	}
	f := func(v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		return fmt.Sprintf("%.4f", v)
	}
	for _, sl := range slices {
		fmt.Fprintf(&b, "\n| %s | %d |", report.Markdown(sl.Value), sl.Rows)
		for _, m := range sl.Metrics {
			delta := f(m.Delta)
			if !math.IsNaN(m.Delta) {
				delta = fmt.Sprintf("%+.4f", m.Delta)
			}
			fmt.Fprintf(&b, " %s | %s | %s |", f(m.Champion), f(m.Candidate), delta)
		}
	}
	return b.String()
}

// charted are the metrics the report's bar chart shows, when present.
var charted = map[string]bool{
	"auc": true, "accuracy": true, "precision": true, "recall": true, "f1": true,
	"rmse": true, "mae": true,
	"ndcg@1": true, "ndcg@3": true, "ndcg@5": true, "ndcg@10": true, "map@10": true, "mrr": true,
}

// jsonOf is the --json document and the metrics output.
func jsonOf(res *evaluate.Result) map[string]any {
	num := func(f float64) any {
		if math.IsNaN(f) {
			return nil
		}
		return f
	}
	ms := map[string]any{}
	for _, m := range res.Metrics {
		ms[m.Name] = map[string]any{"champion": num(m.Champion), "candidate": num(m.Candidate), "delta": num(m.Delta),
			"relative_delta": num(m.RelDelta), "low": num(m.Low), "high": num(m.High), "verdict": m.Verdict}
	}
	var gates []map[string]any
	for _, g := range res.Gates {
		gates = append(gates, map[string]any{"gate": g.Gate.Text, "pass": g.Pass, "message": g.Message})
	}
	return map[string]any{"task": res.Task, "rows": res.Rows, "groups": res.Groups, "champion": res.HasChampion,
		"confidence": res.Confidence, "resamples": res.Resamples, "pass": res.Pass, "metrics": ms, "gates": gates}
}

// publish posts the sticky comment and the check run. A fork's pull request
// has a read-only token in its own run: ferry then reports in the job
// summary only, and says so. The base repository's workflow_run that
// reports on it (fork-report.yml) has the base's token and posts both.
func publish(ctx context.Context, env *Env, token string, rep report.Report, res *evaluate.Result, summary string, comment, checkRun bool) (string, error) {
	ev := env.Event
	if ev.Fork {
		env.Action.Notice(actionio.Annotation{Title: "ferry evaluate",
			Message: "a pull request from a fork gets a read-only token: the report is in the job summary only, with no comment and no check run"})
		return "", nil
	}
	fc, err := forge.ForRepository(token, ev.APIURL, ev.Repository)
	if err != nil {
		return "", err
	}
	// The check run first: a required check that never appears blocks the
	// pull request, whatever happens to the comment. Both are attempted.
	var errs []error
	if checkRun && ev.HeadSHA != "" {
		conclusion := "success"
		switch {
		case !res.Pass:
			conclusion = "failure"
		case !res.HasChampion && len(res.Gates) == 0:
			conclusion = "neutral"
		}
		run, kind, err := fc.ReportStatus(ctx, forge.CheckRun{Name: "ferry / " + rep.Model, HeadSHA: ev.HeadSHA, Conclusion: conclusion,
			Title: rep.Headline, Summary: summary, DetailsURL: ev.RunURL})
		if err != nil {
			errs = append(errs, fmt.Errorf("create the check run: %w%s", err, permissionHint(err, "checks: write")))
		} else {
			fmt.Fprintf(env.Stdout, "%s %s: %s\n", kind, conclusion, run)
		}
	}
	url := ""
	pr := ev.PullRequest
	if comment && pr == 0 && ev.ForkHead != "" {
		// A fork's pull request, reported by the base repository's
		// workflow_run: GitHub's payload leaves its number out.
		if pr, err = fc.OpenPullRequestOf(ctx, ev.ForkHead, ev.HeadSHA); err != nil {
			return "", errors.Join(append(errs, err)...)
		}
		if pr == 0 {
			env.Action.Warning(actionio.Annotation{Title: "ferry evaluate",
				Message: fmt.Sprintf("no open pull request from %s at %s (closed, or pushed to since): no comment", ev.ForkHead, short(ev.HeadSHA, 7))})
		}
	}
	switch {
	case !comment:
	case pr == 0 && ev.ForkHead == "":
		env.Action.Notice(actionio.Annotation{Title: "ferry evaluate", Message: "this run is not for a pull request (" + ev.Name + "): no comment"})
	case pr != 0:
		body, err := report.Comment(rep)
		if err != nil {
			return "", errors.Join(append(errs, err)...)
		}
		body = foldComment(body, rep)
		var outcome string
		if url, outcome, err = fc.UpsertComment(ctx, pr, report.CommentMarker(rep.Model), body); err != nil {
			errs = append(errs, fmt.Errorf("post the comment: %w%s", err, permissionHint(err, "pull-requests: write")))
		} else {
			fmt.Fprintf(env.Stdout, "pull request comment %s: %s\n", outcome, url)
		}
	}
	return url, errors.Join(errs...)
}

// permissionHint names the permission a job lacks, only when GitHub said
// so (403, or 404 as it answers for what a token may not see); a refused
// connection or a 5xx gets no such hint.
func permissionHint(err error, permission string) string {
	if forge.IsForbidden(err) {
		return " (the job needs permissions: " + permission + ")"
	}
	return ""
}

// foldComment keeps a comment under GitHub's size limit by leaving out whole
// sections, the details first, then the chart; a table is never cut.
func foldComment(body string, r report.Report) string {
	for _, drop := range []func(*report.Report){
		func(r *report.Report) {
			r.Details = "Left out to fit GitHub's comment size limit: see the job summary."
		},
		func(r *report.Report) { r.Charts = nil },
	} {
		if len(body) <= forge.MaxCommentBytes {
			return body
		}
		drop(&r)
		if b, err := report.Comment(r); err == nil {
			body = b
		}
	}
	return body
}
