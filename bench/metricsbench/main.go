// Command metricsbench measures `ferry metrics` against scikit-learn on the
// same CSV files, parse included, side by side in one run: 10 million
// binary rows (roc_auc_score and log_loss, the file read with numpy), and 1
// million queries of 20 documents (ndcg_score@10 on the reshaped arrays).
// It also times ferry's paired bootstrap: 1,000 resamples over 100,000
// queries.
//
//	go run ./bench/metricsbench [-rows 10000000] [-queries 1000000]
//
// It needs Debian's python3-sklearn (apt-get install python3-sklearn).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
	"github.com/ferry-ml/ferry/internal/compare"
)

func main() {
	rows := flag.Int("rows", 10_000_000, "binary rows")
	queries := flag.Int("queries", 1_000_000, "ranking queries of 20 documents")
	bootQueries := flag.Int("bootstrap-queries", 100_000, "queries for the bootstrap timing")
	flag.Parse()
	if err := run(*rows, *queries, *bootQueries); err != nil {
		fmt.Fprintln(os.Stderr, "metricsbench:", err)
		os.Exit(1)
	}
}

const pyBinary = `
import sys, time
import numpy as np
from sklearn.metrics import roc_auc_score, log_loss
t = time.perf_counter()
a = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
y, s = a[:, 0], a[:, 1]
auc = roc_auc_score(y, s)
ll = log_loss(y, np.clip(s, 1e-15, 1 - 1e-15))
print(f"{time.perf_counter() - t:.3f} auc={auc:.10f} logloss={ll:.10f}")
`

const pyRanking = `
import sys, time
import numpy as np
from sklearn.metrics import ndcg_score
t = time.perf_counter()
a = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, usecols=(1, 2))
y, s = a[:, 0].reshape(-1, 20), a[:, 1].reshape(-1, 20)
n = ndcg_score(y, s, k=10)
print(f"{time.perf_counter() - t:.3f} ndcg@10={n:.10f}")
`

func run(rows, queries, bootQueries int) error {
	dir, err := os.MkdirTemp("", "metricsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ferry := filepath.Join(dir, "ferry")
	if err := benchkit.Build(ferry, "./cmd/ferry"); err != nil {
		return err
	}
	binary, ranking := filepath.Join(dir, "binary.csv"), filepath.Join(dir, "ranking.csv")
	if err := writeBinary(binary, rows); err != nil {
		return err
	}
	if err := writeRanking(ranking, queries); err != nil {
		return err
	}
	fmt.Printf("Measured %s, %s, %d CPUs; each tool reads the same CSV file (parse included); medians of 3 runs.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU())
	fmt.Println("| data | ferry metrics | scikit-learn (numpy.loadtxt + metrics) | speed-up |")
	fmt.Println("|---|---|---|---|")
	for _, c := range []struct {
		what, file, py string
		args           []string
	}{
		{fmt.Sprintf("%d binary rows (AUC, log-loss; ferry: every binary metric)", rows), binary, pyBinary, nil},
		{fmt.Sprintf("%d queries x 20 documents (NDCG@10; ferry: every ranking metric at 1,3,5,10)", queries), ranking, pyRanking, []string{"--group", "group"}},
	} {
		var ft, pt []time.Duration
		var pyOut string
		for range 3 {
			start := time.Now()
			args := append([]string{"metrics", "--predictions", c.file, "--json"}, c.args...)
			if out, err := exec.Command(ferry, args...).CombinedOutput(); err != nil {
				return fmt.Errorf("ferry metrics: %v\n%s", err, out)
			}
			ft = append(ft, time.Since(start))
			start = time.Now()
			out, err := exec.Command("/usr/bin/python3", "-c", c.py, c.file).CombinedOutput()
			if err != nil {
				return fmt.Errorf("scikit-learn: %v\n%s (apt-get install python3-sklearn)", err, out)
			}
			pt = append(pt, time.Since(start))
			pyOut = strings.TrimSpace(string(out))
		}
		f, p := benchkit.Median(ft), benchkit.Median(pt)
		fmt.Printf("| %s | %.2f s | %.2f s | %.1fx |\n", c.what, f.Seconds(), p.Seconds(), p.Seconds()/f.Seconds())
		fmt.Fprintf(os.Stderr, "scikit-learn said: %s\n", pyOut)
	}

	// The paired bootstrap over queries, in process.
	s := rankingScores(bootQueries)
	start := time.Now()
	res, err := compare.Compare(s, compare.Options{Resamples: 1000, Confidence: 0.95, Seed: 1, K: []int{10}})
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("\nPaired bootstrap, 1,000 resamples over %d queries of 20 documents (%d metrics with intervals): %.2f s.\n",
		bootQueries, len(res.Metrics), took.Seconds())
	return nil
}

func writeBinary(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 1))
	w.WriteString("label,score\n")
	for range n {
		y := 0
		if r.Float64() < 0.3 {
			y = 1
		}
		p := 1 / (1 + math.Exp(-(float64(y)*1.5 - 0.8 + r.NormFloat64())))
		fmt.Fprintf(w, "%d,%.6f\n", y, p)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func writeRanking(path string, queries int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(2, 2))
	w.WriteString("group,label,score\n")
	for q := range queries {
		for range 20 {
			rel := r.IntN(4)
			fmt.Fprintf(w, "q%d,%d,%.6f\n", q, rel, float64(rel)*0.5+r.NormFloat64())
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func rankingScores(queries int) compare.Scores {
	r := rand.New(rand.NewPCG(3, 3))
	var s compare.Scores
	for range queries {
		var group []int
		for range 20 {
			rel := float64(r.IntN(4))
			group = append(group, len(s.Labels))
			s.Labels = append(s.Labels, rel)
			s.Champion = append(s.Champion, rel*0.5+r.NormFloat64())
			s.Candidate = append(s.Candidate, rel*0.6+r.NormFloat64())
		}
		s.Groups = append(s.Groups, group)
	}
	return s
}
