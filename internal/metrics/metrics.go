package metrics

import (
	"cmp"
	"math"
	"slices"
)

// AUC is the area under the ROC curve of scores for binary labels (1 is
// positive): the probability that a random positive scores above a random
// negative, ties counted as one half (the Mann-Whitney U statistic with tied
// scores given their average rank). It is NaN when a class is absent.
func AUC(labels, scores []float64) float64 { return WeightedAUC(labels, scores, nil) }

// LogLoss is the mean of -(y log p + (1-y) log(1-p)) with p clipped to
// [1e-15, 1-1e-15], as scikit-learn does.
func LogLoss(labels, probs []float64) float64 {
	const eps = 1e-15
	var s float64
	for i, y := range labels {
		p := min(max(probs[i], eps), 1-eps)
		s -= y*math.Log(p) + (1-y)*math.Log(1-p)
	}
	return s / float64(len(labels))
}

// RMSE is the root of the mean squared error.
func RMSE(labels, preds []float64) float64 {
	var s float64
	for i, y := range labels {
		d := preds[i] - y
		s += d * d
	}
	return math.Sqrt(s / float64(len(labels)))
}

// NDCG is the mean NDCG@k over groups (each a list of row indexes), with the
// package's ranking convention; k <= 0 means the whole list. It is NaN when
// every group has an ideal DCG of 0.
func NDCG(labels, scores []float64, groups [][]int, k int) float64 {
	return NDCGs(labels, scores, groups, []int{k})[0]
}

// QueryNDCG is one group's NDCG@k; ok is false when its ideal DCG is 0.
func QueryNDCG(labels, scores []float64, group []int, k int) (ndcg float64, ok bool) {
	if k <= 0 || k > len(group) {
		k = len(group)
	}
	ranked := ranked(scores, group)
	ideal := make([]float64, len(group))
	for i, r := range group {
		ideal[i] = labels[r]
	}
	slices.SortFunc(ideal, func(a, b float64) int { return cmp.Compare(b, a) })
	var dcg, idcg float64
	for i := 0; i < k; i++ {
		d := Discount(i + 1)
		dcg += Gain(labels[ranked[i]]) * d
		idcg += Gain(ideal[i]) * d
	}
	if idcg == 0 {
		return 0, false
	}
	return dcg / idcg, true
}

// Gain is 2^rel - 1.
func Gain(rel float64) float64 { return math.Exp2(rel) - 1 }

// Discount is 1 / log2(rank + 1), ranks from 1.
func Discount(rank int) float64 { return 1 / math.Log2(float64(rank)+1) }
