package pack

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/oci"
)

// Config is what one packaging needs. Exactly one of Image, Layout and
// Tarball says where the image goes.
type Config struct {
	Model     string   // the model directory (or, for a ModelPack, any directory)
	Image     string   // push to this repository
	Layout    string   // or write an OCI layout here
	Tarball   string   // or a docker-archive tarball here
	Tags      []string // the tags to push (the first names the layout's or tarball's image)
	Base      string   // base image reference; "" for none (the image is ferry-serve alone)
	Platforms []string // OS/ARCH; default the one ferry runs on
	Kind      string   // "image" or "modelpack"
	Source    string   // the repository's URL, for the image's annotations
	// Rank is the pod's rank in a training Job across nodes (ferry train
	// --nodes): only rank 0's output is the model, so any other packages
	// nothing and succeeds.
	Rank int

	platforms []v1.Platform
	base      name.Reference
}

// Validate checks the config.
func (c *Config) Validate() error {
	given := 0
	for _, s := range []string{c.Image, c.Layout, c.Tarball} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return &input.Error{Name: "image", Missing: given == 0, Value: c.Image,
			Want: "exactly one destination: image REF (push), layout DIR or tarball FILE"}
	}
	if c.Rank < 0 {
		return &input.Error{Name: "rank", Value: fmt.Sprint(c.Rank), Want: "a pod's rank, 0 or more"}
	}
	if c.Kind == "modelpack" {
		if c.Tarball != "" {
			return &input.Error{Name: "tarball", Value: c.Tarball, Want: "nothing for a ModelPack artifact, which is not a runnable image: give image REF or layout DIR"}
		}
		return nil
	}
	var err error
	if c.platforms, err = oci.Platforms(c.Platforms); err != nil {
		return &input.Error{Name: "platform", Value: strings.Join(c.Platforms, ","), Want: err.Error()}
	}
	if c.Tarball != "" && len(c.platforms) > 1 {
		return &input.Error{Name: "platform", Value: strings.Join(c.Platforms, ","), Want: "one platform with a tarball, which holds one; or a layout or image for several"}
	}
	if c.Base != "" {
		if c.base, err = name.ParseReference(c.Base); err != nil {
			return &input.Error{Name: "base", Value: c.Base, Want: "an image reference such as gcr.io/distroless/static:nonroot"}
		}
	}
	return nil
}

// Deps are what Run uses of the outside world.
type Deps struct {
	Stdout io.Writer // the reference written
	Stderr io.Writer // progress
	Getenv func(string) string
	Remote []remote.Option // registry credentials
}

// Outcome is what was packaged.
type Outcome struct {
	Repository string // the repository, layout or tarball
	Digest     string
	Ref        string // by digest
	Summary    string
}

// Outputs are the action's outputs.
func (o *Outcome) Outputs() map[string]string {
	return map[string]string{"image": o.Repository, "digest": o.Digest, "ref": o.Ref}
}

// Run packages; cfg must have passed Validate.
func Run(ctx context.Context, cfg Config, deps Deps) (*Outcome, error) {
	if cfg.Rank > 0 {
		fmt.Fprintf(deps.Stderr, "rank %d: nothing to package; rank 0's output is the model\n", cfg.Rank)
		return &Outcome{Summary: fmt.Sprintf("Rank %d of a training Job: nothing packaged (rank 0's output is the model).\n", cfg.Rank)}, nil
	}
	if cfg.Kind == "modelpack" {
		return runModelPack(ctx, cfg, deps)
	}
	m, err := model.Load(cfg.Model)
	if err != nil {
		return nil, err
	}
	created, err := oci.SourceDate(ctx, deps.Getenv)
	if err != nil {
		return nil, err
	}
	bins, err := serveBinaries(ctx, Env{Getenv: deps.Getenv, Stderr: deps.Stderr}, cfg.platforms)
	if err != nil {
		return nil, err
	}
	pm := oci.Model{Dir: cfg.Model, Name: m.Manifest.Name, Task: m.Manifest.Task, Format: m.Manifest.Format,
		Metrics: HeadlineMetrics(m.Manifest), Revision: m.Manifest.Lineage.GitSHA, Source: cfg.Source,
		Created: created, ServeBins: bins, Leave: []string{model.RunFile}}
	imgs := map[string]v1.Image{}
	for _, plat := range cfg.platforms {
		var base v1.Image
		if cfg.base != nil {
			if base, err = remote.Image(cfg.base, append(deps.Remote, remote.WithContext(ctx), remote.WithPlatform(plat))...); err != nil {
				return nil, fmt.Errorf("pull the base image %s: %w", cfg.Base, err)
			}
		}
		img, err := oci.Image(base, pm, plat)
		if err != nil {
			return nil, fmt.Errorf("build the image for %s: %w", plat, err)
		}
		imgs[plat.String()] = img
	}
	var one v1.Image
	var idx v1.ImageIndex
	var digest v1.Hash
	if len(imgs) == 1 {
		for _, img := range imgs {
			one = img
		}
		digest, err = one.Digest()
	} else if idx, err = oci.Index(imgs); err == nil {
		digest, err = idx.Digest()
	}
	if err != nil {
		return nil, err
	}
	tag := m.Manifest.Name
	if len(cfg.Tags) > 0 {
		tag = cfg.Tags[0]
	}
	out := &Outcome{Digest: digest.String(),
		Summary: fmt.Sprintf("### 📦 Packaged %s\n\n", m.Manifest.Name)}
	switch {
	case cfg.Layout != "":
		if err := oci.WriteLayout(cfg.Layout, tag, one, idx); err != nil {
			return nil, fmt.Errorf("write the layout %s: %w", cfg.Layout, err)
		}
		out.Repository, out.Ref = cfg.Layout, fmt.Sprintf("%s:%s@%s", cfg.Layout, tag, digest)
	case cfg.Tarball != "":
		r := "ferry.local/" + m.Manifest.Name + ":" + tag
		if err := writeTarballAtomic(cfg.Tarball, r, one); err != nil {
			return nil, err
		}
		out.Repository, out.Ref = cfg.Tarball, r+"@"+digest.String()
	default:
		pinned, err := push(ctx, cfg, deps, one, idx)
		if err != nil {
			return nil, err
		}
		out.Repository, out.Ref = pinned.Context().String(), pinned.String()
	}
	fmt.Fprintln(deps.Stdout, out.Ref)
	out.Summary += fmt.Sprintf("`%s`\n\nPlatforms: %s\n", out.Ref, strings.Join(slices.Sorted(maps.Keys(imgs)), ", "))
	return out, nil
}

// push pushes the image (or index) with its tags, reporting progress.
func push(ctx context.Context, cfg Config, deps Deps, one v1.Image, idx v1.ImageIndex) (name.Digest, error) {
	progress := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := time.Time{}
		for u := range progress {
			if time.Since(last) > 2*time.Second || u.Complete == u.Total {
				fmt.Fprintf(deps.Stderr, "ferry package: pushed %d of %d bytes\n", u.Complete, u.Total)
				last = time.Now()
			}
		}
	}()
	pinned, err := oci.Push(ctx, cfg.Image, cfg.Tags, one, idx, progress, deps.Remote...)
	select {
	case <-done:
	case <-time.After(5 * time.Second): // the progress reporter is best effort
	}
	return pinned, err
}

// runModelPack pushes a directory (a model directory, or what a training
// Job wrote) as a CNCF ModelPack artifact, or writes it to a layout.
func runModelPack(ctx context.Context, cfg Config, deps Deps) (*Outcome, error) {
	created, err := oci.SourceDate(ctx, deps.Getenv)
	if err != nil {
		return nil, err
	}
	info := oci.ModelPackInfo{Name: filepath.Base(filepath.Clean(cfg.Model)), Source: cfg.Source, Created: created}
	if m, err := model.Load(cfg.Model); err == nil {
		info.Name, info.Format, info.Revision = m.Manifest.Name, m.Manifest.Format, m.Manifest.Lineage.GitSHA
	}
	img, err := oci.ModelPack(cfg.Model, info)
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	out := &Outcome{Digest: digest.String()}
	if cfg.Layout != "" {
		tag := info.Name
		if len(cfg.Tags) > 0 {
			tag = cfg.Tags[0]
		}
		if err := oci.WriteLayout(cfg.Layout, tag, img, nil); err != nil {
			return nil, fmt.Errorf("write the layout %s: %w", cfg.Layout, err)
		}
		out.Repository, out.Ref = cfg.Layout, fmt.Sprintf("%s:%s@%s", cfg.Layout, tag, digest)
	} else {
		pinned, err := oci.Push(ctx, cfg.Image, cfg.Tags, img, nil, nil, deps.Remote...)
		if err != nil {
			return nil, err
		}
		out.Repository, out.Ref = pinned.Context().String(), pinned.String()
	}
	fmt.Fprintln(deps.Stdout, out.Ref)
	out.Summary = fmt.Sprintf("### 📦 Packed %s as a ModelPack artifact\n\n`%s`\n", info.Name, out.Ref)
	return out, nil
}

func writeTarballAtomic(path, ref string, img v1.Image) error {
	tmp := path + ".tmp"
	if err := oci.WriteTarball(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write the tarball %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// HeadlineMetrics are the model's validation (else training) metrics, for
// the image's annotations.
func HeadlineMetrics(m model.Manifest) map[string]string {
	split := m.Metrics["valid"]
	if split == nil {
		split = m.Metrics["train"]
	}
	out := map[string]string{}
	for _, k := range []string{"auc", "logloss", "ndcg@10", "map@10", "rmse", "mae"} {
		if v, ok := split[k]; ok {
			out[k] = strconv.FormatFloat(v, 'f', 4, 64)
		}
	}
	return out
}
