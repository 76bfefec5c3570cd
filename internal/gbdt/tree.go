package gbdt

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ferry-ml/ferry/internal/data"
)

// Tree is one regression tree, stored as parallel arrays (node 0 is the root),
// the way XGBoost's JSON model stores trees.
type Tree struct {
	Left  []int32 `json:"left"`  // left child; -1 for a leaf
	Right []int32 `json:"right"` // right child; -1 for a leaf
	// Feature is the feature a node splits on.
	Feature []int32 `json:"feature"`
	// Threshold: a numeric value goes left when it is <= Threshold.
	Threshold []float32 `json:"threshold"`
	// Categories, for a categorical split, lists (sorted) the category indexes
	// that go left; every other category goes right.
	Categories [][]int32 `json:"categories"`
	// DefaultLeft says where a missing value goes.
	DefaultLeft []bool `json:"default_left"`
	// Value is a leaf's output, learning rate applied. Inner nodes keep the
	// value they would have had as leaves.
	Value []float64 `json:"value"`
	// Cover is the hessian sum of the training rows that reached the node.
	Cover []float64 `json:"cover"`
}

func (t *Tree) addNode(value, cover float64) int32 {
	t.Left = append(t.Left, -1)
	t.Right = append(t.Right, -1)
	t.Feature = append(t.Feature, -1)
	t.Threshold = append(t.Threshold, 0)
	t.Categories = append(t.Categories, nil)
	t.DefaultLeft = append(t.DefaultLeft, false)
	t.Value = append(t.Value, value)
	t.Cover = append(t.Cover, cover)
	return int32(len(t.Left) - 1)
}

// Leaves counts the tree's leaves.
func (t *Tree) Leaves() int {
	n := 0
	for _, l := range t.Left {
		if l < 0 {
			n++
		}
	}
	return n
}

// goesLeft decides a node for value v.
func (t *Tree) goesLeft(node int32, v float32) bool {
	if math.IsNaN(float64(v)) {
		return t.DefaultLeft[node]
	}
	if cats := t.Categories[node]; cats != nil {
		_, found := slices.BinarySearch(cats, int32(v))
		return found
	}
	return v <= t.Threshold[node]
}

// predictColumns returns the tree's output for row i of column-major data,
// as training needs it while the trees grow; a finished model scores through
// its packed trees.
func (t *Tree) predictColumns(cols []data.Column, i int) float64 {
	n := int32(0)
	for t.Left[n] >= 0 {
		if t.goesLeft(n, cols[t.Feature[n]].Values[i]) {
			n = t.Left[n]
		} else {
			n = t.Right[n]
		}
	}
	return t.Value[n]
}

// node is an inner node packed for scoring: what a split decision reads, in
// 20 bytes, where the Tree's parallel arrays (the categories' slice headers
// above all) spread one decision over several cache lines.
type node struct {
	threshold   float32
	feature     int32
	left, right int32 // a child below 0 is the leaf -child-1
	flags       uint32
}

const (
	nodeDefaultLeft = 1 << iota
	nodeCategorical
)

// packedTree is a Tree as scored: inner nodes and leaf values apart.
type packedTree struct {
	nodes  []node
	leaves []float64
	cats   [][]int32 // by inner node, for categorical splits
}

func pack(t *Tree) packedTree {
	var p packedTree
	index := make([]int32, len(t.Left)) // tree node -> inner index or -leaf-1
	for n := range t.Left {
		if t.Left[n] < 0 {
			index[n] = -int32(len(p.leaves)) - 1
			p.leaves = append(p.leaves, t.Value[n])
		} else {
			index[n] = int32(len(p.nodes))
			p.nodes = append(p.nodes, node{})
			p.cats = append(p.cats, t.Categories[n])
		}
	}
	for n := range t.Left {
		if t.Left[n] < 0 {
			continue
		}
		nd := node{threshold: t.Threshold[n], feature: t.Feature[n], left: index[t.Left[n]], right: index[t.Right[n]]}
		if t.DefaultLeft[n] {
			nd.flags |= nodeDefaultLeft
		}
		if t.Categories[n] != nil {
			nd.flags |= nodeCategorical
		}
		p.nodes[index[n]] = nd
	}
	return p
}

func (p *packedTree) predict(x []float32) float64 {
	if len(p.nodes) == 0 {
		return p.leaves[0]
	}
	i := int32(0)
	for i >= 0 {
		nd := &p.nodes[i]
		v := x[nd.feature]
		var left bool
		switch {
		case v != v: // missing
			left = nd.flags&nodeDefaultLeft != 0
		case nd.flags&nodeCategorical != 0:
			_, left = slices.BinarySearch(p.cats[i], int32(v))
		default:
			left = v <= nd.threshold
		}
		if left {
			i = nd.left
		} else {
			i = nd.right
		}
	}
	return p.leaves[-i-1]
}

// Model is a trained ensemble. Its trees are packed for scoring on the first
// prediction, so a model does not change once it has scored a row.
type Model struct {
	Objective   Objective `json:"objective"`
	BaseScore   float64   `json:"base_score"` // margin every row starts from
	NumFeatures int       `json:"num_features"`
	Trees       []Tree    `json:"trees"`

	scoring atomic.Pointer[[]packedTree] // the trees as PredictDataset scores them
}

// Margin is the raw sum of the trees for one row.
func (m *Model) Margin(x []float32) float64 {
	s := m.BaseScore
	trees := m.packed()
	for i := range trees {
		s += trees[i].predict(x)
	}
	return s
}

// Transform maps a margin to the model's output: a probability for binary
// models, the margin itself otherwise.
func (m *Model) Transform(margin float64) float64 {
	if m.Objective == Binary {
		return sigmoid(margin)
	}
	return margin
}

// Predict scores one row.
func (m *Model) Predict(x []float32) float64 { return m.Transform(m.Margin(x)) }

// packed returns the trees packed for scoring, built once.
func (m *Model) packed() []packedTree {
	if p := m.scoring.Load(); p != nil {
		return *p
	}
	p := make([]packedTree, len(m.Trees))
	for i := range m.Trees {
		p[i] = pack(&m.Trees[i])
	}
	m.scoring.Store(&p)
	return p
}

// PredictDataset scores every row of d, whose columns must be in the model's
// feature order, on all cores.
func (m *Model) PredictDataset(d *data.Dataset) []float64 {
	out := make([]float64, d.Rows)
	parallelRows(d.Rows, runtime.GOMAXPROCS(0), func(lo, hi int) {
		// A row gathered once: every node then reads one small slice
		// instead of a column's header and its value.
		var x []float32
		for i := lo; i < hi; i++ {
			x = d.Row(i, x)
			out[i] = m.Predict(x)
		}
	})
	return out
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// parallelRows runs fn over [0, n) in up to threads contiguous chunks, in
// one when n is under 4096 rows.
func parallelRows(n, threads int, fn func(lo, hi int)) { parallelRange(n, threads, 4096, fn) }

// parallelRange runs fn over [0, n) in up to threads contiguous chunks, in
// one when n is under least.
func parallelRange(n, threads, least int, fn func(lo, hi int)) {
	if threads <= 1 || n < least || n < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + threads - 1) / threads
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	wg.Wait()
}

// Check verifies that the model fits a feature schema: as many features, and
// categorical splits only on categorical features.
func (m *Model) Check(features []data.Feature) error {
	if m.NumFeatures != len(features) {
		return fmt.Errorf("the trees take %d features and the schema lists %d", m.NumFeatures, len(features))
	}
	for ti := range m.Trees {
		t := &m.Trees[ti]
		if len(t.Left) == 0 || len(t.Right) != len(t.Left) || len(t.Feature) != len(t.Left) || len(t.Threshold) != len(t.Left) ||
			len(t.Categories) != len(t.Left) || len(t.DefaultLeft) != len(t.Left) || len(t.Value) != len(t.Left) {
			return fmt.Errorf("tree %d: its arrays differ in length", ti)
		}
		for n, l := range t.Left {
			if l < 0 {
				continue
			}
			f := t.Feature[n]
			if f < 0 || int(f) >= len(features) || l <= int32(n) || t.Right[n] <= int32(n) || int(l) >= len(t.Left) || int(t.Right[n]) >= len(t.Left) {
				return fmt.Errorf("tree %d node %d: bad feature or children", ti, n)
			}
			if t.Categories[n] != nil && !features[f].Categorical {
				return fmt.Errorf("tree %d node %d: a categorical split on numeric feature %q", ti, n, features[f].Name)
			}
		}
	}
	return nil
}
