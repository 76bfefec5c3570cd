// Command image builds ferry's images without a Docker daemon: the action
// image (--binary ferry) and the model server's (--binary ferry-serve). The
// binary is
// cross-compiled (static, CGO_ENABLED=0) for each platform and laid on an
// empty base with go-containerregistry, then written as an OCI image layout
// (`make image`) or pushed as a multi-platform index (the release workflow).
//
// An image holds its binary and an empty /tmp, nothing else: no shell, no
// package manager. The action image's entry point is `ferry`, and each action
// passes its stage as arguments; ferry-serve's runs as user 65532. Both are
// reproducible: timestamps come from SOURCE_DATE_EPOCH (or
// the last commit), so the same source gives the same digest.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	out := fs.String("layout", "", "write an OCI image layout to this directory")
	push := fs.String("push", "", "push the index to this reference, such as ghcr.io/ferry-ml/ferry:v0.1.0")
	platforms := fs.String("platform", "linux/amd64,linux/arm64", "comma-separated platforms")
	binary := fs.String("binary", "ferry", "which image: ferry (the action image) or ferry-serve (the model server)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*out == "") == (*push == "") {
		return fmt.Errorf("give exactly one of --layout DIR or --push REF")
	}
	kind, ok := kinds[*binary]
	if !ok {
		return fmt.Errorf("--binary %q: want ferry or ferry-serve", *binary)
	}
	created, err := oci.SourceDate(ctx, os.Getenv)
	if err != nil {
		return err
	}
	commit := git(ctx, "rev-parse", "HEAD")
	tmp, err := os.MkdirTemp("", "ferry-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var plats []v1.Platform
	bins := map[string]string{}  // os-arch -> the binary built for it
	serve := map[string]string{} // os-arch -> ferry-serve, for the action image
	for _, p := range strings.Split(*platforms, ",") {
		plat, err := v1.ParsePlatform(strings.TrimSpace(p))
		if err != nil {
			return fmt.Errorf("platform %q: %w", p, err)
		}
		if bins[platKey(*plat)], err = buildBinary(ctx, tmp, kind, *plat, commit); err != nil {
			return err
		}
		if kind.binary == "ferry" {
			if serve[platKey(*plat)], err = buildBinary(ctx, tmp, kinds["ferry-serve"], *plat, commit); err != nil {
				return err
			}
		}
		plats = append(plats, *plat)
	}
	for _, plat := range plats {
		img, err := platformImage(kind, plat, bins[platKey(plat)], serve, created, commit)
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	tag := "v" + version.Version
	if *out != "" {
		if err := os.RemoveAll(*out); err != nil {
			return err
		}
		p, err := layout.Write(*out, empty.Index)
		if err != nil {
			return err
		}
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
			return fmt.Errorf("write layout %s: %w", *out, err)
		}
		fmt.Printf("%s:%s@%s\n", *out, tag, digest)
		return nil
	}
	ref, err := name.ParseReference(*push)
	if err != nil {
		return fmt.Errorf("--push %q: %w", *push, err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	fmt.Printf("%s@%s\n", ref.Context(), digest)
	return nil
}

// imageKind is what differs between the two images this command builds.
type imageKind struct {
	binary      string
	description string
	user        string
	workingDir  string
	ports       []string
}

var kinds = map[string]imageKind{
	// GitHub runs container actions as the image's user and requires root;
	// ferry switches to the workspace's owner as soon as it starts.
	"ferry": {binary: "ferry", user: "0:0", workingDir: "/github/workspace",
		description: "ferry's GitHub Actions: train, evaluate, package and deploy models"},
	"ferry-serve": {binary: "ferry-serve", user: "65532:65532", workingDir: "/", ports: []string{"8080/tcp"},
		description: "ferry's model server (Open Inference Protocol), the base of model images"},
}

func platKey(p v1.Platform) string { return p.OS + "-" + p.Architecture }

// buildBinary cross-compiles the binary for plat.
func buildBinary(ctx context.Context, tmp string, kind imageKind, plat v1.Platform, commit string) (string, error) {
	bin := filepath.Join(tmp, platKey(plat), kind.binary)
	ldflags := "-s -w -buildid= -X github.com/ferry-ml/ferry/internal/version.Commit=" + commit
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", version.BuildTags, "-ldflags="+ldflags, "-o", bin, "./cmd/"+kind.binary)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+plat.OS, "GOARCH="+plat.Architecture)
	if plat.Variant != "" && plat.Architecture == "arm" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(plat.Variant, "v"))
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s for %s: %w", kind.binary, plat, err)
	}
	return bin, nil
}

// platformImage wraps plat's binary in an image. The action image also
// carries ferry-serve for every platform as /serve/OS-ARCH, so that `ferry
// package --platform` puts the small server, not all of ferry, in model
// images for each platform.
func platformImage(kind imageKind, plat v1.Platform, bin string, serve map[string]string, created time.Time, commit string) (v1.Image, error) {
	files := []oci.File{
		{Path: "/" + kind.binary, Mode: 0o755, Source: bin},
		{Path: "/tmp", Mode: 0o777 | os.ModeSticky, Dir: true},
	}
	for key, bin := range serve {
		files = append(files, oci.File{Path: "/serve/" + key, Mode: 0o755, Source: bin})
	}
	layer, err := oci.Layer(files, created)
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	cf.Created = v1.Time{Time: created}
	cf.Config.Entrypoint = []string{"/" + kind.binary}
	cf.Config.Env = []string{"PATH=/", "TMPDIR=/tmp"}
	cf.Config.WorkingDir = kind.workingDir
	cf.Config.User = kind.user
	if len(kind.ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range kind.ports {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.source":      "https://github.com/ferry-ml/ferry",
		"org.opencontainers.image.version":     version.Version,
		"org.opencontainers.image.revision":    commit,
		"org.opencontainers.image.created":     created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.title":       kind.binary,
		"org.opencontainers.image.description": kind.description,
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return img, nil
}

// git returns a git command's output, or "" outside a repository.
func git(ctx context.Context, args ...string) string {
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
