package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/metrics"
)

// Gate is a condition the candidate must meet to pass:
//
//	METRIC >= VALUE                 the candidate's value is at least VALUE
//	METRIC <= VALUE                 the candidate's value is at most VALUE
//	METRIC max-drop VALUE%          worse than the champion's by at most VALUE
//	                                percent of the champion's value
//	METRIC max-drop VALUE abs       ... by at most VALUE, in the metric's units
//	METRIC max-increase VALUE% ...  the same for a metric where lower is better
//	... significant                 fail only when the confidence interval of
//	                                the change lies wholly past the allowance
//
// max-drop is for metrics where higher is better (AUC, NDCG), max-increase
// for those where lower is better (log-loss, MSE); the other is refused, as
// is a drop without its unit (% or abs): "ndcg@10 max-drop 1" read as an
// absolute drop of 1.0 never fails. Without significant, a comparison gate
// uses the point estimates. A comparison gate passes when there is no
// champion.
type Gate struct {
	Text        string
	Metric      string
	Op          string // ">=", "<=", "max-drop" or "max-increase"
	Value       float64
	Relative    bool // Value is a percentage of the champion's value
	Significant bool // fail only when the whole interval is past the allowance
}

// Kind says how a gate decides, for the report.
func (g Gate) Kind() string {
	switch {
	case g.Op == ">=" || g.Op == "<=":
		return "threshold on the candidate's value"
	case g.Significant:
		return "fails only when the change's confidence interval lies wholly past the allowance"
	}
	return "on the point estimate of the change"
}

const gateSyntax = "want METRIC >= VALUE, METRIC <= VALUE, or METRIC max-drop|max-increase VALUE% or VALUE abs, optionally followed by significant, " +
	"such as 'auc >= 0.8', 'ndcg@10 max-drop 1%', 'logloss max-increase 0.01 abs' or 'ndcg@10 max-drop 1% significant'"

// SyntaxError is a gate that does not parse: the text as written, and what
// is wrong with it or what would be valid.
type SyntaxError struct {
	Text string
	Want string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("gate %q: %s", e.Text, e.Want) }

func gateErrorf(text, format string, args ...any) error {
	return &SyntaxError{Text: text, Want: fmt.Sprintf(format, args...)}
}

// ParseGate reads one gate; a gate that does not parse is a *SyntaxError.
func ParseGate(text string) (Gate, error) {
	f := strings.Fields(text)
	if len(f) < 3 || len(f) > 5 {
		return Gate{}, gateErrorf(text, "%s", gateSyntax)
	}
	g := Gate{Text: strings.Join(f, " "), Metric: strings.ToLower(f[0]), Op: f[1]}
	higher, ok := metrics.HigherIsBetter(g.Metric)
	if !ok {
		return Gate{}, gateErrorf(text, "unknown metric %q: known are %s", f[0], strings.Join(knownMetrics(), ", "))
	}
	switch g.Op {
	case ">=", "<=":
		if len(f) != 3 {
			return Gate{}, gateErrorf(text, "a threshold is METRIC %s VALUE, nothing after it: %s", g.Op, gateSyntax)
		}
	case "max-drop", "max-increase":
		if g.Op == "max-drop" && !higher {
			return Gate{}, gateErrorf(text, "lower %s is better, so it does not drop: write %s max-increase %s", g.Metric, g.Metric, strings.Join(f[2:], " "))
		}
		if g.Op == "max-increase" && higher {
			return Gate{}, gateErrorf(text, "higher %s is better, so it does not increase: write %s max-drop %s", g.Metric, g.Metric, strings.Join(f[2:], " "))
		}
	default:
		return Gate{}, gateErrorf(text, "unknown comparison %q: %s", f[1], gateSyntax)
	}
	v, rest := f[2], f[3:]
	if g.Op == "max-drop" || g.Op == "max-increase" {
		switch {
		case strings.HasSuffix(v, "%"):
			g.Relative, v = true, strings.TrimSuffix(v, "%")
		case len(rest) > 0 && rest[0] == "abs":
			rest = rest[1:]
		default:
			return Gate{}, gateErrorf(text, "%q has no unit: write %s %s %s%% (percent of the champion's value) or %s %s %s abs (in %s's own units)",
				v, g.Metric, g.Op, v, g.Metric, g.Op, v, g.Metric)
		}
		if len(rest) > 0 && rest[0] == "significant" {
			g.Significant, rest = true, rest[1:]
		}
		if len(rest) > 0 {
			return Gate{}, gateErrorf(text, "unexpected %q: %s", strings.Join(rest, " "), gateSyntax)
		}
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || (g.Op != ">=" && g.Op != "<=" && x < 0) {
		return Gate{}, gateErrorf(text, "%q is not a valid value: %s", f[2], gateSyntax)
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
	case "max-drop", "max-increase":
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
		if g.Significant {
			// The least-worse end of the change's interval: the gate fails
			// only when even it is past the allowance.
			best := m.High // Delta's upper end, for higher-is-better
			if !m.HigherIsBetter {
				best = -m.Low
			}
			if math.IsNaN(best) {
				r.Message += ": no confidence interval to judge significance, so the point estimate decides"
			} else {
				r.Pass = -best <= allowed+1e-12
				r.Message += fmt.Sprintf(", interval of the change [%+.4f, %+.4f]", m.Low, m.High)
			}
		}
	}
	return r
}

// GateError is a comparison whose gates did not all pass: the model is
// worse (exit code 1, whoever runs the comparison).
type GateError struct{ Failed []GateResult }

func (e *GateError) Error() string {
	var msgs []string
	for _, g := range e.Failed {
		msgs = append(msgs, "gate failed: "+g.Message)
	}
	return strings.Join(msgs, "; ")
}
