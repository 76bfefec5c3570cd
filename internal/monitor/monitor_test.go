package monitor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/oip"
	"github.com/ferry-ml/ferry/internal/profile"
	"github.com/ferry-ml/ferry/internal/serve"
	"github.com/ferry-ml/ferry/internal/train"
)

// rows draws n sessions: price (log-normal), position (1 to 10), device
// (a category); shift moves the log of price up by that many of its
// standard deviations.
func rows(rng *rand.Rand, n int, shift float64) (price, position []float64, device []string, clicked []int) {
	devices := []string{"mobile", "desktop", "tablet"}
	for range n {
		p := 20 * math.Exp(rng.NormFloat64()*0.5+shift*0.5)
		pos := float64(1 + rng.IntN(10))
		d := devices[min(2, int(rng.ExpFloat64()))]
		price, position, device = append(price, p), append(position, pos), append(device, d)
		c := 0
		if rng.Float64() < 0.3/pos+0.05 {
			c = 1
		}
		clicked = append(clicked, c)
	}
	return
}

// trainModel trains a logistic model on 3,000 sessions and returns its
// directory.
func trainModel(t *testing.T) string { t.Helper(); return trainNamed(t, "model") }

// trainNamed trains it under a name of its own, its directory's.
func trainNamed(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	price, position, device, clicked := rows(rand.New(rand.NewPCG(1, 2)), 3000, 0)
	var b strings.Builder
	b.WriteString("price,position,device,clicked\n")
	for i := range price {
		fmt.Fprintf(&b, "%.3f,%g,%s,%d\n", price[i], position[i], device[i], clicked[i])
	}
	csv := filepath.Join(dir, "train.csv")
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	cfg := train.Config{Data: csv, Read: data.Options{Label: "clicked"}, Algorithm: "logistic", Objective: "binary", Seed: 1, Out: out}
	if _, err := train.Run(context.Background(), cfg, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// serveAndSend starts a ferry-serve of the model, sends n rows in requests
// of 50 drawn with the given shift, and returns its URL.
func serveAndSend(t *testing.T, model string, n int, shift float64, seed uint64) string {
	t.Helper()
	url := startServer(t, model)
	send(t, url, "model", n, shift, seed)
	return url
}

// startServer starts a ferry-serve of the model and returns its URL.
func startServer(t *testing.T, model string) string {
	t.Helper()
	s, err := serve.New(serve.Config{ModelDir: model}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// send sends n rows to the named model in requests of 50, drawn with the
// given shift.
func send(t *testing.T, url, name string, n int, shift float64, seed uint64) {
	t.Helper()
	price, position, device, _ := rows(rand.New(rand.NewPCG(seed, 9)), n, shift)
	client := oip.Client{URL: url}
	for lo := 0; lo < n; lo += 50 {
		hi := min(lo+50, n)
		req := oip.InferRequest{Inputs: []oip.InputTensor{
			oip.InferTensor("price", oip.FP64, anys(price[lo:hi])),
			oip.InferTensor("position", oip.FP64, anys(position[lo:hi])),
			oip.InferTensor("device", oip.Bytes, anys(device[lo:hi])),
		}}
		if _, err := client.Infer(context.Background(), name, req); err != nil {
			t.Fatal(err)
		}
	}
}

func anys[T any](v []T) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}

func config(model, url string) monitor.Config {
	return monitor.Config{Model: model, URL: url, PSI: 0.2, PValue: 0.01, MinRows: 200}
}

// TestMonitorFlagsShiftedTrafficOnly checks the verdict both ways against
// a real ferry-serve: traffic drawn as the training rows were is not
// drift; the same traffic with the log of prices one standard deviation
// higher is, in price and not in position or device.
func TestMonitorFlagsShiftedTrafficOnly(t *testing.T) {
	model := trainModel(t)
	p, err := profile.Load(model)
	if err != nil || p == nil {
		t.Fatalf("train wrote no profile: %v", err)
	}
	if p.Rows != 3000 || p.Score == nil || p.Feature("device").Kind != profile.Categorical {
		t.Fatalf("profile: %d rows, score %v, device %+v", p.Rows, p.Score != nil, p.Feature("device"))
	}

	res, err := monitor.Run(context.Background(), config(model, serveAndSend(t, model, 2000, 0, 3)), monitor.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != monitor.StatusOK || res.Err != nil || res.Rows != 2000 || len(res.Columns) != 4 {
		t.Errorf("same traffic: status %s, %d rows, %d columns, drifted %v", res.Status, res.Rows, len(res.Columns), res.Drifted)
	}
	for _, c := range res.Columns {
		if c.PSI > 0.05 {
			t.Errorf("same traffic: %s PSI %.3f, want under 0.05 (sampling noise over 10 bins and 2,000 rows is about 0.005)", c.Name, c.PSI)
		}
	}

	dir := t.TempDir()
	cfg := config(model, serveAndSend(t, model, 2000, 1, 4))
	cfg.Report, cfg.JSON = filepath.Join(dir, "drift.md"), filepath.Join(dir, "drift.json")
	res, err = monitor.Run(context.Background(), cfg, monitor.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	var de *monitor.DriftError
	if res.Status != monitor.StatusDrift || !errors.As(res.Err, &de) || !slices.Contains(res.Drifted, "price") {
		t.Fatalf("shifted prices: status %s, drifted %v, err %v", res.Status, res.Drifted, res.Err)
	}
	for _, name := range []string{"position", "device"} {
		if slices.Contains(res.Drifted, name) {
			t.Errorf("shifted prices: %s flagged too (%v)", name, res.Drifted)
		}
	}
	t.Logf("shifted: %d rows; %s", res.Rows, summary(res))
	md, err := os.ReadFile(cfg.Report)
	if err != nil || !strings.Contains(string(md), "**Drift** in `price`") || !strings.Contains(string(md), "xychart-beta") {
		t.Errorf("report: %v\n%s", err, md)
	}
	if _, err := os.Stat(cfg.JSON); err != nil {
		t.Error(err)
	}
}

// TestMonitorCannotTell checks the runs that do not judge: too few rows,
// a model without a profile, a threshold on a feature the model lacks.
func TestMonitorCannotTell(t *testing.T) {
	model := trainModel(t)
	res, err := monitor.Run(context.Background(), config(model, serveAndSend(t, model, 100, 3, 5)), monitor.Deps{})
	if err != nil || res.Status != monitor.StatusTooFew || res.Err != nil || len(res.Drifted) != 0 {
		t.Errorf("100 rows: %v, %+v", err, res)
	}

	cfg := config(model, "http://127.0.0.1:1")
	cfg.FeaturePSI = map[string]float64{"prize": 0.3}
	var ie *input.Error
	if _, err := monitor.Run(context.Background(), cfg, monitor.Deps{}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "prize") {
		t.Errorf("unknown feature: %v", err)
	}

	url := serveAndSend(t, model, 300, 0, 6)
	if err := os.Remove(filepath.Join(model, profile.File)); err != nil {
		t.Fatal(err)
	}
	res, err = monitor.Run(context.Background(), config(model, url), monitor.Deps{})
	if err == nil || res == nil || res.Status != monitor.StatusProfile {
		t.Errorf("no profile: %v, %+v", err, res)
	}
	// A server of a model without a profile serves, and says it counts
	// nothing.
	other := trainModel(t)
	os.Remove(filepath.Join(other, profile.File))
	bare := serveAndSend(t, other, 60, 0, 7)
	if _, err := monitor.Run(context.Background(), config(model+"-none", bare), monitor.Deps{}); err == nil {
		t.Error("a model directory that does not exist: no error")
	}
	if _, err := monitor.Run(context.Background(), config(trainModel(t), bare), monitor.Deps{}); err == nil || !strings.Contains(err.Error(), "serves no drift counts") {
		t.Errorf("a server without counts: %v", err)
	}
	if _, err := monitor.Run(context.Background(), config(trainModel(t), "http://127.0.0.1:1"), monitor.Deps{}); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1/metrics") {
		t.Errorf("an unreachable server: %v", err)
	}
}

func summary(res *monitor.Result) string {
	var parts []string
	for _, c := range res.Columns {
		parts = append(parts, fmt.Sprintf("%s PSI %.3f p %.2g", c.Name, c.PSI, c.PValue))
	}
	return strings.Join(parts, ", ")
}
