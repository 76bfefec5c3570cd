package oci_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/test/testenv"
)

// serveDir holds the static ferry staticServe builds, private to this test
// process: a path shared between processes let another checkout's build
// replace the binary in the middle of a reproducibility check.
var serveDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if serveDir != "" {
		os.RemoveAll(serveDir)
	}
	os.Exit(code)
}

var serveOnce sync.Once

// staticServe builds a static ferry once per test process.
func staticServe(t *testing.T) string {
	t.Helper()
	var err error
	serveOnce.Do(func() {
		if serveDir, err = os.MkdirTemp("", "ferry-oci-test-"); err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(serveDir, "ferry"), "./cmd/ferry")
		cmd.Dir = testenv.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("build ferry: %v\n%s", berr, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(serveDir, "ferry")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the static ferry was not built: %v", err)
	}
	return bin
}

func modelDir(t *testing.T, weights string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{"name": "m"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "gbdt.json"), []byte(weights), 0o644)
	return dir
}

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

func TestModelImage(t *testing.T) {
	bin := staticServe(t)
	m := oci.Model{Dir: modelDir(t, `{"trees": 1}`), Name: "m", Task: "binary", Format: "ferry-gbdt", Created: time.Unix(1700000000, 0),
		Metrics: map[string]string{"auc": "0.9300"}, Revision: "abc", ServeBins: map[string]string{"linux/amd64": bin}}
	img, err := oci.Image(nil, m, amd64)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	// An OCI manifest with OCI layers: clients that convert layers (skopeo
	// copy compressing for a registry) refuse Docker media types there.
	manifest, _ := img.Manifest()
	for _, l := range manifest.Layers {
		if !strings.HasPrefix(string(l.MediaType), "application/vnd.oci.image.layer.v1.") {
			t.Errorf("layer %s has media type %s in an OCI manifest", l.Digest, l.MediaType)
		}
	}
	cf, _ := img.ConfigFile()
	if cf.Config.User != "65532:65532" || cf.Config.Entrypoint[0] != "/ferry-serve" || cf.Config.Labels["dev.ferry.metric.auc"] != "0.9300" {
		t.Errorf("config %+v", cf.Config)
	}
	again, _ := oci.Image(nil, m, amd64)
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds, two digests: %s %s", d1, d2)
	}
	// A new model changes only the last layer.
	m2 := m
	m2.Dir = modelDir(t, `{"trees": 2}`)
	other, _ := oci.Image(nil, m2, amd64)
	l1, _ := img.Layers()
	l2, _ := other.Layers()
	h10, _ := l1[0].Digest()
	h20, _ := l2[0].Digest()
	h11, _ := l1[1].Digest()
	h21, _ := l2[1].Digest()
	if h10 != h20 || h11 == h21 {
		t.Errorf("layers: serve %s/%s (want equal), model %s/%s (want different)", h10, h20, h11, h21)
	}
	if _, err := oci.Image(nil, oci.Model{Dir: m.Dir, ServeBins: map[string]string{"linux/amd64": "/bin/ls"}}, amd64); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("a dynamic binary: %v", err)
	}
}

// Pushing again after a model-only change uploads one layer (and the config).
func TestPushUploadsOnlyWhatChanged(t *testing.T) {
	bin := staticServe(t)
	var uploads atomic.Int64
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
			uploads.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/shop/ranker"
	m := oci.Model{Dir: modelDir(t, `{"trees": 1}`), Name: "m", Created: time.Unix(0, 0), ServeBins: map[string]string{"linux/amd64": bin}}
	img, _ := oci.Image(nil, m, amd64)
	pinned, err := oci.Push(context.Background(), ref, []string{"pr-1", "sha-abc"}, img, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := uploads.Load()
	if d, _ := img.Digest(); pinned.DigestStr() != d.String() {
		t.Errorf("pushed %s, built %s", pinned, d)
	}
	m.Dir = modelDir(t, `{"trees": 2}`)
	img2, _ := oci.Image(nil, m, amd64)
	if _, err := oci.Push(context.Background(), ref, []string{"pr-2"}, img2, nil, nil); err != nil {
		t.Fatal(err)
	}
	if first != 3 || uploads.Load()-first != 2 {
		t.Errorf("uploads: %d for the first push (want 3: two layers and the config), %d for the second (want 2: the model layer and the config)", first, uploads.Load()-first)
	}
}

// Weights over the threshold go in a plain tar layer of their own.
func TestLargeWeightsAreUncompressed(t *testing.T) {
	bin := staticServe(t)
	dir := modelDir(t, "{}")
	big := make([]byte, oci.UncompressedThreshold)
	for i := range big {
		big[i] = byte(i * 7919)
	}
	os.WriteFile(filepath.Join(dir, "weights.bin"), big, 0o644)
	m := oci.Model{Dir: dir, Name: "m", Created: time.Unix(0, 0), ServeBins: map[string]string{"linux/amd64": bin}}
	img, err := oci.Image(nil, m, amd64)
	if err != nil {
		t.Fatal(err)
	}
	// validate.Image assumes gzip layers, so check this one by hand: its
	// digest is the sha256 of its bytes, which are the tar itself.
	layers, _ := img.Layers()
	if len(layers) == 3 {
		rc, _ := layers[1].Compressed()
		h := sha256.New()
		n, _ := io.Copy(h, rc)
		rc.Close()
		d, _ := layers[1].Digest()
		diff, _ := layers[1].DiffID()
		if d.Hex != hex.EncodeToString(h.Sum(nil)) || diff != d {
			t.Errorf("weights layer digest %s, diff id %s, sha256 of its %d bytes %x", d, diff, n, h.Sum(nil))
		}
	}
	if len(layers) != 3 {
		t.Fatalf("%d layers, want ferry-serve, weights, model", len(layers))
	}
	mt, _ := layers[1].MediaType()
	size, _ := layers[1].Size()
	if mt != "application/vnd.oci.image.layer.v1.tar" || size < int64(len(big)) {
		t.Errorf("weights layer: %s, %d bytes", mt, size)
	}
	again, _ := oci.Image(nil, m, amd64)
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Error("not reproducible with an uncompressed layer")
	}
}

// A bare repository gets exactly the tags asked for: no implicit latest.
// Without a tag anywhere, nothing is pushed.
func TestPushTagsOnlyWhatWasAsked(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/shop/ranker"
	m := oci.Model{Dir: modelDir(t, `{"trees": 1}`), Name: "m", Created: time.Unix(0, 0), ServeBins: map[string]string{"linux/amd64": staticServe(t)}}
	img, _ := oci.Image(nil, m, amd64)
	if _, err := oci.Push(context.Background(), ref, []string{"pr-1", "sha-abc"}, img, nil, nil); err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(ref)
	tags, err := remote.List(repo)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"pr-1", "sha-abc"}; !slices.Equal(tags, want) {
		t.Errorf("tags %v, want %v", tags, want)
	}
	_, err = oci.Push(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/shop/other", nil, img, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "has no tag and no tags were given") {
		t.Errorf("no tag at all: %v", err)
	}
}
