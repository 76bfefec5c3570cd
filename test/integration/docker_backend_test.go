package integration

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/moby/client"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/test/testenv"
)

const trainerImage = "localhost/ferry-test-trainer:1"

// podmanService starts podman's Docker-compatible API on a socket of the
// test's and returns its DOCKER_HOST; it stops when the test ends.
func podmanService(t *testing.T) string {
	t.Helper()
	bin := testenv.LookPath(t, "podman", "run `make deps` (apt-get install podman runc)")
	root := testenv.RepoRoot(t)
	store := filepath.Join(root, "bin", "podman")
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	// runc, not crun, and limits under the machine's: see ../shared/ENVIRONMENT.md.
	os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"), 0o644)
	sock := filepath.Join(dir, "podman.sock")
	cmd := exec.Command(bin, "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "runroot"),
		"system", "service", "--time=0", "unix://"+sock)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start podman system service: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		killConmons(filepath.Join(store, "root"))
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("podman's API socket did not come up: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "unix://" + sock
}

// killConmons stops the conmon processes of a podman store: with podman
// 4.3 an exec session's conmon (act runs each step as one) can outlive its
// container and the API service, and would stay after the tests.
func killConmons(root string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 0 && filepath.Base(args[0]) == "conmon" && strings.Contains(string(cmdline), root+"/") {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
	}
}

// loadTrainerImage builds the test trainer (a static Go program) into an
// image with go-containerregistry and loads it through the Docker API.
func loadTrainerImage(t *testing.T, api *client.Client) {
	t.Helper()
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "trainer")
	build := exec.Command("go", "build", "-o", bin, "./test/integration/testdata/trainer")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the trainer: %v\n%s", err, out)
	}
	layer, err := oci.Layer([]oci.File{{Path: "/trainer", Mode: 0o755, Source: bin}}, time.Unix(0, 0))
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
	cf.Config = v1.Config{Entrypoint: []string{"/trainer"}, Cmd: []string{"ok"}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	loadImage(t, api, trainerImage, img)
}

func runFerry(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	env := &cli.Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	code := cli.Main(context.Background(), args, env)
	return out.String(), code
}

// The docker backend runs the user's training image as a sibling container
// through the Docker Engine API (podman's compatible socket here), collects
// the model it wrote, and removes the container on every path.
func TestDockerBackend(t *testing.T) {
	host := podmanService(t)
	t.Setenv("DOCKER_HOST", host)
	api, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	loadTrainerImage(t, api)

	ws := t.TempDir()
	t.Chdir(ws)
	os.WriteFile("train.csv", []byte("x,y\n1,0\n2,1\n"), 0o644)

	log, code := runFerry(t, "train", "--trainer", "command", "--backend", "docker", "--image", trainerImage,
		"--data", "train.csv", "--label", "y", "--seed", "5", "--out", "model")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	if !strings.Contains(log, "trainer: mode ok, data "+filepath.Join(ws, "train.csv")+", seed 5") {
		t.Errorf("the container's output did not stream, or its environment is wrong:\n%s", log)
	}
	m, err := model.Load(filepath.Join(ws, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Manifest.Lineage.Image != trainerImage || m.Manifest.Lineage.Backend != "docker" || m.Manifest.Metrics["valid"]["auc"] != 0.75 {
		t.Errorf("lineage %+v, metrics %v", m.Manifest.Lineage, m.Manifest.Metrics)
	}

	// A command that fails, and one that runs past its timeout.
	log, code = runFerry(t, "train", "--trainer", "command", "--backend", "docker", "--image", trainerImage,
		"--run", "/trainer fail", "--out", "failed")
	if code != 3 || !strings.Contains(log, "the training command exited with status 7; its last lines:") || !strings.Contains(log, "out of memory on the device") {
		t.Errorf("exit %d:\n%s", code, log)
	}
	start := time.Now()
	log, code = runFerry(t, "train", "--trainer", "command", "--backend", "docker", "--image", trainerImage,
		"--run", "/trainer sleep", "--timeout", "3s", "--out", "slow")
	if code != 3 || !strings.Contains(log, "the training command ran past its timeout and was stopped") {
		t.Errorf("exit %d:\n%s", code, log)
	}
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("a 3 s timeout took %v", took)
	}
	for _, dir := range []string{"failed", "slow"} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("a failed run left %s", dir)
		}
	}
	left, err := api.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "dev.ferry.run=train")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(left.Items); n != 0 {
		t.Errorf("%d training containers left behind", n)
	}
}

// With GPUs asked for, the docker backend's preflight runs nvidia-smi in the
// training image with the same GPU request, never in ferry's process: on a
// Docker without the NVIDIA Container Toolkit (podman here) the request is
// refused, and ferry stops before training, naming the image and the
// toolkit. No preflight container is left behind.
func TestDockerBackendGPUPreflightFailsClosed(t *testing.T) {
	host := podmanService(t)
	t.Setenv("DOCKER_HOST", host)
	api, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	loadTrainerImage(t, api)
	t.Chdir(t.TempDir())
	log, code := runFerry(t, "train", "--trainer", "command", "--backend", "docker", "--image", trainerImage, "--gpus", "all", "--out", "model")
	if code == 0 || !strings.Contains(log, "GPU preflight (gpus: all): in the training image "+trainerImage) {
		t.Errorf("exit %d:\n%s", code, log)
	}
	if strings.Contains(log, "trainer: mode") {
		t.Errorf("the training ran after a failed preflight:\n%s", log)
	}
	left, err := api.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "dev.ferry.run=gpu-preflight")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(left.Items); n != 0 {
		t.Errorf("%d preflight containers left behind", n)
	}
}
