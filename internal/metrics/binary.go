package metrics

import "math"

// Confusion counts a binary classifier's outcomes at a threshold: a row is
// predicted positive when its score is >= threshold.
type Confusion struct{ TP, FP, TN, FN float64 }

// Count returns the confusion counts of scores against binary labels.
func Count(labels, scores []float64, threshold float64) Confusion {
	return WeightedCount(labels, scores, nil, threshold)
}

// Accuracy is (TP + TN) / rows.
func (c Confusion) Accuracy() float64 { return (c.TP + c.TN) / (c.TP + c.FP + c.TN + c.FN) }

// Precision is TP / (TP + FP), and 0 when nothing is predicted positive
// (scikit-learn's zero_division=0).
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP / (TP + FN), and 0 without positives.
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall, 2TP / (2TP + FP + FN),
// and 0 when both are 0.
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Brier is the mean squared difference between probabilities and labels,
// (1/n) Σ (p - y)².
func Brier(labels, probs []float64) float64 {
	var s float64
	for i, y := range labels {
		d := probs[i] - y
		s += d * d
	}
	return s / float64(len(labels))
}

// ECE is the expected calibration error over bins equal-width bins of [0, 1]:
// Σ_b (n_b / n) |mean(p in b) - mean(y in b)|, a probability of exactly 1
// falling in the last bin.
func ECE(labels, probs []float64, bins int) float64 { return WeightedECE(labels, probs, nil, bins) }

// MSE is the mean squared error.
func MSE(labels, preds []float64) float64 {
	r := RMSE(labels, preds)
	return r * r
}

// MAE is the mean absolute error.
func MAE(labels, preds []float64) float64 {
	var s float64
	for i, y := range labels {
		s += math.Abs(preds[i] - y)
	}
	return s / float64(len(labels))
}
