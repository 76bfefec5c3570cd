package lightgbm

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
)

// No LightGBM is packaged for these machines, so these scores are computed
// by hand from LightGBM's decision rules (tree.h), not by LightGBM itself.
// testdata/hand.txt is in LightGBM's text format with three trees:
//
//	Tree=0: price <= 10.5 (NaN read as 0: missing type none) -> 0.5, else
//	        rating <= 3.5000000000000004 (NaN: default right) -> -0.25 : 0.125
//	Tree=1: brand in {1, 3, 32} (bitset words 10 and 1) -> 1, else
//	        price <= 0 (|price| <= 1e-35 or NaN: missing zero, default left) -> 2 : 3
//	Tree=2: one leaf, -0.5
//
// and the binary objective with sigmoid 1.
func TestHandComputedScores(t *testing.T) {
	m := load(t, "testdata/hand.txt")
	nan := math.NaN()
	for _, tc := range []struct {
		price, rating, brand float64
		margin               float64
	}{
		{5, 4, 1, 0.5 + 1 - 0.5},                        // left; brand 1 is in the bitset
		{20, 2, 2, -0.25 + 3 - 0.5},                     // right then left; brand 2 is not, price 20 > 0
		{nan, nan, nan, 0.5 + 2 - 0.5},                  // NaN price is 0 (left); NaN brand goes right, NaN price is zero: default left
		{20, nan, 32, 0.125 + 1 - 0.5},                  // NaN rating: default right; brand 32 is bit 0 of the second word
		{0, 5, 40, 0.5 + 2 - 0.5},                       // brand 40: bit 8 of the second word is not set; price 0 is missing: left
		{10.5, 3.5, 3, 0.5 + 1 - 0.5},                   // a value equal to the threshold goes left
		{11, 3.5, -3, -0.25 + 3 - 0.5},                  // a negative category goes right
		{1e-36, 1, 64, 0.5 + 2 - 0.5},                   // a category past the bitset goes right; 1e-36 is zero
		{-1, 1, 1.9, 0.5 + 1 - 0.5},                     // a category is truncated to an integer: 1.9 is 1
		{float64(float32(-1e-30)), 1, 2, 0.5 + 2 - 0.5}, // -1e-30 is not zero, and -1e-30 <= 0
	} {
		d := &data.Dataset{Rows: 1, Columns: []data.Column{
			{Name: "price", Values: []float32{float32(tc.price)}},
			{Name: "rating", Values: []float32{float32(tc.rating)}},
			{Name: "brand", Values: []float32{float32(tc.brand)}},
		}}
		want := 1 / (1 + math.Exp(-tc.margin))
		if got := m.PredictDataset(d)[0]; math.Abs(got-want) > 1e-15 {
			t.Errorf("price %v rating %v brand %v: %v, want sigmoid(%v) = %v", tc.price, tc.rating, tc.brand, got, tc.margin, want)
		}
	}
	if m.Task() != "binary" || m.NumFeature != 3 || strings.Join(m.FeatureNames, ",") != "price,rating,brand" || m.Version != "v4" {
		t.Errorf("model %+v", m)
	}
}

func TestObjectivesAndAverageOutput(t *testing.T) {
	raw, err := os.ReadFile("testdata/hand.txt")
	if err != nil {
		t.Fatal(err)
	}
	row := &data.Dataset{Rows: 1, Columns: []data.Column{{Values: []float32{5}}, {Values: []float32{4}}, {Values: []float32{1}}}}
	const margin = 1.0 // 0.5 + 1 - 0.5, as above
	for _, tc := range []struct {
		objective, extra string
		task             string
		want             float64
	}{
		{"binary sigmoid:2", "", "binary", 1 / (1 + math.Exp(-2*margin))},
		{"cross_entropy", "", "binary", 1 / (1 + math.Exp(-margin))},
		{"regression", "", "regression", margin},
		{"poisson", "", "regression", math.Exp(margin)},
		{"lambdarank", "", "ranking", margin},
		{"regression", "average_output\n", "regression", margin / 3},
	} {
		text := strings.Replace(string(raw), "objective=binary sigmoid:1\n", "objective="+tc.objective+"\n"+tc.extra, 1)
		m, err := Parse([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", tc.objective, err)
		}
		if got := m.PredictDataset(row)[0]; math.Abs(got-tc.want) > 1e-15 || m.Task() != tc.task {
			t.Errorf("%s %q: %v (task %s), want %v (%s)", tc.objective, tc.extra, got, m.Task(), tc.want, tc.task)
		}
	}
}

func TestBadModels(t *testing.T) {
	raw, err := os.ReadFile("testdata/hand.txt")
	if err != nil {
		t.Fatal(err)
	}
	good := string(raw)
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"truncated", "end of trees", "", "truncated"},
		{"cut mid-tree", good[strings.Index(good, "Tree=1"):], "", "truncated"},
		{"multiclass", "num_class=1", "num_class=3", "3-class model is not supported"},
		{"objective", "objective=binary sigmoid:1", "objective=multiclass num_class:3", `objective "multiclass" is not supported`},
		{"linear trees", "is_linear=0\nshrinkage=1\n\n\nTree=1", "is_linear=1\nshrinkage=1\n\n\nTree=1", "linear trees are not supported"},
		{"leaf count", "leaf_value=0.5 -0.25 0.125", "leaf_value=0.5 -0.25", "tree 0 (line 12): leaf_value has 2 values, want 3"},
		{"cycle", "left_child=-1 -2\nright_child=1 -3\nleaf_value=0.5", "left_child=-1 -2\nright_child=0 -3\nleaf_value=0.5", "node 0: child 0 is out of range"},
		{"feature", "split_feature=0 1", "split_feature=0 7", "feature 7 is outside the model's 3 features"},
		{"bitset", "threshold=0 0\ndecision_type=1 6", "threshold=4 0\ndecision_type=1 6", "categorical threshold 4 names no bitset"},
		{"boundaries", "cat_boundaries=0 2", "cat_boundaries=0 3", "do not delimit"},
		{"number", "threshold=10.5", "threshold=ten", `threshold: "ten" is not a number`},
		{"sigmoid", "sigmoid:1", "sigmoid:-1", "is not a positive number"},
		{"not a model", good, "hello\n", `the first line is not "tree"`},
	} {
		text := strings.Replace(good, tc.old, tc.new, 1)
		if text == good {
			t.Fatalf("%s: the edit changed nothing", tc.name)
		}
		if _, err := Parse([]byte(text)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	m := load(t, "testdata/hand.txt")
	if err := m.Check([]data.Feature{{Name: "price"}, {Name: "rating"}}); err == nil || !strings.Contains(err.Error(), "takes 3 features") {
		t.Errorf("two features: %v", err)
	}
	if err := m.Check([]data.Feature{{Name: "price"}, {Name: "rating"}, {Name: "brand", Categorical: true}}); err == nil || !strings.Contains(err.Error(), "integer codes") {
		t.Errorf("a string column: %v", err)
	}
	if err := m.Check([]data.Feature{{Name: "price"}, {Name: "rating"}, {Name: "brand"}}); err != nil {
		t.Error(err)
	}
}

// No model text makes Parse or scoring panic.
func FuzzParse(f *testing.F) {
	raw, err := os.ReadFile("testdata/hand.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(raw))
	f.Add("tree\nversion=v3\nmax_feature_idx=0\nobjective=regression\nTree=0\nnum_leaves=1\nleaf_value=1\nend of trees\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := Parse([]byte(text))
		if err != nil {
			return
		}
		d := &data.Dataset{Rows: 3}
		for j := 0; j < m.NumFeature && j < 64; j++ {
			d.Columns = append(d.Columns, data.Column{Values: []float32{float32(math.NaN()), -7, 1e9}})
		}
		if m.NumFeature <= 64 {
			m.PredictDataset(d)
		}
	})
}

func load(t *testing.T, path string) *Model {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
