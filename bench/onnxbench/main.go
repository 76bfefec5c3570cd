// Command onnxbench measures ferry-serve's ONNX path against an ONNX Runtime
// server of the same protocol (bench/onnxbench/ort_server.js over the npm
// package onnxruntime-node), side by side in one run, on four networks
// exported by PyTorch (bench/onnxbench/models.py): two MLPs (64-256-128-64-1
// and 256-1024-512-256-1), a two-tower retrieval model with a 1M x 64 user
// embedding, and a DLRM-style ranker with eight 100k x 16 tables.
//
//	go run ./bench/onnxbench
//
// Each server in turn gets one CPU (taskset; GOMAXPROCS=1 for ferry-serve,
// one intra-op thread for ONNX Runtime) and wrk the other, at 1, 32 and 256
// rows per request, 16 connections. Before measuring, the two servers'
// answers to the same 32 rows must agree within 1e-4. Memory: each server's
// resident set once ready (idle) and its high-water mark over the whole run
// (load included), against the model file's size.
//
// It needs Debian's python3-torch, wrk, taskset, node, and onnxruntime-node
// in bin/ort (hack/deps.sh installs it).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
)

func main() {
	dir := flag.String("dir", filepath.Join(os.TempDir(), "ferry-onnxbench"), "where the exported networks are kept between runs")
	seconds := flag.Int("d", 8, "seconds of load per measurement")
	only := flag.String("model", "", "measure only this network (mlp-64, mlp-256, two-tower, dlrm)")
	flag.Parse()
	if err := run(*dir, *only, *seconds); err != nil {
		fmt.Fprintln(os.Stderr, "onnxbench:", err)
		os.Exit(1)
	}
}

// network is one exported network and how ONNX Runtime's request carries
// its rows: per input, the CSV columns it takes and whether it is int64.
type network struct {
	name   string
	inputs []ortInput
}

type ortInput struct {
	name  string
	cols  []string // one column: shape [rows]; several: [rows, k]
	int64 bool
}

func columns(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

var networks = []network{
	{"mlp-64", []ortInput{{"features", columns("f", 64), false}}},
	{"mlp-256", []ortInput{{"features", columns("f", 256), false}}},
	{"two-tower", []ortInput{{"user_id", []string{"user_id"}, true}, {"item_id", []string{"item_id"}, true}, {"context", columns("c", 8), false}}},
	{"dlrm", append([]ortInput{{"dense", columns("d", 13), false}},
		ortInput{"cat0", []string{"cat0"}, true}, ortInput{"cat1", []string{"cat1"}, true}, ortInput{"cat2", []string{"cat2"}, true}, ortInput{"cat3", []string{"cat3"}, true},
		ortInput{"cat4", []string{"cat4"}, true}, ortInput{"cat5", []string{"cat5"}, true}, ortInput{"cat6", []string{"cat6"}, true}, ortInput{"cat7", []string{"cat7"}, true})},
}

// rowCounts are the request sizes measured.
var rowCounts = []int{1, 32, 256}

func run(dir, only string, seconds int) error {
	if _, err := os.Stat(filepath.Join(dir, "dlrm.onnx")); err != nil {
		fmt.Fprintln(os.Stderr, "exporting the networks with PyTorch into", dir)
		if out, err := exec.Command("/usr/bin/python3", "bench/onnxbench/models.py", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("models.py (needs python3-torch): %v\n%s", err, out)
		}
	}
	bin := filepath.Join(dir, "ferry-serve")
	if err := benchkit.Build(bin, "./cmd/ferry-serve"); err != nil {
		return err
	}
	fmt.Printf("Measured %s, %s, %d CPUs; each server on one CPU (taskset -c 1), wrk -t1 -c16 -d%ds on the other, loopback.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), seconds)
	var memory []string
	fmt.Println("| network | rows/request | ONNX Runtime req/s | ferry-serve req/s | ratio | ONNX Runtime p50 / p99 ms | ferry-serve p50 / p99 ms |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, n := range networks {
		if only != "" && n.name != only {
			continue
		}
		mem, err := measureNetwork(dir, bin, n, seconds)
		if err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		memory = append(memory, mem)
	}
	fmt.Println("\n| network | model file | ONNX Runtime idle / peak | ferry-serve idle / peak | ferry-serve peak / file |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, m := range memory {
		fmt.Println(m)
	}
	return nil
}

// measureNetwork imports one network, serves it with each server in turn
// and prints its rows of the throughput table; it returns its row of the
// memory table.
func measureNetwork(dir, bin string, n network, seconds int) (string, error) {
	file := filepath.Join(dir, n.name+".onnx")
	csv := filepath.Join(dir, n.name+".csv")
	d, err := data.Read(context.Background(), csv, data.Options{Label: "y"})
	if err != nil {
		return "", err
	}
	modelDir := filepath.Join(dir, "model-"+n.name)
	os.RemoveAll(modelDir)
	if _, err := model.Import(context.Background(), "onnx", file, modelDir, n.name, "binary", d, csv, data.Options{Label: "y"}); err != nil {
		return "", err
	}
	ferry := server{name: "ferry-serve", path: "/v2/models/" + n.name + "/infer", body: func(rows int) string { return ferryBody(d, rows) },
		start: func(addr string) *exec.Cmd {
			cmd := exec.Command("taskset", "-c", "1", bin, "--model", modelDir, "--addr", addr)
			cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
			return cmd
		}}
	ort := server{name: "ONNX Runtime", path: "/v2/models/m/infer", body: func(rows int) string { return ortBody(d, n.inputs, rows) },
		start: func(addr string) *exec.Cmd {
			_, port, _ := net.SplitHostPort(addr)
			cmd := exec.Command("taskset", "-c", "1", "node", "bench/onnxbench/ort_server.js", file, port)
			cmd.Env = append(os.Environ(), "NODE_PATH=bin/ort/node_modules")
			return cmd
		}}
	if err := sameScores(ferry, ort); err != nil {
		return "", err
	}
	var res [2][]benchkit.WrkResult
	var mem [2][2]int64
	for i, s := range []server{ort, ferry} {
		res[i], mem[i][0], mem[i][1], err = s.load(seconds)
		if err != nil {
			return "", fmt.Errorf("%s: %w", s.name, err)
		}
	}
	for k, rows := range rowCounts {
		o, f := res[0][k], res[1][k]
		fmt.Printf("| %s | %d | %.0f | %.0f | %.2fx | %.2f / %.2f | %.2f / %.2f |\n", n.name, rows, o.RPS, f.RPS, f.RPS/o.RPS, o.P50, o.P99, f.P50, f.P99)
	}
	st, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("| %s | %s | %s / %s | %s / %s | %.2fx |", n.name, mib(st.Size()), mib(mem[0][0]), mib(mem[0][1]), mib(mem[1][0]), mib(mem[1][1]),
		float64(mem[1][1])/float64(st.Size())), nil
}

// server is one of the two servers of a network.
type server struct {
	name, path string
	body       func(rows int) string
	start      func(addr string) *exec.Cmd
}

// up starts the server on a free port and waits until it is ready.
func (s server) up() (addr string, cmd *exec.Cmd, stop func(), err error) {
	if addr, err = benchkit.FreePort(); err != nil {
		return "", nil, nil, err
	}
	cmd = s.start(addr)
	stop, err = benchkit.StartServer(cmd, addr, 3*time.Minute)
	return addr, cmd, stop, err
}

// load starts the server, reads its idle resident set, runs wrk at each
// row count, and reads its high-water mark.
func (s server) load(seconds int) (res []benchkit.WrkResult, idle, peak int64, err error) {
	addr, cmd, stop, err := s.up()
	if err != nil {
		return nil, 0, 0, err
	}
	defer stop()
	time.Sleep(500 * time.Millisecond)
	if idle, err = benchkit.ProcStatus(cmd.Process.Pid, "VmRSS"); err != nil {
		return nil, 0, 0, err
	}
	for _, rows := range rowCounts {
		r, err := benchkit.Wrk("http://"+addr+s.path, s.body(rows), []string{"taskset", "-c", "0"}, "-t1", "-c16", fmt.Sprintf("-d%ds", seconds))
		if err != nil {
			return nil, 0, 0, err
		}
		res = append(res, r)
	}
	peak, err = benchkit.ProcStatus(cmd.Process.Pid, "VmHWM")
	return res, idle, peak, err
}

// sameScores sends 32 rows to both servers and fails unless every score
// agrees within 1e-4 (float32 products summed in another order).
func sameScores(a, b server) error {
	var got [2][]float64
	for i, s := range []server{a, b} {
		addr, _, stop, err := s.up()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		got[i], err = infer("http://"+addr+s.path, s.body(32))
		stop()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if len(got[0]) != len(got[1]) {
		return fmt.Errorf("%s answered %d scores, %s %d", a.name, len(got[0]), b.name, len(got[1]))
	}
	for i := range got[0] {
		if d := math.Abs(got[0][i] - got[1][i]); !(d <= 1e-4) {
			return fmt.Errorf("row %d: %s scores %v, %s %v", i, a.name, got[0][i], b.name, got[1][i])
		}
	}
	return nil
}

// infer posts one request and returns the first output's values.
func infer(url, body string) ([]float64, error) {
	resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s: %.300s", resp.Status, b)
	}
	var out struct {
		Outputs []struct {
			Data []float64 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Outputs) == 0 {
		return nil, fmt.Errorf("answer %.300s: %v", b, err)
	}
	return out.Outputs[0].Data, nil
}

// ferryBody is rows rows of d (cycling through its rows) as one FP32
// tensor [rows, features] in schema order, the label left out.
func ferryBody(d *data.Dataset, rows int) string {
	vals := make([]float32, 0, rows*len(d.Columns))
	for r := 0; r < rows; r++ {
		for _, c := range d.Columns {
			vals = append(vals, c.Values[r%d.Rows])
		}
	}
	return body([]map[string]any{{"name": "x", "shape": []int{rows, len(d.Columns)}, "datatype": "FP32", "data": vals}})
}

// ortBody is the same rows as the network's own input tensors.
func ortBody(d *data.Dataset, inputs []ortInput, rows int) string {
	index := map[string]int{}
	for i, c := range d.Columns {
		index[c.Name] = i
	}
	var ts []map[string]any
	for _, in := range inputs {
		shape, dt := []int{rows, len(in.cols)}, "FP32"
		if len(in.cols) == 1 {
			shape = []int{rows}
		}
		if in.int64 {
			dt = "INT64"
		}
		vals := make([]float32, 0, rows*len(in.cols))
		for r := 0; r < rows; r++ {
			for _, c := range in.cols {
				vals = append(vals, d.Columns[index[c]].Values[r%d.Rows])
			}
		}
		ts = append(ts, map[string]any{"name": in.name, "shape": shape, "datatype": dt, "data": vals})
	}
	return body(ts)
}

func body(inputs []map[string]any) string {
	b, err := json.Marshal(map[string]any{"inputs": inputs})
	if err != nil {
		panic(err) // numbers and strings only
	}
	return string(b)
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
