package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gbdt"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/serve"
)

// trained writes a small click model with a numeric and a categorical
// feature, and returns its directory and training data.
func trained(t testing.TB) (string, *data.Dataset) {
	t.Helper()
	d := &data.Dataset{Rows: 200, Columns: []data.Column{
		{Name: "price"}, {Name: "device", Categorical: true, Categories: []string{"mobile", "desktop"}},
	}}
	for i := 0; i < 200; i++ {
		price, dev := float32(i%50), float32(i%2)
		d.Columns[0].Values = append(d.Columns[0].Values, price)
		d.Columns[1].Values = append(d.Columns[1].Values, dev)
		y := 0.0
		if price < 20 && dev == 0 {
			y = 1
		}
		d.Label = append(d.Label, y)
	}
	p := gbdt.DefaultParams(gbdt.Binary)
	p.Trees, p.MinChildWeight = 10, 0
	res, err := gbdt.Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "clicks")
	m := model.Manifest{Name: "clicks", Format: model.FormatGBDT, Task: "binary", Objective: "binary", Features: d.Schema()}
	if err := model.Save(dir, m, res.Model); err != nil {
		t.Fatal(err)
	}
	return dir, d
}

func server(t testing.TB) (*httptest.Server, *model.Model) {
	t.Helper()
	dir, _ := trained(t)
	s, err := serve.New(serve.Config{ModelDir: dir, MaxRows: 1000, MaxBodyBytes: 1 << 16}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return srv, m
}

func call(t testing.TB, srv *httptest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 && !strings.HasPrefix(path, "/metrics") {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, b)
		}
	}
	if strings.HasPrefix(path, "/metrics") {
		out = map[string]any{"text": string(b)}
	}
	return resp.StatusCode, out
}

func TestHealthAndMetadata(t *testing.T) {
	srv, _ := server(t)
	for _, tc := range []struct {
		path string
		code int
		key  string
	}{
		{"/v2/health/live", 200, "live"},
		{"/v2/health/ready", 200, "ready"},
		{"/v2/models/clicks/ready", 200, "ready"},
		{"/v2", 200, "name"},
		{"/v2/models/clicks", 200, "inputs"},
		{"/v2/models/other", 404, "error"},
		{"/v2/models/clicks/versions/7", 404, "error"},
		{"/nope", 404, "error"},
	} {
		code, body := call(t, srv, "GET", tc.path, "")
		if code != tc.code || body[tc.key] == nil {
			t.Errorf("GET %s: %d %v, want %d with %q", tc.path, code, body, tc.code, tc.key)
		}
	}
}

func scoresOf(t testing.TB, body map[string]any) []float64 {
	t.Helper()
	outs, _ := body["outputs"].([]any)
	if len(outs) != 1 {
		t.Fatalf("outputs: %v", body)
	}
	var s []float64
	for _, v := range outs[0].(map[string]any)["data"].([]any) {
		s = append(s, v.(float64))
	}
	return s
}

// Both layouts score as ferry predict does (the model's own Predictor).
func TestInferMatchesPredict(t *testing.T) {
	srv, m := server(t)
	d := &data.Dataset{Rows: 3, Columns: []data.Column{
		{Name: "price", Values: []float32{5, 30, float32(math.NaN())}},
		{Name: "device", Categorical: true, Categories: []string{"mobile", "desktop"}, Values: []float32{0, 1, 0}},
	}}
	want := m.PredictDataset(d)
	for name, body := range map[string]string{
		"per feature": `{"id": "a", "inputs": [{"name": "price", "shape": [3], "datatype": "FP32", "data": [5, 30, null]},
			{"name": "device", "shape": [3, 1], "datatype": "BYTES", "data": [["mobile"], ["desktop"], ["mobile"]]}]}`,
		"matrix": `{"inputs": [{"name": "x", "shape": [3, 2], "datatype": "FP64", "data": [[5, 0], [30, 1], [null, 0]]}]}`,
	} {
		code, resp := call(t, srv, "POST", "/v2/models/clicks/infer", body)
		if code != 200 {
			t.Fatalf("%s: %d %v", name, code, resp)
		}
		got := scoresOf(t, resp)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s row %d: served %v, predicted %v", name, i, got[i], want[i])
			}
		}
	}
	// An unseen category is a missing value, not an error.
	code, _ := call(t, srv, "POST", "/v2/models/clicks/infer", `{"inputs": [{"name": "price", "shape": [1], "datatype": "FP32", "data": [5]},
		{"name": "device", "shape": [1], "datatype": "BYTES", "data": ["smart-tv"]}]}`)
	if code != 200 {
		t.Errorf("unseen category: %d", code)
	}
}

func TestBadRequests(t *testing.T) {
	srv, _ := server(t)
	rows := make([]string, 1001)
	for i := range rows {
		rows[i] = "[1, 0]"
	}
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"truncated", `{"inputs": [`, 400, "not JSON"},
		{"not an object", `[1, 2]`, 400, "want an object"},
		{"inputs not a list", `{"inputs": {"name": "x"}}`, 400, "inputs: want an array"},
		{"shape not a list", `{"inputs": [{"name": "x", "shape": "1,2", "datatype": "FP32", "data": [1, 2]}]}`, 400, "shape: want an array of integers"},
		{"shape not integers", `{"inputs": [{"name": "x", "shape": [1.5, 2], "datatype": "FP32", "data": [1, 2]}]}`, 400, "1.5 is not an integer"},
		{"no name", `{"inputs": [{"shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}`, 400, "inputs[0]: name: want a string"},
		{"unknown datatype", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FLOAT", "data": [1, 2]}]}`, 400, `unknown datatype "FLOAT"`},
		{"not finite", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [NaN, 1e999]}]}`, 400, "not a finite number"},
		{"no data", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32"}]}`, 400, `input "x": no data`},
		{"no inputs", `{"inputs": []}`, 400, "no inputs"},
		{"shape", `{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]}`, 400, "holds 4 values, data has 3"},
		{"columns", `{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}`, 400, "3 columns, want 2"},
		{"type", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": ["a", "b"]}]}`, 400, "wants numbers"},
		{"datatype", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}]}`, 400, "is numeric"},
		{"name", `{"inputs": [{"name": "price", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}`, 400, `input "colour" is not a feature`},
		{"missing feature", `{"inputs": [{"name": "price", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "price", "shape": [1], "datatype": "FP32", "data": [1]}]}`, 400, "given twice"},
		{"rows", `{"inputs": [{"name": "x", "shape": [1001, 2], "datatype": "FP32", "data": [` + strings.Join(rows, ",") + `]}]}`, 400, "at most 1000"},
		{"huge", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "pad": "` + strings.Repeat("x", 1<<16) + `"}`, 413, "over 65536 bytes"},
		{"model", ``, 404, "no model"},
	} {
		path := "/v2/models/clicks/infer"
		if tc.name == "model" {
			path = "/v2/models/other/infer"
		}
		code, body := call(t, srv, "POST", path, tc.body)
		msg, _ := body["error"].(string)
		if code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, code, msg, tc.code, tc.want)
		}
	}
	// Still serving.
	if code, _ := call(t, srv, "GET", "/v2/health/ready", ""); code != 200 {
		t.Errorf("not ready after bad requests: %d", code)
	}
	_, metrics := call(t, srv, "GET", "/metrics", "")
	text := metrics["text"].(string)
	for _, want := range []string{`ferry_serve_requests_total{code="400",endpoint="infer"}`, `ferry_serve_model_info{format="ferry-gbdt"`, "ferry_serve_request_duration_seconds_bucket"} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// On shutdown the server turns unready and finishes what is in flight.
func TestDrain(t *testing.T) {
	dir, _ := trained(t)
	// net/http counts a connection that has sent nothing yet as active for
	// up to 5 s, so the drain needs longer than that when a client connects
	// just before the listener closes (the default is 25 s).
	s, err := serve.New(serve.Config{ModelDir: dir, Addr: "127.0.0.1:0", DrainTimeout: 15 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, addr) }()
	base := "http://" + <-addr
	body := `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 0]}]}`
	type outcome struct {
		refused bool
		err     error
	}
	errs := make(chan outcome, 200)
	for i := 0; i < 200; i++ {
		go func(i int) {
			resp, err := http.Post(base+"/v2/models/clicks/infer", "application/json", bytes.NewReader([]byte(body)))
			if err != nil {
				errs <- outcome{refused: true} // the listener had closed: the request never started
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case err != nil:
				errs <- outcome{err: fmt.Errorf("a started request lost its response: %v", err)}
			case resp.StatusCode == 200 && !strings.Contains(string(b), `"score"`):
				errs <- outcome{err: fmt.Errorf("a 200 without scores: %s", b)}
			case resp.StatusCode != 200 && resp.StatusCode != 503:
				errs <- outcome{err: fmt.Errorf("status %d", resp.StatusCode)}
			default:
				errs <- outcome{}
			}
		}(i)
		if i == 100 {
			cancel()
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	refused := 0
	for i := 0; i < 200; i++ {
		o := <-errs
		if o.refused {
			refused++
		}
		if o.err != nil {
			t.Error(o.err)
		}
	}
	t.Logf("%d of 200 requests came after the listener closed; every request that reached the server was answered", refused)
	if _, err := http.Get(base + "/v2/health/live"); err == nil {
		t.Error("the server still listens after Run returned")
	}
}
