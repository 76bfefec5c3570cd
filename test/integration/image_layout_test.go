package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/test/testenv"
)

func imageLayout(t *testing.T) layout.Path {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(t), "bin", "image")
	p, err := layout.FromPath(dir)
	if err != nil {
		testenv.Missing(t, "the action image layout bin/image", "run `make image`")
	}
	return p
}

// The action image is a two-platform index of static, shell-less images whose
// entry point is ferry.
func TestActionImageLayout(t *testing.T) {
	root, err := imageLayout(t).ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	rm, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Manifests) != 1 || rm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v"+version.Version {
		t.Fatalf("layout index: %+v", rm.Manifests)
	}
	idx, err := root.ImageIndex(rm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS+"/"+cf.Architecture != d.Platform.String() {
			t.Errorf("%s: config says %s/%s", d.Platform, cf.OS, cf.Architecture)
		}
		if diff := cmp.Diff([]string{"/ferry"}, cf.Config.Entrypoint); diff != "" {
			t.Errorf("%s entrypoint (-want +got):\n%s", d.Platform, diff)
		}
		if cf.Config.Labels["org.opencontainers.image.version"] != version.Version {
			t.Errorf("%s labels: %v", d.Platform, cf.Config.Labels)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Errorf("%s: %d layers (%v), want 1: the static binary and /tmp", d.Platform, len(layers), err)
		}
	}
	sort.Strings(platforms)
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, platforms); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
}

// skopeo, an independent client, reads the layout as a valid image.
func TestActionImageSkopeo(t *testing.T) {
	skopeo := testenv.LookPath(t, "skopeo", "run `make deps` (apt-get install skopeo)")
	dir := filepath.Join(testenv.RepoRoot(t), "bin", "image")
	imageLayout(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, arch := range []string{"amd64", "arm64"} {
		out, err := exec.CommandContext(ctx, skopeo, "--override-os", "linux", "--override-arch", arch,
			"inspect", "oci:"+dir+":v"+version.Version).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo inspect (%s): %v\n%s", arch, err, out)
		}
		var info struct {
			Architecture string
			Os           string
			Labels       map[string]string
		}
		if err := json.Unmarshal(out, &info); err != nil {
			t.Fatalf("skopeo output: %v\n%s", err, out)
		}
		if info.Architecture != arch || info.Os != "linux" || info.Labels["org.opencontainers.image.source"] == "" {
			t.Errorf("skopeo inspect (%s): %+v", arch, info)
		}
	}
}

// Building the image again from the same commit gives the same digest.
func TestActionImageIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image twice")
	}
	root := testenv.RepoRoot(t)
	want, err := imageLayout(t).ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	wantM, _ := want.IndexManifest()
	again := filepath.Join(t.TempDir(), "image")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./hack/image", "--layout", again)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	p, err := layout.FromPath(again)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	gotM, _ := got.IndexManifest()
	if gotM.Manifests[0].Digest != wantM.Manifests[0].Digest {
		t.Errorf("rebuilt digest %s, bin/image has %s (was bin/image built from this commit?)", gotM.Manifests[0].Digest, wantM.Manifests[0].Digest)
	}
}
