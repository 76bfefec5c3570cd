package report

import (
	"fmt"
	"strings"

	"github.com/ferry-ml/ferry/internal/profile"
)

// DriftReport is what ferry monitor found: each column's live counts
// against the training profile, judged.
type DriftReport struct {
	Model  string `json:"model"`
	Source string `json:"source"` // where the counts came from
	Status string `json:"status"` // ok, drift, too-few-rows, no-profile
	// Rows is the live rows counted into the profile's bins.
	Rows    int64         `json:"rows"`
	MinRows int           `json:"min_rows"`
	PValue  float64       `json:"p_value_threshold"`
	Columns []DriftColumn `json:"columns"` // most shifted first
	// Drifted names the columns that crossed their threshold.
	Drifted []string `json:"drifted"`
	Note    string   `json:"note,omitempty"`
}

// DriftColumn is one feature's (or the score's) drift and its threshold.
type DriftColumn struct {
	profile.Drift
	Threshold float64 `json:"psi_threshold"`
	Drifted   bool    `json:"drifted"`
}

// chartedColumns is how many drifted columns get a histogram; the table
// has them all.
const chartedColumns = 5

// Markdown renders the report: the verdict, a table of every column, and
// for the drifted ones the training and live shares by bin as Mermaid
// charts.
func (r *DriftReport) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Drift: %s\n\n", r.Model)
	switch r.Status {
	case "drift":
		fmt.Fprintf(&b, "**Drift** in %s.\n\n", strings.Join(codes(r.Drifted), ", "))
	case "ok":
		b.WriteString("**No drift**: every column's live traffic is within its threshold.\n\n")
	default:
		fmt.Fprintf(&b, "**Not judged**: %s.\n\n", r.Note)
	}
	fmt.Fprintf(&b, "%d rows scored at %s since the server started. A column has drifted when its population stability "+
		"index (PSI) reaches its threshold and the chi-square test of its live counts against the training shares gives "+
		"p < %g; with under %d rows nothing is judged.\n\n", r.Rows, r.Source, r.PValue, r.MinRows)
	b.WriteString("| column | PSI | threshold | chi-square (df) | p-value | drifted |\n|---|---:|---:|---:|---:|---|\n")
	for _, c := range r.Columns {
		mark := ""
		if c.Drifted {
			mark = "yes"
		}
		fmt.Fprintf(&b, "| %s | %.3f | %.2f | %.1f (%d) | %.2g | %s |\n", code(c.Name), c.PSI, c.Threshold, c.ChiSquare, c.DF, c.PValue, mark)
	}
	charted := 0
	for _, c := range r.Columns {
		if !c.Drifted || charted == chartedColumns {
			continue
		}
		charted++
		fmt.Fprintf(&b, "\n```mermaid\nxychart-beta\n  title \"%s: share of rows by bin (bars: training, line: live)\"\n", mermaidText(c.Name))
		labels := make([]string, len(c.Bins))
		for i, l := range c.Bins {
			labels[i] = `"` + mermaidText(l) + `"`
		}
		fmt.Fprintf(&b, "  x-axis [%s]\n  y-axis \"share\" 0 --> 1\n  bar [%s]\n  line [%s]\n```\n",
			strings.Join(labels, ", "), floats(c.Train), floats(c.Live))
	}
	return b.String()
}

func codes(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = code(n)
	}
	return out
}

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.4f", x)
	}
	return strings.Join(s, ", ")
}

// mermaidText keeps a label inside its quotes.
func mermaidText(s string) string { return strings.NewReplacer(`"`, "'", "\n", " ").Replace(s) }

// Text is ferry monitor's verdict for a terminal: a line, then the drifted
// columns.
func (r *DriftReport) Text() string {
	var b strings.Builder
	switch r.Status {
	case "drift":
		fmt.Fprintf(&b, "drift in %d of %d columns over %d rows:\n", len(r.Drifted), len(r.Columns), r.Rows)
	case "ok":
		fmt.Fprintf(&b, "no drift in %d columns over %d rows\n", len(r.Columns), r.Rows)
	default:
		fmt.Fprintf(&b, "not judged: %s\n", r.Note)
	}
	for _, c := range r.Columns {
		if c.Drifted {
			fmt.Fprintf(&b, "  %s: PSI %.3f (threshold %.2f), chi-square %.1f on %d df, p %.2g\n", c.Name, c.PSI, c.Threshold, c.ChiSquare, c.DF, c.PValue)
		}
	}
	return b.String()
}
