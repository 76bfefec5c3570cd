package xgboost

import "github.com/ferry-ml/ferry/internal/explain"

// shapTree is a tree as TreeSHAP reads it, with XGBoost's sum_hessian as
// the cover, as its pred_contribs does.
type shapTree struct{ *tree }

func (t shapTree) Children(n int) (int, int) {
	if t.left[n] == -1 {
		return -1, -1
	}
	return int(t.left[n]), int(t.right[n])
}

func (t shapTree) Feature(n int) int       { return int(t.feature[n]) }
func (t shapTree) Cover(n int) float64     { return float64(t.hess[n]) }
func (t shapTree) LeafValue(n int) float64 { return float64(t.cond[n]) }
func (t shapTree) GoesLeft(n int, row []float64) bool {
	return t.goesLeft(int32(n), float32(row[t.feature[n]]))
}

// ShapTrees returns the trees for package explain, or nil when the file
// has no sum_hessian (XGBoost writes it in every JSON model since 1.0).
func (m *Model) ShapTrees() []explain.Tree {
	out := make([]explain.Tree, len(m.trees))
	for i := range m.trees {
		if m.trees[i].hess == nil {
			return nil
		}
		out[i] = shapTree{&m.trees[i]}
	}
	return out
}

// Contributions returns row's SHAP values in margin units, one per feature
// and the bias (the base margin and the trees' expected value) last, as
// XGBoost's predict(pred_contribs=True) gives them.
func (m *Model) Contributions(row []float64) []float64 {
	phi := make([]float64, m.NumFeature+1)
	phi[m.NumFeature] = m.BaseMargin
	explain.Contributions(m.ShapTrees(), row, phi)
	return phi
}
