package oci_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/oci"
)

// A directory goes to the registry as a ModelPack artifact and comes back
// file for file; the same files give the same digest.
func TestModelPackRoundTrip(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{"model.json": `{"format": "xgboost-json"}`, "metrics.json": `{"auc": 0.9}`,
		"weights/model.bin": strings.Repeat("\x00\x01", 5000), "README.md": "# ranker"}
	for rel, content := range files {
		p := filepath.Join(src, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	info := oci.ModelPackInfo{Name: "ranker", Revision: "abc", Format: "xgboost-json", Created: time.Unix(1700000000, 0)}
	img, err := oci.ModelPack(src, info)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := oci.ModelPack(src, info)
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two packs of the same files: %s and %s", d1, d2)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != oci.ModelPackArtifactType || m.Config.MediaType != oci.ModelPackConfig || len(m.Layers) != 4 {
		t.Fatalf("manifest: artifactType %q config %q, %d layers", m.ArtifactType, m.Config.MediaType, len(m.Layers))
	}
	kinds := map[string]string{}
	for _, l := range m.Layers {
		kinds[l.Annotations[oci.ModelPackFilepath]] = string(l.MediaType)
	}
	want := map[string]string{"model.json": oci.ModelPackWeightConfig, "metrics.json": oci.ModelPackWeightConfig,
		"weights/model.bin": oci.ModelPackWeight, "README.md": oci.ModelPackDoc}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("layer %s: media type %q, want %q", k, kinds[k], v)
		}
	}

	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/shop/ranker:train-1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	got, err := oci.PullModelPack(context.Background(), ref.String(), out)
	if err != nil {
		t.Fatal(err)
	}
	if got.DigestStr() != d1.String() {
		t.Errorf("pulled %s, pushed %s", got, d1)
	}
	for rel, content := range files {
		b, err := os.ReadFile(filepath.Join(out, rel))
		if err != nil || string(b) != content {
			t.Errorf("%s came back as %q (%v)", rel, b, err)
		}
	}

	// An ordinary image is not a ModelPack.
	plain, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/shop/ranker:plain")
	rnd, _ := random.Image(100, 1)
	remote.Write(plain, rnd)
	if _, err := oci.PullModelPack(context.Background(), plain.String(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a ModelPack") {
		t.Errorf("an image pulled as a ModelPack: %v", err)
	}
}
