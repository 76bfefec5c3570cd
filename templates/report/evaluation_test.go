package report

import (
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/compare"
)

// TestEvaluationForTheReviewer checks the reviewer's view of a ranking
// comparison: the headline and gated metrics in view and the rest folded,
// map@1 (which is precision@1) shown once, and the note on how many
// intervals there are.
func TestEvaluationForTheReviewer(t *testing.T) {
	m := func(name string, delta float64) compare.MetricResult {
		return compare.MetricResult{Name: name, HigherIsBetter: true, Champion: 0.5, Candidate: 0.5 + delta, Delta: delta, Low: delta - 0.01, High: delta + 0.01, Verdict: "better"}
	}
	gate, err := compare.ParseGate("mrr max-drop 1%")
	if err != nil {
		t.Fatal(err)
	}
	res := &compare.Result{Task: "ranking", Rows: 100, Groups: 10, HasChampion: true, Confidence: 0.95, Resamples: 200, Pass: true,
		Metrics: []compare.MetricResult{m("ndcg@10", 0.02), m("map@1", 0.01), m("precision@1", 0.01), m("recall@5", 0.03), m("mrr", 0.02)},
		Gates:   []compare.GateResult{{Gate: gate, Pass: true}}}
	r := Evaluation("ranker", res, nil, "", "")
	got, err := Comment(r)
	if err != nil {
		t.Fatal(err)
	}
	// The headline is the first gate's metric: mrr alone is in view.
	inView, folded, _ := strings.Cut(got, "<details><summary>3 more metrics</summary>")
	if !strings.Contains(inView, "| mrr |") || strings.Contains(inView, "| ndcg@10 |") || strings.Contains(inView, "| recall@5 |") {
		t.Errorf("in view: the gated mrr, not the others:\n%s", inView)
	}
	if !strings.Contains(folded, "| ndcg@10 |") || !strings.Contains(folded, "| precision@1 |") || strings.Contains(got, "| map@1 |") {
		t.Errorf("folded: ndcg@10, precision@1 and recall@5, and map@1 nowhere:\n%s", got)
	}
	if !strings.Contains(got, "Each of the 4 intervals covers one metric alone: about 5 in 100 miss") {
		t.Errorf("no note on the intervals:\n%s", got)
	}
}

// TestSliceWarnings checks that a segment significantly worse is named in
// view, with its interval, and the table marks it.
func TestSliceWarnings(t *testing.T) {
	slices := []compare.SliceResult{
		{Value: "mobile", Rows: 400, Metrics: []compare.SliceMetric{{Name: "auc", Champion: 0.8, Candidate: 0.81, Delta: 0.01, Low: -0.01, High: 0.03, Verdict: compare.NoSignificant}}},
		{Value: "desktop", Rows: 200, Metrics: []compare.SliceMetric{{Name: "auc", Champion: 0.8, Candidate: 0.6, Delta: -0.2, Low: -0.25, High: -0.15, Verdict: compare.Worse}}},
	}
	w := SliceWarnings("device", slices)
	if !strings.Contains(w, "- ⚠️ `device` = `desktop` (200 rows): auc -0.2000 [-0.2500, -0.1500]") || strings.Contains(w, "mobile") {
		t.Errorf("warnings:\n%s", w)
	}
	if table := SliceTable("device", slices); !strings.Contains(table, "-0.2000 [-0.2500, -0.1500] ⚠️ worse |") {
		t.Errorf("table:\n%s", table)
	}
	if SliceWarnings("device", slices[:1]) != "" {
		t.Error("a warning without a worse segment")
	}
}
