package metrics

import (
	"math"
)

// Weighted metrics: each row counts with its weight (scikit-learn's
// sample_weight). A nil weights slice means every weight is 1.

func weight(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

// WeightedMean is Σ w_i v_i / Σ w_i, NaN when the weights sum to 0.
func WeightedMean(values, w []float64) float64 {
	var s, sw float64
	for i, v := range values {
		s += weight(w, i) * v
		sw += weight(w, i)
	}
	if sw == 0 {
		return math.NaN()
	}
	return s / sw
}

// WeightedAUC is AUC with sample weights: the weighted probability that a
// positive scores above a negative, ties counting one half.
func WeightedAUC(labels, scores, w []float64) float64 {
	// Each row goes into the sort as its score's key and its weight, signed
	// by its class (the sign bit, so that a zero weight keeps its class);
	// tied scores are then taken together, whatever their order.
	rows := make([]scored, len(scores))
	for i, s := range scores {
		v := weight(w, i)
		if labels[i] != 1 {
			v = math.Copysign(v, -1)
		}
		rows[i] = scored{sortKey(s), v}
	}
	rows = radixSort(rows)
	var negBelow, pos, neg, sum float64
	for i := 0; i < len(rows); {
		j := i
		var tiePos, tieNeg float64
		for j < len(rows) && rows[j].key == rows[i].key {
			if math.Signbit(rows[j].val) {
				tieNeg -= rows[j].val
			} else {
				tiePos += rows[j].val
			}
			j++
		}
		sum += tiePos * (negBelow + tieNeg/2)
		negBelow += tieNeg
		pos += tiePos
		neg += tieNeg
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return sum / (pos * neg)
}

// WeightedCount is Count with sample weights.
func WeightedCount(labels, scores, w []float64, threshold float64) Confusion {
	var c Confusion
	for i, y := range labels {
		wi := weight(w, i)
		pos := scores[i] >= threshold
		switch {
		case pos && y == 1:
			c.TP += wi
		case pos:
			c.FP += wi
		case y == 1:
			c.FN += wi
		default:
			c.TN += wi
		}
	}
	return c
}

// WeightedECE is ECE with each row counting with its weight.
func WeightedECE(labels, probs, w []float64, bins int) float64 {
	n := make([]float64, bins)
	sp := make([]float64, bins)
	sy := make([]float64, bins)
	var total float64
	for i, p := range probs {
		b := max(min(int(p*float64(bins)), bins-1), 0)
		wi := weight(w, i)
		n[b] += wi
		sp[b] += wi * p
		sy[b] += wi * labels[i]
		total += wi
	}
	var e float64
	for b := range n {
		if n[b] > 0 {
			e += n[b] / total * math.Abs(sp[b]/n[b]-sy[b]/n[b])
		}
	}
	return e
}

// rowLoss are the per-row values the weighted means average.
func rowLoss(name string, y, s float64) float64 {
	switch name {
	case "logloss":
		const eps = 1e-15
		p := min(max(s, eps), 1-eps)
		return -(y*math.Log(p) + (1-y)*math.Log(1-p))
	case "brier", "mse":
		return (s - y) * (s - y)
	case "mae":
		return math.Abs(s - y)
	}
	return math.NaN()
}

func weightedRowMetric(name string, labels, scores, w []float64) float64 {
	v := make([]float64, len(labels))
	for i := range v {
		v[i] = rowLoss(name, labels[i], scores[i])
	}
	return WeightedMean(v, w)
}
