// Command parquetbench measures reading Parquet into a training matrix:
// ferry's reader (internal/data, one goroutine) against DuckDB loading the
// same file into an in-memory table (its own columnar matrix), with one
// thread and with every core, in the same run; and ferry reading the same
// rows as CSV. The file is written by DuckDB (Zstd, its default row
// groups): 20 columns, as a click log's (18 doubles, a category, the
// label). Time is the best of three runs, each in a fresh process; memory
// is each process's peak resident set (DuckDB's includes Node's runtime,
// shown apart). It prints a Markdown table for BENCHMARKS.md.
//
//	go run ./bench/parquetbench            # 10 million rows
//	go run ./bench/parquetbench -rows 1000000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
)

func main() {
	rows := flag.Int("rows", 10_000_000, "rows to write and read")
	read := flag.String("read", "", "(internal) read this file with ferry and print the seconds")
	flag.Parse()
	if *read != "" {
		start := time.Now()
		d, err := data.Read(context.Background(), *read, data.Options{Label: "clicked"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(map[string]any{"seconds": time.Since(start).Seconds(), "rows": d.Rows})
		return
	}
	if err := run(*rows); err != nil {
		fmt.Fprintln(os.Stderr, "parquetbench:", err)
		os.Exit(1)
	}
}

// result is one run: seconds, rows read, peak RSS in bytes.
type result struct {
	Seconds float64 `json:"seconds"`
	Rows    int     `json:"rows"`
	RSS     int64   `json:"-"`
}

func run(rows int) error {
	dir, err := os.MkdirTemp("", "parquetbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if out, err := exec.Command("node", "bench/parquetbench/duckdb.mjs", "gen", fmt.Sprint(rows), dir).CombinedOutput(); err != nil {
		return fmt.Errorf("DuckDB writing the data (./hack/deps.sh bench installs it): %v: %s", err, out)
	}
	pq, csv := dir+"/data.parquet", dir+"/data.csv"
	size := func(p string) float64 { st, _ := os.Stat(p); return float64(st.Size()) / (1 << 20) }
	noop, err := best(exec.Command("node", "bench/parquetbench/duckdb.mjs", "noop"), 1)
	if err != nil {
		return err
	}
	type line struct {
		name, file string
		cmd        func() *exec.Cmd
	}
	lines := []line{
		{"DuckDB 1.5, 1 thread", pq, func() *exec.Cmd { return exec.Command("node", "bench/parquetbench/duckdb.mjs", "read", pq, "1") }},
		{fmt.Sprintf("DuckDB 1.5, %d threads", runtime.NumCPU()), pq, func() *exec.Cmd {
			return exec.Command("node", "bench/parquetbench/duckdb.mjs", "read", pq, fmt.Sprint(runtime.NumCPU()))
		}},
		{"ferry, Parquet", pq, func() *exec.Cmd { return exec.Command(self, "-read", pq) }},
		{"ferry, the same rows as CSV", csv, func() *exec.Cmd { return exec.Command(self, "-read", csv) }},
	}
	fmt.Printf("Measured %s on %d cores: %d rows by 20 columns; Parquet %.0f MiB (Zstd), CSV %.0f MiB. Node's own runtime: %.0f MiB resident.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), rows, size(pq), size(csv), float64(noop.RSS)/(1<<20))
	fmt.Println("| reader | file | time (best of 3) | rows per second | peak RSS | time vs DuckDB, 1 thread |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	var base float64
	for _, l := range lines {
		r, err := best(l.cmd(), 3, l.cmd)
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		if r.Rows != rows {
			return fmt.Errorf("%s read %d rows, want %d", l.name, r.Rows, rows)
		}
		if base == 0 {
			base = r.Seconds
		}
		fmt.Printf("| %s | %s | %.2f s | %.1f M | %.0f MiB | %.2fx |\n", l.name, ext(l.file), r.Seconds, float64(rows)/r.Seconds/1e6, float64(r.RSS)/(1<<20), r.Seconds/base)
	}
	return nil
}

func ext(p string) string {
	if p[len(p)-4:] == ".csv" {
		return "CSV"
	}
	return "Parquet"
}

// best runs the command n times (fresh ones from again after the first)
// and keeps the fastest time and the largest peak RSS.
func best(cmd *exec.Cmd, n int, again ...func() *exec.Cmd) (result, error) {
	var out result
	for i := range n {
		if i > 0 {
			cmd = again[0]()
		}
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return out, err
		}
		var r result
		if len(b) > 0 {
			if err := json.Unmarshal(b, &r); err != nil {
				return out, fmt.Errorf("%s: %w", b, err)
			}
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
		if i == 0 || r.Seconds < out.Seconds {
			out.Seconds, out.Rows = r.Seconds, r.Rows
		}
		out.RSS = max(out.RSS, rss)
	}
	return out, nil
}
