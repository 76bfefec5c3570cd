package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/ferry-ml/ferry/internal/demo"
	"github.com/ferry-ml/ferry/internal/forge/forgetest"
	"github.com/ferry-ml/ferry/internal/testenv"
	"github.com/ferry-ml/ferry/internal/version"
)

// jobImage is the image act runs jobs in: busybox (Debian's static build)
// on an empty base, enough for the runner's own commands.
const jobImage = "localhost/ferry-act-job:1"

// loadImage writes img as a docker-archive tagged ref and loads it through
// the Docker API.
func loadImage(t *testing.T, api *client.Client, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := api.ImageLoad(context.Background(), f)
	if err != nil {
		t.Fatalf("load %s: %v", ref, err)
	}
	io.Copy(io.Discard, res)
	res.Close()
}

// busyboxImage lays /bin/busybox and its applets' links on an empty base.
func busyboxImage(t *testing.T) v1.Image {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		testenv.Missing(t, "/bin/busybox", "run `make deps` (apt-get install busybox-static)")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "tmp/", "usr/", "usr/bin/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o1777})
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))})
	tw.Write(bb)
	for _, applet := range []string{"sh", "bash", "tail", "mkdir", "cat", "cp", "rm", "ls", "env", "chmod", "printf", "echo", "test", "[", "sleep", "tar", "head", "awk"} {
		tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	tw.WriteHeader(&tar.Header{Name: "usr/bin/env", Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", Mode: 0o777})
	tw.Close()
	raw := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config = v1.Config{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/usr/bin:/bin"}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// actionImage reads the linux/amd64 action image from the layout `make
// image` writes.
func actionImage(t *testing.T) v1.Image {
	t.Helper()
	p, err := layout.FromPath(filepath.Join(testenv.RepoRoot(t), "bin", "image"))
	if err != nil {
		testenv.Missing(t, "the action image layout bin/image", "run `make image`")
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	man, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	inner, err := idx.ImageIndex(man.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := inner.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Architecture == "amd64" {
			img, err := inner.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatal("bin/image has no linux/amd64 image")
	return nil
}

// actRepo is a model repository as a team has it after `ferry init`: the
// workflows init writes, a ferry.yaml edited for its data, the data, and a
// git origin that names the repository shop/ranker.
type actRepo struct {
	dir, registry string
}

func newActRepo(t *testing.T, registry string) *actRepo {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://github.com/shop/ranker.git")
	if out, code := runFerry(t, "init", "--dir", dir, "--trainer", "builtin"); code != 0 {
		t.Fatalf("ferry init: exit %d\n%s", code, out)
	}
	// The registry: the CNCF registry on loopback in place of ghcr.io, the
	// one edit the test makes to the generated workflows.
	wfs, _ := filepath.Glob(filepath.Join(dir, ".github", "workflows", "*.yml"))
	for _, wf := range wfs {
		b, _ := os.ReadFile(wf)
		os.WriteFile(wf, bytes.ReplaceAll(b, []byte("ghcr.io/${{ github.repository }}"), []byte(registry+"/${{ github.repository }}")), 0o644)
	}
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	for file, o := range map[string]demo.Options{
		"train.csv": {Queries: 300, Products: 20, Seed: 1},
		"valid.csv": {Queries: 80, Products: 20, Seed: 2},
		"test.csv":  {Queries: 150, Products: 20, Seed: 3},
	} {
		f, err := os.Create(filepath.Join(dir, "data", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := demo.Write(f, o); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	r := &actRepo{dir: dir, registry: registry}
	r.config(t, 100)
	git("add", "-A")
	git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "model")
	return r
}

// config writes ferry.yaml for the demo's columns with a number of trees.
func (r *actRepo) config(t *testing.T, trees int) {
	t.Helper()
	cfg := fmt.Sprintf(`name: ranker
data:
  train: data/train.csv
  valid: data/valid.csv
  test: data/test.csv
  label: label
  group: query
  categorical: [category]
  drop: [product, position, relevance]
train:
  trainer: builtin
  algorithm: gbdt
  objective: lambdarank
  params:
    trees: %d
    learning-rate: 0.1
  seed: 1
  out: model
evaluate:
  gates:
    - ndcg@10 max-drop 1%%
  bootstrap: 200
`, trees)
	if err := os.WriteFile(filepath.Join(r.dir, "ferry.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// act runs one workflow of the repository for a pull_request event under
// nektos/act, container mode, over podman's Docker API.
func (r *actRepo) act(t *testing.T, docker, api, workflow string, pr int, sha string) (string, error) {
	t.Helper()
	bin := filepath.Join(testenv.RepoRoot(t), "bin", "act")
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(t, "bin/act (nektos/act)", "run `make act`")
	}
	event := map[string]any{
		"action": "synchronize", "number": pr,
		"repository": map[string]any{"full_name": "shop/ranker", "name": "ranker", "owner": map[string]any{"login": "shop"}},
		"pull_request": map[string]any{
			"number": pr,
			"head":   map[string]any{"sha": sha, "ref": "feature", "repo": map[string]any{"full_name": "shop/ranker"}},
			"base":   map[string]any{"ref": "main", "repo": map[string]any{"full_name": "shop/ranker"}},
		},
	}
	ev, _ := json.Marshal(event)
	evPath := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(evPath, ev, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "pull_request",
		"-W", filepath.Join(".github", "workflows", workflow),
		"-e", evPath,
		"-P", "ubuntu-latest="+jobImage,
		"--pull=false", "--action-offline-mode",
		"--local-repository", "ferry-ml/ferry@v"+version.Version+"="+testenv.RepoRoot(t),
		// JavaScript actions cannot be fetched offline: a stand-in.
		"--local-repository", "actions/upload-artifact@v4="+filepath.Join(testenv.RepoRoot(t), "test", "integration", "testdata", "act", "upload-artifact"),
		"--container-daemon-socket", "-",
		"--env", "GITHUB_API_URL="+api,
		"--secret", "GITHUB_TOKEN=ghs_act_test",
		"--action-cache-path", filepath.Join(t.TempDir(), "act-cache"),
	)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+docker, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The workflows `ferry init` writes, run by a real Actions runner (act over
// podman) against the CNCF registry and a loopback GitHub API stand-in: a
// pull request that trains a model goes green (trained, evaluated, packaged
// as pr-N and sha-<head>, commented), one whose candidate is clearly worse
// than the champion goes red with the gate named, and one that changes no
// file of the model goes green with the required check and trains nothing.
//
// What is not real here: the GitHub API (forgetest's stand-in), ghcr.io
// (the local registry, swapped into the workflows' text), and the champion
// promotion between the two pull requests, which the test does with a tag
// as deploy.yml does on merge (deploy.yml is not run under act yet).
func TestInitWorkflowsUnderAct(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real Actions runner")
	}
	docker := podmanService(t)
	t.Setenv("DOCKER_HOST", docker)
	api, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	loadImage(t, api, jobImage, busyboxImage(t))
	loadImage(t, api, "ghcr.io/ferry-ml/ferry:v"+version.Version, actionImage(t))
	registry := distributionRegistry(t)
	// What each pull request changes, as GitHub's API lists it.
	gh := &forgetest.GitHub{Files: map[int][]string{5: {"ferry.yaml", "data/train.csv"}, 6: {"ferry.yaml"}, 7: {"README.md"}}}
	srv := httptest.NewServer(gh)
	defer srv.Close()

	repo := newActRepo(t, registry)
	const head = "1111111111111111111111111111111111111111"
	log, err := repo.act(t, docker, srv.URL, "model.yml", 5, head)
	if err != nil {
		t.Fatalf("the first pull request's workflow failed: %v\n%s", err, log)
	}
	for _, tag := range []string{"pr-5", "sha-" + head} {
		ref := registry + "/shop/ranker:" + tag
		if _, err := remote.Head(mustRef(t, ref)); err != nil {
			t.Errorf("%s was not pushed: %v\n%s", ref, err, log)
		}
	}
	if comments := gh.On(5); len(comments) != 1 || !strings.Contains(comments[0].Body, "ndcg@10") {
		t.Errorf("comments on #5: %+v", comments)
	}

	// Merge: promote pr-5 as deploy.yml would, then a worse candidate.
	desc, err := remote.Get(mustRef(t, registry+"/shop/ranker:pr-5"))
	if err != nil {
		t.Fatal(err)
	}
	champion, _ := name.NewTag(registry + "/shop/ranker:champion")
	if err := remote.Tag(champion, desc); err != nil {
		t.Fatal(err)
	}
	repo.config(t, 2)
	log, err = repo.act(t, docker, srv.URL, "model.yml", 6, "2222222222222222222222222222222222222222")
	if err == nil {
		t.Fatalf("a candidate with 2 trees passed the ndcg@10 gate against the champion:\n%s", log)
	}
	if !strings.Contains(log, "ndcg@10") {
		t.Errorf("the failing run does not name the gate:\n%s", log)
	}
	if _, err := remote.Head(mustRef(t, registry+"/shop/ranker:pr-6")); err == nil {
		t.Error("the failing candidate was packaged")
	}

	// A pull request that changes no file of the model: green, with the
	// required check run, and nothing trained or packaged.
	checks := len(gh.Checks)
	log, err = repo.act(t, docker, srv.URL, "model.yml", 7, "3333333333333333333333333333333333333333")
	if err != nil {
		t.Fatalf("a pull request that only changes README.md failed:\n%s", log)
	}
	if len(gh.Checks) != checks+1 || gh.Checks[checks]["conclusion"] != "success" || gh.Checks[checks]["name"] != "ferry / ranker" {
		t.Errorf("check runs after #7: %v, want a successful ferry / ranker", gh.Checks[checks:])
	}
	if _, err := remote.Head(mustRef(t, registry+"/shop/ranker:pr-7")); err == nil {
		t.Error("a pull request with no model change was packaged")
	}
	if !strings.Contains(log, "No model change") {
		t.Errorf("the run does not say why it trained nothing:\n%s", log)
	}
}
