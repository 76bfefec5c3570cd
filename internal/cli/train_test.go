package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/external"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/search"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/test/actiontest"
	"github.com/ferry-ml/ferry/test/testenv"
)

// clicks writes a small click data set: price, rating, a device category and
// a query id, with clicks more likely for cheap, well-rated products.
func clicks(t *testing.T, dir, name string, rows int, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	var b strings.Builder
	b.WriteString("query,price,rating,device,clicked\n")
	devices := []string{"mobile", "desktop", "tablet"}
	for i := 0; i < rows; i++ {
		price := rng.Float64() * 100
		rating := 1 + rng.Float64()*4
		z := -0.04*price + 1.2*(rating-3)
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			fmt.Fprintf(&b, "q%d,%.2f,%.2f,%s,1\n", i/10, price, rating, devices[rng.IntN(3)])
		} else {
			priceText := strconv.FormatFloat(price, 'f', 2, 64)
			if rng.Float64() < 0.05 {
				priceText = "" // missing
			}
			fmt.Fprintf(&b, "q%d,%s,%.2f,%s,0\n", i/10, priceText, rating, devices[rng.IntN(3)])
		}
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrainAndPredict(t *testing.T) {
	dir := t.TempDir()
	trainCSV := clicks(t, dir, "train.csv", 2000, 1)
	validCSV := clicks(t, dir, "valid.csv", 500, 2)
	for _, algo := range []string{"gbdt", "logistic", "mlp"} {
		t.Run(algo, func(t *testing.T) {
			out := filepath.Join(dir, "model-"+algo)
			r := run(t, laptop, "train", "--data", trainCSV, "--valid", validCSV, "--label", "clicked", "--drop", "query",
				"--algorithm", algo, "--objective", "binary", "--seed", "3", "--out", out)
			if r.code != 0 {
				t.Fatalf("train: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "model: "+out) || !strings.Contains(r.stdout, "valid: accuracy ") || !strings.Contains(r.stdout, " auc ") {
				t.Errorf("train output:\n%s", r.stdout)
			}
			m, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if auc := m.Manifest.Metrics["valid"]["auc"]; auc < 0.75 {
				t.Errorf("valid AUC %.3f: the trainer did not learn the click model", auc)
			}
			if m.Manifest.Input.Label != "clicked" || m.Manifest.Lineage.DataSHA256 == "" || len(m.Manifest.Curve.Train) == 0 {
				t.Errorf("manifest lacks input, lineage or curve: %+v", m.Manifest)
			}

			preds := filepath.Join(dir, "preds-"+algo+".csv")
			r = run(t, laptop, "predict", "--model", out, "--data", validCSV, "--out", preds)
			if r.code != 0 {
				t.Fatalf("predict: exit %d\n%s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(actiontest.ReadFile(t, preds)), "\n")
			if lines[0] != "row,group,label,score" || len(lines) != 501 {
				t.Fatalf("predictions: header %q, %d lines", lines[0], len(lines))
			}
			// The scores are those of the model's own Predictor.
			d, err := data.Read(context.Background(), validCSV, data.Options{Schema: m.Manifest.Features, Label: "clicked"})
			if err != nil {
				t.Fatal(err)
			}
			want := m.PredictDataset(d)
			for i, line := range lines[1:] {
				f := strings.Split(line, ",")
				score, _ := strconv.ParseFloat(f[3], 64)
				if f[0] != strconv.Itoa(i) || f[1] != "" || score != want[i] {
					t.Fatalf("line %d = %q, want row %d, no group, score %v", i+2, line, i, want[i])
				}
			}
		})
	}
}

func TestTrainIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	csv := clicks(t, dir, "train.csv", 1000, 5)
	var payloads []string
	for i := 0; i < 2; i++ {
		out := filepath.Join(dir, "m"+strconv.Itoa(i))
		if r := run(t, laptop, "train", "--data", csv, "--label", "clicked", "--group", "query", "--param", "subsample=0.8", "--out", out); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		payloads = append(payloads, actiontest.ReadFile(t, filepath.Join(out, "gbdt.json")))
	}
	if payloads[0] != payloads[1] {
		t.Error("two runs with the same data and seed wrote different gbdt.json")
	}
}

// Bad input fails with the file, line and column, and leaves nothing at --out
// that looks like a model.
func TestTrainBadInputWritesNothing(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("price,clicked\n1.5,0\n2.5,2\n"), 0o644)
	out := filepath.Join(dir, "model")
	r := run(t, laptop, "train", "--data", bad, "--label", "clicked", "--out", out)
	want := fmt.Sprintf("ferry train: %s:3: column \"clicked\": label 2: a binary label is 0 or 1 (or TRUE/FALSE); for other values use --objective regression\n", bad)
	if r.code != 3 || r.stderr != want {
		t.Errorf("exit %d, stderr %q\nwant %q", r.code, r.stderr, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("--out exists after a failed run: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the failed run left files: %v", entries)
	}
}

func TestPredictRankingKeepsGroups(t *testing.T) {
	dir := t.TempDir()
	train := filepath.Join(dir, "r.libsvm")
	var b strings.Builder
	rng := rand.New(rand.NewPCG(1, 1))
	for q := 0; q < 60; q++ {
		for d := 0; d < 8; d++ {
			x := rng.Float64()
			rel := int(x * 3.99)
			fmt.Fprintf(&b, "%d qid:%d 1:%.3f 2:%.3f\n", rel, q, x, rng.Float64())
		}
	}
	os.WriteFile(train, []byte(b.String()), 0o644)
	out := filepath.Join(dir, "ranker")
	if r := run(t, laptop, "train", "--data", train, "--objective", "lambdarank", "--param", "min-data-in-leaf=5", "--out", out); r.code != 0 {
		t.Fatalf("train: exit %d %s", r.code, r.stderr)
	}
	r := run(t, laptop, "predict", "--model", out, "--data", train)
	if r.code != 0 {
		t.Fatalf("predict: exit %d %s", r.code, r.stderr)
	}
	lines := strings.Split(r.stdout, "\n")
	if !strings.HasPrefix(lines[1], "0,0,") || !strings.HasPrefix(lines[9], "8,1,") {
		t.Errorf("rows and groups: %q, %q", lines[1], lines[9])
	}
	var m model.Manifest
	json.Unmarshal([]byte(actiontest.ReadFile(t, filepath.Join(out, "model.json"))), &m)
	if m.Metrics["train"]["ndcg@10"] < 0.9 {
		t.Errorf("train NDCG@10 %.3f on a feature that orders relevance", m.Metrics["train"]["ndcg@10"])
	}
}

func TestPredictErrors(t *testing.T) {
	dir := t.TempDir()
	csv := clicks(t, dir, "train.csv", 300, 1)
	out := filepath.Join(dir, "m")
	if r := run(t, laptop, "train", "--data", csv, "--label", "clicked", "--drop", "query", "--out", out); r.code != 0 {
		t.Fatal(r.stderr)
	}
	other := filepath.Join(dir, "other.csv")
	os.WriteFile(other, []byte("price,device\n1,mobile\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "--model", dir, "--data", csv}, "ferry predict: " + dir + " is not a model directory: it has no model.json"},
		{[]string{"predict", "--model", out, "--data", other}, "ferry predict: " + other + ":1: column \"rating\": the model was trained with this column and the file lacks it"},
		{[]string{"predict", "--model", out}, "ferry predict: --data is required: the data file to score"},
	} {
		r := run(t, laptop, tc.args...)
		if r.code == 0 || r.stderr != tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q\nwant %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// ferry.yaml supplies what flags do not; a flag wins over it.
func TestTrainReadsFerryYAML(t *testing.T) {
	dir := t.TempDir()
	csv := clicks(t, dir, "clicks.csv", 800, 4)
	conf := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`name: click-model
data:
  train: %s
  label: clicked
  drop: [query]
train:
  algorithm: logistic
  params:
    c: 0.5
  out: %s
`, csv, filepath.Join(dir, "from-yaml"))), 0o644)
	r := run(t, laptop, "train", "--config", conf)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	m, err := model.Load(filepath.Join(dir, "from-yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Manifest.Name != "click-model" || m.Manifest.Format != model.FormatLinear || m.Manifest.Params["c"] != "0.5" {
		t.Errorf("name %q, format %q, c %q", m.Manifest.Name, m.Manifest.Format, m.Manifest.Params["c"])
	}
	out := filepath.Join(dir, "from-flags")
	if r := run(t, laptop, "train", "--config", conf, "--algorithm", "gbdt", "--out", out); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if m, err := model.Load(out); err != nil || m.Manifest.Format != model.FormatGBDT {
		t.Errorf("--algorithm gbdt did not win over ferry.yaml: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("train:\n  algoritm: gbdt\n"), 0o644)
	r = run(t, laptop, "train", "--config", bad)
	want := "ferry train: " + bad + `: line 2: unknown key "algoritm" in train: valid keys are trainer, algorithm, objective, params, seed, out, search` + "\n"
	if r.code != 2 || r.stderr != want {
		t.Errorf("exit %d, stderr %q\nwant %q", r.code, r.stderr, want)
	}
	// A value the file gives that the parameter refuses is named as the
	// file's key.
	os.WriteFile(bad, []byte("data:\n  train: x.csv\n  delimiter: ab\n"), 0o644)
	r = run(t, laptop, "train", "--config", bad)
	want = "ferry train: " + bad + ` data.delimiter: "ab" is not valid: want one character such as ; or |, or tab` + "\n"
	if r.code != 2 || r.stderr != want {
		t.Errorf("exit %d, stderr %q\nwant %q", r.code, r.stderr, want)
	}
	if r := run(t, laptop, "train", "--config", bad, "--delimiter", "xy"); r.code != 2 || !strings.Contains(r.stderr, `--delimiter: "xy" is not valid`) {
		t.Errorf("a flag over the file should be named as the flag: exit %d, %s", r.code, r.stderr)
	}
}

func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ferry-demo")
	r := run(t, laptop, "demo", "--dir", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The candidate adds the feature the shoppers' utility weighs most, so it
	// ranks the hidden relevance better than the champion (seed 1).
	var champion, candidate float64
	for _, line := range strings.Split(r.stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "[truth]    NDCG@10 by the shoppers' hidden relevance: champion "); ok {
			fmt.Sscanf(rest, "%f, candidate %f", &champion, &candidate)
		}
	}
	if !(candidate > champion && champion > 0.5) {
		t.Errorf("hidden-relevance NDCG@10: champion %v, candidate %v\n%s", champion, candidate, r.stdout)
	}
	if !strings.Contains(r.stdout, `[evaluate] ndcg@10 `) {
		t.Errorf("the demo did not evaluate:\n%s", r.stdout)
	}
	for _, p := range []string{"data/train.csv", "models/champion/model.json", "models/candidate/gbdt.json", "report.md"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("the demo did not leave %s: %v", p, err)
		}
	}
	if r := run(t, laptop, "demo", "--dir", dir); r.code != 0 {
		t.Errorf("a second run over the first: exit %d: %s", r.code, r.stderr)
	}
}

// ferry.yaml's train.search runs the search with the flags over it, and its
// mistakes are named by key and line, exit code 2.
func TestTrainSearchFromFerryYAML(t *testing.T) {
	dir := t.TempDir()
	csv := clicks(t, dir, "clicks.csv", 600, 4)
	conf := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`data:
  train: %s
  label: clicked
  drop: [query]
train:
  algorithm: gbdt
  search:
    enabled: true
    strategy: random
    trials: 3
    folds: 3
    space:
      max-depth: [2, 4]
      learning-rate: {min: 0.05, max: 0.3, scale: log}
  out: %s
`, csv, filepath.Join(dir, "searched"))), 0o644)
	r := run(t, laptop, "train", "--config", conf, "--trials", "2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	m, err := model.Load(filepath.Join(dir, "searched"))
	if err != nil {
		t.Fatal(err)
	}
	s := m.Manifest.Search
	if s == nil || s.Strategy != "random" || len(s.Trials) != 2 || s.Folds != 3 {
		t.Fatalf("search %+v: want 2 random trials (--trials over ferry.yaml) by 3 folds", s)
	}
	for _, tr := range s.Trials {
		if d := tr.Params["max-depth"]; d != "2" && d != "4" || len(tr.Params) != 2 {
			t.Errorf("trial %d's parameters %v are not in the space", tr.Number, tr.Params)
		}
	}
	os.WriteFile(conf, []byte("data:\n  train: "+csv+"\n  label: clicked\ntrain:\n  search:\n    space:\n      max-depth: {min: 8, max: 2}\n"), 0o644)
	r = run(t, laptop, "train", "--config", conf, "--search", "--out", filepath.Join(dir, "never"))
	if want := "ferry.yaml train.search.space.max-depth (line 7): min 8 is above max 2"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q: want 2 and %q", r.code, r.stderr, want)
	}
	r = run(t, laptop, "train", "--config", conf, "--search", "--trials", "0")
	if want := `--trials: "0" is not valid: want a budget of at least 1 trial`; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q: want 2 and %q", r.code, r.stderr, want)
	}
}

// Parquet from DuckDB goes through the commands as CSV does: train a
// ranker on it, score the same file, and the scores equal those of the
// same model on DuckDB's CSV of the same rows.
func TestParquetThroughTheCommands(t *testing.T) {
	fixtures := filepath.Join(testenv.RepoRoot(t), "internal", "data", "testdata")
	out := filepath.Join(t.TempDir(), "model")
	if r := run(t, laptop, "train", "--data", filepath.Join(fixtures, "clicks-zstd.parquet"), "--label", "clicked", "--group", "query",
		"--objective", "lambdarank", "--param", "trees=20", "--out", out); r.code != 0 {
		t.Fatalf("train: exit %d: %s", r.code, r.stderr)
	}
	pq := run(t, laptop, "predict", "--model", out, "--data", filepath.Join(fixtures, "clicks-snappy.parquet"))
	csv := run(t, laptop, "predict", "--model", out, "--data", filepath.Join(fixtures, "clicks.csv"))
	if pq.code != 0 || csv.code != 0 || pq.stdout != csv.stdout || strings.Count(pq.stdout, "\n") != 5001 {
		t.Errorf("predict: exit %d and %d; the Parquet and CSV scores differ or are not 5,000 rows\n%s", pq.code, csv.code, pq.stderr+csv.stderr)
	}
	// Predictions written as Parquet give the metrics the CSV gives.
	var metrics []string
	for _, name := range []string{"p.csv", "p.parquet"} {
		p := filepath.Join(t.TempDir(), name)
		if r := run(t, laptop, "predict", "--model", out, "--data", filepath.Join(fixtures, "clicks-zstd.parquet"), "--out", p); r.code != 0 {
			t.Fatalf("predict --out %s: exit %d: %s", name, r.code, r.stderr)
		}
		r := run(t, laptop, "metrics", "--predictions", p, "--json")
		if r.code != 0 {
			t.Fatalf("metrics of %s: exit %d: %s", name, r.code, r.stderr)
		}
		metrics = append(metrics, r.stdout)
	}
	if metrics[0] != metrics[1] || !strings.Contains(metrics[0], "ndcg@10") {
		t.Errorf("metrics of the CSV and the Parquet predictions:\n%s\n%s", metrics[0], metrics[1])
	}
}

// The command a search trial's pod runs: it pulls the rows from a registry
// by digest, scores the trial its index picks on every fold and writes the
// result where the kubelet keeps the termination message.
func TestSearchTrialPodCommand(t *testing.T) {
	dir := t.TempDir()
	ds, err := data.Read(context.Background(), clicks(t, dir, "train.csv", 600, 1), data.Options{Label: "clicked", Drop: []string{"query"}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := train.EncodeRows(ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref, err := external.Kubernetes{Artifact: strings.TrimPrefix(srv.URL, "http://") + "/shop/models"}.Ship(context.Background(), rows)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(train.TrialBatch{Run: "gbdt", Candidate: "gbdt", Objective: "binary", Seed: 3, Metric: "auc", HigherIsBetter: true,
		Folds: 3, Parallel: 1, Trials: []search.Trial{{Number: 6}, {Number: 7, Params: map[string]string{"max-depth": "3", "trees": "20"}}}})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FERRY_TRIAL_BATCH": string(spec), "JOB_COMPLETION_INDEX": "1"}
	result := filepath.Join(dir, "termination-log")
	r := run(t, func(k string) string { return env[k] }, "search-trial", "--rows", ref, "--result", result)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	raw, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	var got search.Trial
	if err := json.Unmarshal(raw, &got); err != nil || got.Number != 7 || got.State != search.StateComplete || len(got.Folds) != 3 || got.Score <= 0.5 || got.Score > 1 {
		t.Fatalf("result %s: %+v %v", raw, got, err)
	}
	if len(raw) > 4096 {
		t.Errorf("the result is %d bytes: over the 4096 a termination message keeps", len(raw))
	}

	delete(env, "JOB_COMPLETION_INDEX")
	if r := run(t, func(k string) string { return env[k] }, "search-trial", "--rows", ref, "--result", result); r.code != 2 || !strings.Contains(r.stderr, "--index") {
		t.Errorf("without an index: exit %d, %s; want 2 naming --index", r.code, r.stderr)
	}
}
