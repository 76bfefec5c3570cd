package compare

import (
	"math"
	"sort"

	"github.com/ferry-ml/ferry/internal/metrics"
)

// MaxSlices is the most segments a slice report lists (the largest ones).
const MaxSlices = 20

// SliceResult is the comparison within one segment of a column.
type SliceResult struct {
	Value   string
	Rows    int
	Metrics []SliceMetric
}

// SliceMetric is one metric within a segment, with the interval of its
// change when asked for (NaN otherwise).
type SliceMetric struct {
	Name                       string
	Champion, Candidate, Delta float64 // Champion and Delta are NaN without a champion
	Low, High                  float64
	Verdict                    string // better, worse, no significant change; "" without an interval
}

// Slices compares the models within each segment: segment[i] is row i's
// value of the slicing column. For ranking, a query belongs to the segment
// of its first row. names are the metrics to report; opts.K the ranking
// cut-offs; with opts.Resamples and a champion, each change gets its paired
// bootstrap interval within the segment, as Compare gives them.
func Slices(s Scores, segment []string, names []string, opts Options) []SliceResult {
	ks := opts.K
	task := metrics.TaskOf(s.Labels, s.Groups != nil)
	// The units of each segment: rows, or queries.
	bySeg := map[string][][]int{}
	if s.Groups != nil {
		for _, g := range s.Groups {
			bySeg[segment[g[0]]] = append(bySeg[segment[g[0]]], g)
		}
	} else {
		for i := range s.Labels {
			bySeg[segment[i]] = append(bySeg[segment[i]], []int{i})
		}
	}
	var out []SliceResult
	for value, units := range bySeg {
		var rows []int
		for _, u := range units {
			rows = append(rows, u...)
		}
		sub := Scores{}
		remap := map[int]int{}
		for _, r := range rows {
			remap[r] = len(sub.Labels)
			sub.Labels = append(sub.Labels, s.Labels[r])
			sub.Candidate = append(sub.Candidate, s.Candidate[r])
			if s.Champion != nil {
				sub.Champion = append(sub.Champion, s.Champion[r])
			}
		}
		if s.Groups != nil {
			for _, u := range units {
				var g []int
				for _, r := range u {
					g = append(g, remap[r])
				}
				sub.Groups = append(sub.Groups, g)
			}
		}
		cand, _ := metrics.All(task, sub.Labels, sub.Candidate, sub.Groups, ks)
		var champ map[string]float64
		if sub.Champion != nil {
			champ, _ = metrics.All(task, sub.Labels, sub.Champion, sub.Groups, ks)
		}
		var within *Result // the segment's own comparison, for intervals
		if opts.Resamples > 0 && sub.Champion != nil {
			within, _ = Compare(sub, Options{Resamples: opts.Resamples, Confidence: opts.Confidence, Seed: opts.Seed, K: ks})
		}
		sr := SliceResult{Value: value, Rows: len(rows)}
		for _, n := range names {
			cv, ok := cand[n]
			if !ok {
				continue
			}
			m := SliceMetric{Name: n, Candidate: cv, Champion: math.NaN(), Delta: math.NaN(), Low: math.NaN(), High: math.NaN()}
			if hv, ok := champ[n]; ok {
				m.Champion, m.Delta = hv, cv-hv
			}
			if within != nil {
				if wm := within.Metric(n); wm != nil {
					m.Low, m.High, m.Verdict = wm.Low, wm.High, wm.Verdict
				}
			}
			sr.Metrics = append(sr.Metrics, m)
		}
		out = append(out, sr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rows != out[j].Rows {
			return out[i].Rows > out[j].Rows
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > MaxSlices {
		out = out[:MaxSlices]
	}
	return out
}
