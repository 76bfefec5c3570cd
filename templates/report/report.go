package report

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/internal/model"
)

//go:embed *.tmpl
var files embed.FS

// report is parsed at its first use, not at start-up.
var report = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(funcs).ParseFS(files, "*.tmpl"))
})

var funcs = template.FuncMap{
	"md":          Markdown,
	"code":        code,
	"marker":      markerSafe,
	"splits":      splits,
	"metricNames": metricNames,
	"sortedKeys":  func(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) },
	"series":      Series,
	"metric":      metricOrNaN,
	"short":       func(sha string) string { return sha[:min(7, len(sha))] },
	"num":         formatNumber,
	"signed":      signed,
	"percent":     func(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) + "%" },
	"rows": func(confidence float64, rows []MetricRow) metricTable {
		return metricTable{Confidence: confidence, Rows: rows}
	},
}

// formatNumber prints a metric with four significant decimals, or "–" when
// there is none (NaN: no champion yet).
func formatNumber(f float64) string {
	if math.IsNaN(f) {
		return "–"
	}
	return strconv.FormatFloat(f, 'f', 4, 64)
}

func signed(f float64) string {
	if math.IsNaN(f) {
		return "–"
	}
	if f >= 0 {
		return "+" + strconv.FormatFloat(f, 'f', 4, 64)
	}
	return strconv.FormatFloat(f, 'f', 4, 64)
}

// splits returns the metric splits present: train, valid and test first,
// then any other (such as "reported" by a user's command), sorted.
func splits(m map[string]map[string]float64) []string {
	var out []string
	for _, s := range []string{"train", "valid", "test"} {
		if _, ok := m[s]; ok {
			out = append(out, s)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// metricOrNaN is a split's metric, or NaN (shown as "–") when it has none.
func metricOrNaN(m map[string]map[string]float64, split, name string) float64 {
	if v, ok := m[split][name]; ok {
		return v
	}
	return math.NaN()
}

// metricNames returns every metric name in any split, sorted.
func metricNames(m map[string]map[string]float64) []string {
	set := map[string]bool{}
	for _, ms := range m {
		for k := range ms {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// maxChartPoints bounds a chart's series: Mermaid draws a few hundred points
// well, and a summary must stay small.
const maxChartPoints = 100

// Series writes values as a Mermaid list, keeping at most maxChartPoints
// evenly spaced values (the last one always).
func Series(values []float64) string {
	step := max(1, (len(values)+maxChartPoints-1)/maxChartPoints)
	var b strings.Builder
	for i := 0; i < len(values); i += step {
		j := i
		if i+step >= len(values) {
			j = len(values) - 1
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatFloat(values[j], 'f', 5, 64))
	}
	return b.String()
}

// TrainReport is what the train summary shows.
type TrainReport struct {
	Manifest model.Manifest
	Dir      string
	Search   string // SearchSection of the manifest's search
}

// TrainSummary renders the train stage's job summary.
func TrainSummary(r TrainReport) (string, error) {
	r.Search = SearchSection(r.Manifest.Search)
	return execute(report(), "train.md.tmpl", r)
}

// Report is what the comment and summary templates show.
type Report struct {
	Model      string
	Verdict    string // pass, fail, or "" when there is nothing to compare
	Headline   string
	Confidence float64 // of the intervals, such as 0.95
	Metrics    []MetricRow
	Undefined  []string // metrics undefined on this data
	Gates      []GateRow
	Charts     []string // Mermaid charts, without the fences
	Why        string   // what changed and what drives each model (WhyMoved)
	Details    string   // Markdown folded under "Details"
	Version    string
	RunURL     string
	HeadSHA    string
}

// MetricRow is one line of the metrics table. NaN means "none".
type MetricRow struct {
	Name                string
	Champion, Candidate float64
	Delta, Low, High    float64
	HasInterval         bool
	Verdict             string
	// Primary rows (the gated and headline metrics) are shown first, the
	// rest folded.
	Primary bool
}

// metricTable is one metrics table's rows, for the metric-rows template.
type metricTable struct {
	Confidence float64
	Rows       []MetricRow
}

// ShownMetrics are the rows in view: the primary ones, or all when none is.
func (r Report) ShownMetrics() []MetricRow {
	var out []MetricRow
	for _, m := range r.Metrics {
		if m.Primary {
			out = append(out, m)
		}
	}
	if out == nil {
		return r.Metrics
	}
	return out
}

// FoldedMetrics are the rest, folded under the table.
func (r Report) FoldedMetrics() []MetricRow {
	if len(r.ShownMetrics()) == len(r.Metrics) {
		return nil
	}
	var out []MetricRow
	for _, m := range r.Metrics {
		if !m.Primary {
			out = append(out, m)
		}
	}
	return out
}

// GateRow is one gate's verdict.
type GateRow struct {
	Text    string
	Pass    bool
	Message string
	Kind    string // how the gate decides: a threshold, the point estimate, or significance
}

// CommentMarker is the hidden first line that finds ferry's comment for a
// model again.
func CommentMarker(model string) string {
	return "<!-- ferry:report model=" + markerSafe(model) + " -->"
}

// markerSafe keeps a model name from ending the marker's HTML comment.
func markerSafe(s string) string {
	s = strings.NewReplacer("--", "-", ">", "", "\n", " ", "\r", " ").Replace(s)
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}

// Markdown escapes text that comes from a model, data or a user (a model's
// name, a slice's value) so that it shows as written and cannot add
// headings, links, tables or HTML to a comment: Markdown's punctuation is
// backslash-escaped and line breaks become spaces.
func Markdown(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '<', '>', '(', ')', '#', '+', '-', '!', '|', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// code shows text in a code span whatever backticks it holds.
func code(s string) string {
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if len(fence) > 1 {
		s = " " + s + " " // CommonMark drops one space each side
	}
	return fence + s + fence
}

// Comment renders the sticky pull request comment.
func Comment(r Report) (string, error) { return execute(report(), "comment.md.tmpl", r) }

// Summary renders the job summary.
func Summary(r Report) (string, error) { return execute(report(), "summary.md.tmpl", r) }

func execute(t *template.Template, name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render template %s: %w", name, err)
	}
	return buf.String(), nil
}

// MetricsLine is one split's metrics on a line, by name: "auc 0.81234,
// logloss 0.41000".
func MetricsLine(ms map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ms)) {
		parts = append(parts, fmt.Sprintf("%s %.5f", k, ms[k]))
	}
	return strings.Join(parts, ", ")
}

// ModelText describes the model in dir for people: name, format, features,
// metrics and lineage, a line each (`ferry model`).
func ModelText(dir string, mf model.Manifest) string {
	var w strings.Builder
	fmt.Fprintf(&w, "model:     %s (%s)\n", mf.Name, dir)
	fmt.Fprintf(&w, "format:    %s, task %s, objective %s\n", mf.Format, mf.Task, mf.Objective)
	var names []string
	for _, f := range mf.Features {
		n := f.Name
		if f.Categorical {
			n += fmt.Sprintf(" (%d categories)", len(f.Categories))
		}
		names = append(names, n)
	}
	if len(names) > 12 {
		names = append(names[:12:12], fmt.Sprintf("... (%d more)", len(names)-12))
	}
	fmt.Fprintf(&w, "features:  %d: %s\n", len(mf.Features), strings.Join(names, ", "))
	for _, split := range []string{"train", "valid"} {
		if ms, ok := mf.Metrics[split]; ok {
			fmt.Fprintf(&w, "%-10s %s\n", split+":", MetricsLine(ms))
		}
	}
	l := mf.Lineage
	sum := cmp.Or(l.DataSHA256, "-")
	fmt.Fprintf(&w, "trained:   by %s (ferry %s) on %s, sha256 %s\n", l.Trainer, l.FerryVersion, cmp.Or(l.Data, "-"), sum[:min(12, len(sum))])
	if l.GitSHA != "" {
		fmt.Fprintf(&w, "commit:    %s\n", l.GitSHA)
	}
	return w.String()
}

// MetricsText is ferry metrics' table for a terminal: the file, its rows and
// task, then each metric on a line, sorted by name. notProbabilities notes
// binary scores outside [0, 1], whose probability metrics are left out.
func MetricsText(path, task string, rows int, notProbabilities bool, ms map[string]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rows, %s metrics\n", path, rows, task)
	if task == metrics.Binary && notProbabilities {
		b.WriteString("(scores outside [0, 1] are not probabilities: log-loss, Brier and ECE are left out)\n")
	}
	for _, k := range slices.Sorted(maps.Keys(ms)) {
		if k != "rows" && k != "groups" {
			fmt.Fprintf(&b, "%-14s %.6f\n", k, ms[k])
		}
	}
	return b.String()
}
