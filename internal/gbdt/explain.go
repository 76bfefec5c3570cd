package gbdt

import "github.com/ferry-ml/ferry/internal/explain"

// shapTree is a Tree as TreeSHAP reads it; rows hold float32 values
// widened to float64, which the float32 thresholds compare exactly.
type shapTree struct{ *Tree }

func (t shapTree) Children(n int) (int, int) {
	if t.Left[n] < 0 {
		return -1, -1
	}
	return int(t.Left[n]), int(t.Right[n])
}

func (t shapTree) Feature(n int) int       { return int(t.Tree.Feature[n]) }
func (t shapTree) Cover(n int) float64     { return t.Tree.Cover[n] }
func (t shapTree) LeafValue(n int) float64 { return t.Value[n] }
func (t shapTree) GoesLeft(n int, row []float64) bool {
	return t.goesLeft(int32(n), float32(row[t.Tree.Feature[n]]))
}

// Contributions returns row's SHAP values in margin units, one per
// feature and the bias (the base score and the trees' expected value) last:
// they add up to Margin(row).
func (m *Model) Contributions(row []float32) []float64 {
	x := make([]float64, len(row))
	for i, v := range row {
		x[i] = float64(v)
	}
	phi := make([]float64, m.NumFeatures+1)
	phi[m.NumFeatures] = m.BaseScore
	explain.Contributions(m.ShapTrees(), x, phi)
	return phi
}

// ShapTrees returns the trees for package explain, or nil when a tree
// lacks its covers (a model saved before they were kept).
func (m *Model) ShapTrees() []explain.Tree {
	out := make([]explain.Tree, len(m.Trees))
	for i := range m.Trees {
		if len(m.Trees[i].Cover) != len(m.Trees[i].Left) {
			return nil
		}
		out[i] = shapTree{&m.Trees[i]}
	}
	return out
}
