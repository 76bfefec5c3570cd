package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/test/forgetest"
	"github.com/ferry-ml/ferry/test/testenv"
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
	// act runs steps with `bash --noprofile --norc -e -o pipefail FILE`:
	// busybox's ash takes the rest of those flags.
	bash := []byte("#!/bin/sh\n# bash stand-in: busybox ash, without the flags it lacks\nwhile [ $# -gt 0 ]; do case \"$1\" in --noprofile|--norc) shift ;; *) break ;; esac; done\nexec /bin/sh \"$@\"\n")
	tw.WriteHeader(&tar.Header{Name: "bin/bash", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bash))})
	tw.Write(bash)
	// gh: only what train-comment.yml asks of it, through busybox's wget.
	gh := []byte("#!/bin/sh\n# gh stand-in for the act tests: gh api PATH --jq .head.sha, nothing else\n" +
		"[ \"$1 $3 $4\" = \"api --jq .head.sha\" ] || { echo \"gh stand-in: unexpected gh $*\" >&2; exit 2; }\n" +
		"wget -qO- --header \"Authorization: Bearer $GH_TOKEN\" \"$GITHUB_API_URL/$2\" | sed -n 's/.*\"head\":{\"sha\":\"\\([0-9a-f]*\\)\".*/\\1/p'\n")
	tw.WriteHeader(&tar.Header{Name: "usr/bin/gh", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(gh))})
	tw.Write(gh)
	for _, applet := range []string{"sh", "tail", "mkdir", "cat", "cp", "rm", "ls", "env", "chmod", "printf", "echo", "test", "[", "sleep", "tar", "head", "awk", "uname", "wget", "sha256sum", "mv", "grep", "sed", "tr"} {
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

// actHost is podman's Docker API with the images act needs loaded: the job
// image and, with action, ferry's action image under the reference the
// action.yml files name. When the test ends, every container and volume
// act left (a cancelled run keeps its job container running) is removed
// before the service stops.
func actHost(t *testing.T, action bool) (string, *client.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the real Actions runner")
	}
	docker := podmanService(t)
	t.Setenv("DOCKER_HOST", docker)
	api, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true}); err == nil {
			for _, c := range cs.Items {
				for _, n := range c.Names {
					if strings.HasPrefix(strings.TrimPrefix(n, "/"), "act-") {
						api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
						break
					}
				}
			}
		}
		if vs, err := api.VolumeList(ctx, client.VolumeListOptions{}); err == nil {
			for _, v := range vs.Items {
				if strings.HasPrefix(v.Name, "act-") {
					api.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
				}
			}
		}
		api.Close()
	})
	loadImage(t, api, jobImage, busyboxImage(t))
	if action {
		loadImage(t, api, "ghcr.io/ferry-ml/ferry:v"+version.Version, actionImage(t))
	}
	return docker, api
}

// actionsCopy is what act needs of this repository to run
// ferry-ml/ferry/actions/...: the actions folder alone. act copies a local
// repository into a volume for each run, and the whole checkout (with bin/,
// the podman store included) is gigabytes.
func actionsCopy(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join(testenv.RepoRoot(t), "actions")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, "actions", rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// actRepo is a model repository as a team has it after `ferry init`: the
// workflows init writes, a ferry.yaml edited for its data, the data, and a
// git origin that names the repository shop/ranker.
type actRepo struct {
	dir, registry string
}

func newActRepo(t *testing.T, registry string) *actRepo {
	t.Helper()
	r := initRepo(t, registry, "builtin")
	os.MkdirAll(filepath.Join(r.dir, "data"), 0o755)
	for file, o := range map[string]demo.Options{
		"train.csv": {Queries: 300, Products: 20, Seed: 1},
		"valid.csv": {Queries: 80, Products: 20, Seed: 2},
		"test.csv":  {Queries: 150, Products: 20, Seed: 3},
	} {
		f, err := os.Create(filepath.Join(r.dir, "data", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := demo.Write(f, o); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	r.config(t, 1, true)
	r.git(t, "add", "-A")
	r.git(t, "commit", "-qm", "model")
	return r
}

// initRepo makes a git repository named shop/ranker (its origin) and runs
// ferry init in it for a trainer.
func initRepo(t *testing.T, registry, trainer string) *actRepo {
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
	if out, code := runFerry(t, "init", "--dir", dir, "--trainer", trainer); code != 0 {
		t.Fatalf("ferry init: exit %d\n%s", code, out)
	}
	// The registry: the CNCF registry on loopback in place of ghcr.io.
	wfs, _ := filepath.Glob(filepath.Join(dir, ".github", "workflows", "*.yml"))
	for _, wf := range wfs {
		b, _ := os.ReadFile(wf)
		os.WriteFile(wf, bytes.ReplaceAll(b, []byte("ghcr.io/${{ github.repository }}"), []byte(registry+"/${{ github.repository }}")), 0o644)
	}
	return &actRepo{dir: dir, registry: registry}
}

// config writes ferry.yaml for the demo's columns with a number of trees;
// first states that no champion exists yet.
func (r *actRepo) config(t *testing.T, trees int, first bool) {
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
  first-model: %v
`, trees, first)
	if err := os.WriteFile(filepath.Join(r.dir, "ferry.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// git runs git in the repository.
func (r *actRepo) git(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// actRun is what one run of a workflow needs beyond the repository.
type actRun struct {
	docker, api string
	secrets     []string // NAME=VALUE
	// socket, when set, is bound into the job's and the actions'
	// containers as /var/run/docker.sock, as GitHub does on a runner with
	// Docker; the workspace is then bound too (act's -b), so a sibling
	// container sees the same files at the same path.
	socket bool
	// standIns maps more actions (owner/name@ref) to stand-ins under
	// testdata/act.
	standIns map[string]string
	// bind binds the repository as the workspace (act's -b) instead of
	// copying it in when the job checks out; with a checkout stand-in the
	// workspace then still holds the repository, as a real checkout would.
	bind bool
}

// pullRequest runs model.yml for a pull_request event of pull request pr
// whose head is sha, under nektos/act (container mode, podman's Docker API).
func (r *actRepo) pullRequest(t *testing.T, env actRun, pr int, sha string) (string, error) {
	t.Helper()
	return r.act(t, env, "pull_request", "model.yml", map[string]any{
		"action": "synchronize", "number": pr,
		"repository": map[string]any{"full_name": "shop/ranker", "name": "ranker", "owner": map[string]any{"login": "shop"}},
		"pull_request": map[string]any{
			"number": pr,
			"head":   map[string]any{"sha": sha, "ref": "feature", "repo": map[string]any{"full_name": "shop/ranker"}},
			"base":   map[string]any{"ref": "main", "repo": map[string]any{"full_name": "shop/ranker"}},
		},
	})
}

// merge commits the merge of pull request pr (head sha) on main, tells the
// GitHub stand-in so, and runs deploy.yml for the push.
func (r *actRepo) merge(t *testing.T, env actRun, gh *forgetest.GitHub, pr int, head string) (string, error) {
	t.Helper()
	r.git(t, "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("Merge pull request #%d", pr))
	sha := r.git(t, "rev-parse", "HEAD")
	gh.Pulls[sha] = []map[string]any{{"number": pr, "merged_at": "2026-12-01T10:00:00Z", "head": map[string]any{"sha": head}}}
	return r.act(t, env, "push", "deploy.yml", map[string]any{"ref": "refs/heads/main", "after": sha,
		"repository": map[string]any{"full_name": "shop/ranker", "name": "ranker", "owner": map[string]any{"login": "shop"}}})
}

func (r *actRepo) act(t *testing.T, env actRun, event, workflow string, payload map[string]any) (string, error) {
	t.Helper()
	bin := filepath.Join(testenv.RepoRoot(t), "bin", "act")
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(t, "bin/act (nektos/act)", "run `make act`")
	}
	ev, _ := json.Marshal(payload)
	evPath := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(evPath, ev, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	args := []string{event,
		"-W", filepath.Join(".github", "workflows", workflow),
		"-e", evPath,
		"-P", "ubuntu-latest=" + jobImage, "-P", "self-hosted=" + jobImage, "-P", "gpu=" + jobImage,
		"--pull=false", "--action-offline-mode",
		"--local-repository", "ferry-ml/ferry@v" + version.Version + "=" + actionsCopy(t),
		// JavaScript actions cannot be fetched offline: a stand-in.
		"--local-repository", "actions/upload-artifact@v4=" + filepath.Join(testenv.RepoRoot(t), "test", "integration", "testdata", "act", "upload-artifact"),
		"--env", "GITHUB_API_URL=" + env.api,
		"--secret", "GITHUB_TOKEN=ghs_act_test",
		"--action-cache-path", filepath.Join(t.TempDir(), "act-cache"),
		"--rm", // a failed run's containers and volumes too
	}
	for _, s := range env.secrets {
		args = append(args, "--secret", s)
	}
	for action, dir := range env.standIns {
		args = append(args, "--local-repository", action+"="+filepath.Join(testenv.RepoRoot(t), "test", "integration", "testdata", "act", dir))
	}
	if env.socket {
		args = append(args, "--container-daemon-socket", env.docker)
	} else {
		args = append(args, "--container-daemon-socket", "-")
	}
	if env.socket || env.bind {
		args = append(args, "--bind")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+env.docker, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The workflows `ferry init` writes, run by a real Actions runner (act over
// podman) against the CNCF registry, the local Kubernetes control plane
// and a loopback GitHub API stand-in, through a model's life:
//
//  1. the first model (1 tree) goes green alone and is deployed on merge;
//  2. two pull requests (100 trees, 5 trees) are each compared with that
//     champion and both go green; the first merges, deploys and becomes the
//     champion; the second merge is rechecked against the new champion,
//     fails its gate and is not deployed;
//  3. a clearly worse candidate (2 trees) goes red with the gate named and
//     is not packaged;
//  4. a pull request that changes only README.md goes green with the
//     required check and trains nothing, and its merge deploys nothing.
//
// What is not real here: the GitHub API (forgetest's stand-in), ghcr.io
// (the local registry, swapped into the workflows' text), the deploy
// namespace (the test's own, swapped in too), and the cluster's nodes
// (kwok's: the pods run no container).
func TestInitWorkflowsUnderAct(t *testing.T) {
	docker, _ := actHost(t, true)
	e := newDeployEnv(t)
	registry := e.repo.RegistryStr()
	// What each pull request changes, as GitHub's API lists it.
	gh := &forgetest.GitHub{Pulls: map[string][]map[string]any{}, Files: map[int][]string{
		4: {"ferry.yaml", "data/train.csv"}, 5: {"ferry.yaml"}, 6: {"ferry.yaml"}, 8: {"ferry.yaml"}, 9: {"README.md"}}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	kubeconfig, err := os.ReadFile(e.c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	env := actRun{docker: docker, api: srv.URL, secrets: []string{"KUBECONFIG=" + string(kubeconfig)}}

	repo := newActRepo(t, registry)
	for _, wf := range []string{"deploy.yml"} {
		p := filepath.Join(repo.dir, ".github", "workflows", wf)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, bytes.ReplaceAll(b, []byte("namespace: models"), []byte("namespace: "+e.ns)), 0o644)
	}
	tagDigest := func(tag string) string { return e.tagDigest(tag) }
	green := func(what string, log string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s failed: %v\n%s", what, err, log)
		}
	}
	head := func(pr int) string { return strings.Repeat(fmt.Sprint(pr), 40) }

	// 1. The first model, stated in ferry.yaml as init writes it.
	repo.config(t, 1, true)
	log, err := repo.pullRequest(t, env, 4, head(4))
	green("the first model's pull request", log, err)
	for _, tag := range []string{"pr-4", "sha-" + head(4)} {
		if tagDigest(tag) == "" {
			t.Errorf("%s was not pushed:\n%s", tag, log)
		}
	}
	if comments := gh.On(4); len(comments) != 1 || !strings.Contains(comments[0].Body, "ndcg@10") {
		t.Errorf("comments on #4: %+v", comments)
	}
	log, err = repo.merge(t, env, gh, 4, head(4))
	green("deploying #4", log, err)
	if got, want := tagDigest("champion"), tagDigest("pr-4"); got == "" || got != want {
		t.Fatalf("champion %q after merging #4, want pr-4 %q:\n%s", got, want, log)
	}
	if got := e.image(t, "ranker"); got != tagDigest("pr-4") {
		t.Errorf("the cluster runs %s, want pr-4", got)
	}

	// 2. Two candidates compared with the same champion; the second merge
	// meets the champion the first one made.
	repo.config(t, 100, false)
	log, err = repo.pullRequest(t, env, 5, head(5))
	green("#5 (100 trees) against the 1-tree champion", log, err)
	repo.config(t, 5, false)
	log, err = repo.pullRequest(t, env, 6, head(6))
	green("#6 (5 trees) against the 1-tree champion", log, err)
	log, err = repo.merge(t, env, gh, 5, head(5))
	green("deploying #5", log, err)
	if got := tagDigest("champion"); got != tagDigest("pr-5") {
		t.Fatalf("champion %q after merging #5, want pr-5:\n%s", got, log)
	}
	log, err = repo.merge(t, env, gh, 6, head(6))
	if err == nil {
		t.Fatalf("#6 deployed although it is worse than the champion #5 made:\n%s", log)
	}
	if !strings.Contains(log, "fails against the current champion") && !strings.Contains(log, "recheck against the current champion") {
		t.Errorf("the failed deploy does not say it was the recheck:\n%s", log)
	}
	if got := tagDigest("champion"); got != tagDigest("pr-5") {
		t.Errorf("champion moved to %q after the refused #6", got)
	}
	if got := e.image(t, "ranker"); got != tagDigest("pr-5") {
		t.Errorf("the cluster runs %s after the refused #6, want pr-5", got)
	}

	// 3. A clearly worse candidate.
	repo.config(t, 2, false)
	log, err = repo.pullRequest(t, env, 8, head(8))
	if err == nil {
		t.Fatalf("a candidate with 2 trees passed the ndcg@10 gate against the champion:\n%s", log)
	}
	if !strings.Contains(log, "ndcg@10") {
		t.Errorf("the failing run does not name the gate:\n%s", log)
	}
	if tagDigest("pr-8") != "" {
		t.Error("the failing candidate was packaged")
	}

	// 4. No model change.
	checks := len(gh.Checks)
	log, err = repo.pullRequest(t, env, 9, head(9))
	green("a pull request that only changes README.md", log, err)
	if len(gh.Checks) != checks+1 || gh.Checks[checks]["conclusion"] != "success" || gh.Checks[checks]["name"] != "ferry / ranker" {
		t.Errorf("check runs after #9: %v, want a successful ferry / ranker", gh.Checks[checks:])
	}
	if tagDigest("pr-9") != "" {
		t.Error("a pull request with no model change was packaged")
	}
	if !strings.Contains(log, "No model change") {
		t.Errorf("the run does not say why it trained nothing:\n%s", log)
	}
	log, err = repo.merge(t, env, gh, 9, head(9))
	green("merging #9", log, err)
	if !strings.Contains(log, "pull request #9 has no image") {
		t.Errorf("the deploy of #9 does not say why it deployed nothing:\n%s", log)
	}
	if got := tagDigest("champion"); got != tagDigest("pr-5") {
		t.Errorf("champion moved to %q after #9", got)
	}
}

// The command trainer's model.yml under act: the train action, in ferry's
// own container (no shell, no Python), runs the team's training image as a
// sibling container through the runner's Docker socket (podman's here,
// bound in as GitHub binds the runner's), collects the model it wrote to
// the shared workspace, and the candidate is evaluated and packaged. The
// training image is the test's trainer program; the test puts it and its
// command in place of the template's placeholders and drops `gpus: all`
// (no GPU here).
func TestCommandTrainerWorkflowUnderAct(t *testing.T) {
	docker, api := actHost(t, true)
	loadTrainerImage(t, api)
	registry := distributionRegistry(t)
	gh := &forgetest.GitHub{Files: map[int][]string{5: {"train.py"}}}
	srv := httptest.NewServer(gh)
	defer srv.Close()

	repo := initRepo(t, registry, "command")
	model := filepath.Join(repo.dir, ".github", "workflows", "model.yml")
	b, _ := os.ReadFile(model)
	text := string(b)
	for old, new := range map[string]string{
		"image: " + registry + "/${{ github.repository }}/trainer:latest": "image: " + trainerImage,
		"run: python train.py":  "run: /trainer ok",
		"          gpus: all\n": "",
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("the command trainer's model.yml has no %q:\n%s", old, text)
		}
		text = strings.Replace(text, old, new, 1)
	}
	os.WriteFile(model, []byte(text), 0o644)
	os.MkdirAll(filepath.Join(repo.dir, "data"), 0o755)
	var rows strings.Builder
	rows.WriteString("x,y\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&rows, "%d,%d\n", i, i%2)
	}
	for _, f := range []string{"train.csv", "test.csv"} {
		os.WriteFile(filepath.Join(repo.dir, "data", f), []byte(rows.String()), 0o644)
	}
	os.WriteFile(filepath.Join(repo.dir, "ferry.yaml"), []byte(`name: clicks
data:
  train: data/train.csv
  test: data/test.csv
  label: y
train:
  trainer: command
  objective: binary
  out: model
evaluate:
  gates: ["auc >= 0.4"]
  first-model: true
`), 0o644)
	os.WriteFile(filepath.Join(repo.dir, "train.py"), []byte("# the team's training code (the trainer image stands in for it)\n"), 0o644)
	repo.git(t, "add", "-A")
	repo.git(t, "commit", "-qm", "model")

	head := strings.Repeat("5", 40)
	log, err := repo.pullRequest(t, actRun{docker: docker, api: srv.URL, socket: true}, 5, head)
	if err != nil {
		t.Fatalf("the command trainer's workflow failed: %v\n%s", err, log)
	}
	for _, want := range []string{"trainer: mode ok", "done"} {
		if !strings.Contains(log, want) {
			t.Errorf("the training container's log lacks %q:\n%s", want, log)
		}
	}
	desc, err := remote.Head(mustRef(t, registry+"/shop/ranker:pr-5"))
	if err != nil {
		t.Fatalf("pr-5 was not pushed: %v\n%s", err, log)
	}
	if len(gh.Checks) != 1 || gh.Checks[0]["conclusion"] != "success" {
		t.Errorf("check runs %v, want one success", gh.Checks)
	}
	t.Logf("the command trainer's candidate: %s", desc.Digest)
}

// actions/setup under act: on the runner itself (the job's container here),
// it downloads the release's ferry for the runner's OS and architecture,
// checks its sha256 against checksums.txt and puts it on PATH, where a run
// step trains with it; a binary whose checksum does not match is refused
// and never installed. A loopback server stands in for GitHub's release
// downloads (the action's download-url input).
func TestSetupActionUnderAct(t *testing.T) {
	docker, _ := actHost(t, false)

	release := t.TempDir()
	dir := filepath.Join(release, "v"+version.Version)
	os.MkdirAll(dir, 0o755)
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "ferry_linux_amd64"), "./cmd/ferry")
	build.Dir = testenv.RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ferry: %v\n%s", err, out)
	}
	bin, _ := os.ReadFile(filepath.Join(dir, "ferry_linux_amd64"))
	sum := sha256.Sum256(bin)
	good := hex.EncodeToString(sum[:]) + "  ferry_linux_amd64\n"
	srv := httptest.NewServer(http.FileServer(http.Dir(release)))
	defer srv.Close()

	repo := &actRepo{dir: t.TempDir()}
	repo.git(t, "init", "-q", "-b", "main")
	repo.git(t, "remote", "add", "origin", "https://github.com/shop/ranker.git")
	os.MkdirAll(filepath.Join(repo.dir, ".github", "workflows"), 0o755)
	os.WriteFile(filepath.Join(repo.dir, ".github", "workflows", "host.yml"), []byte(`name: host
on: push
jobs:
  host:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: setup
        uses: ferry-ml/ferry/actions/setup@v`+version.Version+`
        with:
          download-url: `+srv.URL+`
      - run: |
          ferry version
          test "$(command -v ferry)" = "${{ steps.setup.outputs.path }}"
          ferry train --data data.csv --label y --param trees=2 --out model
          test -f model/model.json
`), 0o644)
	var rows strings.Builder
	rows.WriteString("x,y\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&rows, "%d,%d\n", i, i%2)
	}
	os.WriteFile(filepath.Join(repo.dir, "data.csv"), []byte(rows.String()), 0o644)
	repo.git(t, "add", "-A")
	repo.git(t, "commit", "-qm", "host")
	push := map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "shop/ranker"}}

	os.WriteFile(filepath.Join(dir, "checksums.txt"), []byte(good), 0o644)
	log, err := repo.act(t, actRun{docker: docker, api: "http://127.0.0.1:1"}, "push", "host.yml", push)
	if err != nil {
		t.Fatalf("setup and a host training failed: %v\n%s", err, log)
	}
	if !strings.Contains(log, "ferry "+version.Version) {
		t.Errorf("ferry version did not run from PATH:\n%s", log)
	}

	os.WriteFile(filepath.Join(dir, "checksums.txt"), []byte(strings.Repeat("0", 64)+"  ferry_linux_amd64\n"), 0o644)
	log, err = repo.act(t, actRun{docker: docker, api: "http://127.0.0.1:1"}, "push", "host.yml", push)
	if err == nil {
		t.Fatalf("a binary whose sha256 does not match checksums.txt was installed:\n%s", log)
	}
	if !strings.Contains(log, "but checksums.txt says "+strings.Repeat("0", 64)+": not installed") {
		t.Errorf("the refusal does not say why:\n%s", log)
	}
}

// The repository's own self-test workflow (uses: ./actions/...) under act,
// from a copy of this repository: train, evaluate, package to an OCI layout
// and the local target's smoke test, whose server is stopped with the step.
func TestSelfTestUnderAct(t *testing.T) {
	docker, _ := actHost(t, true)
	repo := &actRepo{dir: t.TempDir()}
	root := testenv.RepoRoot(t)
	for _, p := range []string{".github/workflows/self-test.yml", ".github/self-test/train.csv", ".github/self-test/test.csv",
		"actions/train/action.yml", "actions/evaluate/action.yml", "actions/package/action.yml", "actions/deploy/action.yml"} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(repo.dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(repo.dir, p), b, 0o644)
	}
	repo.git(t, "init", "-q", "-b", "main")
	repo.git(t, "remote", "add", "origin", "https://github.com/ferry-ml/ferry.git")
	repo.git(t, "add", "-A")
	repo.git(t, "commit", "-qm", "self-test")
	log, err := repo.act(t, actRun{docker: docker, api: "http://127.0.0.1:1"}, "workflow_dispatch", "self-test.yml",
		map[string]any{"repository": map[string]any{"full_name": "ferry-ml/ferry"}})
	if err != nil {
		t.Fatalf("the self-test workflow failed: %v\n%s", err, log)
	}
	if !strings.Contains(log, "smoke test passed") && !strings.Contains(log, "answered the smoke test") {
		t.Errorf("the deploy step did not report its smoke test:\n%s", log)
	}
}

// train-comment.yml under act: a maintainer's "/train <sha>" trains and
// evaluates exactly that commit while it is the pull request's head (the
// check run goes on it); once a push has moved the head, the same comment
// is refused with the new head named. The job image's gh is a stand-in that
// asks the loopback API for the head.
func TestTrainCommentUnderAct(t *testing.T) {
	docker, _ := actHost(t, true)
	registry := distributionRegistry(t)
	reviewed := strings.Repeat("ab", 20)
	gh := &forgetest.GitHub{Heads: map[int]string{5: reviewed}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	repo := newActRepo(t, registry)
	comment := func() (string, error) {
		env := actRun{docker: docker, api: srv.URL, standIns: map[string]string{"actions/checkout@v4": "checkout"}, bind: true}
		return repo.act(t, env, "issue_comment", "train-comment.yml", map[string]any{
			"action":     "created",
			"issue":      map[string]any{"number": 5, "pull_request": map[string]any{"url": srv.URL + "/repos/shop/ranker/pulls/5"}},
			"comment":    map[string]any{"body": "/train " + reviewed[:10] + "\nlooks good", "author_association": "MEMBER"},
			"repository": map[string]any{"full_name": "shop/ranker", "name": "ranker", "owner": map[string]any{"login": "shop"}},
		})
	}
	log, err := comment()
	if err != nil {
		t.Fatalf("/train of the reviewed head failed: %v\n%s", err, log)
	}
	if len(gh.Checks) != 1 || gh.Checks[0]["head_sha"] != reviewed {
		t.Errorf("check runs %v, want one on the reviewed commit %s", gh.Checks, reviewed)
	}
	if !strings.Contains(log, "checkout stand-in, ref "+reviewed) {
		t.Errorf("the workflow did not check out the reviewed commit:\n%s", log)
	}
	gh.Heads[5] = strings.Repeat("cd", 20) // a push after the review
	log, err = comment()
	if err == nil {
		t.Fatalf("/train ran although the head moved after the review:\n%s", log)
	}
	if !strings.Contains(log, "the pull request's head is now "+strings.Repeat("cd", 20)+": a push came after the review") {
		t.Errorf("the refusal does not name the new head:\n%s", log)
	}
	if len(gh.Checks) != 1 {
		t.Errorf("the refused /train created check runs: %v", gh.Checks[1:])
	}
}

// fork-report.yml under act: after a fork's pull request run (read-only
// token, report only), the base repository's workflow_run evaluates the
// candidate that run uploaded, with the base's code and data and token: it
// comments on the fork's pull request, found by the fork's owner:branch,
// and creates the check run on the fork's head commit. The artifact
// download is a stand-in; the test puts the candidate where it would land.
func TestForkReportUnderAct(t *testing.T) {
	docker, _ := actHost(t, true)
	registry := distributionRegistry(t)
	head := strings.Repeat("f0", 20)
	gh := &forgetest.GitHub{Open: map[string][]map[string]any{"someone:patch-1": {{"number": 17, "head": map[string]any{"sha": head}}}}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	repo := newActRepo(t, registry)
	if out, code := runFerry(t, "train", "--config", filepath.Join(repo.dir, "ferry.yaml"), "--data", filepath.Join(repo.dir, "data", "train.csv"),
		"--valid", filepath.Join(repo.dir, "data", "valid.csv"), "--out", filepath.Join(repo.dir, ".ferry", "candidate")); code != 0 {
		t.Fatalf("train the fork's candidate: exit %d\n%s", code, out)
	}
	env := actRun{docker: docker, api: srv.URL, bind: true, standIns: map[string]string{"actions/download-artifact@v4": "download-artifact"}}
	log, err := repo.act(t, env, "workflow_run", "fork-report.yml", map[string]any{
		"action": "completed",
		"workflow_run": map[string]any{"id": 99, "event": "pull_request", "conclusion": "success", "head_sha": head, "head_branch": "patch-1",
			"head_repository": map[string]any{"full_name": "someone/ranker", "owner": map[string]any{"login": "someone"}},
			"repository":      map[string]any{"full_name": "shop/ranker"}, "pull_requests": []any{}},
		"repository": map[string]any{"full_name": "shop/ranker", "name": "ranker", "owner": map[string]any{"login": "shop"}},
	})
	if err != nil {
		t.Fatalf("the fork report failed: %v\n%s", err, log)
	}
	if c := gh.On(17); len(c) != 1 || !strings.Contains(c[0].Body, "ndcg@10") {
		t.Errorf("comments on the fork's pull request #17: %+v\n%s", c, log)
	}
	if len(gh.Checks) != 1 || gh.Checks[0]["head_sha"] != head {
		t.Errorf("check runs %v, want one on the fork's head %s", gh.Checks, head)
	}
}

// The kubernetes trainer's model.yml under act: the train action submits a
// training Job to the local cluster with the pull request's own training
// credential (TRAINING_KUBECONFIG), the Job's output comes back through the
// registry as a model, and the candidate is evaluated and packaged. kwok's
// nodes run no container, so the test plays the Job's collector (as
// TestTrainJobOnGPUNode does): it pushes an XGBoost model of the HIGGS
// data as the artifact the Job names. The template's training namespace is
// the test's.
func TestKubernetesTrainerWorkflowUnderAct(t *testing.T) {
	docker, _ := actHost(t, true)
	e := newDeployEnv(t)
	registry := e.repo.RegistryStr()
	jobs := collector(t, e)
	gh := &forgetest.GitHub{Files: map[int][]string{5: {"train.py"}}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	kubeconfig, err := os.ReadFile(e.c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}

	repo := initRepo(t, registry, "kubernetes")
	model := filepath.Join(repo.dir, ".github", "workflows", "model.yml")
	b, _ := os.ReadFile(model)
	if !bytes.Contains(b, []byte("namespace: training")) || bytes.Contains(b, []byte("secrets.KUBECONFIG")) {
		t.Fatalf("the kubernetes trainer's model.yml:\n%s", b)
	}
	os.WriteFile(model, bytes.ReplaceAll(b, []byte("namespace: training"), []byte("namespace: "+e.ns)), 0o644)
	test, err := os.ReadFile(testenv.SharedData(t, "lightgbm-binary/binary.test"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(repo.dir, "data"), 0o755)
	os.WriteFile(filepath.Join(repo.dir, "data", "test.tsv"), test, 0o644)
	os.WriteFile(filepath.Join(repo.dir, "ferry.yaml"), []byte(`name: higgs
data:
  train: data/test.tsv
  test: data/test.tsv
  format: tsv
  header: "false"
  label: "0"
train:
  trainer: command
  objective: binary
  out: model
evaluate:
  gates: ["auc >= 0.7"]
  first-model: true
`), 0o644)
	os.WriteFile(filepath.Join(repo.dir, "train.py"), []byte("# the team's training code (the Job's image would run it)\n"), 0o644)
	repo.git(t, "add", "-A")
	repo.git(t, "commit", "-qm", "model")

	log, err := repo.pullRequest(t, actRun{docker: docker, api: srv.URL, secrets: []string{"TRAINING_KUBECONFIG=" + string(kubeconfig)}}, 5, strings.Repeat("5", 40))
	if err != nil {
		t.Fatalf("the kubernetes trainer's workflow failed: %v\n%s", err, log)
	}
	select {
	case j := <-jobs:
		if q := j.Spec.Template.Spec.InitContainers[0].Resources.Limits["nvidia.com/gpu"]; q.Value() != 1 {
			t.Errorf("the training Job asks for %v GPUs, want 1", q.Value())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no training Job was created")
	}
	if e.tagDigest("pr-5") == "" {
		t.Errorf("pr-5 was not pushed:\n%s", log)
	}
	if len(gh.Checks) != 1 || gh.Checks[0]["conclusion"] != "success" || gh.Checks[0]["name"] != "ferry / higgs" {
		t.Errorf("check runs %v, want one successful ferry / higgs", gh.Checks)
	}
}
