// Command servemem measures what one infer request costs a model server in
// memory. For each request size (about 1 KB, 2 MB and 30 MB of JSON) a fresh
// server process loads the model; once it is ready its resident set is read
// ("idle": the runtime and the model) and its peak is reset (clear_refs 5);
// one request is scored; then its high-water mark (VmHWM) is read. The
// servers: ferry-serve as built from the working tree, ferry-serve from an
// earlier commit (-before), and the Flask + scikit-learn server of
// bench/servebench as the reference.
//
//	go run ./bench/servemem -before 47aec38
//
// The model is gradient-boosted trees (100 trees, depth 6) trained on the
// HIGGS rows of ../shared/datasets/lightgbm-binary; the requests are one
// [rows, 28] FP64 tensor, each value written as a client holding float32
// features writes it through float64 (0.8690000176429749), as numpy's
// tolist() does. It needs root (clear_refs), Debian's python3-flask and
// python3-sklearn, and git for -before.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/train"
)

func main() {
	before := flag.String("before", "", "also measure ferry-serve built from this commit")
	flag.Parse()
	if err := run(*before); err != nil {
		fmt.Fprintln(os.Stderr, "servemem:", err)
		os.Exit(1)
	}
}

// server is one server to measure: start starts it on addr.
type server struct {
	name  string
	path  string // the URL path of infer
	start func(addr string) *exec.Cmd
}

func run(before string) error {
	dir, err := os.MkdirTemp("", "servemem-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d, err := data.Read(context.Background(), "../shared/datasets/lightgbm-binary/binary.train", data.Options{Format: data.TSV, Label: "0"})
	if err != nil {
		return err
	}
	csvPath := filepath.Join(dir, "train.csv")
	if err := benchkit.WriteCSV(csvPath, d); err != nil {
		return err
	}
	modelDir := filepath.Join(dir, "model")
	if _, err := train.Run(context.Background(), train.Config{Data: csvPath, Read: data.Options{Label: "y"}, Algorithm: "gbdt",
		Objective: "binary", Params: []string{"trees=100", "max-depth=6"}, Out: modelDir}, io.Discard, nil); err != nil {
		return err
	}
	modelBytes, err := dirSize(modelDir)
	if err != nil {
		return err
	}
	after := filepath.Join(dir, "ferry-serve")
	if err := benchkit.Build(after, "./cmd/ferry-serve"); err != nil {
		return err
	}
	ferry := func(bin string) func(string) *exec.Cmd {
		return func(addr string) *exec.Cmd {
			return exec.Command(bin, "--model", modelDir, "--addr", addr, "--name", "m")
		}
	}
	servers := []server{{name: "ferry-serve", path: "/v2/models/m/infer", start: ferry(after)}}
	if before != "" {
		old, err := buildAt(dir, before)
		if err != nil {
			return err
		}
		servers = append(servers, server{name: "ferry-serve " + before, path: "/v2/models/m/infer", start: ferry(old)})
	}
	servers = append(servers, server{name: "Flask + scikit-learn", path: "/v2/models/m/infer", start: func(addr string) *exec.Cmd {
		_, port, _ := net.SplitHostPort(addr)
		return exec.Command("/usr/bin/python3", "bench/servebench/flask_server.py", "gbdt", csvPath, port)
	}})

	fmt.Printf("Measured %s, %s, %d CPUs, linux/%s. Model: 100 trees of depth 6 on HIGGS's 28 features, %.0f KiB on disk.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), runtime.GOARCH, float64(modelBytes)/1024)
	fmt.Println("| request | rows | tensor (FP64) | server | idle RSS MiB | peak RSS MiB | peak − idle MiB | (peak − idle) / tensor |")
	fmt.Println("|---:|---:|---:|---|---:|---:|---:|---:|")
	for _, target := range []int{1 << 10, 2 << 20, 30 << 20} {
		body, rows := request(d, target)
		tensor := rows * len(d.Columns) * 8
		for _, s := range servers {
			idle, peak, err := measure(s, body)
			if err != nil {
				return fmt.Errorf("%s, %s request: %w", s.name, size(len(body)), err)
			}
			fmt.Printf("| %s | %d | %s | %s | %.1f | %.1f | %.1f | %.1fx |\n", size(len(body)), rows, size(tensor), s.name,
				mib(idle), mib(peak), mib(peak-idle), float64(peak-idle)/float64(tensor))
		}
	}
	return nil
}

// request builds an infer request of about target bytes from d's rows,
// cycling through them, and returns it with its row count.
func request(d *data.Dataset, target int) ([]byte, int) {
	row := func(i int) []byte {
		var b []byte
		for j, c := range d.Columns {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, float64(c.Values[i%d.Rows]), 'g', -1, 64)
		}
		return b
	}
	var rows [][]byte
	n := 40 // the JSON around the data
	for n < target || len(rows) == 0 {
		r := row(len(rows))
		if n+len(r)+3 > target && len(rows) > 0 {
			break
		}
		rows = append(rows, r)
		n += len(r) + 3
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"inputs": [{"name": "x", "shape": [%d, %d], "datatype": "FP64", "data": [`, len(rows), len(d.Columns))
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		b.Write(r)
		b.WriteByte(']')
	}
	b.WriteString("]}]}")
	return b.Bytes(), len(rows)
}

// measure starts the server fresh, reads its idle resident set, resets its
// peak, sends body once and reads the peak.
func measure(s server, body []byte) (idle, peak int64, err error) {
	addr, err := benchkit.FreePort()
	if err != nil {
		return 0, 0, err
	}
	cmd := s.start(addr)
	stop, err := benchkit.StartServer(cmd, addr, 120*time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	time.Sleep(500 * time.Millisecond) // let the start-up settle
	pid := cmd.Process.Pid
	if idle, err = benchkit.ProcStatus(pid, "VmRSS"); err != nil {
		return 0, 0, err
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return 0, 0, fmt.Errorf("reset the peak resident set (needs root): %w", err)
	}
	resp, err := http.Post("http://"+addr+s.path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("answered %s: %.300s", resp.Status, out)
	}
	peak, err = benchkit.ProcStatus(pid, "VmHWM")
	return idle, peak, err
}

// buildAt builds ferry-serve as it was at commit, in a worktree under dir.
func buildAt(dir, commit string) (string, error) {
	tree := filepath.Join(dir, "before")
	if out, err := exec.Command("git", "worktree", "add", "--detach", tree, commit).CombinedOutput(); err != nil {
		return "", fmt.Errorf("git worktree add %s: %v\n%s", commit, err, out)
	}
	defer exec.Command("git", "worktree", "remove", "--force", tree).Run() //nolint:errcheck // a leftover worktree is only clutter
	bin := filepath.Join(dir, "ferry-serve-before")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ferry-serve")
	cmd.Dir, cmd.Env = tree, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build ferry-serve at %s: %v\n%s", commit, err, out)
	}
	return bin, nil
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
