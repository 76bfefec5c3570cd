// Command searchbench measures ferry train --search on the shared data sets,
// without looking at their test rows: the searched model against ferry's
// defaults and XGBoost's defaults, on the test rows by the paired bootstrap
// of ferry evaluate and on the training rows by 5-fold cross-validation;
// and the search's wall time against the same number of XGBoost trials run
// one after another by a script (bench/searchbench/reference.py). It prints
// Markdown tables for BENCHMARKS.md.
//
//	go run ./bench/searchbench
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/search"
	"github.com/ferry-ml/ferry/internal/train"
)

// The search measured: ferry's defaults for a search, on its gbdt trainer.
const (
	trials   = 20
	folds    = 5
	parallel = 4
)

// set is one shared data set, split as ../shared/datasets/README.md says.
type set struct {
	name, kind, metric string
	train, test        *data.Dataset
	trainPath          string // as ferry reads them
	testPath           string
	read               data.Options
}

func main() {
	dir := flag.String("datasets", "../shared/datasets", "the shared data sets")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "searchbench:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	tmp, err := os.MkdirTemp("", "searchbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	sets, err := load(dir, tmp)
	if err != nil {
		return err
	}
	job := map[string]any{"trials": trials, "sets": map[string]map[string]string{}}
	for _, s := range sets {
		job["sets"].(map[string]map[string]string)[s.name] = map[string]string{"kind": s.kind, "train": s.trainPath, "test": s.testPath}
	}
	ref, err := reference(job)
	if err != nil {
		return err
	}
	fmt.Printf("Measured %s on %d cores: ferry's tpe search, %d trials, %d folds, %d at once, seed 1; XGBoost 1.7 defaults (hist, one thread).\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), trials, folds, parallel)
	fmt.Println("| data set | metric | CV ferry defaults | CV ferry searched | CV XGBoost defaults | test: searched − ferry defaults (95 % interval) | test: searched − XGBoost defaults (95 % interval) | search wall time | XGBoost trials in sequence | ratio |")
	fmt.Println("|---|---|---:|---:|---:|---|---|---:|---:|---:|")
	for _, s := range sets {
		if err := row(s, tmp, ref[s.name]); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

type refResult struct {
	TestScores    []float64 `json:"test_scores"`
	CV            float64   `json:"cv"`
	TrialsSeconds float64   `json:"trials_seconds"`
}

func reference(job map[string]any) (map[string]refResult, error) {
	b, _ := json.Marshal(job)
	cmd := exec.Command("/usr/bin/python3", "bench/searchbench/reference.py")
	cmd.Stdin, cmd.Stderr = bytes.NewReader(b), os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("reference.py (needs apt-get install python3-xgboost python3-sklearn): %w", err)
	}
	var res map[string]refResult
	return res, json.Unmarshal(out, &res)
}

// row trains ferry's defaults, its defaults once through the folds (their
// CV score), and the search; then compares on the test rows.
func row(s set, tmp string, ref refResult) error {
	ctx := context.Background()
	objective := "binary"
	if s.kind == "rank" {
		objective = "lambdarank"
	}
	cfg := func(out string) train.Config {
		return train.Config{Data: s.trainPath, Read: s.read, Algorithm: "gbdt", Objective: objective, Seed: 1, Out: filepath.Join(tmp, s.name+out)}
	}
	def, err := train.Run(ctx, cfg("-defaults"), io.Discard, nil)
	if err != nil {
		return err
	}
	// The defaults' CV: a one-point grid at a parameter's default value.
	dcv := cfg("-defaults-cv")
	dcv.Search = train.Search{Enabled: true, Strategy: "grid", Trials: 1, Folds: folds, Parallel: 1,
		Space: map[string]search.DimSpec{"max-depth": {Values: []string{"6"}}}}
	dres, err := train.Run(ctx, dcv, io.Discard, nil)
	if err != nil {
		return err
	}
	sc := cfg("-searched")
	sc.Search = train.Search{Enabled: true, Strategy: "tpe", Trials: trials, Folds: folds, Parallel: parallel}
	start := time.Now()
	sres, err := train.Run(ctx, sc, io.Discard, nil)
	if err != nil {
		return err
	}
	wall := time.Since(start).Seconds()
	searched, err := scores(sres.Dir, s.testPath)
	if err != nil {
		return err
	}
	defaults, err := scores(def.Dir, s.testPath)
	if err != nil {
		return err
	}
	vsFerry, err := change(s, searched, defaults)
	if err != nil {
		return err
	}
	vsXGB, err := change(s, searched, ref.TestScores)
	if err != nil {
		return err
	}
	fmt.Printf("| %s | %s | %.4f | %.4f | %.4f | %s | %s | %.1f s | %.1f s | %.2fx |\n", s.name, s.metric,
		dres.Manifest.Search.BestTrial().Score, sres.Manifest.Search.BestTrial().Score, ref.CV, vsFerry, vsXGB, wall, ref.TrialsSeconds, wall/ref.TrialsSeconds)
	return nil
}

// scores scores the test rows with the model in dir, read as ferry reads
// them.
func scores(dir, path string) ([]float64, error) {
	m, err := model.Load(dir)
	if err != nil {
		return nil, err
	}
	d, err := m.ReadData(context.Background(), path, data.Options{})
	if err != nil {
		return nil, err
	}
	return m.PredictDataset(d), nil
}

func change(s set, cand, champ []float64) (string, error) {
	sc := compare.Scores{Labels: s.test.Label, Candidate: cand, Champion: champ}
	if s.test.Group != nil {
		sc.Groups = s.test.Groups()
	}
	res, err := compare.Compare(sc, compare.Options{Resamples: 2000, Confidence: 0.95, Seed: 1, K: []int{10}})
	if err != nil {
		return "", err
	}
	m := res.Metric(s.metric)
	if m == nil {
		return "", fmt.Errorf("no %s in the comparison", s.metric)
	}
	return fmt.Sprintf("%+.4f [%+.4f, %+.4f] %s", m.Delta, m.Low, m.High, m.Verdict), nil
}

func load(dir, tmp string) ([]set, error) {
	binary, err := benchkit.BinarySets(dir)
	if err != nil {
		return nil, err
	}
	var out []set
	for _, name := range []string{"shoppers", "higgs"} {
		out = append(out, set{name: name, kind: "binary", metric: "auc", train: binary[name][0], test: binary[name][1]})
	}
	drop := []string{"Id"}
	for i := 1; i <= 26; i++ {
		drop = append(drop, "C"+strconv.Itoa(i))
	}
	criteo, err := data.Read(context.Background(), dir+"/criteo-tiny/train.tiny.csv", data.Options{Label: "Label", Drop: drop})
	if err != nil {
		return nil, err
	}
	c := benchkit.Split(criteo, func(i int) bool { return i >= 1600 })
	out = append(out, set{name: "criteo", kind: "binary", metric: "auc", train: c[0], test: c[1]})
	rtr, err := data.Read(context.Background(), dir+"/lightgbm-lambdarank/rank.train", data.Options{})
	if err != nil {
		return nil, err
	}
	rte, err := data.Read(context.Background(), dir+"/lightgbm-lambdarank/rank.test", data.Options{Schema: rtr.Schema()})
	if err != nil {
		return nil, err
	}
	out = append(out, set{name: "rank", kind: "rank", metric: "ndcg@10", train: rtr, test: rte,
		trainPath: dir + "/lightgbm-lambdarank/rank.train", testPath: dir + "/lightgbm-lambdarank/rank.test"})
	// ferry and XGBoost read the binary sets' numeric columns from the same
	// CSV files.
	for i := range out {
		if out[i].trainPath == "" {
			out[i].trainPath = filepath.Join(tmp, out[i].name+".train.csv")
			out[i].testPath = filepath.Join(tmp, out[i].name+".test.csv")
			out[i].read = data.Options{Label: "y"}
			if err := benchkit.WriteCSV(out[i].trainPath, out[i].train); err != nil {
				return nil, err
			}
			if err := benchkit.WriteCSV(out[i].testPath, out[i].test); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
