package lightgbm

import (
	"bufio"
	"context"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/explain"
	"github.com/ferry-ml/ferry/test/testenv"
)

// interopDir is ../shared/interop/lightgbm beside the repository: models
// trained by LightGBM's own CLI (4.6.0.99) and LightGBM's predictions of
// the test rows (its README says how they were made).
func interopDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(t), "..", "shared", "interop", "lightgbm")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		testenv.Missing(t, "../shared/interop/lightgbm", "the LightGBM interop fixtures are shared beside the repository")
	}
	return dir
}

func readScores(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, err := strconv.ParseFloat(strings.TrimSpace(sc.Text()), 64)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	return out
}

// Every test row of every fixture LightGBM scored gets LightGBM's own score
// within 1e-12 (absolute; LightGBM printed them with 17 significant
// digits), its probability and its raw margin, when the data is read as
// LightGBM reads it: doubles, an absent LibSVM feature as 0, and LibSVM ids
// as feature indexes.
func TestLightGBMScoresAsLightGBMDoes(t *testing.T) {
	dir := interopDir(t)
	const tol = 1e-12
	for _, tc := range []struct {
		name, test string
		read       data.Options
	}{
		{"binary", "binary.test", data.Options{Format: data.TSV, Header: "false", Label: "0"}},
		{"regression", "binary.test", data.Options{Format: data.TSV, Header: "false", Label: "0"}},
		{"dart", "binary.test", data.Options{Format: data.TSV, Header: "false", Label: "0"}},
		{"missing_nan", "higgs_missing.test", data.Options{Format: data.TSV, Header: "false", Label: "0"}},
		{"categorical", "shoppers.test", data.Options{Format: data.CSV, Label: "Revenue"}},
		{"lambdarank", "rank.test", data.Options{Format: data.LibSVM, Schema: data.PadLibSVM(nil, 301)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, filepath.Join(dir, tc.name, "model.txt"))
			read := tc.read
			read.Exact, read.AbsentIsZero = true, true
			d, err := data.Read(context.Background(), filepath.Join(dir, "data", tc.test), read)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Columns) != m.NumFeature {
				t.Fatalf("%d columns for a model of %d features", len(d.Columns), m.NumFeature)
			}
			scores, raw := readScores(t, filepath.Join(dir, tc.name, "lgb_score.txt")), readScores(t, filepath.Join(dir, tc.name, "lgb_raw.txt"))
			got := m.PredictDataset(d)
			if len(got) != len(scores) || len(raw) != len(scores) {
				t.Fatalf("%d rows scored, LightGBM scored %d (%d raw)", len(got), len(scores), len(raw))
			}
			worst, bad := 0.0, 0
			for i := range got {
				diff := max(math.Abs(got[i]-scores[i]), math.Abs(m.Margin(d.Columns, i)-raw[i]))
				worst = max(worst, diff)
				if diff > tol {
					if bad++; bad <= 3 {
						t.Errorf("row %d: ferry %.17g (margin %.17g), LightGBM %.17g (margin %.17g)", i, got[i], m.Margin(d.Columns, i), scores[i], raw[i])
					}
				}
			}
			t.Logf("%d rows, largest difference %.3g", len(got), worst)
			if bad > 0 {
				t.Errorf("%d of %d rows differ from LightGBM by more than %g", bad, len(got), tol)
			}
		})
	}
}

// The HIGGS model has thresholds one or two ulps above values that occur
// in the data: read as float32, some test rows go the other way, which is
// what the test above guards against (it fails without Options.Exact).
func TestFloat32InputsDisagreeWithLightGBM(t *testing.T) {
	dir := interopDir(t)
	m := load(t, filepath.Join(dir, "binary", "model.txt"))
	d, err := data.Read(context.Background(), filepath.Join(dir, "data", "binary.test"), data.Options{Format: data.TSV, Header: "false", Label: "0"})
	if err != nil {
		t.Fatal(err)
	}
	scores := readScores(t, filepath.Join(dir, "binary", "lgb_score.txt"))
	differ := 0
	for i, s := range m.PredictDataset(d) {
		if math.Abs(s-scores[i]) > 1e-12 {
			differ++
		}
	}
	if differ == 0 {
		t.Error("float32 inputs score every row as LightGBM does: the exact path is not what makes the difference, so the test above proves less than it says")
	}
	t.Logf("%d of %d rows differ when the inputs are rounded to float32", differ, d.Rows)
}

// What ferry cannot score as LightGBM does, it refuses at load, saying
// what: linear trees and multi-class models.
func TestLightGBMRefusesWhatItCannotScore(t *testing.T) {
	dir := interopDir(t)
	for name, want := range map[string]string{"linear_tree": "linear", "multiclass": "class"} {
		raw, err := os.ReadFile(filepath.Join(dir, name, "model.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a refusal that mentions %q", name, err, want)
		}
	}
}

// CategoricalDecision casts to int before testing for negatives: -0.5 is
// category 0; -1, NaN and values int cannot hold go right.
func TestCategoricalCastsFirst(t *testing.T) {
	tr := &tree{decision: []uint8{categoricalMask}, threshold: []float64{0}, catBoundaries: []int{0, 1}, catBits: []uint32{1 | 1<<5}}
	for _, tc := range []struct {
		v    float64
		left bool
	}{{0, true}, {-0.5, true}, {-0.999, true}, {0.7, true}, {5.9, true}, {-1, false}, {1, false}, {math.NaN(), false}, {1 << 31, false}, {-1e300, false}, {1e300, false}} {
		if got := tr.goesLeft(0, tc.v); got != tc.left {
			t.Errorf("category value %v: left %v, want %v", tc.v, got, tc.left)
		}
	}
}

// TreeSHAP on LightGBM's own models: the contributions of each of the
// first 200 test rows add up to LightGBM's raw score for the row (its
// predict_raw_score), to 1e-9. LightGBM's pred_contrib itself is not in the
// fixtures, so this checks the attribution's total against the producer,
// and its split against Shapley's formula only for ferry's trees.
func TestContributionsAddUpToLightGBMsRawScore(t *testing.T) {
	dir := interopDir(t)
	for _, tc := range []struct {
		name, test string
		read       data.Options
	}{
		{"binary", "binary.test", data.Options{Format: data.TSV, Header: "false", Label: "0"}},
		{"missing_nan", "higgs_missing.test", data.Options{Format: data.TSV, Header: "false", Label: "0"}},
		{"categorical", "shoppers.test", data.Options{Format: data.CSV, Label: "Revenue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, filepath.Join(dir, tc.name, "model.txt"))
			if m.ShapTrees() == nil {
				t.Fatal("no TreeSHAP for a model with internal_count and leaf_count")
			}
			read := tc.read
			read.Exact, read.AbsentIsZero = true, true
			d, err := data.Read(context.Background(), filepath.Join(dir, "data", tc.test), read)
			if err != nil {
				t.Fatal(err)
			}
			raw := readScores(t, filepath.Join(dir, tc.name, "lgb_raw.txt"))
			worst := 0.0
			for i := range min(200, d.Rows) {
				row := make([]float64, len(d.Columns))
				for j := range d.Columns {
					row[j] = value(&d.Columns[j], i)
				}
				sum := 0.0
				for _, v := range m.Contributions(row) {
					sum += v
				}
				worst = max(worst, math.Abs(sum-raw[i]))
				if math.Abs(sum-raw[i]) > 1e-9 {
					t.Fatalf("row %d: contributions add to %.12g, LightGBM's raw score is %.12g", i, sum, raw[i])
				}
			}
			t.Logf("largest difference from LightGBM's raw score %.3g", worst)
		})
	}
}

// shapleyOneTree is Shapley's formula for one tree by brute force over the
// subsets of the features the tree uses (the others get 0), with E[f | x_S]
// as path-dependent TreeSHAP defines it (unknown features follow both
// children, weighted by their row counts).
func shapleyOneTree(tr explain.Tree, row []float64, features int) []float64 {
	var used []int
	var walk func(n int)
	walk = func(n int) {
		l, r := tr.Children(n)
		if l < 0 {
			return
		}
		if f := tr.Feature(n); !slices.Contains(used, f) {
			used = append(used, f)
		}
		walk(l)
		walk(r)
	}
	walk(0)
	var expect func(n int, known map[int]bool) float64
	expect = func(n int, known map[int]bool) float64 {
		l, r := tr.Children(n)
		if l < 0 {
			return tr.LeafValue(n)
		}
		if known[tr.Feature(n)] {
			if tr.GoesLeft(n, row) {
				return expect(l, known)
			}
			return expect(r, known)
		}
		return (tr.Cover(l)*expect(l, known) + tr.Cover(r)*expect(r, known)) / (tr.Cover(l) + tr.Cover(r))
	}
	k := len(used)
	v := func(mask int) float64 {
		known := map[int]bool{}
		for i, f := range used {
			if mask&(1<<i) != 0 {
				known[f] = true
			}
		}
		return expect(0, known)
	}
	fact := func(n int) float64 { return math.Gamma(float64(n + 1)) }
	phi := make([]float64, features+1)
	for i, f := range used {
		for mask := 0; mask < 1<<k; mask++ {
			if mask&(1<<i) != 0 {
				continue
			}
			s := bits.OnesCount(uint(mask))
			phi[f] += fact(s) * fact(k-s-1) / fact(k) * (v(mask|1<<i) - v(mask))
		}
	}
	phi[features] = v(0)
	return phi
}

// TreeSHAP on LightGBM's own trees (their counts as cover, their decision
// rules, categorical bitsets included) against Shapley's formula by brute
// force over the features each tree uses, for the first 10 trees of the
// categorical model on 5 rows: to 1e-9.
func TestContributionsAreShapleyOnLightGBMTrees(t *testing.T) {
	dir := interopDir(t)
	m := load(t, filepath.Join(dir, "categorical", "model.txt"))
	d, err := data.Read(context.Background(), filepath.Join(dir, "data", "shoppers.test"), data.Options{Format: data.CSV, Label: "Revenue", Exact: true, AbsentIsZero: true})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for ti, tr := range m.ShapTrees()[:10] {
		for i := range 5 {
			row := make([]float64, len(d.Columns))
			for j := range d.Columns {
				row[j] = value(&d.Columns[j], i*97)
			}
			want := shapleyOneTree(tr, row, m.NumFeature)
			got := make([]float64, m.NumFeature+1)
			explain.Contributions([]explain.Tree{tr}, row, got)
			for f := range got {
				if math.Abs(got[f]-want[f]) > 1e-9 {
					t.Fatalf("tree %d row %d feature %d: TreeSHAP %v, Shapley %v", ti, i*97, f, got[f], want[f])
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no tree checked")
	}
}
