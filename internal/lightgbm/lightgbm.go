package lightgbm

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ferry-ml/ferry/internal/data"
)

// Model is a loaded LightGBM model.
type Model struct {
	Objective    string // the objective's name, as "binary" or "lambdarank"
	Version      string // the text format's version, as "v3"
	NumFeature   int
	FeatureNames []string
	link         func(float64) float64
	average      bool
	trees        []tree
}

// tree is one tree: inner nodes in parallel arrays, children below 0 are
// leaves (^child is the leaf's index).
type tree struct {
	feature     []int32
	threshold   []float64
	decision    []uint8
	left, right []int32
	leaf        []float64
	// internalCount and leafCount are the training rows through each
	// node, TreeSHAP's cover as LightGBM's pred_contrib uses it; nil in a
	// file without them.
	internalCount, leafCount []float64
	catBoundaries            []int
	catBits                  []uint32
}

// Decision type bits and the missing types, as tree.h defines them.
const (
	categoricalMask = 1
	defaultLeftMask = 2
	missingNone     = 0
	missingZero     = 1
	missingNaN      = 2
)

// zeroThreshold is kZeroThreshold: meta.h writes it 1e-35f, a float
// widened to double, so the bound is float32(1e-35), not 1e-35.
var zeroThreshold = float64(float32(1e-35))

// links maps each supported objective to its output transformation; nil is
// the identity. sigmoid is filled in from the objective's parameter.
var links = map[string]func(float64) float64{
	"binary":        nil, // sigmoid with the model's σ, set in Parse
	"cross_entropy": func(s float64) float64 { return 1 / (1 + math.Exp(-s)) },
	"regression":    nil, "regression_l1": nil, "huber": nil, "fair": nil, "quantile": nil, "mape": nil,
	"poisson": math.Exp, "gamma": math.Exp, "tweedie": math.Exp,
	"lambdarank": nil, "rank_xendcg": nil,
}

// Supported lists the objectives Parse accepts.
func Supported() []string {
	return []string{"binary", "cross_entropy", "regression", "regression_l1", "huber", "fair", "quantile", "mape",
		"poisson", "gamma", "tweedie", "lambdarank", "rank_xendcg"}
}

// Parse reads a LightGBM text model and checks that ferry can score it.
func Parse(b []byte) (*Model, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<16), len(b)+1)
	line := 0
	next := func() (string, bool) {
		for sc.Scan() {
			line++
			if t := strings.TrimSpace(sc.Text()); t != "" {
				return t, true
			}
		}
		return "", false
	}
	if first, ok := next(); !ok || first != "tree" {
		return nil, fmt.Errorf("not a LightGBM text model: the first line is not \"tree\"")
	}
	header := map[string]string{}
	m := &Model{}
	var t string
	var ok bool
	for t, ok = next(); ok && !strings.HasPrefix(t, "Tree="); t, ok = next() {
		k, v, _ := strings.Cut(t, "=")
		header[k] = v
		if k == "average_output" {
			m.average = true
		}
	}
	m.Version = header["version"]
	if m.Version == "" {
		return nil, fmt.Errorf("not a LightGBM text model: no version line")
	}
	if n := header["num_class"]; n != "" && n != "1" {
		return nil, fmt.Errorf("a %s-class model is not supported: ferry scores one output", n)
	}
	if n := header["num_tree_per_iteration"]; n != "" && n != "1" {
		return nil, fmt.Errorf("%s trees per iteration are not supported: ferry scores one output", n)
	}
	maxIdx, err := strconv.Atoi(header["max_feature_idx"])
	if err != nil || maxIdx < 0 {
		return nil, fmt.Errorf("max_feature_idx %q is not a feature index", header["max_feature_idx"])
	}
	m.NumFeature = maxIdx + 1
	if names := strings.Fields(header["feature_names"]); len(names) == m.NumFeature {
		m.FeatureNames = names
	}
	if err := m.setObjective(header["objective"]); err != nil {
		return nil, err
	}
	for ok && strings.HasPrefix(t, "Tree=") {
		index, at := strings.TrimPrefix(t, "Tree="), line
		fields := map[string]string{}
		for t, ok = next(); ok && !strings.HasPrefix(t, "Tree=") && t != "end of trees"; t, ok = next() {
			k, v, _ := strings.Cut(t, "=")
			fields[k] = v
		}
		tr, err := parseTree(fields, m.NumFeature)
		if err != nil {
			return nil, fmt.Errorf("tree %s (line %d): %w", index, at, err)
		}
		m.trees = append(m.trees, tr)
	}
	if !ok || t != "end of trees" {
		return nil, fmt.Errorf("the model ends after %d trees without \"end of trees\": the file is truncated", len(m.trees))
	}
	if len(m.trees) == 0 {
		return nil, fmt.Errorf("the model has no trees")
	}
	return m, nil
}

// setObjective reads the objective line, as "binary sigmoid:1".
func (m *Model) setObjective(line string) error {
	words := strings.Fields(line)
	if len(words) == 0 {
		return fmt.Errorf("the model names no objective")
	}
	m.Objective = words[0]
	link, ok := links[m.Objective]
	if !ok {
		return fmt.Errorf("objective %q is not supported: ferry scores %s", m.Objective, strings.Join(Supported(), ", "))
	}
	m.link = link
	if m.Objective == "binary" {
		sigma := 1.0
		for _, w := range words[1:] {
			if v, ok := strings.CutPrefix(w, "sigmoid:"); ok {
				s, err := strconv.ParseFloat(v, 64)
				if err != nil || s <= 0 {
					return fmt.Errorf("objective %q: sigmoid %q is not a positive number", line, v)
				}
				sigma = s
			}
		}
		m.link = func(s float64) float64 { return 1 / (1 + math.Exp(-sigma*s)) }
	}
	return nil
}

func parseTree(f map[string]string, numFeature int) (tree, error) {
	var t tree
	leaves, err := strconv.Atoi(f["num_leaves"])
	if err != nil || leaves < 1 {
		return t, fmt.Errorf("num_leaves %q is not a number of leaves", f["num_leaves"])
	}
	if f["is_linear"] != "" && f["is_linear"] != "0" {
		return t, fmt.Errorf("linear trees are not supported")
	}
	if t.leaf, err = floats(f, "leaf_value", leaves); err != nil {
		return t, err
	}
	if f["leaf_count"] != "" {
		if t.leafCount, err = floats(f, "leaf_count", leaves); err != nil {
			return t, err
		}
	}
	inner := leaves - 1
	if inner == 0 {
		return t, nil
	}
	var th []float64
	var feat, left, right, dec []int
	for _, a := range []struct {
		key string
		dst *[]int
	}{{"split_feature", &feat}, {"left_child", &left}, {"right_child", &right}, {"decision_type", &dec}} {
		if *a.dst, err = ints(f, a.key, inner); err != nil {
			return t, err
		}
	}
	if th, err = floats(f, "threshold", inner); err != nil {
		return t, err
	}
	if f["internal_count"] != "" {
		if t.internalCount, err = floats(f, "internal_count", inner); err != nil {
			return t, err
		}
	}
	t.threshold = th
	if err := t.parseCategories(f); err != nil {
		return t, err
	}
	for i := 0; i < inner; i++ {
		if feat[i] < 0 || feat[i] >= numFeature {
			return t, fmt.Errorf("node %d: feature %d is outside the model's %d features", i, feat[i], numFeature)
		}
		if dec[i] < 0 || dec[i] > 255 {
			return t, fmt.Errorf("node %d: decision_type %d is not a byte", i, dec[i])
		}
		if dec[i]&categoricalMask != 0 {
			if c := int(th[i]); float64(c) != th[i] || c < 0 || c+1 >= len(t.catBoundaries) {
				return t, fmt.Errorf("node %d: categorical threshold %v names no bitset", i, th[i])
			}
		}
		for _, c := range []int{left[i], right[i]} {
			// An inner child comes after its parent (LightGBM numbers
			// nodes as it splits), so scoring always ends.
			if (c >= 0 && (c <= i || c >= inner)) || (c < 0 && ^c >= leaves) {
				return t, fmt.Errorf("node %d: child %d is out of range", i, c)
			}
		}
		t.feature = append(t.feature, int32(feat[i]))
		t.decision = append(t.decision, uint8(dec[i]))
		t.left = append(t.left, int32(left[i]))
		t.right = append(t.right, int32(right[i]))
	}
	return t, nil
}

// parseCategories reads a tree's categorical bitsets, when it has any.
func (t *tree) parseCategories(f map[string]string) error {
	n, _ := strconv.Atoi(f["num_cat"])
	if n <= 0 {
		return nil
	}
	var err error
	if t.catBoundaries, err = ints(f, "cat_boundaries", n+1); err != nil {
		return err
	}
	words := strings.Fields(f["cat_threshold"])
	for _, w := range words {
		v, err := strconv.ParseUint(w, 10, 32)
		if err != nil {
			return fmt.Errorf("cat_threshold: %q is not a 32-bit bitset word", w)
		}
		t.catBits = append(t.catBits, uint32(v))
	}
	if b := t.catBoundaries; b[0] != 0 || b[n] != len(t.catBits) || !slices.IsSorted(b) {
		return fmt.Errorf("cat_boundaries %v do not delimit the %d words of cat_threshold", b, len(t.catBits))
	}
	return nil
}

// values parses the want space-separated values of a tree's field key;
// what names the kind of value in errors ("an integer", "a number").
func values[T any](f map[string]string, key string, want int, what string, parse func(string) (T, error)) ([]T, error) {
	words := strings.Fields(f[key])
	if len(words) != want {
		return nil, fmt.Errorf("%s has %d values, want %d", key, len(words), want)
	}
	out := make([]T, len(words))
	for i, w := range words {
		v, err := parse(w)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not %s", key, w, what)
		}
		out[i] = v
	}
	return out, nil
}

func ints(f map[string]string, key string, want int) ([]int, error) {
	return values(f, key, want, "an integer", strconv.Atoi)
}

func floats(f map[string]string, key string, want int) ([]float64, error) {
	return values(f, key, want, "a number", func(w string) (float64, error) { return strconv.ParseFloat(w, 64) })
}

// Check verifies the model against a feature schema: the same number of
// features, all numeric (LightGBM's categorical features take the integer
// codes themselves, not ferry's category indexes).
func (m *Model) Check(features []data.Feature) error {
	if len(features) != m.NumFeature {
		return fmt.Errorf("the LightGBM model takes %d features and the schema lists %d", m.NumFeature, len(features))
	}
	for _, f := range features {
		if f.Categorical {
			return fmt.Errorf("feature %q is a string column: a LightGBM model takes numbers (integer codes for its categorical features)", f.Name)
		}
	}
	return nil
}

// goesLeft is Tree::Decision for inner node n.
func (t *tree) goesLeft(n int32, v float64) bool {
	dt := t.decision[n]
	if dt&categoricalMask != 0 {
		// CategoricalDecision: the value is cast to int first, so -0.5 is
		// category 0; NaN, a negative int and a value int cannot hold (cast
		// to INT_MIN on the platforms LightGBM runs on) go right.
		if v != v || v <= -1 || v >= 1<<31 {
			return false
		}
		c := int(v)
		b := t.catBoundaries[int(t.threshold[n])]
		words := t.catBits[b:t.catBoundaries[int(t.threshold[n])+1]]
		return c/32 < len(words) && words[c/32]>>(c%32)&1 == 1
	}
	missing := (dt >> 2) & 3
	if v != v && missing != missingNaN {
		v = 0
	}
	if (missing == missingZero && v >= -zeroThreshold && v <= zeroThreshold) || (missing == missingNaN && v != v) {
		return dt&defaultLeftMask != 0
	}
	return v <= t.threshold[n]
}

// value is row i of a column as LightGBM sees it: the double parsed from
// the file when the data was read exactly (data.Options.Exact), else the
// float32 widened.
func value(c *data.Column, i int) float64 {
	if c.Exact != nil {
		return c.Exact[i]
	}
	return float64(c.Values[i])
}

// Margin scores row i of column-major data, before the link function. Read
// the data with data.Options{Exact: true, AbsentIsZero: true} to score as
// LightGBM does.
func (m *Model) Margin(cols []data.Column, i int) float64 {
	var s float64
	for ti := range m.trees {
		t := &m.trees[ti]
		n := int32(0)
		if len(t.left) == 0 {
			s += t.leaf[0]
			continue
		}
		for n >= 0 {
			if t.goesLeft(n, value(&cols[t.feature[n]], i)) {
				n = t.left[n]
			} else {
				n = t.right[n]
			}
		}
		s += t.leaf[^n]
	}
	if m.average {
		s /= float64(len(m.trees))
	}
	return s
}

// PredictDataset scores every row as LightGBM's predict does: a probability
// for binary and cross_entropy, the link's output for the others.
func (m *Model) PredictDataset(d *data.Dataset) []float64 {
	out := make([]float64, d.Rows)
	threads := max(runtime.GOMAXPROCS(0), 1)
	chunk := max((d.Rows+threads-1)/threads, 1)
	var wg sync.WaitGroup
	for lo := 0; lo < d.Rows; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				z := m.Margin(d.Columns, i)
				if m.link != nil {
					z = m.link(z)
				}
				out[i] = z
			}
		}(lo, min(lo+chunk, d.Rows))
	}
	wg.Wait()
	return out
}

// Task returns ferry's task for the model's objective.
func (m *Model) Task() string {
	switch m.Objective {
	case "binary", "cross_entropy":
		return "binary"
	case "lambdarank", "rank_xendcg":
		return "ranking"
	}
	return "regression"
}
