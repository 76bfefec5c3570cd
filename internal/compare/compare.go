package compare

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"

	"sync"

	"github.com/ferry-ml/ferry/internal/metrics"
)

// Scores are the rows both models scored: labels, and queries for ranking.
type Scores struct {
	Labels    []float64
	Candidate []float64
	Champion  []float64 // nil without a champion
	Groups    [][]int   // nil without queries
	// Weights are sample weights of the rows (nil: all 1); they weigh the
	// binary and regression metrics, not the ranking ones.
	Weights []float64
}

// Options of a comparison.
type Options struct {
	Resamples  int     // bootstrap resamples; 0 for no intervals
	Confidence float64 // such as 0.95
	Seed       uint64
	K          []int // ranking cut-offs
	Gates      []Gate
}

// MetricResult is one metric of the comparison.
type MetricResult struct {
	Name           string
	HigherIsBetter bool
	Champion       float64 // NaN without a champion
	Candidate      float64
	Delta          float64 // candidate - champion
	RelDelta       float64 // Delta / |champion|
	Low, High      float64 // the interval of Delta; NaN without one
	Verdict        string  // better, worse, no significant change, or "" without a champion
}

// Verdicts of a metric's change.
const (
	Better        = "better"
	Worse         = "worse"
	NoSignificant = "no significant change"
)

// Result is a whole comparison.
type Result struct {
	Task        string
	Rows        int
	Groups      int
	HasChampion bool
	Confidence  float64
	Resamples   int
	Metrics     []MetricResult
	Gates       []GateResult
	Pass        bool // every gate passed
	// Undefined lists the metrics that do not exist on this data (AUC when
	// every label is the same, say): reported as such, never as a number.
	Undefined []string
}

// Verdicts of a whole comparison.
const (
	Pass = "pass"
	Fail = "fail"
	// Nothing is a first model without gates: nothing was compared or
	// checked (a neutral check run).
	Nothing = ""
)

// Verdict is the comparison's one decision: Fail when a gate failed, Pass
// when every gate passed or a champion was compared with, Nothing when
// there was neither.
func (r *Result) Verdict() string {
	switch {
	case !r.Pass:
		return Fail
	case len(r.Gates) > 0 || r.HasChampion:
		return Pass
	}
	return Nothing
}

// Failed returns the gates that failed.
func (r *Result) Failed() []GateResult {
	var out []GateResult
	for _, g := range r.Gates {
		if !g.Pass {
			out = append(out, g)
		}
	}
	return out
}

// Metric returns the named metric's result, or nil.
func (r *Result) Metric(name string) *MetricResult {
	for i := range r.Metrics {
		if r.Metrics[i].Name == name {
			return &r.Metrics[i]
		}
	}
	return nil
}

// metricDef computes one metric from unit values or from whole rows.
type metricDef struct {
	name   string
	higher bool
	// unit gives the metric's value for one unit (a row, or a query); the
	// metric is their mean over the units it is defined for.
	unit func(labels, scores []float64, rows []int) (float64, bool)
	// whole computes the metric from rows when it is not a mean (AUC, F1...).
	whole func(labels, scores, weights []float64) float64
}

func knownMetrics() []string {
	return []string{"auc", "logloss", "accuracy", "precision", "recall", "f1", "brier", "ece", "mse", "rmse", "mae",
		"ndcg@K", "map@K", "mrr", "precision@K", "recall@K"}
}

func defs(task string, ks []int, probabilities bool) []metricDef {
	row := func(f func(y, s float64) float64) func([]float64, []float64, []int) (float64, bool) {
		return func(labels, scores []float64, rows []int) (float64, bool) {
			return f(labels[rows[0]], scores[rows[0]]), true
		}
	}
	switch task {
	case metrics.Binary:
		count := func(l, s, w []float64) metrics.Confusion { return metrics.WeightedCount(l, s, w, metrics.Threshold) }
		d := []metricDef{
			{name: "auc", higher: true, whole: metrics.WeightedAUC},
			{name: "accuracy", higher: true, unit: row(func(y, s float64) float64 {
				if (s >= metrics.Threshold) == (y == 1) {
					return 1
				}
				return 0
			})},
			{name: "precision", higher: true, whole: func(l, s, w []float64) float64 { return count(l, s, w).Precision() }},
			{name: "recall", higher: true, whole: func(l, s, w []float64) float64 { return count(l, s, w).Recall() }},
			{name: "f1", higher: true, whole: func(l, s, w []float64) float64 { return count(l, s, w).F1() }},
		}
		if probabilities {
			d = append(d,
				metricDef{name: "logloss", unit: row(func(y, s float64) float64 { return metrics.LogLoss([]float64{y}, []float64{s}) })},
				metricDef{name: "brier", unit: row(func(y, s float64) float64 { return (s - y) * (s - y) })},
				metricDef{name: "ece", whole: func(l, s, w []float64) float64 { return metrics.WeightedECE(l, s, w, metrics.CalibrationBins) }},
			)
		}
		return d
	case metrics.Regression:
		return []metricDef{
			{name: "rmse", whole: func(l, s, w []float64) float64 {
				d := make([]float64, len(l))
				for i := range d {
					d[i] = (s[i] - l[i]) * (s[i] - l[i])
				}
				return math.Sqrt(metrics.WeightedMean(d, w))
			}},
			{name: "mse", unit: row(func(y, s float64) float64 { return (s - y) * (s - y) })},
			{name: "mae", unit: row(func(y, s float64) float64 { return math.Abs(s - y) })},
		}
	}
	var d []metricDef
	for _, name := range []string{"ndcg", "map", "precision", "recall"} {
		for _, k := range ks {
			f, _ := metrics.QueryMetric(name, k)
			d = append(d, metricDef{name: name + "@" + strconv.Itoa(k), higher: true, unit: f})
		}
	}
	f, _ := metrics.QueryMetric("mrr", 0)
	return append(d, metricDef{name: "mrr", higher: true, unit: f})
}

// Compare computes the comparison.
func Compare(s Scores, o Options) (*Result, error) {
	n := len(s.Labels)
	if n == 0 || len(s.Candidate) != n || (s.Champion != nil && len(s.Champion) != n) {
		return nil, fmt.Errorf("the models scored different rows: %d labels, %d candidate and %d champion scores", n, len(s.Candidate), len(s.Champion))
	}
	task := metrics.TaskOf(s.Labels, s.Groups != nil)
	probs := metrics.Probabilities(s.Candidate) && (s.Champion == nil || metrics.Probabilities(s.Champion))
	res := &Result{Task: task, Rows: n, Groups: len(s.Groups), HasChampion: s.Champion != nil, Confidence: o.Confidence, Resamples: o.Resamples}
	// Units: queries for ranking, rows otherwise.
	units := s.Groups
	if task != metrics.Ranking {
		units = make([][]int, n)
		for i := range units {
			units[i] = []int{i}
		}
	}
	// A unit's weight: its row's for rows, 1 for queries.
	var uw []float64
	if task != metrics.Ranking && s.Weights != nil {
		uw = s.Weights
	}
	for _, d := range defs(task, o.K, probs) {
		cand := evalDef(d, s.Labels, s.Candidate, s.Weights, units, uw, nil)
		m := MetricResult{Name: d.name, HigherIsBetter: d.higher, Candidate: cand, Champion: math.NaN(),
			Delta: math.NaN(), RelDelta: math.NaN(), Low: math.NaN(), High: math.NaN()}
		if math.IsNaN(cand) {
			res.Undefined = append(res.Undefined, d.name)
			continue
		}
		if s.Champion != nil {
			m.Champion = evalDef(d, s.Labels, s.Champion, s.Weights, units, uw, nil)
			m.Delta = m.Candidate - m.Champion
			if m.Champion != 0 {
				m.RelDelta = m.Delta / math.Abs(m.Champion)
			}
			if o.Resamples > 0 {
				m.Low, m.High = interval(d, s, units, uw, o)
				m.Verdict = verdict(m)
			}
		}
		res.Metrics = append(res.Metrics, m)
	}
	res.Pass = true
	for _, g := range o.Gates {
		gr := g.check(res.Metric(g.Metric))
		res.Gates = append(res.Gates, gr)
		res.Pass = res.Pass && gr.Pass
	}
	return res, nil
}

func verdict(m MetricResult) string {
	switch {
	case math.IsNaN(m.Low):
		return ""
	case m.Low > 0:
		if m.HigherIsBetter {
			return Better
		}
		return Worse
	case m.High < 0:
		if m.HigherIsBetter {
			return Worse
		}
		return Better
	}
	return NoSignificant
}

// evalDef computes a metric over units (weighted by uw, nil for 1 each);
// draw, when not nil, lists the units of a resample (with repeats).
func evalDef(d metricDef, labels, scores, weights []float64, units [][]int, uw []float64, draw []int) float64 {
	pick := func(yield func(u []int)) {
		if draw == nil {
			for _, u := range units {
				yield(u)
			}
			return
		}
		for _, i := range draw {
			yield(units[i])
		}
	}
	if d.unit != nil {
		var sum, cnt float64
		pick(func(u []int) {
			if v, ok := d.unit(labels, scores, u); ok {
				w := 1.0
				if uw != nil {
					w = uw[u[0]]
				}
				sum += w * v
				cnt += w
			}
		})
		if cnt == 0 {
			return math.NaN()
		}
		return sum / cnt
	}
	var l, s, w []float64
	pick(func(u []int) {
		for _, r := range u {
			l, s = append(l, labels[r]), append(s, scores[r])
			if weights != nil {
				w = append(w, weights[r])
			}
		}
	})
	return d.whole(l, s, w)
}

// unitValues is a per-unit metric's value for every unit, computed once so
// that a resample only averages them.
type unitValues struct {
	v  []float64
	ok []bool
}

func valuesOf(d metricDef, labels, scores []float64, units [][]int) unitValues {
	uv := unitValues{v: make([]float64, len(units)), ok: make([]bool, len(units))}
	for i, u := range units {
		uv.v[i], uv.ok[i] = d.unit(labels, scores, u)
	}
	return uv
}

func (uv unitValues) mean(draw []int, uw []float64) float64 {
	var sum, n float64
	for _, i := range draw {
		if uv.ok[i] {
			w := 1.0
			if uw != nil {
				w = uw[i]
			}
			sum += w * uv.v[i]
			n += w
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / n
}

// interval is the percentile bootstrap interval of the paired difference.
func interval(d metricDef, s Scores, units [][]int, uw []float64, o Options) (float64, float64) {
	var cand, champ unitValues
	if d.unit != nil {
		cand, champ = valuesOf(d, s.Labels, s.Candidate, units), valuesOf(d, s.Labels, s.Champion, units)
	}
	deltas := make([]float64, o.Resamples)
	var wg sync.WaitGroup
	threads := runtime.GOMAXPROCS(0)
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			draw := make([]int, len(units))
			for b := w; b < o.Resamples; b += threads {
				rng := rand.New(rand.NewPCG(o.Seed, uint64(b)))
				for i := range draw {
					draw[i] = rng.IntN(len(units))
				}
				if d.unit != nil {
					deltas[b] = cand.mean(draw, uw) - champ.mean(draw, uw)
				} else {
					deltas[b] = evalDef(d, s.Labels, s.Candidate, s.Weights, units, uw, draw) - evalDef(d, s.Labels, s.Champion, s.Weights, units, uw, draw)
				}
			}
		}(w)
	}
	wg.Wait()
	var ok []float64
	for _, v := range deltas {
		if !math.IsNaN(v) {
			ok = append(ok, v)
		}
	}
	if len(ok) == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(ok)
	alpha := 1 - o.Confidence
	return quantile(ok, alpha/2), quantile(ok, 1-alpha/2)
}

// quantile of sorted values, linear between order statistics (numpy's
// default).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// Document is the comparison as JSON: evaluate's --json file and its
// metrics output. NaN (no champion, no interval) is null.
func (res *Result) Document() map[string]any {
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
