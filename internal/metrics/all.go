package metrics

import (
	"fmt"
	"math"
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
	if len(labels) != len(scores) {
		return nil, fmt.Errorf("%d labels for %d scores", len(labels), len(scores))
	}
	out := map[string]float64{}
	switch task {
	case Binary:
		out["auc"] = AUC(labels, scores)
		c := Count(labels, scores, Threshold)
		out["accuracy"], out["precision"], out["recall"], out["f1"] = c.Accuracy(), c.Precision(), c.Recall(), c.F1()
		if Probabilities(scores) {
			out["logloss"] = LogLoss(labels, scores)
			out["brier"] = Brier(labels, scores)
			out["ece"] = ECE(labels, scores, CalibrationBins)
		}
	case Regression:
		out["mse"], out["rmse"], out["mae"] = MSE(labels, scores), RMSE(labels, scores), MAE(labels, scores)
	case Ranking:
		if groups == nil {
			return nil, fmt.Errorf("ranking metrics need query groups")
		}
		out["mrr"] = MRR(labels, scores, groups)
		for _, k := range ks {
			out[fmt.Sprintf("ndcg@%d", k)] = NDCG(labels, scores, groups, k)
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
