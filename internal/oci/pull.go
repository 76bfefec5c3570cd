package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrNoImage is an image reference that names nothing in its registry (a
// champion tag before the first deployment, say).
var ErrNoImage = errors.New("no such image")

// IsImageRef reports whether ref names an image rather than a path: it
// names its registry (a first part with a dot or a port, or localhost, as
// in ghcr.io/shop/ranker:champion). Anything else is a path, so a missing
// directory is reported as one, never looked up on Docker Hub.
func IsImageRef(ref string) bool {
	host, rest, ok := strings.Cut(ref, "/")
	return ok && rest != "" && (strings.ContainsAny(host, ".:") || host == "localhost")
}

// PullModel fetches a model image and extracts its model directory (/model)
// into dir. The image for this machine's platform is used from an index.
// opts carry the registry credentials; without, anonymous.
func PullModel(ctx context.Context, ref, dir string, opts ...remote.Option) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH})}, opts...)
	img, err := remote.Image(r, opts...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return name.Digest{}, fmt.Errorf("%s: %w", ref, ErrNoImage)
	}
	if err != nil {
		return name.Digest{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return name.Digest{}, err
	}
	found := false
	// The model is in the top layers: read them from the top down, so that
	// a file a later layer changed wins.
	written := map[string]bool{}
	for i := len(layers) - 1; i >= 0; i-- {
		n, err := extractModel(layers[i], dir, written)
		if err != nil {
			return name.Digest{}, fmt.Errorf("extract the model from %s: %w", ref, err)
		}
		found = found || n > 0
	}
	if !found {
		return name.Digest{}, fmt.Errorf("%s has no /model directory: it is not a ferry model image", ref)
	}
	return r.Context().Digest(digest.String()), nil
}

// extractModel writes a layer's files under model/ into dir, skipping the
// ones a higher layer wrote, and refusing paths that leave dir.
func extractModel(l v1.Layer, dir string, written map[string]bool) (int, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		p := path.Clean("/" + h.Name)
		rel, ok := strings.CutPrefix(p, "/model/")
		if !ok || h.Typeflag != tar.TypeReg || written[rel] {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(os.PathSeparator)) {
			return n, fmt.Errorf("%s leaves the model directory", h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return n, err
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return n, err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return n, err
		}
		if err := f.Close(); err != nil {
			return n, err
		}
		written[rel] = true
		n++
	}
}
