package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/serve"
)

// readLog returns the records of a prediction log file, none when absent.
func readLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: a line that is not JSON: %q", path, sc.Text())
		}
		out = append(out, rec)
	}
	return out
}

// runServer serves cfg until the returned stop is called, which drains and
// returns Run's error.
func runServer(t *testing.T, cfg serve.Config) (string, func() error) {
	t.Helper()
	s, err := serve.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- s.Run(ctx, addr) }()
	return "http://" + <-addr, func() error { cancel(); return <-done }
}

// TestPredictionLog checks the records, their rotation and sampling: every
// sampled request is one JSON line with its id, the model.json digest, the
// inputs' hash (the same rows, the same hash, whatever their spelling) and
// the scores; past the size limit the file becomes FILE.1.
func TestPredictionLog(t *testing.T) {
	dir, _ := trained(t)
	path := filepath.Join(t.TempDir(), "predictions.jsonl")
	base, stop := runServer(t, serve.Config{ModelDir: dir, Addr: "127.0.0.1:0",
		Predictions: serve.PredictionLog{Path: path, Sample: 1, MaxBytes: 4000}})
	bodies := []string{
		`{"id": "r%d", "inputs": [{"name": "price", "shape": [2], "datatype": "FP32", "data": [10, 30]}, {"name": "device", "shape": [2], "datatype": "BYTES", "data": ["mobile", "desktop"]}]}`,
		`{"id": "r%d", "inputs": [{"name": "price", "shape": [2], "datatype": "FP64", "data": [10.0, 3e1]}, {"name": "device", "shape": [2], "datatype": "BYTES", "data": ["mobile", "desktop"]}]}`,
	}
	for i := range 40 {
		resp, err := http.Post(base+"/v2/models/clicks/infer", "application/json", bytes.NewReader(fmt.Appendf(nil, bodies[i%2], i)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	current, rotated := readLog(t, path), readLog(t, path+".1")
	if len(rotated) == 0 || len(current) == 0 {
		t.Fatalf("%d records in the file and %d in FILE.1: want both, the 4,000-byte limit rotates it", len(current), len(rotated))
	}
	last := current[len(current)-1]
	if last["id"] != "r39" || last["model"] != "clicks" || len(last["model_sha256"].(string)) != 64 || last["rows"] != 2.0 {
		t.Errorf("last record: %v", last)
	}
	if scores, _ := last["scores"].([]any); len(scores) != 2 {
		t.Errorf("scores: %v", last["scores"])
	}
	all := append(rotated, current...)
	hash := all[0]["inputs_sha256"]
	for _, rec := range all {
		if rec["inputs_sha256"] != hash || rec["inputs"] != nil {
			t.Fatalf("the same rows, FP32 or FP64, should hash the same and log no values: %v vs %v", rec["inputs_sha256"], hash)
		}
	}

	// Half the requests, with their values.
	path = filepath.Join(t.TempDir(), "sampled.jsonl")
	base, stop = runServer(t, serve.Config{ModelDir: dir, Addr: "127.0.0.1:0",
		Predictions: serve.PredictionLog{Path: path, Sample: 0.5, MaxBytes: 1 << 20, Inputs: true}})
	for i := range 200 {
		resp, err := http.Post(base+"/v2/models/clicks/infer", "application/json", bytes.NewReader(fmt.Appendf(nil, bodies[0], i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	recs := readLog(t, path)
	// Binomial(200, 0.5): 100 +- 7; under 60 or over 140 is 6 sigma.
	if len(recs) < 60 || len(recs) > 140 {
		t.Errorf("%d of 200 requests logged at a 0.5 sample", len(recs))
	}
	if in, _ := recs[0]["inputs"].(map[string]any); in == nil || fmt.Sprint(in["price"]) != "[10 30]" || fmt.Sprint(in["device"]) != "[0 1]" {
		t.Errorf("inputs: %v", recs[0]["inputs"])
	}
}
