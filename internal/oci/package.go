package oci

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// ServePort is the port ferry-serve listens on in a model image.
const ServePort = 8080

// UncompressedThreshold is the size from which a model file goes in an
// uncompressed layer.
const UncompressedThreshold = 16 << 20

// Model is what goes into a model image.
type Model struct {
	Dir       string            // the model directory, copied to /model
	Name      string            // for annotations
	Task      string            // for annotations
	Format    string            // for annotations
	Metrics   map[string]string // headline metrics, as annotations
	Revision  string            // git sha
	Source    string            // repository URL
	Created   time.Time         // the image's timestamp (reproducible: not the clock)
	ServeBins map[string]string // platform (os/arch) -> a static ferry-serve binary
	// Leave names files of Dir that stay out of the image: the run record
	// (model.RunFile), so that two runs of the same training make the same
	// image.
	Leave []string
}

// Image builds the model image for one platform: the base (empty when nil),
// a layer with ferry-serve, a layer with the model, least changing first, so
// a new model pushes only its own layer.
func Image(base v1.Image, m Model, plat v1.Platform) (v1.Image, error) {
	bin, ok := m.ServeBins[plat.OS+"/"+plat.Architecture]
	if !ok {
		return nil, fmt.Errorf("no ferry-serve binary for %s/%s", plat.OS, plat.Architecture)
	}
	if err := CheckStatic(bin); err != nil {
		return nil, err
	}
	// The layers below the threshold are compressed once and kept: the
	// digest and the upload would otherwise compress them twice.
	serveLayer, err := Layer([]File{{Path: "/ferry-serve", Mode: 0o755, Source: bin}}, m.Created, tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	modelLayers, err := modelLayers(m)
	if err != nil {
		return nil, err
	}
	img := base
	if img == nil {
		img = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	ours := append([]v1.Layer{serveLayer}, modelLayers...)
	if err := digestAll(ours); err != nil {
		return nil, err
	}
	img, err = mutate.AppendLayers(img, ours...)
	if err != nil {
		return nil, fmt.Errorf("add the layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf, err = imageConfig(cf, base != nil, m, plat, len(ours))
	if err != nil {
		return nil, err
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, Annotations(m)).(v1.Image), nil
}

// modelLayers are the model directory's layers: the large files (weights)
// in a plain tar layer of their own, as they do not compress and gzip would
// only cost time at both ends, then the rest, compressed.
func modelLayers(m Model) ([]v1.Layer, error) {
	files, err := dirFiles(m.Dir, "/model", m.Leave...)
	if err != nil {
		return nil, err
	}
	var small, large []File
	for _, f := range files {
		if fi, err := os.Stat(f.Source); err == nil && !f.Dir && fi.Size() >= UncompressedThreshold {
			large = append(large, f)
		} else {
			small = append(small, f)
		}
	}
	var layers []v1.Layer
	if len(large) > 0 {
		l, err := UncompressedLayer(large, m.Created)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	modelLayer, err := Layer(small, m.Created, tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	return append(layers, modelLayer), nil
}

// imageConfig is the image's config: platform, creation time, history of
// ferry's ourLayers layers, the entrypoint that serves /model, an unprivileged
// user, the port, and the model's annotations as labels.
func imageConfig(cf *v1.ConfigFile, hasBase bool, m Model, plat v1.Platform, ourLayers int) (*v1.ConfigFile, error) {
	cf = cf.DeepCopy()
	if hasBase && (cf.OS != plat.OS || cf.Architecture != plat.Architecture) {
		return nil, fmt.Errorf("the base image is %s/%s, not %s/%s", cf.OS, cf.Architecture, plat.OS, plat.Architecture)
	}
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	cf.Created = v1.Time{Time: m.Created}
	// History: ferry-serve, then the model's weights (if apart), then the rest.
	if n := len(cf.History); n >= ourLayers {
		for i := n - ourLayers; i < n; i++ {
			what := "model " + m.Name
			switch {
			case i == n-ourLayers:
				what = "ferry-serve"
			case i < n-1:
				what = "model weights " + m.Name
			}
			cf.History[i] = v1.History{CreatedBy: "ferry package: " + what, Created: v1.Time{Time: m.Created}}
		}
	}
	cf.Config.Entrypoint = []string{"/ferry-serve", "--model", "/model", "--addr", "0.0.0.0:" + strconv.Itoa(ServePort)}
	cf.Config.Cmd = nil
	cf.Config.User = "65532:65532"
	cf.Config.ExposedPorts = map[string]struct{}{strconv.Itoa(ServePort) + "/tcp": {}}
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range Annotations(m) {
		cf.Config.Labels[k] = v
	}
	return cf, nil
}

// digestAll computes the layers' digests at once, each on its own goroutine:
// compressing ferry-serve and hashing the weights use different cores, where
// building the manifest would take them one after the other.
func digestAll(layers []v1.Layer) error {
	var g errgroup.Group
	for _, l := range layers {
		g.Go(func() error {
			_, err := l.Digest()
			return err
		})
	}
	return g.Wait()
}

// Annotations are the OCI annotations of a model image.
func Annotations(m Model) map[string]string {
	a := map[string]string{
		"org.opencontainers.image.created": m.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.title":   m.Name,
		"dev.ferry.model.name":             m.Name,
		"dev.ferry.model.task":             m.Task,
		"dev.ferry.model.format":           m.Format,
	}
	if m.Revision != "" {
		a["org.opencontainers.image.revision"] = m.Revision
	}
	if m.Source != "" {
		a["org.opencontainers.image.source"] = m.Source
	}
	for k, v := range m.Metrics {
		a["dev.ferry.metric."+k] = v
	}
	return a
}

// dirFiles lists a directory's regular files under prefix in the image.
func dirFiles(dir, prefix string, leave ...string) ([]File, error) {
	var files []File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if rel != "." {
				files = append(files, File{Path: prefix + "/" + filepath.ToSlash(rel), Mode: 0o755, Dir: true})
			}
		case d.Type().IsRegular() && slices.Contains(leave, filepath.ToSlash(rel)):
		case d.Type().IsRegular():
			files = append(files, File{Path: prefix + "/" + filepath.ToSlash(rel), Mode: 0o644, Source: p})
		default:
			return fmt.Errorf("%s is neither a file nor a directory: a model directory holds plain files", p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the model directory: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// CheckStatic refuses a binary that is not a statically linked ELF file:
// model images have no libc.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("ferry-serve binary %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("ferry-serve binary %s is dynamically linked, and model images have no libc: build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// Index wraps per-platform images in an OCI image index.
func Index(imgs map[string]v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	keys := make([]string, 0, len(imgs))
	for k := range imgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		plat, err := v1.ParsePlatform(k)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: imgs[k], Descriptor: v1.Descriptor{Platform: plat}})
	}
	return idx, nil
}

// WriteLayout writes an image (or index) to an OCI layout at dir, tagged.
func WriteLayout(dir, tag string, img v1.Image, idx v1.ImageIndex) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	opt := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})
	if idx != nil {
		return p.AppendIndex(idx, opt)
	}
	return p.AppendImage(img, opt)
}

// WriteTarball writes one image as a docker-archive tarball (what
// `docker load` and `podman load` read).
func WriteTarball(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("tag %q: %w", ref, err)
	}
	return tarball.WriteToFile(path, tag, img)
}

// Push pushes an image (or index) to ref and tags it with each of tags, with
// go-containerregistry's retries on 5xx, 429 and broken connections. A ref
// without a tag (a bare repository) is pushed by digest and gets only the
// tags asked for, never an implicit latest; with neither a tag in ref nor
// tags, Push refuses. progress, when not nil, gets updates and is closed
// when the push ends.
func Push(ctx context.Context, ref string, tags []string, img v1.Image, idx v1.ImageIndex, progress chan<- v1.Update, opts ...remote.Option) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		if progress != nil {
			close(progress)
		}
		return name.Digest{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	if t, ok := r.(name.Tag); ok && !strings.HasSuffix(ref, ":"+t.TagStr()) {
		if len(tags) == 0 {
			if progress != nil {
				close(progress)
			}
			return name.Digest{}, fmt.Errorf("image reference %q has no tag and no tags were given: name one (REPO:TAG, or --tag), so nothing is pushed as an implicit latest", ref)
		}
		r = nil // pushed by digest below, then tagged
	}
	// The caller's options carry the credentials (see cli.registryAuth).
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	// The write reports progress and closes the channel when it ends; the
	// tagging after it must not use it.
	writeOpts := opts
	if progress != nil {
		writeOpts = append(append([]remote.Option{}, opts...), remote.WithProgress(progress))
	}
	var digest v1.Hash
	if idx != nil {
		digest, err = idx.Digest()
	} else {
		digest, err = img.Digest()
	}
	if err != nil {
		if progress != nil {
			close(progress)
		}
		return name.Digest{}, err
	}
	if r == nil {
		repo, _ := name.NewTag(ref) // parsed above
		r = repo.Context().Digest(digest.String())
	}
	if idx != nil {
		err = remote.WriteIndex(r, idx, writeOpts...)
	} else {
		err = remote.Write(r, img, writeOpts...)
	}
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
			return name.Digest{}, fmt.Errorf("push %s: the registry refused these credentials (%d %s): log in with push rights to %s "+
				"(docker login, or the package action's registry-username and registry-password): %w",
				r, te.StatusCode, http.StatusText(te.StatusCode), r.Context().RegistryStr(), err)
		}
		return name.Digest{}, fmt.Errorf("push %s: %w", r, err)
	}
	pinned := r.Context().Digest(digest.String())
	for _, t := range tags {
		tag := r.Context().Tag(t)
		desc, err := remote.Get(pinned, opts...)
		if err != nil {
			return name.Digest{}, fmt.Errorf("tag %s: %w", tag, err)
		}
		if err := remote.Tag(tag, desc, opts...); err != nil {
			return name.Digest{}, fmt.Errorf("tag %s: %w", tag, err)
		}
	}
	return pinned, nil
}

// Platforms parses "linux/amd64,linux/arm64" style lists.
func Platforms(list []string) ([]v1.Platform, error) {
	if len(list) == 0 {
		list = []string{"linux/amd64"}
	}
	var out []v1.Platform
	for _, s := range list {
		p, err := v1.ParsePlatform(strings.TrimSpace(s))
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want OS/ARCH such as linux/amd64", s)
		}
		out = append(out, *p)
	}
	return out, nil
}
