package gbdt

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

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

// predict returns the tree's output for a row given as one value per feature.
func (t *Tree) predict(x []float32) float64 {
	n := int32(0)
	for t.Left[n] >= 0 {
		if t.goesLeft(n, x[t.Feature[n]]) {
			n = t.Left[n]
		} else {
			n = t.Right[n]
		}
	}
	return t.Value[n]
}

// predictColumns is predict for row i of column-major data.
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

// Model is a trained ensemble.
type Model struct {
	Objective   Objective `json:"objective"`
	BaseScore   float64   `json:"base_score"` // margin every row starts from
	NumFeatures int       `json:"num_features"`
	Trees       []Tree    `json:"trees"`
}

// Margin is the raw sum of the trees for one row.
func (m *Model) Margin(x []float32) float64 {
	s := m.BaseScore
	for i := range m.Trees {
		s += m.Trees[i].predict(x)
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

// PredictDataset scores every row of d, whose columns must be in the model's
// feature order, on all cores.
func (m *Model) PredictDataset(d *data.Dataset) []float64 {
	out := make([]float64, d.Rows)
	parallelRows(d.Rows, runtime.GOMAXPROCS(0), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			s := m.BaseScore
			for t := range m.Trees {
				s += m.Trees[t].predictColumns(d.Columns, i)
			}
			out[i] = m.Transform(s)
		}
	})
	return out
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// parallelRows runs fn over [0, n) in up to threads contiguous chunks.
func parallelRows(n, threads int, fn func(lo, hi int)) {
	if threads <= 1 || n < 4096 {
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
