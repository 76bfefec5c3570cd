package lightgbm

import "github.com/ferry-ml/ferry/internal/explain"

// shapTree numbers a LightGBM tree's nodes for TreeSHAP: the inner nodes
// first, then leaf j as inner+j, with the training row counts as cover.
type shapTree struct{ *tree }

func (t shapTree) inner() int { return len(t.left) }

func (t shapTree) node(child int32) int {
	if child < 0 {
		return t.inner() + int(^child)
	}
	return int(child)
}

func (t shapTree) Children(n int) (int, int) {
	if n >= t.inner() {
		return -1, -1
	}
	return t.node(t.left[n]), t.node(t.right[n])
}

func (t shapTree) Feature(n int) int { return int(t.feature[n]) }

func (t shapTree) Cover(n int) float64 {
	if n >= t.inner() {
		return t.leafCount[n-t.inner()]
	}
	return t.internalCount[n]
}

func (t shapTree) LeafValue(n int) float64 { return t.leaf[n-t.inner()] }

func (t shapTree) GoesLeft(n int, row []float64) bool {
	return t.goesLeft(int32(n), row[t.feature[n]])
}

// ShapTrees returns the trees for package explain, or nil for a model
// whose file has no row counts, or that averages its trees (rf).
func (m *Model) ShapTrees() []explain.Tree {
	if m.average {
		return nil
	}
	out := make([]explain.Tree, len(m.trees))
	for i := range m.trees {
		t := &m.trees[i]
		if len(t.leafCount) != len(t.leaf) || len(t.internalCount) != len(t.left) {
			return nil
		}
		out[i] = shapTree{t}
	}
	return out
}

// Contributions returns row's SHAP values in margin units, one per feature
// and the bias (the trees' expected value) last: they add up to the raw
// score.
func (m *Model) Contributions(row []float64) []float64 {
	phi := make([]float64, m.NumFeature+1)
	explain.Contributions(m.ShapTrees(), row, phi)
	return phi
}
