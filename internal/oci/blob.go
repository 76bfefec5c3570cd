package oci

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PushBlob pushes data as an OCI artifact of one layer of the given media
// type to ref (a repository and tag), and returns it by digest: how a
// search's rows reach the pods of its trials.
func PushBlob(ctx context.Context, ref string, mediaType types.MediaType, data []byte, opts ...remote.Option) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("artifact reference %q: %w", ref, err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, static.NewLayer(data, mediaType))
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(r, img, append([]remote.Option{remote.WithContext(ctx)}, opts...)...); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(d.String()), nil
}

// PullBlob reads back what PushBlob pushed: the one layer of ref, which
// must have the given media type. The layer's digest is checked as it is
// read.
func PullBlob(ctx context.Context, ref string, mediaType types.MediaType, opts ...remote.Option) ([]byte, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("artifact reference %q: %w", ref, err)
	}
	img, err := remote.Image(r, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	if len(layers) != 1 {
		return nil, fmt.Errorf("%s has %d layers, want the 1 of %s", ref, len(layers), mediaType)
	}
	if mt, err := layers[0].MediaType(); err != nil || mt != mediaType {
		return nil, fmt.Errorf("%s holds %s, want %s", ref, mt, mediaType)
	}
	rc, err := layers[0].Compressed() // as pushed: static layers are not compressed
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	return b, nil
}
