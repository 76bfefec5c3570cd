// Command trainbench measures ferry's trainers against XGBoost 1.7 and
// scikit-learn 1.2 (Debian's, /usr/bin/python3) on the shared data sets, side
// by side in one run, with the splits of ../shared/datasets/README.md and one
// documented parameter set per task, the same for both sides. It prints
// Markdown tables for BENCHMARKS.md.
//
//	go run ./bench/trainbench            # quality and speed against the references
//	go run ./bench/trainbench -scaling   # time and peak memory against rows
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gbdt"
	"github.com/ferry-ml/ferry/internal/linear"
	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/internal/mlp"
)

// The parameter sets, one per task, used by ferry and XGBoost alike.
var (
	rankParams = map[string]any{"trees": 100, "eta": 0.1, "max_depth": 6}
	// lightgbmSet is the one documented parameter set for the ranking task:
	// LightGBM's own example for this data set (examples/lambdarank/
	// train.conf): 100 trees, learning rate 0.1, 31 leaves grown best first,
	// at least 50 rows and a hessian of 5 per leaf, 90 % of the rows per tree.
	// Both sides run it; it was tried once, not tuned.
	lightgbmSet  = map[string]any{"trees": 100, "eta": 0.1, "max_leaves": 31, "min_data_in_leaf": 50, "min_hessian": 5.0, "subsample": 0.9}
	binaryParams = map[string]any{"trees": 200, "eta": 0.1, "max_depth": 4}
)

func main() {
	scaling := flag.Bool("scaling", false, "run the scaling benchmark instead")
	selectSet := flag.Bool("select", false, "choose the binary task's parameter set by cross-validation on the training rows instead")
	child := flag.Int("scale-child", 0, "internal: train on this many generated rows and report")
	datasets := flag.String("datasets", "../shared/datasets", "the shared data sets")
	flag.Parse()
	var err error
	switch {
	case *child > 0:
		err = scaleChild(*child)
	case *scaling:
		err = runScaling()
	case *selectSet:
		err = runSelect(*datasets)
	default:
		err = runQuality(*datasets)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trainbench:", err)
		os.Exit(1)
	}
}

type result map[string]float64

// outcome is one side's run: metrics and seconds by data set/model, and the
// test-set scores of the models compared row by row.
type outcome struct {
	Results map[string]result
	Scores  map[string][]float64
}

func runQuality(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	oursRun, err := ferryResults(abs)
	if err != nil {
		return err
	}
	refRun, err := referenceResults(abs)
	if err != nil {
		return err
	}
	ours, ref := oursRun.Results, refRun.Results
	fmt.Printf("Measured %s, %s, %d CPUs, %s.\n\n", time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), runtime.GOARCH)
	fmt.Println("| data set | model | quality (test) | train seconds | vs reference |")
	fmt.Println("|---|---|---|---:|---:|")
	rows := []struct{ key, refKey, metric string }{
		{"rank/ferry-gbdt-1t", "rank/xgboost", "ndcg"},
		{"rank/ferry-gbdt-2t", "rank/xgboost", "ndcg"},
		{"rank/ferry-gbdt-lightgbm-set", "rank/xgboost-lightgbm-set", "ndcg"},
	}
	for _, ds := range []string{"shoppers", "higgs", "criteo"} {
		rows = append(rows,
			struct{ key, refKey, metric string }{ds + "/ferry-gbdt-1t", ds + "/xgboost", "auc"},
			struct{ key, refKey, metric string }{ds + "/ferry-gbdt-2t", ds + "/xgboost", "auc"},
			struct{ key, refKey, metric string }{ds + "/ferry-gbdt-defaults", ds + "/xgboost-defaults", "auc"},
			struct{ key, refKey, metric string }{ds + "/ferry-logistic", ds + "/sklearn-logistic", "auc"},
			struct{ key, refKey, metric string }{ds + "/ferry-mlp", ds + "/sklearn-mlp", "auc"},
			struct{ key, refKey, metric string }{ds + "/ferry-mlp-30-epochs", ds + "/sklearn-mlp-30-epochs", "auc"},
		)
	}
	printed := map[string]bool{}
	for _, r := range rows {
		if !printed[r.refKey] {
			printed[r.refKey] = true
			fmt.Printf("| %s | %s | %s | %.3f | reference |\n", strings.Split(r.refKey, "/")[0], strings.Split(r.refKey, "/")[1], quality(ref[r.refKey], r.metric), ref[r.refKey]["seconds"])
		}
		o := ours[r.key]
		fmt.Printf("| %s | %s | %s | %.3f | %.2fx the time |\n", strings.Split(r.key, "/")[0], strings.Split(r.key, "/")[1], quality(o, r.metric), o["seconds"], o["seconds"]/ref[r.refKey]["seconds"])
	}
	return compareExact(oursRun, refRun)
}

// compareExact sets ferry's shared-set models against XGBoost's exact greedy
// method (the README's reference numbers) on the same test rows, with ferry's
// own paired bootstrap (internal/evaluate): the change in AUC and its 95 %
// interval say whether the two differ beyond the noise of the test set.
func compareExact(ours, ref outcome) error {
	fmt.Println()
	fmt.Println("ferry (shared set) against XGBoost's exact method: on the same test rows, with the paired bootstrap of")
	fmt.Println("`ferry evaluate` (rows resampled, 2,000 times), and on five folds of the training rows (row index % 5):")
	fmt.Println()
	fmt.Println("| data set | test rows | ferry AUC | XGBoost exact AUC | change | 95 % interval | verdict | CV AUC ferry | CV AUC XGBoost exact |")
	fmt.Println("|---|---:|---:|---:|---:|---|---|---:|---:|")
	for _, ds := range []string{"shoppers", "higgs", "criteo"} {
		labels, cand, champ := ours.Scores[ds+"/labels"], ours.Scores[ds+"/ferry-gbdt-1t"], ref.Scores[ds+"/xgboost-exact"]
		res, err := compare.Compare(compare.Scores{Labels: labels, Candidate: cand, Champion: champ},
			compare.Options{Resamples: 2000, Confidence: 0.95, Seed: 1})
		if err != nil {
			return fmt.Errorf("%s: %w", ds, err)
		}
		m := res.Metric("auc")
		if m == nil {
			return fmt.Errorf("%s: no AUC in the comparison", ds)
		}
		fmt.Printf("| %s | %d | %.4f | %.4f | %+.4f | [%+.4f, %+.4f] | %s | %.4f | %.4f |\n", ds, res.Rows, m.Candidate, m.Champion, m.Delta, m.Low, m.High, m.Verdict,
			ours.Results[ds+"/ferry-gbdt-1t"]["cv_auc"], ref.Results[ds+"/xgboost-exact"]["cv_auc"])
	}
	return nil
}

func quality(r result, metric string) string {
	if metric == "ndcg" {
		return fmt.Sprintf("NDCG@1/3/5/10 %.3f / %.3f / %.3f / **%.3f**", r["ndcg@1"], r["ndcg@3"], r["ndcg@5"], r["ndcg@10"])
	}
	return fmt.Sprintf("AUC **%.3f**, logloss %.3f", r["auc"], r["logloss"])
}

// referenceResults runs reference.py with Debian's Python.
func referenceResults(dir string) (outcome, error) {
	job, _ := json.Marshal(map[string]any{"datasets": dir, "rank": rankParams, "rank_lightgbm_set": lightgbmSet, "binary": binaryParams})
	cmd := exec.Command("/usr/bin/python3", "bench/trainbench/reference.py")
	cmd.Stdin = bytes.NewReader(job)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return outcome{}, fmt.Errorf("reference.py (needs apt-get install python3-xgboost python3-sklearn): %w", err)
	}
	var res outcome
	if err := json.Unmarshal(out, &res); err != nil {
		return outcome{}, fmt.Errorf("reference.py output: %w", err)
	}
	return res, nil
}

func ferryResults(dir string) (outcome, error) {
	res, scores := map[string]result{}, map[string][]float64{}
	if err := ferryRanking(dir, res); err != nil {
		return outcome{}, err
	}
	splits, err := benchkit.BinarySets(dir)
	if err != nil {
		return outcome{}, err
	}
	var drop []string
	drop = append(drop, "Id")
	for i := 1; i <= 26; i++ {
		drop = append(drop, "C"+strconv.Itoa(i))
	}
	criteo, err := data.Read(context.Background(), dir+"/criteo-tiny/train.tiny.csv", data.Options{Label: "Label", Drop: drop})
	if err != nil {
		return outcome{}, err
	}
	splits["criteo"] = benchkit.Split(criteo, func(i int) bool { return i >= 1600 })
	for name, s := range splits {
		if err := ferryBinary(name, s[0], s[1], res, scores); err != nil {
			return outcome{}, err
		}
	}
	return outcome{Results: res, Scores: scores}, nil
}

// ferryRanking trains ferry's LambdaMART on rank.train at one and two
// threads, and with LightGBM's example parameters, into res.
func ferryRanking(dir string, res map[string]result) error {
	ctx := context.Background()
	rtr, err := data.Read(context.Background(), dir+"/lightgbm-lambdarank/rank.train", data.Options{})
	if err != nil {
		return err
	}
	rte, err := data.Read(context.Background(), dir+"/lightgbm-lambdarank/rank.test", data.Options{Schema: rtr.Schema()})
	if err != nil {
		return err
	}
	for _, threads := range []int{1, 2} {
		p := gbdt.DefaultParams(gbdt.LambdaRank)
		p.Trees, p.LearningRate, p.MaxDepth, p.Threads = 100, 0.1, 6, threads
		r, secs, err := bestOf(func() (*gbdt.Result, error) { return gbdt.Train(ctx, p, rtr, nil, nil) })
		if err != nil {
			return err
		}
		res[fmt.Sprintf("rank/ferry-gbdt-%dt", threads)] = rankResult(rte, r.Model.PredictDataset(rte), secs)
	}
	p := gbdt.DefaultParams(gbdt.LambdaRank)
	p.Trees, p.LearningRate, p.MaxDepth, p.MaxLeaves = lightgbmSet["trees"].(int), lightgbmSet["eta"].(float64), 0, lightgbmSet["max_leaves"].(int)
	p.MinDataInLeaf, p.MinChildWeight, p.Subsample, p.Threads = lightgbmSet["min_data_in_leaf"].(int), lightgbmSet["min_hessian"].(float64), lightgbmSet["subsample"].(float64), 1
	r, secs, err := bestOf(func() (*gbdt.Result, error) { return gbdt.Train(ctx, p, rtr, nil, nil) })
	if err != nil {
		return err
	}
	res["rank/ferry-gbdt-lightgbm-set"] = rankResult(rte, r.Model.PredictDataset(rte), secs)

	return nil
}

// ferryBinary trains ferry's learners on one binary set (name) into res,
// and keeps the one-thread GBDT's scores and the labels in scores.
func ferryBinary(name string, train, test *data.Dataset, res map[string]result, scores map[string][]float64) error {
	ctx := context.Background()
	for _, threads := range []int{1, 2} {
		p := gbdt.DefaultParams(gbdt.Binary)
		p.Trees, p.LearningRate, p.MaxDepth, p.Threads = 200, 0.1, 4, threads
		r, secs, err := bestOf(func() (*gbdt.Result, error) { return gbdt.Train(ctx, p, train, nil, nil) })
		if err != nil {
			return err
		}
		s := r.Model.PredictDataset(test)
		res[fmt.Sprintf("%s/ferry-gbdt-%dt", name, threads)] = binary(test, s, secs)
		if threads == 1 {
			scores[name+"/ferry-gbdt-1t"], scores[name+"/labels"] = s, test.Label
		}
	}
	// The same set on five folds of the training rows, as reference.py
	// does for XGBoost's exact method.
	cv := gbdt.DefaultParams(gbdt.Binary)
	cv.Trees, cv.LearningRate, cv.MaxDepth, cv.EarlyStopping, cv.Threads = 200, 0.1, 4, 0, 0
	cvAUC, _, err := crossValidate(train, cv)
	if err != nil {
		return err
	}
	res[name+"/ferry-gbdt-1t"]["cv_auc"] = cvAUC
	// Each tool's defaults: ferry's (100 trees, learning rate 0.1,
	// depth 6, no early stopping without validation data) against
	// XGBoost's (eta 0.3, depth 6) at 100 rounds, as its scikit-learn
	// API defaults.
	def := gbdt.DefaultParams(gbdt.Binary)
	def.Threads = 1
	r, secs, err := bestOf(func() (*gbdt.Result, error) { return gbdt.Train(ctx, def, train, nil, nil) })
	if err != nil {
		return err
	}
	res[name+"/ferry-gbdt-defaults"] = binary(test, r.Model.PredictDataset(test), secs)
	lr, secs, err := bestOf(func() (*linear.Result, error) {
		return linear.Train(ctx, linear.DefaultParams("binary"), train, nil, nil)
	})
	if err != nil {
		return err
	}
	res[name+"/ferry-logistic"] = binary(test, lr.Model.PredictDataset(test), secs)
	nn, secs, err := bestOf(func() (*mlp.Result, error) { return mlp.Train(ctx, mlp.DefaultParams("binary"), train, nil, nil) })
	if err != nil {
		return err
	}
	res[name+"/ferry-mlp"] = binary(test, nn.Model.PredictDataset(test), secs)
	// The same network for exactly 30 epochs, no dropout and no early
	// stopping, as scikit-learn's MLPClassifier(max_iter=30) trains it.
	fixed := mlp.DefaultParams("binary")
	fixed.Epochs, fixed.Dropout, fixed.ValidFraction = 30, 0, 0
	nn, secs, err = bestOf(func() (*mlp.Result, error) { return mlp.Train(ctx, fixed, train, nil, nil) })
	if err != nil {
		return err
	}
	res[name+"/ferry-mlp-30-epochs"] = binary(test, nn.Model.PredictDataset(test), secs)
	return nil
}

func rankResult(test *data.Dataset, scores []float64, secs float64) result {
	out := result{"seconds": secs}
	for _, k := range []int{1, 3, 5, 10} {
		out["ndcg@"+strconv.Itoa(k)] = metrics.NDCG(test.Label, scores, test.Groups(), k)
	}
	return out
}

// runs is how many times each training runs; the fastest counts, on both
// sides (reference.py does the same), since the machines are shared.
const runs = 5

// bestOf trains runs times and returns the last model and the least seconds.
func bestOf[T any](train func() (T, error)) (T, float64, error) {
	var out T
	best := math.Inf(1)
	for range runs {
		start := time.Now()
		var err error
		if out, err = train(); err != nil {
			return out, 0, err
		}
		best = min(best, time.Since(start).Seconds())
	}
	return out, best, nil
}

func binary(test *data.Dataset, scores []float64, secs float64) result {
	return result{"seconds": secs, "auc": metrics.AUC(test.Label, scores), "logloss": metrics.LogLoss(test.Label, scores)}
}

// The scaling run: generated rows × 50 features, 20 trees of depth 6 on all
// cores, each size in a child process so that its peak memory is its own.
const (
	scaleFeatures = 50
	scaleTrees    = 20
)

func runScaling() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("Measured %s, %s, %d CPUs: %d features, %d trees of depth 6, all cores.\n\n", time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), scaleFeatures, scaleTrees)
	fmt.Println("| rows | train seconds | seconds per million rows | peak memory (MiB) | raw float32 matrix (MiB) | peak / raw |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|")
	for _, rows := range []int{100_000, 1_000_000, 4_000_000} {
		cmd := exec.Command(self, "-scale-child", strconv.Itoa(rows))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%d rows: %w", rows, err)
		}
		var r struct{ Seconds float64 }
		if err := json.Unmarshal(out, &r); err != nil {
			return err
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		peak := float64(ru.Maxrss) / 1024 // KiB to MiB
		raw := float64(rows*scaleFeatures*4) / (1 << 20)
		fmt.Printf("| %d | %.2f | %.2f | %.0f | %.0f | %.2f |\n", rows, r.Seconds, r.Seconds/float64(rows)*1e6, peak, raw, peak/raw)
	}
	return nil
}

// scaleChild generates data (a logistic function of a few features, with 2 %
// missing values), trains, and prints the training time as JSON.
func scaleChild(rows int) error {
	rng := rand.New(rand.NewPCG(42, uint64(rows)))
	d := &data.Dataset{Rows: rows, Label: make([]float64, rows)}
	for j := 0; j < scaleFeatures; j++ {
		vals := make([]float32, rows)
		for i := range vals {
			vals[i] = float32(rng.NormFloat64())
			if rng.Float64() < 0.02 {
				vals[i] = float32(math.NaN())
			}
		}
		d.Columns = append(d.Columns, data.Column{Name: "x" + strconv.Itoa(j), Values: vals})
	}
	for i := 0; i < rows; i++ {
		z := 0.0
		for j := 0; j < 5; j++ {
			if v := d.Columns[j].Values[i]; !math.IsNaN(float64(v)) {
				z += float64(v) * float64(j+1) / 3
			}
		}
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			d.Label[i] = 1
		}
	}
	p := gbdt.DefaultParams(gbdt.Binary)
	p.Trees, p.MaxDepth = scaleTrees, 6
	start := time.Now()
	if _, err := gbdt.Train(context.Background(), p, d, nil, nil); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{"seconds": time.Since(start).Seconds()})
}
