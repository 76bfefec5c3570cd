package xgboost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ferry-ml/ferry/internal/data"
)

// Model is a loaded XGBoost model.
type Model struct {
	Objective   string
	BaseMargin  float64
	NumFeature  int
	Version     string
	FeatureName []string // as saved by XGBoost; may be empty
	trees       []tree
}

type tree struct {
	left, right []int32
	feature     []int32
	cond        []float32
	defaultLeft []bool
	hess        []float32 // sum_hessian: each node's cover, for TreeSHAP
	// cats holds, for a categorical split, the sorted categories that go
	// right; nil for numerical splits (and for trees without categories).
	cats [][]int32
}

// maxCat is XGBoost's OutOfRangeCat: categories are below 2^24.
const maxCat = 16777216

// file is the part of XGBoost's JSON model that scoring needs.
type file struct {
	Learner *struct {
		FeatureNames      []string `json:"feature_names"`
		LearnerModelParam struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
		GradientBooster struct {
			Name  string `json:"name"`
			Model struct {
				Trees    []jsonTree `json:"trees"`
				TreeInfo []int      `json:"tree_info"`
			} `json:"model"`
		} `json:"gradient_booster"`
	} `json:"learner"`
	Version []int `json:"version"`
}

type jsonTree struct {
	LeftChildren    []int32           `json:"left_children"`
	RightChildren   []int32           `json:"right_children"`
	SplitIndices    []int32           `json:"split_indices"`
	SplitConditions []float32         `json:"split_conditions"`
	DefaultLeft     []json.RawMessage `json:"default_left"` // 0/1 in 1.x, true/false in 2.x
	SplitType       []int             `json:"split_type"`
	SumHessian      []float32         `json:"sum_hessian"`
	// Categorical splits: for the nodes in CategoriesNodes, the categories
	// that go right are Categories[segment : segment+size].
	Categories         []int32 `json:"categories"`
	CategoriesNodes    []int32 `json:"categories_nodes"`
	CategoriesSegments []int64 `json:"categories_segments"`
	CategoriesSizes    []int64 `json:"categories_sizes"`
}

// objectives maps each supported objective to whether its link is the
// logistic function.
var objectives = map[string]bool{
	"binary:logistic":  true,
	"reg:logistic":     true,
	"binary:logitraw":  false,
	"reg:squarederror": false,
	"rank:pairwise":    false,
	"rank:ndcg":        false,
	"rank:map":         false,
}

// Supported lists the objectives Parse accepts.
func Supported() []string {
	return []string{"binary:logistic", "binary:logitraw", "reg:logistic", "reg:squarederror", "rank:pairwise", "rank:ndcg", "rank:map"}
}

// Parse reads an XGBoost JSON model and checks that ferry can score it.
func Parse(b []byte) (*Model, error) {
	var f file
	if err := json.Unmarshal(nonFiniteAsNull(b), &f); err != nil {
		return nil, fmt.Errorf("not an XGBoost JSON model: %w", err)
	}
	if f.Learner == nil {
		return nil, fmt.Errorf("not an XGBoost JSON model: no \"learner\"")
	}
	l := f.Learner
	m := &Model{Objective: l.Objective.Name, FeatureName: l.FeatureNames}
	var vs []string
	for _, v := range f.Version {
		vs = append(vs, strconv.Itoa(v))
	}
	m.Version = strings.Join(vs, ".")
	if len(f.Version) == 0 || f.Version[0] < 1 || f.Version[0] > 3 {
		return nil, fmt.Errorf("XGBoost model version %q: ferry reads models saved by XGBoost 1.0 to 3.x", m.Version)
	}
	if name := l.GradientBooster.Name; name != "gbtree" {
		return nil, fmt.Errorf("booster %q is not supported: ferry scores gbtree models", name)
	}
	logistic, ok := objectives[m.Objective]
	if !ok {
		return nil, fmt.Errorf("objective %q is not supported: ferry scores %s", m.Objective, strings.Join(Supported(), ", "))
	}
	p := l.LearnerModelParam
	if n, _ := strconv.Atoi(p.NumClass); n > 1 {
		return nil, fmt.Errorf("a %d-class model is not supported: ferry scores one output", n)
	}
	if n, _ := strconv.Atoi(p.NumTarget); n > 1 {
		return nil, fmt.Errorf("a %d-target model is not supported: ferry scores one output", n)
	}
	nf, err := strconv.Atoi(p.NumFeature)
	if err != nil || nf < 1 {
		return nil, fmt.Errorf("num_feature %q is not a number of features", p.NumFeature)
	}
	m.NumFeature = nf
	// XGBoost 2 writes base_score as "[5E-1]".
	base, err := strconv.ParseFloat(strings.Trim(p.BaseScore, "[]"), 64)
	if err != nil {
		return nil, fmt.Errorf("base_score %q is not a number", p.BaseScore)
	}
	m.BaseMargin = base
	if logistic {
		if base <= 0 || base >= 1 {
			return nil, fmt.Errorf("base_score %v: a logistic model's base score is a probability", base)
		}
		m.BaseMargin = float64(float32(math.Log(base / (1 - base)))) // ProbToMargin, in float
	}
	for ti, jt := range l.GradientBooster.Model.Trees {
		t, err := jt.tree(nf)
		if err != nil {
			return nil, fmt.Errorf("tree %d: %w", ti, err)
		}
		m.trees = append(m.trees, t)
	}
	if len(m.trees) == 0 {
		return nil, fmt.Errorf("the model has no trees")
	}
	return m, nil
}

// nonFiniteAsNull replaces the bare NaN, Infinity and -Infinity that
// XGBoost writes (a categorical split's condition is NaN) with null, which
// JSON has: they only ever stand where scoring reads no number.
func nonFiniteAsNull(b []byte) []byte {
	var out []byte // allocated on the first replacement
	inString, escaped := false, false
scan:
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		default:
			for _, tok := range []string{"NaN", "Infinity", "-Infinity"} {
				if bytes.HasPrefix(b[i:], []byte(tok)) {
					if out == nil {
						out = append(make([]byte, 0, len(b)), b[:i]...)
					}
					out = append(out, "null"...)
					i += len(tok) - 1
					continue scan
				}
			}
		}
		if out != nil {
			out = append(out, c)
		}
	}
	if out == nil {
		return b
	}
	return out
}

func (jt jsonTree) tree(numFeature int) (tree, error) {
	n := len(jt.LeftChildren)
	if n == 0 || len(jt.RightChildren) != n || len(jt.SplitIndices) != n || len(jt.SplitConditions) != n || len(jt.DefaultLeft) != n {
		return tree{}, fmt.Errorf("its node arrays differ in length or are empty")
	}
	t := tree{left: jt.LeftChildren, right: jt.RightChildren, feature: jt.SplitIndices, cond: jt.SplitConditions, defaultLeft: make([]bool, n)}
	if len(jt.SumHessian) == n {
		t.hess = jt.SumHessian
	}
	if err := jt.categories(&t); err != nil {
		return tree{}, err
	}
	for i := 0; i < n; i++ {
		switch string(jt.DefaultLeft[i]) {
		case "1", "true":
			t.defaultLeft[i] = true
		case "0", "false":
		default:
			return tree{}, fmt.Errorf("node %d: default_left %s is not 0/1 or a boolean", i, jt.DefaultLeft[i])
		}
		if len(jt.SplitType) == n && jt.SplitType[i] != 0 && (t.cats == nil || t.cats[i] == nil) {
			return tree{}, fmt.Errorf("node %d: a categorical split without its categories", i)
		}
		l, r := t.left[i], t.right[i]
		if l == -1 {
			continue
		}
		// Children come after their parent, so scoring always ends.
		if l <= int32(i) || r <= int32(i) || int(l) >= n || int(r) >= n {
			return tree{}, fmt.Errorf("node %d: children %d and %d are out of order", i, l, r)
		}
		if f := t.feature[i]; f < 0 || int(f) >= numFeature {
			return tree{}, fmt.Errorf("node %d: feature %d is outside the model's %d features", i, f, numFeature)
		}
	}
	return t, nil
}

// categories reads a tree's categorical splits into t.cats.
func (jt jsonTree) categories(t *tree) error {
	nodes := jt.CategoriesNodes
	if len(nodes) == 0 {
		return nil
	}
	if len(jt.CategoriesSegments) != len(nodes) || len(jt.CategoriesSizes) != len(nodes) {
		return fmt.Errorf("its categories_nodes, categories_segments and categories_sizes differ in length")
	}
	n := len(jt.LeftChildren)
	t.cats = make([][]int32, n)
	for k, node := range nodes {
		beg, size := jt.CategoriesSegments[k], jt.CategoriesSizes[k]
		if node < 0 || int(node) >= n || len(jt.SplitType) != n || jt.SplitType[node] != 1 {
			return fmt.Errorf("categories for node %d, which is not a categorical split", node)
		}
		if beg < 0 || size < 0 || beg+size > int64(len(jt.Categories)) {
			return fmt.Errorf("node %d: its categories are outside the categories array", node)
		}
		cats := slices.Clone(jt.Categories[beg : beg+size])
		slices.Sort(cats)
		if size == 0 {
			cats = []int32{} // a categorical split where nothing goes right
		}
		t.cats[node] = cats
	}
	return nil
}

// Check verifies the model against a feature schema: the same number of
// features (XGBoost knows features only by position).
func (m *Model) Check(features []data.Feature) error {
	if len(features) != m.NumFeature {
		return fmt.Errorf("the XGBoost model takes %d features and the schema lists %d", m.NumFeature, len(features))
	}
	return nil
}

// Margin scores row i of column-major data, before the link function. As
// XGBoost's CPU predictor does, the sum runs in float32, from the base
// margin through each tree's leaf in order.
func (m *Model) Margin(cols []data.Column, i int) float64 {
	s := float32(m.BaseMargin)
	for ti := range m.trees {
		t := &m.trees[ti]
		n := int32(0)
		for t.left[n] != -1 {
			if t.goesLeft(n, cols[t.feature[n]].Values[i]) {
				n = t.left[n]
			} else {
				n = t.right[n]
			}
		}
		s += t.cond[n]
	}
	return float64(s)
}

// goesLeft decides inner node n for value v as XGBoost's CPU predictor does.
func (t *tree) goesLeft(n int32, v float32) bool {
	switch {
	case v != v: // NaN: missing
		return t.defaultLeft[n]
	case t.cats != nil && t.cats[n] != nil:
		// common::Decision: the listed categories go right, others left;
		// the value is truncated to an integer. A negative category, or
		// one of 2^24 or more, goes left (InvalidCat; checked against
		// XGBoost 1.7.4 at a node whose default is right).
		_, found := slices.BinarySearch(t.cats[n], int32(v))
		return !(found && v >= 0 && v < maxCat)
	}
	return v < t.cond[n]
}

// PredictDataset scores every row as XGBoost's predict does: a probability
// for the logistic objectives, the margin otherwise.
func (m *Model) PredictDataset(d *data.Dataset) []float64 {
	out := make([]float64, d.Rows)
	logistic := objectives[m.Objective]
	threads := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	chunk := (d.Rows + threads - 1) / max(threads, 1)
	for lo := 0; lo < d.Rows; lo += max(chunk, 1) {
		hi := min(lo+chunk, d.Rows)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				z := m.Margin(d.Columns, i)
				if logistic {
					z = float64(float32(1 / (1 + math.Exp(-z)))) // XGBoost's sigmoid returns a float
				}
				out[i] = z
			}
		}(lo, hi)
	}
	wg.Wait()
	return out
}

// Task returns ferry's task for the model's objective.
func (m *Model) Task() string {
	switch {
	case strings.HasPrefix(m.Objective, "rank:"):
		return "ranking"
	case m.Objective == "reg:squarederror":
		return "regression"
	}
	return "binary"
}
