package serve

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// serveMuxInfer routes a request target as Handler's mux routes an infer request: the
// name and version it hands infer, and whether it does (rather than
// redirecting or answering another route).
func serveMuxInfer(target string) (name, version string, ok bool) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/models/{name}/infer", func(w http.ResponseWriter, r *http.Request) {
		name, ok = r.PathValue("name"), true
	})
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", func(w http.ResponseWriter, r *http.Request) {
		name, version, ok = r.PathValue("name"), r.PathValue("version"), true
	})
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("POST " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
	if err != nil {
		return "", "", false
	}
	mux.ServeHTTP(httptest.NewRecorder(), req)
	return name, version, ok
}

// fastInferPath is inferPath on the path fasthttp reads from target. A
// target with a '#' is left out: fasthttp reads a fragment there, net/http
// a path with a '#' in it, and HTTP clients send neither (a request target
// has no fragment, RFC 9112 section 3.2).
func fastInferPath(target string) (name, version string, ok bool) {
	var req fasthttp.Request
	if err := req.ReadLimitBody(bufio.NewReader(strings.NewReader("POST "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")), 0); err != nil {
		return "", "", false
	}
	return inferPath(req.URI().PathOriginal())
}

// inferPath, on the path fasthttp reads from a request, routes it as
// http.ServeMux does on the path net/http reads: where it matches, the same
// name and version ServeMux hands infer. The paths clients send match; what
// it leaves to Handler (a raw non-ASCII byte, say), ServeMux routes.
func TestInferPathIsServeMux(t *testing.T) {
	fast := map[string]bool{"/v2/models/clicks/infer": true, "/v2/models/clicks/versions/7/infer": true, "/v2/models/cl%69cks/infer": true,
		"/v2/models/a%2Fb/infer": true, "/v2/models/a%2fb/versions/1%2F2/infer": true, "/v2/models/caf%C3%A9/infer": true,
		"/v2/models/x/infer?a=1": true, "http://host/v2/models/x/infer": true, "/v2/models/%2e/infer": true}
	others := []string{"/v%32/models/x/infer", "/v2/models/x/%69nfer",
		"/v2/models//infer", "/v2/models/x//infer", "/v2/models/./infer", "/v2/models/../infer", "/v2/models/x/infer/",
		"/v2/models/x/versions/infer", "/v2/models/x/versions//infer", "/v2/models/x/versions/1/2/infer", "/v2/models/%zz/infer",
		"/v2/models/x", "/v2/models/x/infers", "/v2/model/x/infer", "v2/models/x/infer", "", "/", "/v2/models/x/Infer",
		"/v2/models/%2E%2E/infer", "/v2/models/x/versions/%2e/infer", "*", "/v2/models/\"%2F/infer", "/v2/models/caf\xc3\xa9/infer"}
	for p := range fast {
		others = append(others, p)
	}
	for _, p := range others {
		name, version, ok := fastInferPath(p)
		wantName, wantVersion, want := serveMuxInfer(p)
		if ok && (!want || name != wantName || version != wantVersion) || fast[p] && !ok {
			t.Errorf("%q: inferPath %q %q %v, ServeMux %q %q %v", p, name, version, ok, wantName, wantVersion, want)
		}
	}
}

func FuzzInferPath(f *testing.F) {
	for _, p := range []string{"/v2/models/clicks/infer", "/v2/models/a%2Fb/versions/1/infer", "/v2/models/./infer", "/v2/models/x//infer"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if strings.Contains(p, "#") {
			return
		}
		name, version, ok := fastInferPath(p)
		wantName, wantVersion, want := serveMuxInfer(p)
		// ServeMux may route a path inferPath leaves to it (which then
		// routes it): only a match ServeMux would not make is wrong.
		if ok && (!want || name != wantName || version != wantVersion) {
			t.Errorf("%q: inferPath %q %q, ServeMux %q %q %v", p, name, version, wantName, wantVersion, want)
		}
	})
}
