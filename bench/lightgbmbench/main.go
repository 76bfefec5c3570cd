// Command lightgbmbench measures ferry's leaf-wise gradient-boosted trees
// against LightGBM's own command-line program on the same files, each as a
// whole process (read, bin, train, write the model), best of several runs,
// at one thread and at two. Quality is compared the way a pull request
// would: `ferry evaluate`'s paired bootstrap of ferry's model against
// LightGBM's (imported with `ferry model import`) on the test file.
//
// LightGBM is not installable on these machines: build it from its source
// beside the project (BENCHMARKS.md says how) and name the program with
// -lightgbm or $LIGHTGBM. Nothing of it is part of ferry.
//
//	go run ./bench/lightgbmbench -lightgbm /work/lgbm/src/lightgbm            # the table
//	go run ./bench/lightgbmbench -lightgbm /work/lgbm/src/lightgbm -scaling   # 1M to 4M rows
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
)

// task is one data set with the parameters both programs train it with,
// written as each program spells them.
type task struct {
	name      string
	train     string // path of the training file
	test      string // path of the test file
	metric    string // the quality metric compared
	lightgbm  []string
	ferry     []string
	readFlags []string // how ferry reads the files
}

func main() {
	lgb := flag.String("lightgbm", os.Getenv("LIGHTGBM"), "LightGBM's command-line program, built from its source")
	datasets := flag.String("datasets", "../shared/datasets", "the shared data sets")
	runs := flag.Int("runs", 5, "runs of each program per cell, taking turns; the best counts")
	scaling := flag.Bool("scaling", false, "run the scaling benchmark (generated HIGGS-like rows) instead")
	rows := flag.String("rows", "1000000,2000000,4000000", "scaling: the row counts")
	flag.Parse()
	if err := run(*lgb, *datasets, *runs, *scaling, *rows); err != nil {
		fmt.Fprintln(os.Stderr, "lightgbmbench:", err)
		os.Exit(1)
	}
}

func run(lgb, datasets string, runs int, scaling bool, rows string) error {
	if lgb == "" {
		return errors.New("no LightGBM program: give -lightgbm or $LIGHTGBM (BENCHMARKS.md says how to build it)")
	}
	if _, err := exec.LookPath(lgb); err != nil {
		return fmt.Errorf("LightGBM program: %w", err)
	}
	work, err := os.MkdirTemp("", "lightgbmbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ferry := filepath.Join(work, "ferry")
	if err := benchkit.Build(ferry, "./cmd/ferry"); err != nil {
		return err
	}
	version, err := lightgbmVersion(lgb)
	if err != nil {
		return err
	}
	fmt.Printf("Measured %s, %s, LightGBM %s, %d CPUs.\n\n", time.Now().UTC().Format("2006-01-02"), runtime.Version(), version, runtime.NumCPU())
	if scaling {
		counts, err := parseRows(rows)
		if err != nil {
			return err
		}
		return runScaling(work, lgb, ferry, datasets, counts)
	}
	tasks, err := sharedTasks(work, datasets)
	if err != nil {
		return err
	}
	return runTable(work, lgb, ferry, tasks, runs)
}

// sharedTasks are the two sets. The HIGGS file is copied alone: beside
// it sits binary.train.weight, which LightGBM would load as row weights and
// ferry does not read.
func sharedTasks(work, datasets string) ([]task, error) {
	higgs := filepath.Join(work, "higgs")
	if err := os.MkdirAll(higgs, 0o755); err != nil {
		return nil, err
	}
	for _, f := range []string{"binary.train", "binary.test"} {
		b, err := os.ReadFile(filepath.Join(datasets, "lightgbm-binary", f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(higgs, f), b, 0o644); err != nil {
			return nil, err
		}
	}
	rank := filepath.Join(datasets, "lightgbm-lambdarank")
	return []task{
		{
			name: "rank.train", train: filepath.Join(rank, "rank.train"), test: filepath.Join(rank, "rank.test"), metric: "ndcg@10",
			lightgbm:  []string{"objective=lambdarank", "num_leaves=31", "min_data_in_leaf=50", "min_sum_hessian_in_leaf=5", "bagging_fraction=0.9", "bagging_freq=1"},
			ferry:     []string{"--objective", "lambdarank", "--param", "max-leaves=31", "--param", "min-data-in-leaf=50", "--param", "min-child-weight=5", "--param", "subsample=0.9"},
			readFlags: []string{"--format", "libsvm"},
		},
		higgsTask(filepath.Join(higgs, "binary.train"), filepath.Join(higgs, "binary.test")),
	}, nil
}

// higgsTask is HIGGS with 31 leaves and LightGBM's defaults for the rest,
// which ferry is given explicitly (its own defaults differ: λ=1, a hessian
// of 1 per leaf).
func higgsTask(train, test string) task {
	return task{
		name: "HIGGS", train: train, test: test, metric: "auc",
		lightgbm:  []string{"objective=binary", "num_leaves=31", "label_column=0", "header=false"},
		ferry:     []string{"--objective", "binary", "--param", "max-leaves=31", "--param", "min-data-in-leaf=20", "--param", "min-child-weight=0.001", "--param", "lambda=0"},
		readFlags: []string{"--format", "tsv", "--header", "false", "--label", "0"},
	}
}

// lightgbmArgs is LightGBM's command line for t at the given threads.
func lightgbmArgs(t task, threads int, model string) []string {
	args := []string{"task=train", "data=" + t.train, "num_trees=100", "learning_rate=0.1", "seed=7", "verbosity=-1",
		"num_threads=" + strconv.Itoa(threads), "output_model=" + model}
	return append(args, t.lightgbm...)
}

// ferryArgs is ferry's command line for the same training.
func ferryArgs(t task, threads int, out string) []string {
	args := []string{"train", "--data", t.train, "--algorithm", "gbdt", "--seed", "7", "--out", out,
		"--param", "trees=100", "--param", "learning-rate=0.1", "--param", "max-depth=0", "--param", "threads=" + strconv.Itoa(threads)}
	args = append(args, t.readFlags...)
	return append(args, t.ferry...)
}

// measure runs a command and returns its wall time and peak resident memory
// in MiB.
func measure(name string, args ...string) (time.Duration, float64, error) {
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	elapsed := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return elapsed, float64(ru.Maxrss) / 1024, nil
}

// timedRun is one program's command line and its fastest run so far.
type timedRun struct {
	name    string
	args    []string
	fastest time.Duration
	peak    float64
}

// best runs each command n times, taking turns (so that a slow spell of a
// shared machine falls on both), and keeps each one's fastest time and
// highest peak memory.
func best(n int, cmds ...*timedRun) error {
	for i := 0; i < n; i++ {
		for _, c := range cmds {
			d, mib, err := measure(c.name, c.args...)
			if err != nil {
				return err
			}
			if i == 0 || d < c.fastest {
				c.fastest = d
			}
			c.peak = max(c.peak, mib)
		}
	}
	return nil
}

func runTable(work, lgb, ferry string, tasks []task, runs int) error {
	fmt.Printf("Whole process (read, bin, train, write), best of %d; 100 trees, learning rate 0.1, seed 7.\n\n", runs)
	fmt.Println("| data | threads | LightGBM s | ferry s | ratio | LightGBM MiB | ferry MiB | quality on the test file: ferry vs LightGBM, 95% interval of the change |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---|")
	for _, t := range tasks {
		for _, threads := range []int{1, 2} {
			lmodel := filepath.Join(work, fmt.Sprintf("%s-%d-lightgbm.txt", t.name, threads))
			fmodel := filepath.Join(work, fmt.Sprintf("%s-%d-ferry", t.name, threads))
			l := &timedRun{name: lgb, args: lightgbmArgs(t, threads, lmodel)}
			f := &timedRun{name: ferry, args: ferryArgs(t, threads, fmodel)}
			if err := best(runs, l, f); err != nil {
				return err
			}
			q, err := quality(work, ferry, t, fmodel, lmodel)
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %d | %.3f | %.3f | %.2fx | %.0f | %.0f | %s |\n", t.name, threads, l.fastest.Seconds(), f.fastest.Seconds(),
				f.fastest.Seconds()/l.fastest.Seconds(), l.peak, f.peak, q)
		}
	}
	return nil
}

// quality imports LightGBM's model and compares ferry's with it on the test
// file through `ferry evaluate`, ferry's model as the candidate.
func quality(work, ferry string, t task, fmodel, lmodel string) (string, error) {
	imported := lmodel + ".dir"
	args := append([]string{"model", "import", "--from", "lightgbm", lmodel, "--data", t.train, "--out", imported}, t.readFlags...)
	if out, err := exec.Command(ferry, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("import LightGBM's model: %v\n%s", err, out)
	}
	report := filepath.Join(work, "evaluate.json")
	args = append([]string{"evaluate", "--candidate", fmodel, "--champion", imported, "--data", t.test, "--json", report}, t.readFlags...)
	if out, err := exec.Command(ferry, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ferry evaluate: %v\n%s", err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		return "", err
	}
	var r struct {
		Metrics map[string]struct {
			Candidate, Champion, Low, High float64
			Verdict                        string
		}
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return "", fmt.Errorf("ferry evaluate's report: %w", err)
	}
	m, ok := r.Metrics[t.metric]
	if !ok {
		return "", fmt.Errorf("ferry evaluate's report has no %s", t.metric)
	}
	return fmt.Sprintf("%s %.4f vs %.4f, [%+.4f, %+.4f]: %s", t.metric, m.Candidate, m.Champion, m.Low, m.High, m.Verdict), nil
}

// lightgbmVersion is the VERSION.txt of the source tree the program was
// built in (the program prints none) and the tree's commit.
func lightgbmVersion(lgb string) (string, error) {
	dir := filepath.Dir(lgb)
	v, err := os.ReadFile(filepath.Join(dir, "VERSION.txt"))
	if err != nil {
		return "", fmt.Errorf("LightGBM's version: %w (run the program from its source tree, where the build leaves it)", err)
	}
	version := strings.TrimSpace(string(v))
	if out, err := exec.Command("git", "-C", dir, "rev-parse", "--short", "HEAD").Output(); err == nil {
		version += " (commit " + strings.TrimSpace(string(out)) + ")"
	}
	return version, nil
}

func parseRows(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-rows %q: want comma-separated row counts such as 1000000,2000000", s)
		}
		out = append(out, n)
	}
	return out, nil
}
