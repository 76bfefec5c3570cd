package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// CNCF ModelPack (github.com/modelpack/model-spec) media types.
const (
	ModelPackArtifactType = "application/vnd.cncf.model.manifest.v1+json"
	ModelPackConfig       = "application/vnd.cncf.model.config.v1+json"
	ModelPackWeight       = "application/vnd.cncf.model.weight.v1.tar"
	ModelPackWeightConfig = "application/vnd.cncf.model.weight.config.v1.tar"
	ModelPackDoc          = "application/vnd.cncf.model.doc.v1.tar"
	// ModelPackFilepath annotates each layer with the file it holds.
	ModelPackFilepath = "org.cncf.model.filepath"
)

// ModelPackInfo is what the artifact's configuration says about the model.
type ModelPackInfo struct {
	Name, Revision, Source, Format string
	Created                        time.Time
}

// ModelPack returns the files of dir as a CNCF ModelPack artifact: one
// uncompressed tar layer per file (weights as weight layers; JSON and YAML
// as weight configuration; Markdown and text as docs), each annotated with
// its path, and the model-spec configuration. Like the images, it is
// reproducible: the same files and info give the same digest.
func ModelPack(dir string, info ModelPackInfo) (v1.Image, error) {
	files, err := dirFiles(dir, "")
	if err != nil {
		return nil, err
	}
	a := &artifact{layers: map[v1.Hash]v1.Layer{}}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: ModelPackArtifactType}
	var diffIDs []string
	for _, f := range files {
		if f.Dir {
			continue
		}
		rel := strings.TrimPrefix(f.Path, "/")
		l, err := UncompressedLayer([]File{{Path: rel, Mode: 0o644, Source: f.Source}}, info.Created)
		if err != nil {
			return nil, err
		}
		digest, err := l.Digest()
		if err != nil {
			return nil, err
		}
		size, err := l.Size()
		if err != nil {
			return nil, err
		}
		a.layers[digest] = l
		diffIDs = append(diffIDs, digest.String())
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(modelPackMediaType(rel)), Size: size, Digest: digest,
			Annotations: map[string]string{ModelPackFilepath: rel}})
	}
	if len(m.Layers) == 0 {
		return nil, fmt.Errorf("%s has no files to pack", dir)
	}
	created := info.Created.UTC()
	cfg := map[string]any{
		"descriptor": map[string]any{"name": info.Name, "revision": info.Revision, "sourceURL": info.Source, "createdAt": created},
		"modelfs":    map[string]any{"type": "layers", "diffIds": diffIDs},
		"config":     map[string]any{"format": info.Format},
	}
	if a.config, err = json.Marshal(cfg); err != nil {
		return nil, err
	}
	cfgHash, cfgSize, err := v1.SHA256(bytes.NewReader(a.config))
	if err != nil {
		return nil, err
	}
	m.Config = v1.Descriptor{MediaType: ModelPackConfig, Size: cfgSize, Digest: cfgHash}
	m.Annotations = map[string]string{"org.opencontainers.image.created": created.Format(time.RFC3339), "org.opencontainers.image.title": info.Name}
	if a.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(a)
}

func modelPackMediaType(rel string) string {
	switch strings.ToLower(path.Ext(rel)) {
	case ".json", ".yaml", ".yml":
		return ModelPackWeightConfig
	case ".md", ".txt":
		return ModelPackDoc
	}
	return ModelPackWeight
}

// artifact is an OCI manifest with a configuration that is not an image's,
// in the shape go-containerregistry's partial package turns into a v1.Image.
type artifact struct {
	manifest, config []byte
	layers           map[v1.Hash]v1.Layer
}

func (a *artifact) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }

func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("no layer %s in the artifact", h)
}

// PullModelPack writes the files of the ModelPack artifact ref into dir,
// each at the path its layer is annotated with, refusing paths that leave
// dir. It returns the artifact's digest.
func PullModelPack(ctx context.Context, ref, dir string, opts ...remote.Option) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("artifact reference %q: %w", ref, err)
	}
	img, err := remote.Image(r, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return name.Digest{}, err
	}
	if m.ArtifactType != ModelPackArtifactType {
		return name.Digest{}, fmt.Errorf("%s is not a ModelPack artifact (artifactType %q)", ref, m.ArtifactType)
	}
	for _, desc := range m.Layers {
		l, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			return name.Digest{}, err
		}
		if err := extractAll(l, dir); err != nil {
			return name.Digest{}, fmt.Errorf("extract %s from %s: %w", desc.Annotations[ModelPackFilepath], ref, err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(d.String()), nil
}

// extractAll writes a plain tar layer's regular files into dir.
func extractAll(l v1.Layer, dir string) error {
	rc, err := l.Compressed() // ModelPack's .tar layers are stored as they are
	if err != nil {
		return err
	}
	defer rc.Close()
	return extractTar(rc, dir)
}

// Unpack writes an image's flattened file system (whiteouts applied) into
// dir: directories and regular files. Links and devices (of a base image)
// are skipped: ferry-serve is static and reads only its model directory.
// An unsafe entry (a path with .. or an absolute one, a link that leaves the
// image) fails the whole unpack with the entry's name, and nothing is left
// at dir: it is written beside dir and renamed into place at the end.
func Unpack(img v1.Image, dir string) error {
	if err := checkLayers(img); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(dir)+".unpack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := extractTar(rc, tmp); err != nil {
		return err
	}
	// Extract's own error (an unsafe entry, a layer that fails to read)
	// comes after the tar's end marker, which it writes on the way out:
	// read to the end of the stream, or that error is lost.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	// An empty directory waiting at dir is replaced; one with files is not.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unpack into %s: %w", dir, err)
	}
	return os.Rename(tmp, dir)
}

// unsafeEntry refuses an entry whose path is absolute or climbs with "..",
// and a link that points out of the image.
func unsafeEntry(h *tar.Header) error {
	if path.IsAbs(h.Name) || slices.Contains(strings.Split(h.Name, "/"), "..") {
		return fmt.Errorf("unsafe entry %q: a path in an image is relative and stays inside it", h.Name)
	}
	if h.Typeflag != tar.TypeSymlink && h.Typeflag != tar.TypeLink {
		return nil
	}
	target := h.Linkname
	if h.Typeflag == tar.TypeSymlink && !path.IsAbs(target) {
		target = path.Join(path.Dir(h.Name), target)
	}
	if t := path.Clean(target); t == ".." || strings.HasPrefix(t, "../") || (h.Typeflag == tar.TypeLink && path.IsAbs(t)) {
		return fmt.Errorf("unsafe entry %q: a link to %q leaves the image", h.Name, h.Linkname)
	}
	return nil
}

// checkLayers reads every layer's entries and refuses the image at the first
// unsafe one. go-containerregistry's flattening drops a link that leaves the
// image without a word, so its output alone cannot tell; this costs one more
// read of each layer.
func checkLayers(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err == nil {
				err = unsafeEntry(h)
			}
			if err != nil {
				rc.Close()
				return err
			}
		}
		rc.Close()
	}
	return nil
}

// extractTar writes a tar stream's directories and regular files into dir,
// refusing entries whose path leaves it.
func extractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := unsafeEntry(h); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+h.Name)))
		if target == filepath.Clean(dir) {
			continue
		}
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(os.PathSeparator)) {
			return fmt.Errorf("entry %q leaves the directory", h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
