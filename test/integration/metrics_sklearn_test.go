package integration

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/test/testenv"
)

// sklearnRef computes the reference values with Debian's scikit-learn:
// binary metrics (AUC with ties averaged, log-loss, Brier, accuracy,
// precision, recall and F1 at 0.5) unweighted and weighted, regression
// errors, and NDCG@k per query. ferry's NDCG gain is 2^rel - 1, so the
// labels go to ndcg_score as 2^rel - 1 (its gain is the label itself).
const sklearnRef = `
import json, sys
import numpy as np
from sklearn import metrics as m
d = json.load(open(sys.argv[1]))
y, s, w = np.array(d["y"]), np.array(d["s"]), np.array(d["w"])
pred = (s >= 0.5).astype(float)
out = {}
for suffix, sw in (("", None), ("_w", w)):
    out["auc" + suffix] = m.roc_auc_score(y, s, sample_weight=sw)
    out["logloss" + suffix] = m.log_loss(y, s, sample_weight=sw)
    out["brier" + suffix] = m.brier_score_loss(y, s, sample_weight=sw)
    out["accuracy" + suffix] = m.accuracy_score(y, pred, sample_weight=sw)
    out["precision" + suffix] = m.precision_score(y, pred, sample_weight=sw)
    out["recall" + suffix] = m.recall_score(y, pred, sample_weight=sw)
    out["f1" + suffix] = m.f1_score(y, pred, sample_weight=sw)
    out["mse" + suffix] = m.mean_squared_error(d["ry"], d["rs"], sample_weight=sw)
    out["mae" + suffix] = m.mean_absolute_error(d["ry"], d["rs"], sample_weight=sw)
for k in (1, 3, 10):
    gains = 2.0 ** np.array(d["rel"]) - 1
    out["ndcg@%d" % k] = m.ndcg_score(gains, np.array(d["rank_s"]), k=k)
json.dump(out, sys.stdout)
`

// ferry's metrics equal scikit-learn's within 1e-9 on random inputs with
// many tied scores (scores rounded to two decimals), with and without
// sample weights. For NDCG the scores are distinct and every query has a
// relevant row: scikit-learn breaks ties and averages empty queries by
// conventions other than the one ferry states (see internal/metrics).
func TestMetricsMatchScikitLearn(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import sklearn").Run(); err != nil {
		testenv.Missing(t, "Debian's python3-sklearn", "run `make deps` (apt-get install python3-sklearn)")
	}
	r := rand.New(rand.NewPCG(7, 7))
	const n = 5000
	var y, s, w, ry, rs []float64
	for range n {
		label := float64(r.IntN(2))
		score := math.Round((0.3+0.4*label+0.35*r.NormFloat64())*100) / 100
		score = math.Min(0.99, math.Max(0.01, score))
		y, s, w = append(y, label), append(s, score), append(w, 0.5+r.Float64()*2)
		ry, rs = append(ry, r.NormFloat64()*3), append(rs, math.Round(r.NormFloat64()*30)/10)
	}
	const queries, docs = 300, 12
	var rel, rankS [][]float64
	var flatRel, flatS []float64
	var groups [][]int
	for q := range queries {
		var qr, qs []float64
		var g []int
		for d := range docs {
			l := float64(r.IntN(4))
			if d == 0 {
				l = 1 + float64(r.IntN(3)) // at least one relevant row
			}
			sc := l*0.4 + r.NormFloat64() + float64(q*docs+d)*1e-9 // distinct
			qr, qs = append(qr, l), append(qs, sc)
			g = append(g, len(flatRel))
			flatRel, flatS = append(flatRel, l), append(flatS, sc)
		}
		rel, rankS, groups = append(rel, qr), append(rankS, qs), append(groups, g)
	}
	in := filepath.Join(t.TempDir(), "in.json")
	b, _ := json.Marshal(map[string]any{"y": y, "s": s, "w": w, "ry": ry, "rs": rs, "rel": rel, "rank_s": rankS})
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", sklearnRef, in).Output()
	if err != nil {
		t.Fatalf("scikit-learn: %v", err)
	}
	var want map[string]float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for suffix, weights := range map[string][]float64{"": nil, "_w": w} {
		bin, err := metrics.AllWeighted(metrics.Binary, y, s, weights, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := metrics.AllWeighted(metrics.Regression, ry, rs, weights, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"auc", "logloss", "brier", "accuracy", "precision", "recall", "f1"} {
			got[k+suffix] = bin[k]
		}
		got["mse"+suffix], got["mae"+suffix] = reg["mse"], reg["mae"]
	}
	rank, err := metrics.All(metrics.Ranking, flatRel, flatS, groups, []int{1, 3, 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ndcg@1", "ndcg@3", "ndcg@10"} {
		got[k] = rank[k]
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 1e-9 {
			t.Errorf("%s: ferry %.12f, scikit-learn %.12f", k, got[k], v)
		}
	}
	if len(want) != len(got) {
		t.Errorf("compared %d metrics, ferry computed %d", len(want), len(got))
	}
}

// sklearnShared computes scikit-learn's binary metrics (weighted by the
// data set's .weight file) and the mean over queries with a relevant row of
// its per-query NDCG@k, gains 2^rel - 1.
const sklearnShared = `
import json, sys
import numpy as np
from sklearn import metrics as m
d = json.load(open(sys.argv[1]))
y, s, w = np.array(d["y"]), np.array(d["s"]), np.array(d["w"])
pred = (s >= 0.5).astype(float)
out = {"auc": m.roc_auc_score(y, s, sample_weight=w), "logloss": m.log_loss(y, s, sample_weight=w),
       "brier": m.brier_score_loss(y, s, sample_weight=w), "accuracy": m.accuracy_score(y, pred, sample_weight=w),
       "f1": m.f1_score(y, pred, sample_weight=w)}
for k in (1, 3, 5, 10):
    vals = []
    for rel, sc in zip(d["qrel"], d["qs"]):
        g = 2.0 ** np.array(rel) - 1
        if g.max() > 0:
            vals.append(m.ndcg_score([g], [sc], k=k, ignore_ties=True))
    out["ndcg@%d" % k] = float(np.mean(vals))
json.dump(out, sys.stdout)
`

// predictions trains ferry on a shared data set and returns its predictions
// on the test file: labels, scores and groups (nil without).
func predictions(t *testing.T, dir string, trainArgs, predictArgs []string) (labels, scores []float64, groups [][]int) {
	t.Helper()
	model := filepath.Join(dir, "model")
	preds := filepath.Join(dir, "predictions.csv")
	for _, args := range [][]string{append(trainArgs, "--out", model), append(predictArgs, "--model", model, "--out", preds)} {
		if out, code := runFerry(t, args...); code != 0 {
			t.Fatalf("ferry %v: %s", args, out)
		}
	}
	f, err := os.Open(preds)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	byGroup := map[string]int{}
	for i, r := range rows[1:] { // row,group,label,score
		y, _ := strconv.ParseFloat(r[2], 64)
		s, _ := strconv.ParseFloat(r[3], 64)
		labels, scores = append(labels, y), append(scores, s)
		if r[1] != "" {
			g, ok := byGroup[r[1]]
			if !ok {
				g = len(groups)
				byGroup[r[1]] = g
				groups = append(groups, nil)
			}
			groups[g] = append(groups[g], i)
		}
	}
	return labels, scores, groups
}

// On ferry's own predictions for the shared data sets (LightGBM's binary
// example with its weights, and its LambdaRank example), ferry's metrics
// equal scikit-learn's within 1e-9. Ranking scores get a tie-break of
// 1e-12 per row in input order, ferry's convention for ties, so that
// scikit-learn ranks them the same way.
func TestMetricsOnSharedDataMatchScikitLearn(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import sklearn").Run(); err != nil {
		testenv.Missing(t, "Debian's python3-sklearn", "run `make deps` (apt-get install python3-sklearn)")
	}
	bin := testenv.SharedData(t, "lightgbm-binary/binary.train")
	binTest := testenv.SharedData(t, "lightgbm-binary/binary.test")
	rank := testenv.SharedData(t, "lightgbm-lambdarank/rank.train")
	rankTest := testenv.SharedData(t, "lightgbm-lambdarank/rank.test")
	y, s, _ := predictions(t, t.TempDir(), []string{"train", "--data", bin, "--format", "tsv", "--label", "0", "--param", "trees=30"},
		[]string{"predict", "--data", binTest, "--format", "tsv"})
	var w []float64
	wb, err := os.ReadFile(binTest + ".weight")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Fields(string(wb)) {
		v, _ := strconv.ParseFloat(line, 64)
		w = append(w, v)
	}
	if len(w) != len(y) {
		t.Fatalf("%d weights for %d rows", len(w), len(y))
	}
	rl, rs, groups := predictions(t, t.TempDir(), []string{"train", "--data", rank, "--format", "libsvm", "--objective", "lambdarank", "--param", "trees=30"},
		[]string{"predict", "--data", rankTest, "--format", "libsvm"})
	if len(groups) != 50 {
		t.Fatalf("%d queries, want rank.test's 50", len(groups))
	}
	var qrel, qs [][]float64
	for i := range rs {
		rs[i] -= float64(i) * 1e-12
	}
	for _, g := range groups {
		var a, b []float64
		for _, r := range g {
			a, b = append(a, rl[r]), append(b, rs[r])
		}
		qrel, qs = append(qrel, a), append(qs, b)
	}
	in := filepath.Join(t.TempDir(), "in.json")
	raw, _ := json.Marshal(map[string]any{"y": y, "s": s, "w": w, "qrel": qrel, "qs": qs})
	os.WriteFile(in, raw, 0o644)
	out, err := exec.Command(py, "-c", sklearnShared, in).Output()
	if err != nil {
		t.Fatalf("scikit-learn: %v", err)
	}
	var want map[string]float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	got, err := metrics.AllWeighted(metrics.Binary, y, s, w, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := metrics.All(metrics.Ranking, rl, rs, groups, []int{1, 3, 5, 10})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r {
		got[k] = v
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 1e-9 {
			t.Errorf("%s: ferry %.12f, scikit-learn %.12f", k, got[k], v)
		}
	}
}
