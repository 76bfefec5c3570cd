package cli

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/oci"
)

// runPackage is `ferry package` and the package action.
func runPackage(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	dir := in.String("model")
	image, layoutDir, tarballPath := in.String("image"), in.String("layout"), in.String("tarball")
	tags := in.List("tag")
	baseRef := in.String("base")
	platformList := in.List("platform")
	kind := in.Enum("kind")
	var user, password string
	if env.Action != nil {
		user, password = in.String("registry-username"), in.String("registry-password")
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	given := 0
	for _, s := range []string{image, layoutDir, tarballPath} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return nil, usageErrorf("give exactly one of --image REF (push), --layout DIR or --tarball FILE")
	}
	remoteOpts := []remote.Option{registryAuth(user, password)}
	if kind == "modelpack" {
		return packageModelPack(ctx, env, dir, image, layoutDir, tarballPath, tags, remoteOpts)
	}
	m, err := model.Load(dir)
	if err != nil {
		return nil, err
	}
	platforms, err := oci.Platforms(platformList)
	if err != nil {
		return nil, &input.Error{Param: in.Describe("platform"), Value: strings.Join(platformList, ","), Want: err.Error()}
	}
	if tarballPath != "" && len(platforms) > 1 {
		return nil, usageErrorf("a tarball holds one platform: give one --platform, or use --layout or --image")
	}
	created, err := oci.SourceDate(ctx, env.Getenv)
	if err != nil {
		return nil, err
	}
	bins, err := serveBinaries(ctx, env, platforms)
	if err != nil {
		return nil, err
	}
	pm := oci.Model{Dir: dir, Name: m.Manifest.Name, Task: m.Manifest.Task, Format: m.Manifest.Format,
		Metrics: headlineMetrics(m.Manifest), Revision: m.Manifest.Lineage.GitSHA, Source: sourceURL(env),
		Created: created, ServeBins: bins, Leave: []string{model.RunFile}}
	imgs := map[string]v1.Image{}
	for _, plat := range platforms {
		var base v1.Image
		if baseRef != "" {
			ref, err := name.ParseReference(baseRef)
			if err != nil {
				return nil, &input.Error{Param: in.Describe("base"), Value: baseRef, Want: "an image reference such as gcr.io/distroless/static:nonroot"}
			}
			if base, err = remote.Image(ref, append(remoteOpts, remote.WithContext(ctx), remote.WithPlatform(plat))...); err != nil {
				return nil, fmt.Errorf("pull the base image %s: %w", baseRef, err)
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
	if len(imgs) == 1 {
		for _, img := range imgs {
			one = img
		}
	} else if idx, err = oci.Index(imgs); err != nil {
		return nil, err
	}
	digestOf := func() (v1.Hash, error) {
		if idx != nil {
			return idx.Digest()
		}
		return one.Digest()
	}
	digest, err := digestOf()
	if err != nil {
		return nil, err
	}
	tag := m.Manifest.Name
	if len(tags) > 0 {
		tag = tags[0]
	}
	var repo, ref string
	switch {
	case layoutDir != "":
		if err := oci.WriteLayout(layoutDir, tag, one, idx); err != nil {
			return nil, fmt.Errorf("write the layout %s: %w", layoutDir, err)
		}
		repo, ref = layoutDir, fmt.Sprintf("%s:%s@%s", layoutDir, tag, digest)
	case tarballPath != "":
		r := "ferry.local/" + m.Manifest.Name + ":" + tag
		if err := writeTarballAtomic(tarballPath, r, one); err != nil {
			return nil, err
		}
		repo, ref = tarballPath, r+"@"+digest.String()
	default:
		progress := make(chan v1.Update, 16)
		done := make(chan struct{})
		go func() {
			defer close(done)
			last := time.Time{}
			for u := range progress {
				if time.Since(last) > 2*time.Second || u.Complete == u.Total {
					fmt.Fprintf(env.Stderr, "ferry package: pushed %d of %d bytes\n", u.Complete, u.Total)
					last = time.Now()
				}
			}
		}()
		pinned, err := oci.Push(ctx, image, tags, one, idx, progress, remoteOpts...)
		select {
		case <-done:
		case <-time.After(5 * time.Second): // the progress reporter is best effort
		}
		if err != nil {
			return nil, err
		}
		repo, ref = pinned.Context().String(), pinned.String()
	}
	fmt.Fprintln(env.Stdout, ref)
	return &Result{
		Outputs: map[string]string{"image": repo, "digest": digest.String(), "ref": ref},
		Summary: fmt.Sprintf("### 📦 Packaged %s\n\n`%s`\n\nPlatforms: %s\n", m.Manifest.Name, ref, strings.Join(slices.Sorted(maps.Keys(imgs)), ", ")),
	}, nil
}

// packageModelPack pushes a directory (a model directory, or what a
// training Job wrote) as a CNCF ModelPack artifact, or writes it to a layout.
func packageModelPack(ctx context.Context, env *Env, dir, image, layoutDir, tarballPath string, tags []string, remoteOpts []remote.Option) (*Result, error) {
	if tarballPath != "" {
		return nil, usageErrorf("a ModelPack artifact is not a runnable image: give --image REF or --layout DIR, not --tarball")
	}
	created, err := oci.SourceDate(ctx, env.Getenv)
	if err != nil {
		return nil, err
	}
	info := oci.ModelPackInfo{Name: filepath.Base(filepath.Clean(dir)), Source: sourceURL(env), Created: created}
	if m, err := model.Load(dir); err == nil {
		info.Name, info.Format, info.Revision = m.Manifest.Name, m.Manifest.Format, m.Manifest.Lineage.GitSHA
	}
	img, err := oci.ModelPack(dir, info)
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	var repo, ref string
	if layoutDir != "" {
		tag := info.Name
		if len(tags) > 0 {
			tag = tags[0]
		}
		if err := oci.WriteLayout(layoutDir, tag, img, nil); err != nil {
			return nil, fmt.Errorf("write the layout %s: %w", layoutDir, err)
		}
		repo, ref = layoutDir, fmt.Sprintf("%s:%s@%s", layoutDir, tag, digest)
	} else {
		pinned, err := oci.Push(ctx, image, tags, img, nil, nil, remoteOpts...)
		if err != nil {
			return nil, err
		}
		repo, ref = pinned.Context().String(), pinned.String()
	}
	fmt.Fprintln(env.Stdout, ref)
	return &Result{
		Outputs: map[string]string{"image": repo, "digest": digest.String(), "ref": ref},
		Summary: fmt.Sprintf("### 📦 Packed %s as a ModelPack artifact\n\n`%s`\n", info.Name, ref),
	}, nil
}

// registryAuth is the credentials for registry calls: the action's
// registry-username and registry-password when given, else the Docker
// keychain (~/.docker/config.json, credential helpers), else anonymous.
func registryAuth(user, password string) remote.Option {
	if password != "" {
		return remote.WithAuth(&authn.Basic{Username: user, Password: password})
	}
	return remote.WithAuthFromKeychain(authn.DefaultKeychain)
}

func writeTarballAtomic(path, ref string, img v1.Image) error {
	tmp := path + ".tmp"
	if err := oci.WriteTarball(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write the tarball %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// headlineMetrics are the model's validation (else training) metrics, for
// the image's annotations.
func headlineMetrics(m model.Manifest) map[string]string {
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

func sourceURL(env *Env) string {
	if env.Event != nil && env.Event.Repository != "" {
		return env.Event.ServerURL + "/" + env.Event.Repository
	}
	return ""
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
