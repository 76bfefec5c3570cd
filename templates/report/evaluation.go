package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/version"
)

// headlineMetric is the metric the headline speaks of: the first gate's, or
// the task's usual one.
func headlineMetric(res *compare.Result) string {
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

// Evaluation is the report of a comparison of the model called name (its
// training curve, when known, charted): the headline, the verdict, the
// metrics table with intervals, the gates, a bar chart of both models'
// metrics and the details. runURL and headSHA, when set, are linked.
func Evaluation(name string, res *compare.Result, curve *model.Curve, runURL, headSHA string) Report {
	r := Report{Model: name, Confidence: res.Confidence, Version: version.Version, Undefined: res.Undefined}
	r.RunURL, r.HeadSHA = runURL, headSHA
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
	r.Verdict = res.Verdict()
	if !res.Pass {
		r.Headline += ", gates failed"
	}
	var names, champ, cand []string
	primary := map[string]bool{headlineMetric(res): true}
	for _, g := range res.Gates {
		primary[g.Gate.Metric] = true
	}
	intervals := 0
	for _, m := range res.Metrics {
		if m.Name == "map@1" && res.Metric("precision@1") != nil {
			continue // the same number as precision@1 by definition: shown once
		}
		r.Metrics = append(r.Metrics, MetricRow{Name: m.Name, Champion: m.Champion, Candidate: m.Candidate,
			Delta: m.Delta, Low: m.Low, High: m.High, HasInterval: !math.IsNaN(m.Low), Verdict: m.Verdict, Primary: primary[m.Name]})
		if !math.IsNaN(m.Low) {
			intervals++
		}
		if res.HasChampion && charted[m.Name] {
			names = append(names, `"`+m.Name+`"`)
			champ = append(champ, fmt.Sprintf("%.4f", m.Champion))
			cand = append(cand, fmt.Sprintf("%.4f", m.Candidate))
		}
	}
	for _, g := range res.Gates {
		r.Gates = append(r.Gates, GateRow{Text: g.Gate.Text, Pass: g.Pass, Message: g.Message, Kind: g.Gate.Kind()})
	}
	if len(names) > 0 {
		r.Charts = append(r.Charts, fmt.Sprintf("xychart-beta\n    title \"champion (first bar) and candidate (second bar)\"\n    x-axis [%s]\n    bar [%s]\n    bar [%s]",
			strings.Join(names, ", "), strings.Join(champ, ", "), strings.Join(cand, ", ")))
	}
	if curve != nil && len(curve.Train) > 1 {
		c := fmt.Sprintf("xychart-beta\n    title \"the candidate's training %s\"\n    x-axis \"step\" %d --> %d\n    line [%s]",
			curve.Metric, curve.Steps[0], curve.Steps[len(curve.Steps)-1], Series(curve.Train))
		if len(curve.Valid) == len(curve.Train) {
			c += fmt.Sprintf("\n    line [%s]", Series(curve.Valid))
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
	if intervals > 1 {
		fmt.Fprintf(&d, " Each of the %d intervals covers one metric alone: about %.0f in 100 miss their metric's true change by chance, "+
			"so one \"better\" or \"worse\" among many is weak evidence; the gates decide on their own metrics. (map@1 is precision@1 and is shown once.)",
			intervals, 100*(1-res.Confidence))
	}
	if curve != nil && len(curve.Train) > 1 {
		fmt.Fprintf(&d, "\n\nThe candidate's training %s went from %.4f to %.4f over %d steps (kept: %d).",
			curve.Metric, curve.Train[0], curve.Train[len(curve.Train)-1], curve.Steps[len(curve.Steps)-1], curve.Best)
	}
	r.Details = d.String()
	return r
}

// SliceMetrics are the metrics a slice table shows: the headline metric and
// one more of the task's.
func SliceMetrics(res *compare.Result) []string {
	names := []string{headlineMetric(res)}
	for _, n := range []string{"auc", "logloss", "rmse", "ndcg@10", "mrr"} {
		if n != names[0] && res.Metric(n) != nil && len(names) < 2 {
			names = append(names, n)
		}
	}
	return names
}

// SliceTable renders the comparison per segment as Markdown.
func SliceTable(column string, slices []compare.SliceResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**By %s** (the %d largest segments; each interval is the segment's own paired bootstrap)\n\n| %s | rows |", column, compare.MaxSlices, column)
	if len(slices) == 0 {
		return b.String()
	}
	for _, m := range slices[0].Metrics {
		fmt.Fprintf(&b, " %s champion | %s candidate | delta |", m.Name, m.Name)
	}
	b.WriteString("\n|---|---:|")
	for range slices[0].Metrics {
		b.WriteString("---:|---:|---|")
	}
	f := func(v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		return fmt.Sprintf("%.4f", v)
	}
	for _, sl := range slices {
		fmt.Fprintf(&b, "\n| %s | %d |", Markdown(sl.Value), sl.Rows)
		for _, m := range sl.Metrics {
			delta := f(m.Delta)
			if !math.IsNaN(m.Delta) {
				delta = fmt.Sprintf("%+.4f", m.Delta)
			}
			if !math.IsNaN(m.Low) {
				delta += fmt.Sprintf(" [%+.4f, %+.4f]", m.Low, m.High)
			}
			if m.Verdict == compare.Worse {
				delta += " ⚠️ worse"
			}
			fmt.Fprintf(&b, " %s | %s | %s |", f(m.Champion), f(m.Candidate), delta)
		}
	}
	return b.String()
}

// SliceWarnings names the segments where the candidate is significantly
// worse (the whole interval of the change on the wrong side), for the
// comment's visible part; "" when there is none.
func SliceWarnings(column string, slices []compare.SliceResult) string {
	var lines []string
	for _, sl := range slices {
		for _, m := range sl.Metrics {
			if m.Verdict == compare.Worse {
				lines = append(lines, fmt.Sprintf("- ⚠️ %s = %s (%d rows): %s %+.4f [%+.4f, %+.4f]", code(column), code(sl.Value), sl.Rows, m.Name, m.Delta, m.Low, m.High))
			}
		}
	}
	if lines == nil {
		return ""
	}
	return "**Significantly worse in a segment** (see the table by " + code(column) + " under Details)\n\n" + strings.Join(lines, "\n")
}

// charted are the metrics the report's bar chart shows, when present.
var charted = map[string]bool{
	"auc": true, "accuracy": true, "precision": true, "recall": true, "f1": true,
	"rmse": true, "mae": true,
	"ndcg@1": true, "ndcg@3": true, "ndcg@5": true, "ndcg@10": true, "map@10": true, "mrr": true,
}

// FoldComment keeps a comment (rendered from r) under limit bytes by
// leaving out whole sections, the details first, then the charts; a table is
// never cut.
func FoldComment(body string, r Report, limit int) string {
	for _, drop := range []func(*Report){
		func(r *Report) {
			r.Details = "Left out to fit GitHub's comment size limit: see the job summary."
		},
		func(r *Report) { r.Charts = nil },
	} {
		if len(body) <= limit {
			return body
		}
		drop(&r)
		if b, err := Comment(r); err == nil {
			body = b
		}
	}
	return body
}
