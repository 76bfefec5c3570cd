package metrics_test

import (
	"math"
	"testing"

	"github.com/ferry-ml/ferry/internal/metrics"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.10f, want %.10f (tolerance %g)", name, got, want, tol)
	}
}

func TestAUC(t *testing.T) {
	// sklearn.metrics.roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75
	near(t, "auc", metrics.AUC([]float64{0, 0, 1, 1}, []float64{0.1, 0.4, 0.35, 0.8}), 0.75, 1e-12)
	// Ties: roc_auc_score([0,1,0,1],[0.5,0.5,0.2,0.9]) = 0.875 (the tied pair counts one half).
	near(t, "auc ties", metrics.AUC([]float64{0, 1, 0, 1}, []float64{0.5, 0.5, 0.2, 0.9}), 0.875, 1e-12)
	if !math.IsNaN(metrics.AUC([]float64{1, 1}, []float64{0.2, 0.3})) {
		t.Error("AUC with one class is not NaN")
	}
}

func TestLogLoss(t *testing.T) {
	// sklearn.metrics.log_loss([0,1,1],[0.1,0.8,0.6]) = 0.3488391...
	want := -(math.Log(0.9) + math.Log(0.8) + math.Log(0.6)) / 3
	near(t, "logloss", metrics.LogLoss([]float64{0, 1, 1}, []float64{0.1, 0.8, 0.6}), want, 1e-12)
	near(t, "logloss clipped", metrics.LogLoss([]float64{1}, []float64{0}), -math.Log(1e-15), 1e-9)
}

func TestNDCG(t *testing.T) {
	labels := []float64{3, 2, 0, 1, 0, 0}
	scores := []float64{0.1, 0.9, 0.5, 0.5, 0.3, 0.2}
	// Query 1 is rows 0-3; query 2 (all zero labels) is left out.
	groups := [][]int{{0, 1, 2, 3}, {4, 5}}
	// Ranked by score, ties in input order: rows 1 (2), 2 (0), 3 (1), 0 (3).
	dcg := 3/math.Log2(2) + 0/math.Log2(3) + 1/math.Log2(4) + 7/math.Log2(5)
	idcg := 7/math.Log2(2) + 3/math.Log2(3) + 1/math.Log2(4) + 0/math.Log2(5)
	near(t, "ndcg", metrics.NDCG(labels, scores, groups, 0), dcg/idcg, 1e-12)
	dcg3 := 3/math.Log2(2) + 0/math.Log2(3) + 1/math.Log2(4)
	near(t, "ndcg@3", metrics.NDCG(labels, scores, groups, 3), dcg3/idcg, 1e-12)
}

func TestRMSE(t *testing.T) {
	near(t, "rmse", metrics.RMSE([]float64{1, 2, 3}, []float64{1, 2, 5}), math.Sqrt(4.0/3), 1e-12)
}

func TestBinaryAtThreshold(t *testing.T) {
	y := []float64{0, 1, 1, 0, 1, 0, 0, 1}
	p := []float64{0.1, 0.8, 0.45, 0.5, 0.9, 0.2, 0.65, 0.3}
	c := metrics.Count(y, p, 0.5)
	// scikit-learn 1.2.1 (accuracy_score, precision_score, recall_score,
	// f1_score on p >= 0.5): 0.5 each; brier_score_loss 0.195625;
	// mean_absolute_error 0.375.
	for name, got := range map[string]float64{"accuracy": c.Accuracy(), "precision": c.Precision(), "recall": c.Recall(), "f1": c.F1()} {
		near(t, name, got, 0.5, 1e-12)
	}
	near(t, "brier", metrics.Brier(y, p), 0.195625, 1e-12)
	near(t, "mse", metrics.MSE(y, p), 0.195625, 1e-12)
	near(t, "mae", metrics.MAE(y, p), 0.375, 1e-12)
	// ECE, 10 bins, by hand (numpy): 0.375.
	near(t, "ece", metrics.ECE(y, p, 10), 0.375, 1e-12)
	if c := metrics.Count([]float64{1, 0}, []float64{0.1, 0.2}, 0.5); c.Precision() != 0 || c.F1() != 0 {
		t.Errorf("no predicted positives: precision %v, F1 %v, want 0 (zero_division=0)", c.Precision(), c.F1())
	}
}

func TestRankingMetrics(t *testing.T) {
	// One query, ranked by score: rows 1 (rel), 2 (not), 3 (rel), 0 (not);
	// a second query without relevant rows, left out.
	labels := []float64{0, 2, 0, 1, 0, 0}
	scores := []float64{0.1, 0.9, 0.5, 0.4, 0.3, 0.2}
	groups := [][]int{{0, 1, 2, 3}, {4, 5}}
	// AP: hits at ranks 1 and 3: (1/1 + 2/3) / 2.
	near(t, "map", metrics.MAP(labels, scores, groups, 0), (1+2.0/3)/2, 1e-12)
	// AP@2: one hit at rank 1, divided by min(2, 2 relevant).
	near(t, "map@2", metrics.MAP(labels, scores, groups, 2), 0.5, 1e-12)
	near(t, "mrr", metrics.MRR(labels, scores, groups), 1, 1e-12)
	near(t, "precision@2", metrics.PrecisionAt(labels, scores, groups, 2), 0.5, 1e-12)
	near(t, "recall@3", metrics.RecallAt(labels, scores, groups, 3), 1, 1e-12)
	near(t, "recall@1", metrics.RecallAt(labels, scores, groups, 1), 0.5, 1e-12)
	if !math.IsNaN(metrics.MRR([]float64{0, 0}, []float64{1, 2}, [][]int{{0, 1}})) {
		t.Error("MRR without relevant rows is not NaN")
	}
}

// Sample weights, against scikit-learn 1.2.1's sample_weight (values printed
// by roc_auc_score, log_loss, accuracy_score, precision_score, recall_score,
// f1_score, brier_score_loss, mean_absolute_error, mean_squared_error).
func TestWeighted(t *testing.T) {
	y := []float64{0, 1, 1, 0, 1, 0, 0, 1}
	p := []float64{0.1, 0.8, 0.45, 0.5, 0.9, 0.2, 0.65, 0.3}
	w := []float64{1, 2, 0.5, 3, 1, 1, 2, 0.25}
	got, err := metrics.AllWeighted(metrics.Binary, y, p, w, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"auc": 0.8571428571428572, "logloss": 0.5357660023372877, "accuracy": 0.46511627906976744,
		"precision": 0.375, "recall": 0.8, "f1": 0.5106382978723405, "brier": 0.18686046511627907,
	} {
		near(t, name, got[name], want, 1e-12)
	}
	reg, _ := metrics.AllWeighted(metrics.Regression, y, p, w, nil, nil)
	near(t, "mae", reg["mae"], 0.3767441860465116, 1e-12)
	near(t, "mse", reg["mse"], 0.18686046511627907, 1e-12)
	// Tied scores: roc_auc_score([0,1,0,1],[0.5,0.5,0.2,0.9],sample_weight=[1,3,2,1]) = 0.875.
	near(t, "auc ties", metrics.WeightedAUC([]float64{0, 1, 0, 1}, []float64{0.5, 0.5, 0.2, 0.9}, []float64{1, 3, 2, 1}), 0.875, 1e-12)
	// Unit weights give the unweighted metrics.
	unit, _ := metrics.AllWeighted(metrics.Binary, y, p, []float64{1, 1, 1, 1, 1, 1, 1, 1}, nil, nil)
	plain, _ := metrics.All(metrics.Binary, y, p, nil, nil)
	for k, v := range plain {
		near(t, "unit-weight "+k, unit[k], v, 1e-12)
	}
}
