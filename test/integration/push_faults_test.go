package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/internal/testenv"
)

// faultProxy sits in front of the real registry and spoils chosen requests.
type faultProxy struct {
	mu     sync.Mutex
	next   *httputil.ReverseProxy
	faults []string // consumed in order by blob uploads: "500", "429", "reset"
	// failManifests answers every manifest PUT with a 500.
	failManifests bool
	injected      []string
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	var fault string
	upload := (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/")
	if upload && len(p.faults) > 0 {
		fault, p.faults = p.faults[0], p.faults[1:]
	}
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && p.failManifests {
		fault = "500"
	}
	if fault != "" {
		p.injected = append(p.injected, fault+" "+r.Method+" "+r.URL.Path)
	}
	p.mu.Unlock()
	switch fault {
	case "500":
		http.Error(w, "injected", http.StatusInternalServerError)
	case "429":
		w.Header().Set("Retry-After", "0")
		http.Error(w, "injected", http.StatusTooManyRequests)
	case "reset":
		// Read part of the upload, then drop the connection.
		buf := make([]byte, 512)
		r.Body.Read(buf)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		http.Error(w, "cannot hijack", 500)
	default:
		p.next.ServeHTTP(w, r)
	}
}

func TestPushSurvivesRegistryFaults(t *testing.T) {
	reg := distributionRegistry(t)
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "ferry")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ferry")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ferry: %v\n%s", err, out)
	}
	modelDir := filepath.Join(dir, "model")
	os.MkdirAll(modelDir, 0o755)
	os.WriteFile(filepath.Join(modelDir, "model.json"), []byte(`{"name": "m"}`), 0o644)
	img, err := oci.Image(nil, oci.Model{Dir: modelDir, Name: "m", Created: time.Unix(0, 0), ServeBins: map[string]string{"linux/amd64": bin}},
		v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse("http://" + reg)
	proxy := &faultProxy{next: httputil.NewSingleHostReverseProxy(target), faults: []string{"500", "429", "reset"}}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	via := strings.TrimPrefix(srv.URL, "http://") + "/shop/m"
	ctx := context.Background()
	pinned, err := oci.Push(ctx, via, []string{"pr-1"}, img, nil, nil)
	if err != nil {
		t.Fatalf("push through faults %v: %v", proxy.injected, err)
	}
	if len(proxy.injected) != 3 {
		t.Errorf("faults injected: %v, want all three", proxy.injected)
	}
	// The real registry, asked directly, has the image under its tag.
	direct, _ := name.ParseReference(reg + "/shop/m:pr-1")
	desc, err := remote.Head(direct)
	if err != nil || desc.Digest.String() != pinned.DigestStr() {
		t.Errorf("the registry has %v (%v), ferry pushed %s", desc, err, pinned)
	}

	// A manifest the registry refuses leaves no tag behind.
	proxy.failManifests = true
	if _, err := oci.Push(ctx, strings.TrimPrefix(srv.URL, "http://")+"/shop/broken", []string{"pr-2"}, img, nil, nil); err == nil {
		t.Fatal("a push whose manifest was refused succeeded")
	}
	for _, tag := range []string{"latest", "pr-2"} {
		ref, err := name.ParseReference(reg + "/shop/broken:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(ref); err == nil {
			t.Errorf("tag %s exists after a failed push", tag)
		}
	}
}
