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
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gbdt"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/serve"
	"github.com/ferry-ml/ferry/test/testenv"
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

// server serves the click model as ferry-serve does (Run) and returns its
// URL.
func server(t testing.TB) (string, *model.Model) {
	t.Helper()
	run, _, m := servers(t)
	return run, m
}

// servers serves the click model twice from one Server: as ferry-serve
// does (Run: fasthttp, with infer its own) and on net/http (Handler). It
// returns both URLs.
func servers(t testing.TB) (run, handler string, m *model.Model) {
	return serversNamed(t, "")
}

// serversNamed is servers, the model served under name in its URLs.
func serversNamed(t testing.TB, name string) (run, handler string, m *model.Model) {
	t.Helper()
	dir, _ := trained(t)
	s, err := serve.New(serve.Config{ModelDir: dir, Addr: "127.0.0.1:0", Name: name, MaxRows: 1000, MaxBodyBytes: 1 << 16}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- s.Run(ctx, addr) }()
	select {
	case a := <-addr:
		run = "http://" + a
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	if m, err = model.Load(dir); err != nil {
		t.Fatal(err)
	}
	return run, srv.URL, m
}

func call(t testing.TB, url, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
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
	run, handler, _ := servers(t)
	for _, srv := range []string{run, handler} {
		checkHealthAndMetadata(t, srv)
	}
}

func checkHealthAndMetadata(t *testing.T, srv string) {
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
		"matrix":                  `{"inputs": [{"name": "x", "shape": [3, 2], "datatype": "FP64", "data": [[5, 0], [30, 1], [null, 0]]}]}`,
		"flat matrix, data first": `{"inputs": [{"data": [5, 0, 30, 1, null, 0], "name": "x", "parameters": {"a": [1]}, "shape": [3, 2], "datatype": "FP32"}], "outputs": [{"name": "score"}]}`,
		"per feature, data first": `{"inputs": [{"data": ["mobile", "desktop", "mobile"], "datatype": "BYTES", "name": "device", "shape": [3]},
			{"name": "price", "shape": [3, 1], "datatype": "INT64", "data": [[5], [30], [null]]}]}`,
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

// Both transports refuse the same requests with the same messages.
func TestBadRequests(t *testing.T) {
	run, handler, _ := servers(t)
	for _, srv := range []string{run, handler} {
		checkBadRequests(t, srv)
	}
}

func checkBadRequests(t *testing.T, srv string) {
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
		{"NaN is not JSON", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [NaN, 1]}]}`, 400, "not JSON: invalid character 'N'"},
		{"not finite", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1e999, 1]}]}`, 400, "1e999 is not a finite number"},
		{"no data", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32"}]}`, 400, `input "x": no data`},
		{"no inputs", `{"inputs": []}`, 400, "no inputs"},
		{"shape", `{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]}`, 400, "holds 4 values, data has 3"},
		{"columns", `{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}`, 400, "3 columns, want 2"},
		{"type", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": ["a", "b"]}]}`, 400, "wants numbers"},
		{"datatype", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}]}`, 400, "is numeric"},
		{"name", `{"inputs": [{"name": "price", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}`, 400, `input "colour" is not a feature`},
		{"missing feature", `{"inputs": [{"name": "price", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "price", "shape": [1], "datatype": "FP32", "data": [1]}]}`, 400, "given twice"},
		{"rows", `{"inputs": [{"name": "x", "shape": [1001, 2], "datatype": "FP32", "data": [` + strings.Join(rows, ",") + `]}]}`, 400, "at most 1000"},
		// Refused from the shape alone, before any data is read: the rest of this body is not even JSON.
		{"rows before data", `{"inputs": [{"name": "x", "shape": [1001, 2], "datatype": "FP32", "data": [[1, 0], [`, 400, "at most 1000"},
		{"shape larger than the body", `{"inputs": [{"name": "x", "shape": [900, 2], "datatype": "FP32", "data": [`, 400, "holds 1800 values, more than the request's body can carry"},
		{"empty", ``, 400, "the request is empty"},
		{"two values", `{"inputs": []} {}`, 400, "more than one JSON value"},
		{"duplicate key", `{"inputs": [{"name": "x", "name": "y", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}`, 400, "duplicate object member name"},
		{"matrix not alone", `{"inputs": [{"name": "price", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 0]}]}`, 400, "comes alone"},
		{"object in data", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [{"a": 1}, 2]}]}`, 400, "data holds an object"},
		{"more data than shape", `{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 0, 1, 0]}]}`, 400, "holds 2 values, data has 4"},
		{"data before shape, bad", `{"inputs": [{"data": [1, 0, 1], "name": "x", "datatype": "FP32", "shape": [1, 2]}]}`, 400, "holds 2 values, data has 3"},
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
			t.Errorf("%s: %s: %d %q, want %d with %q", srv, tc.name, code, msg, tc.code, tc.want)
		}
	}
	// A body that says it is not JSON is refused whole (415); JSON under
	// another name and a body without a Content-Type are read.
	for ct, want := range map[string]int{"text/plain": 415, "application/x-www-form-urlencoded": 415, "application/octet-stream": 415,
		"not a media type": 415, "application/json; charset=utf-8": 200, "application/vnd.kserve+json": 200, "": 200} {
		req, _ := http.NewRequest("POST", srv+"/v2/models/clicks/infer", strings.NewReader(`{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 0]}]}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 415 && !strings.Contains(string(b), "send Content-Type: application/json")) {
			t.Errorf("Content-Type %q: %d %s, want %d", ct, resp.StatusCode, b, want)
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
	// A client that connects just before the listener closes may hold its
	// connection open for a while before it sends its request: the drain
	// gives it 15 s (the default is 25 s).
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
			case resp.StatusCode != 200:
				errs <- outcome{err: fmt.Errorf("a request that reached the draining server got status %d: %s", resp.StatusCode, b)}
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

// discard is a ResponseWriter that keeps nothing, so that measuring a
// request's allocations does not count a recorder's copy of the response.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// A request costs the server at most 4 times its tensor's size: the bytes
// the whole request allocates (decoding, scoring, encoding the answer) stay
// under 4x rows x features x 8 for an FP64 tensor of 2 MB and of 30 MB of
// JSON, on Handler and through Run. Before decoding streamed, a 2 MB request allocated 66 times its
// tensor (bench/servemem has the resident-set figures).
func TestRequestMemoryIsBounded(t *testing.T) {
	const features = 28
	d := &data.Dataset{Rows: 400}
	for j := 0; j < features; j++ {
		c := data.Column{Name: fmt.Sprintf("f%d", j)}
		for i := 0; i < d.Rows; i++ {
			c.Values = append(c.Values, float32((i*(j+3))%17)/17)
		}
		d.Columns = append(d.Columns, c)
	}
	for i := 0; i < d.Rows; i++ {
		d.Label = append(d.Label, float64(i%2))
	}
	p := gbdt.DefaultParams(gbdt.Binary)
	p.Trees = 10
	res, err := gbdt.Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "m")
	if err := model.Save(dir, model.Manifest{Name: "m", Format: model.FormatGBDT, Task: "binary", Objective: "binary", Features: d.Schema()}, res.Model); err != nil {
		t.Fatal(err)
	}
	s, err := serve.New(serve.Config{ModelDir: dir, MaxRows: 1 << 20, MaxBodyBytes: 40 << 20}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	url, stop := runServer(t, serve.Config{ModelDir: dir, Addr: "127.0.0.1:0", MaxRows: 1 << 20, MaxBodyBytes: 40 << 20})
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for _, size := range []int{2 << 20, 30 << 20} {
		var b bytes.Buffer
		row := []byte("[")
		for j := 0; j < features; j++ {
			if j > 0 {
				row = append(row, ',')
			}
			row = fmt.Appendf(row, "%v", float64(float32(j)/7)) // 0.1428571492433548, as numpy sends float32 values
		}
		row = append(row, ']')
		rows := size / (len(row) + 1)
		fmt.Fprintf(&b, `{"inputs": [{"name": "x", "shape": [%d, %d], "datatype": "FP64", "data": [`, rows, features)
		for i := 0; i < rows; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(row)
		}
		b.WriteString("]}]}")
		body := b.Bytes()
		tensor := float64(rows * features * 8)
		checkAlloc := func(via string, serve func() int) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			code := serve()
			runtime.ReadMemStats(&after)
			if code != http.StatusOK {
				t.Fatalf("%s, %d bytes: answered %d", via, len(body), code)
			}
			alloc := float64(after.TotalAlloc - before.TotalAlloc)
			t.Logf("%s, %.1f MiB request, %d rows: allocated %.1f MiB, %.2fx its FP64 tensor", via, float64(len(body))/(1<<20), rows, alloc/(1<<20), alloc/tensor)
			if alloc > 4*tensor {
				t.Errorf("%s, %.1f MiB request: allocated %.1f MiB, over 4x its %.1f MiB tensor", via, float64(len(body))/(1<<20), alloc/(1<<20), tensor/(1<<20))
			}
		}
		checkAlloc("Handler", func() int {
			w := &discard{h: http.Header{}}
			req := httptest.NewRequest(http.MethodPost, "/v2/models/m/infer", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(w, req)
			return w.code
		})
		// Through Run's transport, this test's client included.
		checkAlloc("Run", func() int {
			resp, err := http.Post(url+"/v2/models/m/infer", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.StatusCode
		})
	}
}

// A LightGBM model served answers LightGBM's own scores within 1e-12: the
// numbers of the request are kept as doubles for it (the HIGGS model's
// thresholds sit an ulp above values in the data, where float32 inputs go
// the other way on 5 of its 500 test rows).
func TestServeLightGBMAsLightGBMScores(t *testing.T) {
	interop := filepath.Join(testenv.RepoRoot(t), "..", "shared", "interop", "lightgbm")
	raw, err := os.ReadFile(filepath.Join(interop, "binary", "model.txt"))
	if err != nil {
		testenv.Missing(t, "../shared/interop/lightgbm", "the LightGBM interop fixtures are shared beside the repository")
	}
	var features []data.Feature
	for k := 0; k < 28; k++ {
		features = append(features, data.Feature{Name: fmt.Sprintf("x%d", k)})
	}
	dir := filepath.Join(t.TempDir(), "m")
	if err := model.Save(dir, model.Manifest{Name: "m", Format: model.FormatLightGBM, Task: "binary", Objective: "binary", Features: features}, raw); err != nil {
		t.Fatal(err)
	}
	s, err := serve.New(serve.Config{ModelDir: dir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	test, err := os.ReadFile(filepath.Join(interop, "data", "binary.test"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(test)), "\n")
	var rows []string
	for _, line := range lines {
		rows = append(rows, "["+strings.Join(strings.Fields(line)[1:], ",")+"]") // the file's own text: the same doubles LightGBM parsed
	}
	body := fmt.Sprintf(`{"inputs": [{"name": "x", "shape": [%d, 28], "datatype": "FP64", "data": [%s]}]}`, len(rows), strings.Join(rows, ","))
	code, resp := call(t, srv.URL, "POST", "/v2/models/m/infer", body)
	if code != 200 {
		t.Fatalf("%d %v", code, resp)
	}
	got := scoresOf(t, resp)
	want, err := os.ReadFile(filepath.Join(interop, "binary", "lgb_score.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range strings.Fields(string(want)) {
		v, _ := strconv.ParseFloat(w, 64)
		if math.Abs(got[i]-v) > 1e-12 {
			t.Errorf("row %d: served %.17g, LightGBM %.17g", i, got[i], v)
		}
	}
}
