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
