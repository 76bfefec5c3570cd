package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/serve"
	"github.com/ferry-ml/ferry/test/testenv"
)

// TestONNXSoak serves the PyTorch HIGGS MLP (internal/onnx/testdata) as
// ferry-serve does (Run) to 16 concurrent clients for a bounded time (two
// minutes; 2 s with -short) and checks that every answer equals the model's
// own prediction for its rows. Run under -race (make test does), it is
// where unsafe or shared state on the ONNX request path shows: the executor
// it replaced crashed a server with a Go runtime fatal error after minutes
// of such load.
func TestONNXSoak(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "onnx", "testdata", "higgs-mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := data.Read(context.Background(), testenv.SharedData(t, "lightgbm-binary/binary.test"), data.Options{Format: data.TSV, Label: "0"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "higgs")
	if err := model.Save(dir, model.Manifest{Name: "higgs", Format: model.FormatONNX, Task: model.TaskBinary, Features: d.Schema()}, raw); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := m.PredictDataset(d)
	url, stop := runServer(t, serve.Config{ModelDir: dir, Addr: "127.0.0.1:0", MaxRows: 1000, MaxBodyBytes: 1 << 20})
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// Bodies of 1, 7 and 64 rows, the matrix layout.
	body := func(lo, n int) string {
		var rows []string
		for r := lo; r < lo+n; r++ {
			var vals []string
			for _, c := range d.Columns {
				vals = append(vals, fmt.Sprint(c.Values[r]))
			}
			rows = append(rows, "["+strings.Join(vals, ",")+"]")
		}
		return fmt.Sprintf(`{"inputs": [{"name": "x", "shape": [%d, %d], "datatype": "FP32", "data": [%s]}]}`, n, len(d.Columns), strings.Join(rows, ","))
	}
	soak := 2 * time.Minute
	if testing.Short() {
		soak = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), soak)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	requests, failures := 0, []string{}
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for k := 0; ctx.Err() == nil; k++ {
				n := []int{1, 7, 64}[(c+k)%3]
				lo := (c*31 + k*17) % (d.Rows - n)
				req, _ := http.NewRequestWithContext(context.Background(), "POST", url+"/v2/models/higgs/infer", strings.NewReader(body(lo, n)))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				msg := ""
				if err != nil {
					msg = err.Error()
				} else {
					got, derr := decodeScores(resp)
					switch {
					case derr != nil:
						msg = derr.Error()
					case len(got) != n:
						msg = fmt.Sprintf("%d scores for %d rows", len(got), n)
					default:
						for i, g := range got {
							// Exact: JSON carries a float64 to the bit, and a
							// row scores the same bits alone or batched.
							if g != want[lo+i] {
								msg = fmt.Sprintf("row %d served %v, predicted %v", lo+i, g, want[lo+i])
								break
							}
						}
					}
				}
				mu.Lock()
				requests++
				if msg != "" && len(failures) < 5 {
					failures = append(failures, msg)
				}
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if requests < 16 {
		t.Errorf("only %d requests in %v", requests, soak)
	}
	t.Logf("%d requests in %v, 16 clients", requests, soak)
}

// decodeScores reads an infer response's one output.
func decodeScores(resp *http.Response) ([]float64, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var out struct {
		Outputs []struct {
			Data []float64 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	if len(out.Outputs) != 1 {
		return nil, fmt.Errorf("%d outputs", len(out.Outputs))
	}
	return out.Outputs[0].Data, nil
}
