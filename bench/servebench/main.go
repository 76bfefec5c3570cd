// Command servebench measures ferry-serve against a Flask + scikit-learn
// server of the same model type, side by side in one run, under wrk on
// loopback, with 1 and 100 rows per request: the ferry-serve binary built
// from the working tree, a process of its own as the Flask server is, each
// server measured three times, in turn with the other, and the median run
// reported (every run's rate goes to standard error).
//
//	go run ./bench/servebench
//
// With -drift it measures instead what counting every scored row into the
// training profile's bins costs (issue 18's budget: at most 5 % fewer
// requests per second): the same model served with its profile.json and
// without it, alternately, three runs each, the median.
//
//	go run ./bench/servebench -drift
//
// It needs wrk and Debian's python3-flask and python3-sklearn
// (apt-get install wrk python3-flask python3-sklearn).
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/profile"
	"github.com/ferry-ml/ferry/internal/train"
)

func main() {
	drift := flag.Bool("drift", false, "measure the drift counters' cost instead")
	flag.Parse()
	run := run
	if *drift {
		run = runDrift
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		os.Exit(1)
	}
}

// drop leaves the online-shoppers features numeric, for scikit-learn.
var drop = []string{"Month", "VisitorType"}

func run() error {
	dir, err := os.MkdirTemp("", "servebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := "../shared/datasets/online-shoppers-intention/online_shoppers_intention.csv"
	d, err := data.Read(context.Background(), src, data.Options{Label: "Revenue", Drop: drop})
	if err != nil {
		return err
	}
	// The same rows as a plain numeric CSV for the Python side.
	csvPath := filepath.Join(dir, "train.csv")
	if err := benchkit.WriteCSV(csvPath, d); err != nil {
		return err
	}
	bin := filepath.Join(dir, "ferry-serve")
	if err := benchkit.Build(bin, "./cmd/ferry-serve"); err != nil {
		return err
	}
	fmt.Printf("Measured %s, %s, %d CPUs; wrk -t2 -c16 -d10s on loopback, server and wrk on the same machine; the median of %d runs each, the servers taking turns.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), turns)
	fmt.Println("| model | rows/request | server | requests/s | p50 ms | p99 ms | throughput ratio |")
	fmt.Println("|---|---:|---|---:|---:|---:|---:|")
	for _, algo := range []string{"gbdt", "mlp"} {
		out := filepath.Join(dir, algo)
		if _, err := train.Run(context.Background(), train.Config{Data: csvPath, Read: data.Options{Label: "y"}, Algorithm: algo,
			Objective: "binary", Out: out}, io.Discard, nil); err != nil {
			return err
		}
		if err := compare(bin, algo, out, csvPath, d); err != nil {
			return err
		}
	}
	return nil
}

// turns is how many times each server is measured, in turn with the other.
const turns = 3

// compare measures the ferry-serve binary bin serving modelDir against the
// Flask server of the same model type, at 1 and 100 rows a request, and
// prints a row for each: the median run of each server.
func compare(bin, algo, modelDir, csvPath string, d *data.Dataset) error {
	ferryAddr, stop, err := startFerry(bin, modelDir)
	if err != nil {
		return err
	}
	defer stop()
	flaskAddr, stopFlask, err := startFlask(algo, csvPath)
	if err != nil {
		return err
	}
	defer stopFlask()
	for _, rows := range []int{1, 100} {
		body := requestBody(d, rows)
		var f, p []benchkit.WrkResult
		for range turns {
			r, err := benchkit.Wrk("http://"+ferryAddr+"/v2/models/"+algo+"/infer", body, nil, wrkArgs...)
			if err != nil {
				return err
			}
			f = append(f, r)
			if r, err = benchkit.Wrk("http://"+flaskAddr+"/v2/models/m/infer", body, nil, wrkArgs...); err != nil {
				return err
			}
			p = append(p, r)
		}
		fm, pm := medianRun(f), medianRun(p)
		fmt.Printf("| %s | %d | Flask + scikit-learn | %.0f | %.2f | %.2f | 1 |\n", algo, rows, pm.RPS, pm.P50, pm.P99)
		fmt.Printf("| %s | %d | ferry-serve | %.0f | %.2f | %.2f | %.1fx |\n", algo, rows, fm.RPS, fm.P50, fm.P99, fm.RPS/pm.RPS)
		fmt.Fprintf(os.Stderr, "%s, %d rows: ferry-serve %s, Flask %s requests/s\n", algo, rows, rates(f), rates(p))
	}
	return nil
}

// medianRun is the run of median throughput.
func medianRun(runs []benchkit.WrkResult) benchkit.WrkResult {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b benchkit.WrkResult) int { return cmp.Compare(a.RPS, b.RPS) })
	return s[len(s)/2]
}

func rates(runs []benchkit.WrkResult) string {
	var s []string
	for _, r := range runs {
		s = append(s, fmt.Sprintf("%.0f", r.RPS))
	}
	return strings.Join(s, ", ")
}

// runDrift serves each model with and without its profile, alternately,
// and prints the requests per second of each and their ratio.
func runDrift() error {
	dir, err := os.MkdirTemp("", "servebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d, err := data.Read(context.Background(), "../shared/datasets/online-shoppers-intention/online_shoppers_intention.csv", data.Options{Label: "Revenue", Drop: drop})
	if err != nil {
		return err
	}
	csvPath := filepath.Join(dir, "train.csv")
	if err := benchkit.WriteCSV(csvPath, d); err != nil {
		return err
	}
	bin := filepath.Join(dir, "ferry-serve")
	if err := benchkit.Build(bin, "./cmd/ferry-serve"); err != nil {
		return err
	}
	fmt.Printf("Measured %s, %s, %d CPUs; wrk -t2 -c16 -d10s on loopback, server and wrk on the same machine; median of 3 runs each, alternating.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU())
	fmt.Println("| model | rows/request | without profile (req/s) | with drift counts (req/s) | ratio |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, algo := range []string{"gbdt", "mlp"} {
		with := filepath.Join(dir, algo)
		if _, err := train.Run(context.Background(), train.Config{Data: csvPath, Read: data.Options{Label: "y"}, Algorithm: algo,
			Objective: "binary", Out: with}, io.Discard, nil); err != nil {
			return err
		}
		without := filepath.Join(dir, algo+"-bare", algo)
		if err := os.MkdirAll(filepath.Dir(without), 0o755); err != nil {
			return err
		}
		if out, err := exec.Command("cp", "-r", with, filepath.Dir(without)+"/").CombinedOutput(); err != nil {
			return fmt.Errorf("copy the model: %v: %s", err, out)
		}
		if err := os.Remove(filepath.Join(without, profile.File)); err != nil {
			return err
		}
		for _, rows := range []int{1, 100} {
			body := requestBody(d, rows)
			var rps [2][]float64
			for range 3 {
				for i, m := range []string{without, with} {
					addr, stop, err := startFerry(bin, m)
					if err != nil {
						return err
					}
					r, err := benchkit.Wrk("http://"+addr+"/v2/models/"+algo+"/infer", body, nil, wrkArgs...)
					stop()
					if err != nil {
						return err
					}
					rps[i] = append(rps[i], r.RPS)
				}
			}
			a, b := median(rps[0]), median(rps[1])
			fmt.Printf("| %s | %d | %.0f | %.0f | %.3f |\n", algo, rows, a, b, b/a)
		}
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func requestBody(d *data.Dataset, rows int) string {
	var vals [][]float64
	for i := 0; i < rows; i++ {
		var r []float64
		for _, c := range d.Columns {
			r = append(r, float64(c.Values[i]))
		}
		vals = append(vals, r)
	}
	// The tensor's fields in the order the protocol documents them (and
	// KServe's examples send them): name, shape, datatype, then data.
	type tensor struct {
		Name     string      `json:"name"`
		Shape    []int       `json:"shape"`
		Datatype string      `json:"datatype"`
		Data     [][]float64 `json:"data"`
	}
	b, _ := json.Marshal(map[string]any{"inputs": []tensor{{"x", []int{rows, len(d.Columns)}, "FP64", vals}}})
	return string(b)
}

// startFerry runs the ferry-serve binary bin on modelDir, as its own
// process (as the Flask server is), and waits until it is ready.
func startFerry(bin, modelDir string) (string, func(), error) {
	addr, err := benchkit.FreePort()
	if err != nil {
		return "", nil, err
	}
	stop, err := benchkit.StartServer(exec.Command(bin, "--model", modelDir, "--addr", addr), addr, 30*time.Second)
	if err != nil {
		return "", nil, err
	}
	return addr, stop, nil
}

func startFlask(kind, csvPath string) (string, func(), error) {
	addr, err := benchkit.FreePort()
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("/usr/bin/python3", "bench/servebench/flask_server.py", kind, csvPath, port)
	stop, err := benchkit.StartServer(cmd, addr, 120*time.Second)
	if err != nil {
		return "", nil, fmt.Errorf("the Flask server (needs python3-flask and python3-sklearn): %w", err)
	}
	return addr, stop, nil
}

// wrkArgs is the load: two threads, 16 connections, 10 s.
var wrkArgs = []string{"-t2", "-c16", "-d10s"}
