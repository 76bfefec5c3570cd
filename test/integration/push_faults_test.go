package integration

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/test/testenv"
)

// faultProxy sits in front of the real registry and spoils chosen requests.
type faultProxy struct {
	mu     sync.Mutex
	next   *httputil.ReverseProxy
	faults []string // consumed in order by blob uploads: "500", "429", "reset"
	// failManifests answers every manifest PUT with a 500.
	failManifests bool
	injected      []string
	requests      []string // every request seen: "METHOD path?query"
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests = append(p.requests, r.Method+" "+r.URL.RequestURI())
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

// A base image in the same registry is mounted into the model's repository,
// not uploaded again: the registry is asked for cross-repository mounts and
// receives none of the base's bytes.
func TestBaseLayersAreMountedAcrossRepositories(t *testing.T) {
	reg := distributionRegistry(t)
	m := newClicksModel(t, t.TempDir())
	target, _ := url.Parse("http://" + reg)
	proxy := &faultProxy{next: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	via := strings.TrimPrefix(srv.URL, "http://")

	base, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: mustConfig(t, base).RootFS})
	if err != nil {
		t.Fatal(err)
	}
	baseRef, _ := name.ParseReference(reg + "/base/runtime:v1")
	if err := remote.Write(baseRef, base); err != nil {
		t.Fatal(err)
	}
	proxy.requests = nil
	if code := cli.Main(context.Background(), []string{"package", "--model", m.dir, "--image", via + "/shop/clicks:v1", "--base", via + "/base/runtime:v1"}, m.env); code != 0 {
		t.Fatalf("package: exit %d: %s", code, m.stderr)
	}
	layers, _ := base.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		mounted := slices.ContainsFunc(proxy.requests, func(r string) bool {
			u, err := url.Parse(strings.TrimPrefix(r, "POST "))
			return err == nil && strings.HasPrefix(r, "POST /v2/shop/clicks/blobs/uploads/") &&
				u.Query().Get("from") == "base/runtime" && u.Query().Get("mount") == d.String()
		})
		if !mounted {
			t.Errorf("base layer %s was not mounted; requests:\n%s", d, strings.Join(proxy.requests, "\n"))
		}
		// The real registry serves it from the model's repository.
		resp, err := http.Head("http://" + reg + "/v2/shop/clicks/blobs/" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("shop/clicks lacks base layer %s: %s", d, resp.Status)
		}
	}
	// Uploads are the model's own layers (ferry-serve and the model) and its
	// config: nothing of the base's three layers.
	uploads := 0
	for _, r := range proxy.requests {
		if strings.HasPrefix(r, "PUT /v2/shop/clicks/blobs/uploads/") {
			uploads++
		}
	}
	if uploads != 3 {
		t.Errorf("%d blobs uploaded, want 3 (two layers and the config); requests:\n%s", uploads, strings.Join(proxy.requests, "\n"))
	}
}

func mustConfig(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

// skopeo copy, an independent client, takes everything ferry writes: the
// image as a layout (with a weights file large enough for the uncompressed
// layer) and as a tarball, and the ModelPack artifact, to a registry; and
// back from the registry to a layout that go-containerregistry validates.
func TestSkopeoCopiesWhatFerryWrites(t *testing.T) {
	reg := distributionRegistry(t)
	skopeo := testenv.LookPath(t, "skopeo", "run `make deps` (apt-get install skopeo)")
	dir := t.TempDir()
	m := newClicksModel(t, dir)
	weights, err := os.Create(filepath.Join(m.dir, "weights.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(weights, rand.Reader, oci.UncompressedThreshold+1); err != nil {
		t.Fatal(err)
	}
	weights.Close()
	imageLayout, tarball, packLayout := filepath.Join(dir, "image"), filepath.Join(dir, "image.tar"), filepath.Join(dir, "modelpack")
	for _, args := range [][]string{
		{"--layout", imageLayout, "--tag", "v1"},
		{"--tarball", tarball},
		{"--kind", "modelpack", "--layout", packLayout, "--tag", "v1"},
	} {
		if code := cli.Main(context.Background(), append([]string{"package", "--model", m.dir}, args...), m.env); code != 0 {
			t.Fatalf("package %v: exit %d: %s", args, code, m.stderr)
		}
	}
	copyTo := func(src, dst string, flags ...string) {
		t.Helper()
		args := append([]string{"copy", "--quiet"}, flags...)
		if out, err := exec.Command(skopeo, append(args, src, dst)...).CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy %s %s: %v\n%s", src, dst, err, out)
		}
	}
	// Twice to the same registry: the second copy reuses the blobs skopeo
	// has seen (its blob info cache), which rewrites the manifest's layers;
	// a Docker media type in an OCI manifest fails there.
	copyTo("oci:"+imageLayout+":v1", "docker://"+reg+"/copies/first:v1", "--dest-tls-verify=false")
	for src, repo := range map[string]string{"oci:" + imageLayout + ":v1": "layout", "docker-archive:" + tarball: "tarball"} {
		copyTo(src, "docker://"+reg+"/copies/"+repo+":v1", "--dest-tls-verify=false")
		out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "docker://"+reg+"/copies/"+repo+":v1").Output()
		if err != nil {
			t.Fatalf("skopeo inspect the %s copy: %v", repo, err)
		}
		var info struct{ Labels map[string]string }
		if err := json.Unmarshal(out, &info); err != nil || info.Labels["dev.ferry.model.name"] != "clicks" {
			t.Errorf("the %s copy: labels %v (%v)", repo, info.Labels, err)
		}
	}
	copyTo("oci:"+packLayout+":v1", "docker://"+reg+"/copies/modelpack:v1", "--dest-tls-verify=false")
	raw, err := exec.Command(skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+reg+"/copies/modelpack:v1").Output()
	if err != nil {
		t.Fatal(err)
	}
	var manifest v1.Manifest
	if err := json.Unmarshal(raw, &manifest); err != nil || manifest.ArtifactType != oci.ModelPackArtifactType {
		t.Errorf("the ModelPack copy: %s (%v)", raw, err)
	}
	back := filepath.Join(dir, "back")
	copyTo("docker://"+reg+"/copies/layout:v1", "oci:"+back+":v1", "--src-tls-verify=false")
	p, err := layout.FromPath(back)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("the layout skopeo wrote: %v %v", im, err)
	}
	img, err := p.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image on skopeo's copy: %v", err)
	}
}

// ferryHtpasswd lets user ferry in with password s3cret (bcrypt).
const ferryHtpasswd = "ferry:$2b$10$u9PvbIfFqchNgF9UTPOO5.imexwT.AKDThw.zdrGHgR2ZtnJTYtpu\n"

// ferry package refuses bad input with errors that name what is wrong, and
// writes nothing: a reference that does not parse, a model directory that
// does not load, a base image for another platform, and a registry that
// refuses the credentials (the real registry with htpasswd auth).
func TestPackageBadInput(t *testing.T) {
	reg := distributionRegistry(t)
	bin := testenv.LookPath(t, "docker-registry", "run `make deps` (apt-get install docker-registry)")
	locked, err := testenv.StartRegistryWithAuth(bin, t.TempDir(), ferryHtpasswd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(locked.Stop)
	m := newClicksModel(t, t.TempDir())

	arm, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	if arm, err = mutate.ConfigFile(arm, &v1.ConfigFile{OS: "linux", Architecture: "arm64", RootFS: mustConfig(t, arm).RootFS}); err != nil {
		t.Fatal(err)
	}
	armRef, _ := name.ParseReference(reg + "/base/arm:v1")
	if err := remote.Write(armRef, arm); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"reference", []string{"--model", m.dir, "--image", "Not A Ref!!"}, `image reference "Not A Ref!!"`},
		{"model", []string{"--model", filepath.Join(t.TempDir(), "none"), "--image", reg + "/shop/x"}, "is not a model directory: it has no model.json"},
		{"base platform", []string{"--model", m.dir, "--image", reg + "/shop/x", "--base", reg + "/base/arm:v1", "--platform", "linux/amd64"},
			"the base image is linux/arm64, not linux/amd64"},
		{"auth", []string{"--model", m.dir, "--image", locked.Addr + "/shop/x:v1"},
			"push " + locked.Addr + "/shop/x:v1: the registry refused these credentials (401 Unauthorized): log in with push rights to " + locked.Addr},
	} {
		m.stderr.Reset()
		m.stdout.Reset()
		if code := cli.Main(context.Background(), append([]string{"package"}, tc.args...), m.env); code == 0 || !strings.Contains(m.stderr.String(), tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want an error with %q", tc.name, code, m.stderr, tc.want)
		}
		if strings.Contains(m.stdout.String(), "@sha256:") {
			t.Errorf("%s: printed an image reference after failing: %s", tc.name, m.stdout)
		}
	}
	// Nothing reached the registry's repository.
	if _, err := remote.Head(mustRef(t, reg+"/shop/x:latest")); err == nil {
		t.Error("shop/x:latest exists after failed packages")
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
