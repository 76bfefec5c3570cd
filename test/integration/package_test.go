package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/test/testenv"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// distributionRegistry starts the CNCF distribution registry (Debian's
// docker-registry) on loopback, without auth, storing in the test's directory.
func distributionRegistry(t *testing.T) string {
	t.Helper()
	bin := testenv.LookPath(t, "docker-registry", "run `make deps` (apt-get install docker-registry)")
	r, err := testenv.StartRegistry(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r.Addr
}

func waitHTTP(t *testing.T, url string, code int, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == code {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d in 30 s: %s", url, code, log)
}

// clicksModel is a small click model trained by ferry, and an Env whose
// FERRY_SERVE_LINUX_AMD64 is a static ferry-serve, so that `ferry package` can
// build runnable images of it.
type clicksModel struct {
	dir            string
	env            *cli.Env
	stdout, stderr *bytes.Buffer
}

// staticServe builds a static cmd/ferry-serve into dir, to be an image's
// server, as the action image carries it.
func staticServe(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "ferry-serve")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ferry-serve")
	build.Dir, build.Env = testenv.RepoRoot(t), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ferry: %v\n%s", err, out)
	}
	return bin
}

func newClicksModel(t *testing.T, dir string) clicksModel {
	t.Helper()
	serveBin := staticServe(t, dir)
	csv := filepath.Join(dir, "clicks.csv")
	var b strings.Builder
	b.WriteString("price,rating,clicked\n")
	for i := 0; i < 300; i++ {
		price, rating := i%90, 1+i%5
		c := 0
		if rating*15-price > 20 {
			c = 1
		}
		fmt.Fprintf(&b, "%d,%d,%d\n", price, rating, c)
	}
	os.WriteFile(csv, []byte(b.String()), 0o644)
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		if k == "FERRY_SERVE_LINUX_AMD64" {
			return serveBin
		}
		if k == "SOURCE_DATE_EPOCH" {
			return "1700000000"
		}
		return ""
	}
	env := &cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: getenv}
	modelDir := filepath.Join(dir, "clicks")
	if code := cli.Main(context.Background(), []string{"train", "--data", csv, "--label", "clicked", "--param", "trees=20", "--out", modelDir}, env); code != 0 {
		t.Fatalf("train: %s", stderr.String())
	}
	return clicksModel{dir: modelDir, env: env, stdout: &stdout, stderr: &stderr}
}

// ferry packages a model, pushes it to the real registry by digest with tags,
// skopeo reads it, and podman runs it: the served scores are ferry predict's.
func TestPackagePushServe(t *testing.T) {
	reg := distributionRegistry(t)
	skopeo := testenv.LookPath(t, "skopeo", "run `make deps` (apt-get install skopeo)")
	podmanBin := testenv.LookPath(t, "podman", "run `make deps` (apt-get install podman runc)")
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	m := newClicksModel(t, dir)
	modelDir, env, stdout, stderr := m.dir, m.env, m.stdout, m.stderr
	stdout.Reset()
	image := reg + "/shop/clicks"
	if code := cli.Main(context.Background(), []string{"package", "--model", modelDir, "--image", image, "--tag", "pr-1", "--tag", "sha-abc"}, env); code != 0 {
		t.Fatalf("package: exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	pinned := lines[len(lines)-1]
	if !strings.HasPrefix(pinned, image+"@sha256:") {
		t.Fatalf("last line %q, want IMAGE@DIGEST", pinned)
	}
	out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "docker://"+image+":pr-1").CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var info struct {
		Digest string
		Labels map[string]string
	}
	json.Unmarshal(out, &info)
	if image+"@"+info.Digest != pinned || info.Labels["dev.ferry.model.name"] != "clicks" {
		t.Errorf("skopeo sees %s with labels %v, ferry pushed %s", info.Digest, info.Labels, pinned)
	}

	// podman pulls by digest and runs it; ask it what ferry predict says.
	store := filepath.Join(root, "bin", "podman")
	port := freePort(t)
	name := "ferry-test-" + strconv.Itoa(port)
	run := exec.Command(podmanBin, "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "runroot"),
		"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"run", "-d", "--rm", "--name", name, "--tls-verify=false", "--network", "host",
		"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
		pinned, "--addr", fmt.Sprintf("127.0.0.1:%d", port))
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		exec.Command(podmanBin, "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "runroot"),
			"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file", "rm", "-f", "-t", "2", name).Run()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/v2/health/ready", 200, &bytes.Buffer{})
	resp, err := http.Post(base+"/v2/models/clicks/infer", "application/json",
		strings.NewReader(`{"inputs": [{"name": "x", "shape": [3, 2], "datatype": "FP32", "data": [[0, 1], [5, 5], [80, 2]]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var served struct {
		Outputs []struct{ Data []float64 }
	}
	json.NewDecoder(resp.Body).Decode(&served)
	resp.Body.Close()
	rows := filepath.Join(dir, "rows.csv")
	os.WriteFile(rows, []byte("price,rating\n0,1\n5,5\n80,2\n"), 0o644)
	stdout.Reset()
	if code := cli.Main(context.Background(), []string{"predict", "--model", modelDir, "--data", rows}, env); code != 0 {
		t.Fatalf("predict: %s", stderr.String())
	}
	var want []float64
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n")[1:] {
		f := strings.Split(l, ",")
		v, _ := strconv.ParseFloat(f[3], 64)
		want = append(want, v)
	}
	if len(served.Outputs) != 1 || fmt.Sprint(served.Outputs[0].Data) != fmt.Sprint(want) {
		t.Errorf("the image served %v, ferry predict says %v", served.Outputs, want)
	}

	// Under load, `podman stop` (SIGTERM) drains: every response is a whole
	// 200, later requests find the port closed, and the server exits by
	// itself, before podman would resort to SIGKILL.
	var answered, notAccepted, bad atomic.Int64
	var lastBad atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(base+"/v2/models/clicks/infer", "application/json",
					strings.NewReader(`{"inputs": [{"name": "x", "shape": [3, 2], "datatype": "FP32", "data": [[0, 1], [5, 5], [80, 2]]}]}`))
				switch {
				case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF):
					// No response byte at all: refused once the listener is
					// closed, or reset/closed while still in the kernel's
					// accept queue at that instant (what a load balancer's
					// readiness check removes). A response cut short, a 5xx
					// or a timeout is a failure below.
					notAccepted.Add(1)
					time.Sleep(5 * time.Millisecond)
				case err != nil:
					bad.Add(1)
					lastBad.Store(err.Error())
				default:
					_, rerr := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK && rerr == nil {
						answered.Add(1)
					} else {
						bad.Add(1)
						lastBad.Store(fmt.Sprintf("%s (%v)", resp.Status, rerr))
					}
				}
			}
		}()
	}
	time.Sleep(time.Second)
	before := answered.Load()
	stopOut, err := exec.Command(podmanBin, "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "runroot"),
		"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file", "stop", "-t", "20", name).CombinedOutput()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil || strings.Contains(string(stopOut), "SIGKILL") {
		t.Errorf("podman stop: %v\n%s", err, stopOut)
	}
	t.Logf("under load: %d requests answered (%d before the stop), %d not accepted after it, %d failed", answered.Load(), before, notAccepted.Load(), bad.Load())
	if before == 0 || bad.Load() != 0 {
		t.Errorf("%d requests failed during the drain (last: %v); %d answered before it", bad.Load(), lastBad.Load(), before)
	}
}
