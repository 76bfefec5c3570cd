package metrics

import (
	"fmt"
	"math"
	"strings"
)

// Tasks that decide which metrics apply.
const (
	Binary     = "binary"
	Regression = "regression"
	Ranking    = "ranking"
)

// Threshold is where binary scores turn positive for accuracy, precision,
// recall and F1.
const Threshold = 0.5

// CalibrationBins is the number of bins of ECE.
const CalibrationBins = 10

// All computes every metric that applies to the task, by the names `ferry
// metrics --json` uses: auc, logloss, accuracy, precision, recall, f1, brier,
// ece (binary; logloss, brier and ece only when every score is a probability);
// mse, rmse, mae (regression); ndcg@K, map@K, mrr, precision@K, recall@K for
// each cut-off K (ranking). Metrics that are undefined (NaN) are left out.
func All(task string, labels, scores []float64, groups [][]int, ks []int) (map[string]float64, error) {
	return AllWeighted(task, labels, scores, nil, groups, ks)
}

// AllWeighted is All with sample weights for the binary and regression
// metrics (nil: every row weighs 1). Ranking metrics are means over queries
// and take no row weights.
func AllWeighted(task string, labels, scores, weights []float64, groups [][]int, ks []int) (map[string]float64, error) {
	if len(labels) != len(scores) || (weights != nil && len(weights) != len(labels)) {
		return nil, fmt.Errorf("%d labels for %d scores and %d weights", len(labels), len(scores), len(weights))
	}
	out := map[string]float64{}
	switch task {
	case Binary:
		// AUC's sort runs beside the single-pass metrics, on another core.
		auc := make(chan float64, 1)
		go func() { auc <- WeightedAUC(labels, scores, weights) }()
		c := WeightedCount(labels, scores, weights, Threshold)
		out["accuracy"], out["precision"], out["recall"], out["f1"] = c.Accuracy(), c.Precision(), c.Recall(), c.F1()
		if Probabilities(scores) {
			out["logloss"] = weightedRowMetric("logloss", labels, scores, weights)
			out["brier"] = weightedRowMetric("brier", labels, scores, weights)
			out["ece"] = WeightedECE(labels, scores, weights, CalibrationBins)
		}
		out["auc"] = <-auc
	case Regression:
		out["mse"] = weightedRowMetric("mse", labels, scores, weights)
		out["rmse"] = math.Sqrt(out["mse"])
		out["mae"] = weightedRowMetric("mae", labels, scores, weights)
	case Ranking:
		if groups == nil {
			return nil, fmt.Errorf("ranking metrics need query groups")
		}
		groups = rankGroups(scores, groups) // once, for every metric below
		for j, v := range NDCGs(labels, scores, groups, ks) {
			out[fmt.Sprintf("ndcg@%d", ks[j])] = v
		}
		out["mrr"] = MRR(labels, scores, groups)
		for _, k := range ks {
			out[fmt.Sprintf("map@%d", k)] = MAP(labels, scores, groups, k)
			out[fmt.Sprintf("precision@%d", k)] = PrecisionAt(labels, scores, groups, k)
			out[fmt.Sprintf("recall@%d", k)] = RecallAt(labels, scores, groups, k)
		}
	default:
		return nil, fmt.Errorf("task %q: want binary, regression or ranking", task)
	}
	for k, v := range out {
		if math.IsNaN(v) {
			delete(out, k)
		}
	}
	return out, nil
}

// Probabilities reports whether every score lies in [0, 1].
func Probabilities(scores []float64) bool {
	for _, s := range scores {
		if !(s >= 0 && s <= 1) {
			return false
		}
	}
	return true
}

// TaskOf guesses the task of labelled scores: ranking with groups, binary
// when every label is 0 or 1, regression otherwise.
func TaskOf(labels []float64, hasGroups bool) string {
	if hasGroups {
		return Ranking
	}
	for _, y := range labels {
		if y != 0 && y != 1 {
			return Regression
		}
	}
	return Binary
}

// HigherIsBetter reports whether a higher value of the named metric (as All
// names it) is better; ok is false for a name All does not use.
func HigherIsBetter(name string) (higher bool, ok bool) {
	base, _, _ := strings.Cut(name, "@")
	switch base {
	case "auc", "accuracy", "precision", "recall", "f1", "ndcg", "map", "mrr":
		return true, true
	case "logloss", "brier", "ece", "mse", "rmse", "mae":
		return false, true
	}
	return false, false
}
