package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// The ranking metrics below count a row as relevant when its label is above
// 0, rank a query's rows by score (ties in input order), average over
// queries, and leave out of the mean the queries they are undefined for (no
// relevant row); they are NaN when every query is left out.

// ranked returns a group's rows by descending score, ties in input order:
// the group itself when it is already in that order (as All passes groups,
// ranking each once for every metric), else a sorted copy.
func ranked(scores []float64, group []int) []int {
	for i := 1; i < len(group); i++ {
		if scores[group[i]] > scores[group[i-1]] {
			r := slices.Clone(group)
			slices.SortStableFunc(r, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
			return r
		}
	}
	return group
}

// NDCGs is NDCG at each of ks, in one pass over the queries: each query is
// ranked and its ideal order sorted once for every cut-off. It equals
// NDCG(labels, scores, groups, k) for each k.
func NDCGs(labels, scores []float64, groups [][]int, ks []int) []float64 {
	sums, ns := make([]float64, len(ks)), make([]int, len(ks))
	var ideal, dcg, idcg []float64
	for _, g := range groups {
		r := ranked(scores, g)
		ideal = ideal[:0]
		for _, row := range g {
			ideal = append(ideal, labels[row])
		}
		slices.SortFunc(ideal, func(a, b float64) int { return cmp.Compare(b, a) })
		// Prefix sums of DCG and ideal DCG by rank, as QueryNDCG adds them.
		dcg, idcg = dcg[:0], idcg[:0]
		var d, id float64
		for i := range g {
			disc := Discount(i + 1)
			d += Gain(labels[r[i]]) * disc
			id += Gain(ideal[i]) * disc
			dcg, idcg = append(dcg, d), append(idcg, id)
		}
		for j, k := range ks {
			kk := cut(k, len(g))
			if kk == 0 || idcg[kk-1] == 0 {
				continue
			}
			sums[j] += dcg[kk-1] / idcg[kk-1]
			ns[j]++
		}
	}
	out := make([]float64, len(ks))
	for j := range ks {
		out[j] = math.NaN()
		if ns[j] > 0 {
			out[j] = sums[j] / float64(ns[j])
		}
	}
	return out
}

// rankGroups returns every group in rank order (see ranked).
func rankGroups(scores []float64, groups [][]int) [][]int {
	out := make([][]int, len(groups))
	for i, g := range groups {
		out[i] = ranked(scores, g)
	}
	return out
}

func relevant(labels []float64, group []int) int {
	n := 0
	for _, r := range group {
		if labels[r] > 0 {
			n++
		}
	}
	return n
}

func meanOver(groups [][]int, f func(g []int) (float64, bool)) float64 {
	var s float64
	n := 0
	for _, g := range groups {
		if v, ok := f(g); ok {
			s += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// MAP is the mean average precision at k: for a query with R relevant rows,
// AP@k = (1 / min(k, R)) Σ_{i <= k, row i relevant} precision@i. k <= 0
// means the whole list.
func MAP(labels, scores []float64, groups [][]int, k int) float64 {
	return meanOver(groups, func(g []int) (float64, bool) {
		rel := relevant(labels, g)
		if rel == 0 {
			return 0, false
		}
		kk := cut(k, len(g))
		var hits, sum float64
		for i, r := range ranked(scores, g)[:kk] {
			if labels[r] > 0 {
				hits++
				sum += hits / float64(i+1)
			}
		}
		return sum / float64(min(kk, rel)), true
	})
}

// MRR is the mean reciprocal rank of the first relevant row.
func MRR(labels, scores []float64, groups [][]int) float64 {
	return meanOver(groups, func(g []int) (float64, bool) {
		for i, r := range ranked(scores, g) {
			if labels[r] > 0 {
				return 1 / float64(i+1), true
			}
		}
		return 0, false
	})
}

// PrecisionAt is the share of relevant rows among a query's top k
// (k capped at the query's length), averaged over queries with a relevant row.
func PrecisionAt(labels, scores []float64, groups [][]int, k int) float64 {
	return meanOver(groups, func(g []int) (float64, bool) {
		if relevant(labels, g) == 0 {
			return 0, false
		}
		kk := cut(k, len(g))
		return float64(relevant(labels, ranked(scores, g)[:kk])) / float64(kk), true
	})
}

// RecallAt is the share of a query's relevant rows found in its top k.
func RecallAt(labels, scores []float64, groups [][]int, k int) float64 {
	return meanOver(groups, func(g []int) (float64, bool) {
		rel := relevant(labels, g)
		if rel == 0 {
			return 0, false
		}
		return float64(relevant(labels, ranked(scores, g)[:cut(k, len(g))])) / float64(rel), true
	})
}

func cut(k, n int) int {
	if k <= 0 || k > n {
		return n
	}
	return k
}

// QueryMetric returns the per-query value of a ranking metric by name (ndcg,
// map, mrr, precision, recall) at cut-off k, with ok false for a query the
// metric leaves out; the metrics above are the means of these values.
func QueryMetric(name string, k int) (func(labels, scores []float64, group []int) (float64, bool), error) {
	one := func(f func(labels, scores []float64, groups [][]int, k int) float64) func(labels, scores []float64, group []int) (float64, bool) {
		return func(labels, scores []float64, group []int) (float64, bool) {
			v := f(labels, scores, [][]int{group}, k)
			return v, !math.IsNaN(v)
		}
	}
	switch name {
	case "ndcg":
		return func(labels, scores []float64, group []int) (float64, bool) {
			return QueryNDCG(labels, scores, group, k)
		}, nil
	case "map":
		return one(MAP), nil
	case "mrr":
		return one(func(l, s []float64, g [][]int, _ int) float64 { return MRR(l, s, g) }), nil
	case "precision":
		return one(PrecisionAt), nil
	case "recall":
		return one(RecallAt), nil
	}
	return nil, fmt.Errorf("unknown ranking metric %q", name)
}
