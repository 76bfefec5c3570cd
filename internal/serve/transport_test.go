package serve_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// roundTrip sends raw, one or more HTTP requests as written, on one
// connection to url, and reads as many responses.
func roundTrip(t *testing.T, url, raw string, n int) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _, _ = io.WriteString(conn, raw) }()
	r := bufio.NewReader(conn)
	method, _, _ := strings.Cut(raw, " ") // of the first request: a HEAD's response has no body
	var out []*http.Response
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(r, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d of %q: %v", i+1, raw[:min(len(raw), 80)], err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out = append(out, resp)
	}
	return out
}

func post(path, contentType, body string) string {
	h := ""
	if contentType != "" {
		h = "Content-Type: " + contentType + "\r\n"
	}
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s", path, h, len(body), body)
}

const oneRow = `{"id": "r1", "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [5, 1]}]}`

// Run (fasthttp, infer its own) and Handler (net/http) answer every kind of
// request alike: the same status, Content-Type, Location and Allow, and
// the same body, byte for byte.
func TestTransportsAnswerAlike(t *testing.T) {
	run, handler, _ := servers(t)
	chunks := strings.Split(oneRow, "], ")
	chunked := "POST /v2/models/clicks/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
	for i, c := range chunks {
		if i < len(chunks)-1 {
			c += "], "
		}
		chunked += fmt.Sprintf("%x\r\n%s\r\n", len(c), c)
	}
	chunked += "0\r\n\r\n"
	for name, raw := range map[string]string{
		"infer":                       post("/v2/models/clicks/infer", "application/json", oneRow),
		"infer, no Content-Type":      post("/v2/models/clicks/infer", "", oneRow),
		"infer, JSON by another name": post("/v2/models/clicks/infer", "application/vnd.kserve+json; charset=utf-8", oneRow),
		"infer, a version":            post("/v2/models/clicks/versions/1/infer", "application/json", oneRow),
		"infer, another version":      post("/v2/models/clicks/versions/2/infer", "application/json", oneRow),
		"infer, escaped name":         post("/v2/models/cl%69cks/infer", "application/json", oneRow),
		"infer, query":                post("/v2/models/clicks/infer?trace=1", "application/json", oneRow),
		"infer, chunked":              chunked,
		"infer, raw non-ASCII":        post("/v2/models/caf\xc3\xa9/infer", "application/json", oneRow),
		"another model":               post("/v2/models/other/infer", "application/json", oneRow),
		"not JSON by its type":        post("/v2/models/clicks/infer", "text/csv", "5,1\n"),
		"bad JSON":                    post("/v2/models/clicks/infer", "application/json", `{"inputs": [`),
		"empty":                       post("/v2/models/clicks/infer", "application/json", ""),
		"too large":                   post("/v2/models/clicks/infer", "application/json", `{"pad": "`+strings.Repeat("x", 1<<16)+`"}`),
		"at the limit":                post("/v2/models/clicks/infer", "application/json", oneRow+strings.Repeat(" ", 1<<16-len(oneRow))),
		"a byte over the limit":       post("/v2/models/clicks/infer", "application/json", oneRow+strings.Repeat(" ", 1<<16-len(oneRow)+1)),
		"GET infer":                   "GET /v2/models/clicks/infer HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST metadata":               post("/v2/models/clicks", "application/json", oneRow),
		"unclean path":                post("/v2/models/clicks//infer", "application/json", oneRow),
		"HEAD live":                   "HEAD /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n",
		"metadata":                    "GET /v2/models/clicks HTTP/1.1\r\nHost: x\r\n\r\n",
		"no route":                    post("/nope", "application/json", oneRow),
	} {
		got, want := roundTrip(t, run, raw, 1)[0], roundTrip(t, handler, raw, 1)[0]
		gb, _ := io.ReadAll(got.Body)
		wb, _ := io.ReadAll(want.Body)
		for _, h := range []string{"Content-Type", "Location", "Allow"} {
			if got.Header.Get(h) != want.Header.Get(h) {
				t.Errorf("%s: %s %q, net/http's %q", name, h, got.Header.Get(h), want.Header.Get(h))
			}
		}
		if got.StatusCode != want.StatusCode || !bytes.Equal(gb, wb) {
			t.Errorf("%s: %d %s\nnet/http answers %d %s", name, got.StatusCode, gb, want.StatusCode, wb)
		}
		if wantCode := map[string]int{"infer": 200, "at the limit": 200, "a byte over the limit": 413}[name]; wantCode != 0 && got.StatusCode != wantCode {
			t.Errorf("%s: %d %s, want %d", name, got.StatusCode, gb, wantCode)
		}
	}
	// A path inferPath leaves to Handler, which routes it to infer: the
	// body is read there.
	run, handler, _ = serversNamed(t, "café")
	raw := post("/v2/models/caf\xc3\xa9/infer", "application/json", oneRow)
	got, want := roundTrip(t, run, raw, 1)[0], roundTrip(t, handler, raw, 1)[0]
	gb, _ := io.ReadAll(got.Body)
	wb, _ := io.ReadAll(want.Body)
	if got.StatusCode != 200 || want.StatusCode != 200 || !bytes.Equal(gb, wb) {
		t.Errorf("a raw non-ASCII name: %d %s\nnet/http answers %d %s", got.StatusCode, gb, want.StatusCode, wb)
	}
}

// A keep-alive connection goes on after a refused request whose body was
// not read, and after one to a route that reads none; a body over the
// limit ends the connection, rather than being read to its end.
func TestKeepAliveAfterUnreadBodies(t *testing.T) {
	run, _, _ := servers(t)
	raw := post("/v2/models/clicks/infer", "text/plain", strings.Repeat("x", 40000)) +
		post("/v2/health/live", "application/json", strings.Repeat("y", 200000)) +
		post("/v2/models/other/infer", "application/json", oneRow) +
		post("/v2/models/clicks/infer", "application/json", oneRow)
	resps := roundTrip(t, run, raw, 4)
	for i, want := range []int{415, 404, 404, 200} {
		if resps[i].StatusCode != want || resps[i].Close {
			t.Errorf("response %d: %d (close %v), want %d on the same connection", i+1, resps[i].StatusCode, resps[i].Close, want)
		}
	}
	tooBig := roundTrip(t, run, post("/v2/models/clicks/infer", "application/json", strings.Repeat(" ", 1<<17))+post("/v2/models/clicks/infer", "", oneRow), 1)[0]
	if tooBig.StatusCode != 413 || !tooBig.Close {
		t.Errorf("a body over the limit: %d (close %v), want 413 and the connection closed", tooBig.StatusCode, tooBig.Close)
	}
}

// Request lines and headers are read up to 32 KiB; past it the answer is
// 431, in JSON.
func TestHeaderLimit(t *testing.T) {
	run, _, _ := servers(t)
	withHeader := func(n int) string {
		return strings.Replace(post("/v2/models/clicks/infer", "application/json", oneRow), "Host: x\r\n", "Host: x\r\nX-Trace: "+strings.Repeat("t", n)+"\r\n", 1)
	}
	if r := roundTrip(t, run, withHeader(30<<10), 1)[0]; r.StatusCode != 200 {
		t.Errorf("a 30 KiB header: %d", r.StatusCode)
	}
	r := roundTrip(t, run, withHeader(40<<10), 1)[0]
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 431 || r.Header.Get("Content-Type") != "application/json" || !bytes.Contains(b, []byte(`"error":"the request's line and headers are over 32768 bytes"`)) {
		t.Errorf("a 40 KiB header: %d %s %s", r.StatusCode, r.Header.Get("Content-Type"), b)
	}
}

// A body the server does not read is never held: 64 MiB sent to a route
// that reads no body, or to infer past its limit, cost the server (and
// this test's client) under 4 MiB of allocations.
func TestUnreadBodiesAreNotHeld(t *testing.T) {
	run, _, _ := servers(t)
	for _, path := range []string{"/v2/health/live", "/nope", "/v2/models/clicks/infer"} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		resp, err := http.Post(run+path, "application/json", io.LimitReader(zeros{}, 64<<20))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("POST %s with 64 MiB: %.1f MiB allocated", path, float64(alloc)/(1<<20))
		}
		if err == nil && resp.StatusCode == 200 {
			t.Errorf("POST %s with 64 MiB of zeros: 200", path)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
