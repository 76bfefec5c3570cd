package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/test/testenv"
)

// The train stage runs real user code: examples/xgboost/train.py trains with
// Debian's XGBoost, ferry collects the booster, and `ferry predict` scores
// the test rows as XGBoost itself does (checked by asking XGBoost, in Python,
// to predict with the very file ferry keeps).
func TestTrainWithXGBoostCommand(t *testing.T) {
	python, datasets := debianXGBoost(t)
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	shared := filepath.Join(datasets, "lightgbm-binary")
	// HIGGS as a TSV with a header, which the example script reads.
	header := "y"
	for i := 1; i <= 28; i++ {
		header += "\tx" + strconv.Itoa(i)
	}
	for _, name := range []string{"binary.train", "binary.test"} {
		b, err := os.ReadFile(filepath.Join(shared, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".tsv"), append([]byte(header+"\n"), b...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "model")
	var stdout, stderr bytes.Buffer
	env := &cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := cli.Main(context.Background(), []string{"train", "--trainer", "command",
		"--run", python + " " + filepath.Join(root, "examples", "xgboost", "train.py"),
		"--data", filepath.Join(dir, "binary.train.tsv"), "--label", "y", "--seed", "3", "--out", out}, env)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "train-auc") || !strings.Contains(stdout.String(), "model: "+out+" (xgboost-json, binary)") {
		t.Errorf("train log:\n%s", stdout.String())
	}
	stdout.Reset()
	if code := cli.Main(context.Background(), []string{"predict", "--model", out, "--data", filepath.Join(dir, "binary.test.tsv")}, env); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")[1:]
	script := `
import sys, numpy as np, xgboost as xgb
b = xgb.Booster(); b.load_model(sys.argv[1])
x = np.loadtxt(sys.argv[2], skiprows=1)[:, 1:]
for p in b.predict(xgb.DMatrix(x)): print(repr(float(p)))`
	want, err := exec.Command(python, "-c", script, filepath.Join(out, "xgboost.json"), filepath.Join(dir, "binary.test.tsv")).Output()
	if err != nil {
		t.Fatalf("XGBoost's own prediction: %v", err)
	}
	wantLines := strings.Split(strings.TrimSpace(string(want)), "\n")
	if len(wantLines) != len(lines) {
		t.Fatalf("ferry scored %d rows, XGBoost %d", len(lines), len(wantLines))
	}
	for i := range lines {
		g, _ := strconv.ParseFloat(strings.Split(lines[i], ",")[3], 64)
		w, _ := strconv.ParseFloat(wantLines[i], 64)
		if math.Abs(g-w) > 1e-5 {
			t.Fatalf("row %d: ferry %v, XGBoost %v (tolerance 1e-5)", i, g, w)
		}
	}
}

// debianXGBoost returns the Python that has Debian's XGBoost and the shared
// data sets' folder, or handles either as missing.
func debianXGBoost(t *testing.T) (python, datasets string) {
	t.Helper()
	python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import xgboost").Run(); err != nil {
		testenv.Missing(t, "Debian's python3-xgboost", "run `make deps` (apt-get install python3-xgboost)")
	}
	datasets = filepath.Join(testenv.RepoRoot(t), "..", "shared", "datasets")
	if _, err := os.Stat(datasets); err != nil {
		testenv.Missing(t, "../shared/datasets", "the tests read the shared data sets beside the repository")
	}
	return python, datasets
}

// A search over real user code: examples/xgboost/train.py reads each
// trial's max-depth from FERRY_PARAM_MAX_DEPTH and reports its validation
// AUC; ferry keeps the better booster, and scoring the validation rows with
// it gives the AUC XGBoost reported (to 1e-4: XGBoost's AUC and ferry's
// differ only in ties).
func TestSearchXGBoostCommand(t *testing.T) {
	python, datasets := debianXGBoost(t)
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(datasets, "lightgbm-binary", "binary.train"))
	if err != nil {
		t.Fatal(err)
	}
	header := "y"
	for i := 1; i <= 28; i++ {
		header += "\tx" + strconv.Itoa(i)
	}
	rows := strings.SplitAfter(strings.TrimSpace(string(b)), "\n")
	cut := len(rows) * 4 / 5
	os.WriteFile(filepath.Join(dir, "train.tsv"), []byte(header+"\n"+strings.Join(rows[:cut], "")), 0o644)
	os.WriteFile(filepath.Join(dir, "valid.tsv"), []byte(header+"\n"+strings.Join(rows[cut:], "")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte("train:\n  search:\n    metric: valid.auc\n    space:\n      max-depth: [1, 6]\n"), 0o644)
	out := filepath.Join(dir, "model")
	var stdout, stderr bytes.Buffer
	env := &cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := cli.Main(context.Background(), []string{"train", "--config", filepath.Join(dir, "ferry.yaml"), "--trainer", "command",
		"--run", python + " " + filepath.Join(root, "examples", "xgboost", "train.py"),
		"--data", filepath.Join(dir, "train.tsv"), "--valid", filepath.Join(dir, "valid.tsv"), "--label", "y",
		"--search", "--strategy", "grid", "--trials", "2", "--out", out}, env)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	m, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Manifest.Search
	if s == nil || len(s.Trials) != 2 {
		t.Fatalf("search record %+v\n%s", s, stdout.String())
	}
	depth := map[string]float64{}
	for _, tr := range s.Trials {
		depth[tr.Params["max-depth"]] = tr.Score
	}
	// Depth 1 (stumps) against depth 6 on HIGGS: a gap far past the noise
	// of 1,400 validation rows, so the parameter reached XGBoost.
	if depth["6"]-depth["1"] < 0.02 || s.BestTrial().Params["max-depth"] != "6" {
		t.Fatalf("valid AUC by depth %v, best trial %+v: FERRY_PARAM_MAX_DEPTH did not reach the command", depth, s.BestTrial())
	}
	stdout.Reset()
	if code := cli.Main(context.Background(), []string{"predict", "--model", out, "--data", filepath.Join(dir, "valid.tsv"), "--out", filepath.Join(dir, "p.csv")}, env); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr.String())
	}
	if code := cli.Main(context.Background(), []string{"metrics", "--predictions", filepath.Join(dir, "p.csv"), "--json"}, env); code != 0 {
		t.Fatalf("metrics: exit %d: %s", code, stderr.String())
	}
	var got struct {
		AUC float64 `json:"auc"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if math.Abs(got.AUC-depth["6"]) > 1e-4 {
		t.Errorf("the kept model's validation AUC is %v by ferry, %v by XGBoost during the search: not the best trial's booster", got.AUC, depth["6"])
	}
}
