package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// OpenImage opens the image for plat that ref names: a registry reference
// (a tag or a digest), or an OCI layout as `ferry package --layout` prints
// it, DIR[:TAG]@DIGEST. It returns the image and ref's own digest (the
// index's, for a multi-platform image). opts carry the registry
// credentials (remote.WithAuthFromKeychain, say); without, anonymous.
func OpenImage(ctx context.Context, ref string, plat v1.Platform, opts ...remote.Option) (v1.Image, v1.Hash, error) {
	if dir, digest, ok := layoutRef(ref); ok {
		return openLayout(dir, digest, plat)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("image reference %q: neither a registry reference nor an OCI layout DIR@DIGEST: %w", ref, err)
	}
	// The caller's options carry the credentials.
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithPlatform(plat)}, opts...)
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("pull %s for %s: %w", ref, plat, err)
	}
	return img, desc.Digest, nil
}

// layoutRef splits DIR[:TAG]@DIGEST when DIR is an OCI layout on disk.
func layoutRef(ref string) (dir string, digest v1.Hash, ok bool) {
	path, dgst, found := strings.Cut(ref, "@")
	if !found {
		return "", v1.Hash{}, false
	}
	h, err := v1.NewHash(dgst)
	if err != nil {
		return "", v1.Hash{}, false
	}
	for _, candidate := range []string{path, trimTag(path)} {
		if _, err := os.Stat(filepath.Join(candidate, "index.json")); err == nil {
			return candidate, h, true
		}
	}
	return "", v1.Hash{}, false
}

func trimTag(path string) string {
	i := strings.LastIndexByte(path, ':')
	if i < 0 || strings.Contains(path[i:], "/") {
		return path
	}
	return path[:i]
}

func openLayout(dir string, digest v1.Hash, plat v1.Platform) (v1.Image, v1.Hash, error) {
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if img, err := root.Image(digest); err == nil {
		if _, err := img.ConfigFile(); err == nil {
			return img, digest, nil
		}
	}
	idx, err := root.ImageIndex(digest)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s has no image or index %s", dir, digest)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, err
	}
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.OS == plat.OS && m.Platform.Architecture == plat.Architecture {
			img, err := idx.Image(m.Digest)
			return img, digest, err
		}
	}
	return nil, v1.Hash{}, errors.New("OCI layout " + dir + "@" + digest.String() + " has no image for " + plat.String())
}
