package explain

import (
	"math"
	"slices"
)

// Tree is what TreeSHAP needs of one tree of an ensemble. Nodes are
// numbered from the root, 0.
type Tree interface {
	// Children returns an inner node's children; a leaf returns -1, -1.
	Children(n int) (left, right int)
	// Feature is an inner node's split feature.
	Feature(n int) int
	// Cover is the weight of training rows that reached the node (the
	// hessian sum, or the row count).
	Cover(n int) float64
	// LeafValue is a leaf's output.
	LeafValue(n int) float64
	// GoesLeft says where row goes at inner node n, missing values
	// (NaN) included, exactly as the model scores.
	GoesLeft(n int, row []float64) bool
}

// pathElement is one feature on the path from the root (Lundberg's m).
type pathElement struct {
	feature            int
	zero, one, pweight float64
}

// Contributions adds the SHAP values of row under the trees to phi, which
// has one entry per feature and a last one for the bias (the trees'
// expected value): their sum is the trees' summed output for the row.
func Contributions(trees []Tree, row []float64, phi []float64) {
	bias := len(phi) - 1
	for _, t := range trees {
		phi[bias] += meanValue(t, 0)
		path := make([]pathElement, 0, 32)
		recurse(t, row, phi, 0, path, 1, 1, -1)
	}
}

// meanValue is the cover-weighted mean of the leaves under node n.
func meanValue(t Tree, n int) float64 {
	l, r := t.Children(n)
	if l < 0 {
		return t.LeafValue(n)
	}
	cl, cr := t.Cover(l), t.Cover(r)
	if cl+cr == 0 {
		return (meanValue(t, l) + meanValue(t, r)) / 2
	}
	return (cl*meanValue(t, l) + cr*meanValue(t, r)) / (cl + cr)
}

// recurse is TreeShap of XGBoost's RegTree (tree_model.cc), on slices.
func recurse(t Tree, row, phi []float64, n int, parent []pathElement, zero, one float64, feature int) {
	path := extend(slices.Clone(parent), zero, one, feature)
	l, r := t.Children(n)
	if l < 0 {
		v := t.LeafValue(n)
		for i := 1; i < len(path); i++ {
			w := unwoundSum(path, i)
			phi[path[i].feature] += w * (path[i].one - path[i].zero) * v
		}
		return
	}
	split := t.Feature(n)
	hot, cold := r, l
	if t.GoesLeft(n, row) {
		hot, cold = l, r
	}
	w := t.Cover(n)
	hotZero, coldZero := ratio(t.Cover(hot), w), ratio(t.Cover(cold), w)
	inZero, inOne := 1.0, 1.0
	// A feature split on higher up: undo that split, to redo it here.
	if k := slices.IndexFunc(path, func(e pathElement) bool { return e.feature == split }); k >= 0 {
		inZero, inOne = path[k].zero, path[k].one
		path = unwind(path, k)
	}
	recurse(t, row, phi, hot, path, hotZero*inZero, inOne, split)
	recurse(t, row, phi, cold, path, coldZero*inZero, 0, split)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// extend adds a feature to the path with the fractions of zero (the feature
// unknown) and one (the feature known) paths that flow through it.
func extend(path []pathElement, zero, one float64, feature int) []pathElement {
	d := len(path)
	path = append(path, pathElement{feature: feature, zero: zero, one: one, pweight: boolf(d == 0)})
	for i := d - 1; i >= 0; i-- {
		path[i+1].pweight += one * path[i].pweight * float64(i+1) / float64(d+1)
		path[i].pweight = zero * path[i].pweight * float64(d-i) / float64(d+1)
	}
	return path
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unwind removes element k from the path, undoing its extend.
func unwind(path []pathElement, k int) []pathElement {
	d := len(path) - 1
	one, zero := path[k].one, path[k].zero
	next := path[d].pweight
	for i := d - 1; i >= 0; i-- {
		if one != 0 {
			tmp := path[i].pweight
			path[i].pweight = next * float64(d+1) / (float64(i+1) * one)
			next = tmp - path[i].pweight*zero*float64(d-i)/float64(d+1)
		} else {
			path[i].pweight = path[i].pweight * float64(d+1) / (zero * float64(d-i))
		}
	}
	for i := k; i < d; i++ {
		path[i].feature, path[i].zero, path[i].one = path[i+1].feature, path[i+1].zero, path[i+1].one
	}
	return path[:d]
}

// unwoundSum is the total weight of the path with element k unwound.
func unwoundSum(path []pathElement, k int) float64 {
	d := len(path) - 1
	one, zero := path[k].one, path[k].zero
	next := path[d].pweight
	total := 0.0
	for i := d - 1; i >= 0; i-- {
		if one != 0 {
			tmp := next * float64(d+1) / (float64(i+1) * one)
			total += tmp
			next = path[i].pweight - tmp*zero*float64(d-i)/float64(d+1)
		} else if zero != 0 {
			total += path[i].pweight / zero / (float64(d-i) / float64(d+1))
		}
	}
	return total
}

// MeanAbs is the mean absolute SHAP value of each feature over rows: the
// importance a reviewer reads, in the model's output units (log-odds for a
// binary model).
func MeanAbs(trees []Tree, rows [][]float64, features int) []float64 {
	out := make([]float64, features)
	phi := make([]float64, features+1)
	for _, row := range rows {
		clear(phi)
		Contributions(trees, row, phi)
		for f := range out {
			out[f] += math.Abs(phi[f])
		}
	}
	for f := range out {
		out[f] /= float64(max(len(rows), 1))
	}
	return out
}

// Cost estimates the work of one row's Contributions: per tree, its leaves
// times the square of its depth (TreeSHAP is O(L D^2) per tree).
func Cost(trees []Tree) float64 {
	total := 0.0
	for _, t := range trees {
		leaves, depth := shape(t, 0, 0)
		total += float64(leaves) * float64(depth*depth+1)
	}
	return total
}

func shape(t Tree, n, d int) (leaves, depth int) {
	l, r := t.Children(n)
	if l < 0 {
		return 1, d
	}
	ll, ld := shape(t, l, d+1)
	rl, rd := shape(t, r, d+1)
	return ll + rl, max(ld, rd)
}
