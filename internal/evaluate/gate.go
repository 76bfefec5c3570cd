package evaluate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Gate is a condition the candidate must meet to pass:
//
//	METRIC >= VALUE           the candidate's value is at least VALUE
//	METRIC <= VALUE           the candidate's value is at most VALUE
//	METRIC max-drop VALUE     it is worse than the champion's by at most VALUE
//	METRIC max-drop VALUE%    ... by at most VALUE percent of the champion's
//
// "Worse" follows the metric's direction, known for every metric: a drop of
// AUC, a rise of log-loss. A max-drop gate passes when there is no champion.
type Gate struct {
	Text     string
	Metric   string
	Op       string // ">=", "<=" or "max-drop"
	Value    float64
	Relative bool // Value is a percentage of the champion's value
}

// ParseGate reads one gate.
func ParseGate(text string) (Gate, error) {
	f := strings.Fields(text)
	want := "want METRIC >= VALUE, METRIC <= VALUE, or METRIC max-drop VALUE[%], such as 'auc >= 0.8' or 'ndcg@10 max-drop 1%'"
	if len(f) != 3 {
		return Gate{}, fmt.Errorf("gate %q: %s", text, want)
	}
	g := Gate{Text: strings.Join(f, " "), Metric: strings.ToLower(f[0]), Op: f[1]}
	if _, ok := direction(g.Metric); !ok {
		return Gate{}, fmt.Errorf("gate %q: unknown metric %q: known are %s", text, f[0], strings.Join(knownMetrics(), ", "))
	}
	switch g.Op {
	case ">=", "<=", "max-drop":
	default:
		return Gate{}, fmt.Errorf("gate %q: unknown comparison %q: %s", text, f[1], want)
	}
	v := f[2]
	if g.Op == "max-drop" && strings.HasSuffix(v, "%") {
		g.Relative, v = true, strings.TrimSuffix(v, "%")
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || (g.Op == "max-drop" && x < 0) {
		return Gate{}, fmt.Errorf("gate %q: %q is not a valid value: %s", text, f[2], want)
	}
	g.Value = x
	return g, nil
}

// GateResult is a gate's verdict.
type GateResult struct {
	Gate    Gate
	Pass    bool
	Message string // what was compared, for the report and the annotation
}

// check applies a gate to a metric's result.
func (g Gate) check(m *MetricResult) GateResult {
	r := GateResult{Gate: g}
	if m == nil {
		r.Message = fmt.Sprintf("%s: the metric does not apply to this data", g.Text)
		return r
	}
	switch g.Op {
	case ">=":
		r.Pass = m.Candidate >= g.Value
		r.Message = fmt.Sprintf("%s is %.4f, gate %s", g.Metric, m.Candidate, g.Text)
	case "<=":
		r.Pass = m.Candidate <= g.Value
		r.Message = fmt.Sprintf("%s is %.4f, gate %s", g.Metric, m.Candidate, g.Text)
	case "max-drop":
		if math.IsNaN(m.Champion) {
			r.Pass, r.Message = true, fmt.Sprintf("%s: no champion to compare with, gate %s passes", g.Metric, g.Text)
			return r
		}
		worse := m.Champion - m.Candidate // how much quality dropped
		if !m.HigherIsBetter {
			worse = -worse
		}
		allowed := g.Value
		if g.Relative {
			allowed = math.Abs(m.Champion) * g.Value / 100
		}
		r.Pass = worse <= allowed+1e-12
		r.Message = fmt.Sprintf("%s went from %.4f to %.4f (%+.2f%%), gate %s", g.Metric, m.Champion, m.Candidate, 100*m.RelDelta, g.Text)
	}
	return r
}
