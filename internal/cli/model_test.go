package cli_test

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/test/testenv"
)

// An XGBoost model, imported with its training data's schema, scores the test
// file through `ferry predict` exactly as XGBoost predicted it (the fixtures
// in internal/xgboost/testdata were written by XGBoost 1.7.4 itself).
func TestImportXGBoostAndPredict(t *testing.T) {
	fixtures := filepath.Join(testenv.RepoRoot(t), "internal", "xgboost", "testdata")
	dir := t.TempDir()
	for _, tc := range []struct {
		name, train, test string
		flags             []string
	}{
		{"higgs-binary", "lightgbm-binary/binary.train", "lightgbm-binary/binary.test", []string{"--format", "tsv", "--label", "0"}},
		{"rank-ndcg", "lightgbm-lambdarank/rank.train", "lightgbm-lambdarank/rank.test", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			args := append([]string{"model", "import", "--from", "xgboost", filepath.Join(fixtures, tc.name+".json"),
				"--data", testenv.SharedData(t, tc.train), "--out", out}, tc.flags...)
			if r := run(t, laptop, args...); r.code != 0 {
				t.Fatalf("import: exit %d: %s", r.code, r.stderr)
			}
			r := run(t, laptop, "predict", "--model", out, "--data", testenv.SharedData(t, tc.test))
			if r.code != 0 {
				t.Fatalf("predict: exit %d: %s", r.code, r.stderr)
			}
			f, err := os.Open(filepath.Join(fixtures, tc.name+".predictions.csv"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if len(got) != len(want) {
				t.Fatalf("%d lines, XGBoost predicted %d rows", len(got)-1, len(want)-1)
			}
			for i := 1; i < len(want); i++ {
				g, _ := strconv.ParseFloat(strings.Split(got[i], ",")[3], 64)
				w, _ := strconv.ParseFloat(want[i][2], 64)
				if math.Abs(g-w) > 1e-5 {
					t.Fatalf("row %d: ferry %v, XGBoost %v (tolerance 1e-5)", i-1, g, w)
				}
			}
			if r := run(t, laptop, "model", "--model", out); r.code != 0 || !strings.Contains(r.stdout, "format:    xgboost-json") {
				t.Errorf("ferry model: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	fixtures := filepath.Join(testenv.RepoRoot(t), "internal", "xgboost", "testdata")
	truncated := filepath.Join(dir, "truncated.json")
	b, _ := os.ReadFile(filepath.Join(fixtures, "higgs-binary.json"))
	os.WriteFile(truncated, b[:1000], 0o644)
	narrow := filepath.Join(dir, "narrow.csv")
	os.WriteFile(narrow, []byte("a,b,y\n1,2,0\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"model", "import", "--from", "xgboost", truncated, "--out", filepath.Join(dir, "m1")}, 3, truncated + ": not an XGBoost JSON model: unexpected end of JSON input"},
		{[]string{"model", "import", "--from", "xgboost", filepath.Join(fixtures, "higgs-binary.json"), "--data", narrow, "--label", "y", "--out", filepath.Join(dir, "m2")}, 3,
			"the XGBoost model takes 28 features and the schema lists 2"},
		{[]string{"model", "import", "--from", "xgboost", "--out", "x"}, 2, "ferry model import takes one FILE argument, got 0"},
		{[]string{"model", "import", "a.json", "b.json", "--from", "xgboost", "--out", "x"}, 2, "ferry model import takes one FILE argument, got 2"},
	} {
		r := run(t, laptop, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args[3:], r.code, r.stderr, tc.code, tc.want)
		}
	}
	for _, m := range []string{"m1", "m2"} {
		if _, err := os.Stat(filepath.Join(dir, m)); !os.IsNotExist(err) {
			t.Errorf("a failed import left %s", m)
		}
	}
}

// A PyTorch network exported to ONNX scores through `ferry predict` as
// PyTorch predicted (internal/onnx/testdata, written by PyTorch 1.13).
func TestImportONNXAndPredict(t *testing.T) {
	fixtures := filepath.Join(testenv.RepoRoot(t), "internal", "onnx", "testdata")
	out := filepath.Join(t.TempDir(), "ctr")
	if r := run(t, laptop, "model", "import", "--from", "onnx", filepath.Join(fixtures, "higgs-mlp.onnx"),
		"--data", testenv.SharedData(t, "lightgbm-binary/binary.train"), "--format", "tsv", "--label", "0", "--out", out); r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	r := run(t, laptop, "predict", "--model", out, "--data", testenv.SharedData(t, "lightgbm-binary/binary.test"))
	if r.code != 0 {
		t.Fatalf("predict: exit %d: %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(fixtures, "higgs-mlp.predictions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(b)), "\n")
	got := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines, PyTorch predicted %d", len(got), len(want))
	}
	for i := 1; i < len(want); i++ {
		g, _ := strconv.ParseFloat(strings.Split(got[i], ",")[3], 64)
		w, _ := strconv.ParseFloat(strings.TrimSpace(strings.Split(want[i], ",")[1]), 64) // Python wrote CRLF
		if math.Abs(g-w) > 1e-5 {
			t.Fatalf("row %d: ferry %v, PyTorch %v (tolerance 1e-5)", i-1, g, w)
		}
	}
	if r := run(t, laptop, "model", "import", "--from", "onnx", filepath.Join(fixtures, "higgs-mlp.onnx"), "--out", out+"2"); r.code != 2 ||
		!strings.Contains(r.stderr, "--data is required: the data the model was trained on: an onnx model does not name its features") {
		t.Errorf("import without --data: exit %d, %s", r.code, r.stderr)
	}
}

// A LightGBM text model imports with its data's schema and predicts what
// LightGBM's decision rules give (internal/lightgbm's hand-computed cases).
func TestImportLightGBMAndPredict(t *testing.T) {
	dir := t.TempDir()
	lgb := filepath.Join(testenv.RepoRoot(t), "internal", "lightgbm", "testdata", "hand.txt")
	rows := filepath.Join(dir, "rows.csv")
	os.WriteFile(rows, []byte("price,rating,brand,clicked\n5,4,1,1\n20,2,2,0\n,,,0\n"), 0o644)
	out := filepath.Join(dir, "imported")
	if r := run(t, laptop, "model", "import", "--from", "lightgbm", lgb, "--data", rows, "--label", "clicked", "--out", out); r.code != 0 {
		t.Fatalf("import: exit %d, %s", r.code, r.stderr)
	}
	r := run(t, laptop, "predict", "--model", out, "--data", rows, "--label", "clicked")
	if r.code != 0 {
		t.Fatalf("predict: exit %d, %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for i, margin := range []float64{1, 2.25, 2} {
		got, _ := strconv.ParseFloat(strings.Split(lines[i+1], ",")[3], 64)
		if want := 1 / (1 + math.Exp(-margin)); math.Abs(got-want) > 1e-12 {
			t.Errorf("row %d: %v, want %v", i, got, want)
		}
	}
	// A schema of the wrong width is refused at import.
	os.WriteFile(rows, []byte("price,rating,clicked\n5,4,1\n"), 0o644)
	if r := run(t, laptop, "model", "import", "--from", "lightgbm", lgb, "--data", rows, "--label", "clicked", "--out", out+"2"); r.code == 0 ||
		!strings.Contains(r.stderr, "takes 3 features and the schema lists 2") {
		t.Errorf("two columns: exit %d, %s", r.code, r.stderr)
	}
}

// Models trained by LightGBM's own CLI (../shared/interop/lightgbm), imported
// with their training data and scored by `ferry predict`, get LightGBM's own
// predictions within 1e-12: the HIGGS model, whose thresholds sit an ulp
// from values in the data (ferry reads doubles for LightGBM), and the
// lambdarank model trained on a 1-based LibSVM file (301 features, the id
// is the index).
func TestImportLightGBMFixturesAndPredict(t *testing.T) {
	interop := filepath.Join(testenv.RepoRoot(t), "..", "shared", "interop", "lightgbm")
	if _, err := os.Stat(interop); err != nil {
		testenv.Missing(t, "../shared/interop/lightgbm", "the LightGBM interop fixtures are shared beside the repository")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, train, test string
		flags             []string
	}{
		{"binary", "binary.train", "binary.test", []string{"--format", "tsv", "--header", "false", "--label", "0"}},
		{"lambdarank", "rank.train", "rank.test", []string{"--format", "libsvm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			args := append([]string{"model", "import", "--from", "lightgbm", filepath.Join(interop, tc.name, "model.txt"),
				"--data", filepath.Join(interop, "data", tc.train), "--out", out}, tc.flags...)
			if r := run(t, laptop, args...); r.code != 0 {
				t.Fatalf("import: exit %d: %s", r.code, r.stderr)
			}
			r := run(t, laptop, "predict", "--model", out, "--data", filepath.Join(interop, "data", tc.test))
			if r.code != 0 {
				t.Fatalf("predict: exit %d: %s", r.code, r.stderr)
			}
			want, err := os.ReadFile(filepath.Join(interop, tc.name, "lgb_score.txt"))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSpace(r.stdout), "\n")[1:]
			wants := strings.Fields(string(want))
			if len(got) != len(wants) {
				t.Fatalf("%d rows scored, LightGBM scored %d", len(got), len(wants))
			}
			for i := range wants {
				g, _ := strconv.ParseFloat(strings.Split(got[i], ",")[3], 64)
				w, _ := strconv.ParseFloat(wants[i], 64)
				if math.Abs(g-w) > 1e-12 {
					t.Fatalf("row %d: ferry %.17g, LightGBM %.17g (tolerance 1e-12)", i, g, w)
				}
			}
		})
	}
}
