package integration

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/xgboost"
	"github.com/ferry-ml/ferry/test/testenv"
)

// Debian's XGBoost (1.7.4) trains, here and now, on data as its users feed
// it (testdata/xgboost_interop.py): a 1-based LibSVM file with qid read by
// XGBoost's own parser, a CSV with empty fields, and online shoppers with
// six categorical features (enable_categorical, partition splits) plus test
// rows with categories XGBoost calls invalid. ferry imports each booster
// with its training data and `ferry predict` scores the test file: every
// row within 1e-6 of XGBoost's own float32 prediction.
func TestXGBoostModelsScoreAsXGBoostDoes(t *testing.T) {
	python, datasets := debianXGBoost(t)
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command(python, filepath.Join(root, "test", "integration", "testdata", "xgboost_interop.py"), datasets, dir).CombinedOutput(); err != nil {
		t.Fatalf("train with XGBoost: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"rank-qid", []string{"--format", "libsvm"}},
		{"higgs-missing", []string{"--format", "csv", "--label", "clicked"}},
		{"shoppers-cat", []string{"--format", "csv", "--label", "Revenue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := &cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
			out := filepath.Join(dir, tc.name+"-model")
			args := append([]string{"model", "import", "--from", "xgboost", filepath.Join(dir, tc.name+".json"),
				"--data", filepath.Join(dir, tc.name+".train"), "--out", out}, tc.flags...)
			if code := cli.Main(context.Background(), args, env); code != 0 {
				t.Fatalf("import: exit %d\n%s", code, stderr.String())
			}
			stdout.Reset()
			if code := cli.Main(context.Background(), []string{"predict", "--model", out, "--data", filepath.Join(dir, tc.name+".test")}, env); code != 0 {
				t.Fatalf("predict: exit %d\n%s", code, stderr.String())
			}
			got := strings.Split(strings.TrimSpace(stdout.String()), "\n")[1:]
			b, err := os.ReadFile(filepath.Join(dir, tc.name+".pred"))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Fields(string(b))
			if len(got) != len(want) {
				t.Fatalf("ferry scored %d rows, XGBoost %d", len(got), len(want))
			}
			worst := 0.0
			for i := range want {
				g, err1 := strconv.ParseFloat(strings.Split(got[i], ",")[3], 64)
				w, err2 := strconv.ParseFloat(want[i], 64)
				if err1 != nil || err2 != nil {
					t.Fatalf("row %d: %q, %q", i, got[i], want[i])
				}
				worst = max(worst, math.Abs(g-w))
				if math.Abs(g-w) > 1e-6 {
					t.Errorf("row %d: ferry %.9g, XGBoost %.9g (tolerance 1e-6)", i, g, w)
				}
			}
			t.Logf("%d rows, largest difference from XGBoost %.3g", len(want), worst)
			if _, err := os.Stat(filepath.Join(dir, tc.name+".contribs")); err == nil {
				checkContributions(t, out, filepath.Join(dir, tc.name+".test"), filepath.Join(dir, tc.name+".contribs"))
			}
		})
	}
}

// checkContributions compares ferry's TreeSHAP of the imported model with
// XGBoost's pred_contribs on the same rows: every value, the bias
// included, within 1e-5 (XGBoost sums in float32).
func checkContributions(t *testing.T, dir, testPath, contribsPath string) {
	t.Helper()
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	xm, ok := m.Predictor.(*xgboost.Model)
	if !ok {
		t.Fatalf("the imported model scores as %T", m.Predictor)
	}
	d, err := m.ReadData(context.Background(), testPath, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(contribsPath)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		row := make([]float64, len(d.Columns))
		for j, c := range d.Columns {
			row[j] = float64(c.Values[i])
		}
		got := xm.Contributions(row)
		want := strings.Fields(line)
		if len(want) != len(got) {
			t.Fatalf("row %d: ferry gives %d values, XGBoost %d", i, len(got), len(want))
		}
		for j, w := range want {
			x, _ := strconv.ParseFloat(w, 64)
			worst = max(worst, math.Abs(got[j]-x))
			if math.Abs(got[j]-x) > 1e-5 {
				t.Fatalf("row %d value %d: ferry's TreeSHAP %.9g, XGBoost's pred_contribs %.9g (tolerance 1e-5)", i, j, got[j], x)
			}
		}
	}
	t.Logf("TreeSHAP: largest difference from XGBoost's pred_contribs %.3g", worst)
}
