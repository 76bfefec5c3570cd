package monitor_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/test/testenv"
)

// startPrometheus runs Debian's Prometheus scraping each target (a
// ferry-serve URL, by job name) every second, and returns its URL once it
// is ready.
func startPrometheus(t *testing.T, targets map[string]string) string {
	t.Helper()
	bin := testenv.LookPath(t, "prometheus", "run `make deps` (apt-get install prometheus)")
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\nscrape_configs:\n")
	for _, job := range slices.Sorted(maps.Keys(targets)) {
		fmt.Fprintf(&cfg, "  - job_name: %s\n    static_configs:\n      - targets: [%q]\n", job, strings.TrimPrefix(targets[job], "http://"))
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not get ready in 30 s:\n%s", log.String())
		}
	}
}

// waitRows waits until Prometheus has scraped n profiled rows from the
// selected series.
func waitRows(t *testing.T, prom, selector string, n int) {
	t.Helper()
	client, err := api.NewClient(api.Config{Address: prom})
	if err != nil {
		t.Fatal(err)
	}
	q := "sum(ferry_serve_profiled_rows_total{" + selector + "})"
	var last model.Value
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		v, _, _, err := promv1.NewAPI(client).Query(context.Background(), q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if vec, ok := v.(model.Vector); ok && len(vec) == 1 && int(vec[0].Value) == n {
			return
		}
		last = v
	}
	t.Fatalf("prometheus did not scrape %d rows in 30 s: %s = %v", n, q, last)
}

// ferry monitor reading the counts from a real Prometheus (Debian's 2.42)
// that scrapes two ferry-serves: traffic drawn as the training rows were is
// not drift, a burst with prices two standard deviations higher is, over
// everything since the servers started and over a window; a selector that
// also matches another model's server, one that matches nothing, and an
// unreachable Prometheus are errors that say so.
func TestMonitorThroughPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Prometheus server")
	}
	modelDir := trainModel(t)
	ranker := startServer(t, modelDir)
	other := startServer(t, trainNamed(t, "other"))
	prom := startPrometheus(t, map[string]string{"ranker": ranker, "other": other})
	ctx := context.Background()
	cfg := monitor.Config{Model: modelDir, Prometheus: prom, Selector: `job="ranker"`, PSI: 0.2, PValue: 0.01, MinRows: 200, Timeout: 10 * time.Second}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	send(t, ranker, "model", 1000, 0, 3)
	send(t, other, "other", 300, 0, 5)
	waitRows(t, prom, `job="ranker"`, 1000)
	res, err := monitor.Run(ctx, cfg, monitor.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != monitor.StatusOK || res.Rows != 1000 || !strings.Contains(res.Source, "prometheus "+prom) {
		t.Errorf("same traffic: status %s, %d rows (want 1000: the other server's 300 are not this model's), drifted %v, source %q", res.Status, res.Rows, res.Drifted, res.Source)
	}

	send(t, ranker, "model", 1000, 2, 4)
	waitRows(t, prom, `job="ranker"`, 2000)
	for _, window := range []time.Duration{0, 10 * time.Minute} {
		cfg.Window = window
		res, err := monitor.Run(ctx, cfg, monitor.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("window %s: %s, %d rows, drifted %v", window, res.Status, res.Rows, res.Drifted)
		// Over a window, Prometheus extrapolates the increase from the
		// samples it has: about the 2,000 rows, not exactly.
		if res.Status != monitor.StatusDrift || !slices.Contains(res.Drifted, "price") || res.Rows < 1500 || res.Rows > 2500 {
			t.Errorf("window %s: status %s, %d rows, drifted %v; want drift in price over about 2,000 rows", window, res.Status, res.Rows, res.Drifted)
		}
	}

	cfg.Window = 0
	for _, tc := range []struct{ prom, selector, want string }{
		{prom, `job=~"ranker|other"`, "servers of model model, other, not only model"},
		{prom, `job="nobody"`, "the selector matches no ferry-serve"},
		{"http://127.0.0.1:1", `job="ranker"`, "prometheus http://127.0.0.1:1"},
	} {
		cfg.Prometheus, cfg.Selector = tc.prom, tc.selector
		if _, err := monitor.Run(ctx, cfg, monitor.Deps{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("selector %s at %s: got %v, want an error with %q", tc.selector, tc.prom, err, tc.want)
		}
	}
}
