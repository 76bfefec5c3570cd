// Command packagebench measures `ferry package` pushing a model with 1 GiB of
// weights to the CNCF distribution registry, side by side in one run with
// the floor (sha256 of the weights plus one raw upload of their bytes) and
// with `skopeo copy` of the same image from an OCI layout; then the bytes a
// re-push uploads after a model-only change, the image size of a plain model,
// and ferry-serve's start-to-ready time, as a process and under podman.
//
//	go run ./bench/packagebench [-size 1024] [-runs 3]
//
// It needs docker-registry and skopeo (make deps); podman is optional.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
	"github.com/ferry-ml/ferry/test/testenv"
)

func main() {
	sizeMiB := flag.Int64("size", 1024, "MiB of weights")
	runs := flag.Int("runs", 3, "runs of each push (the median is reported)")
	flag.Parse()
	if err := run(*sizeMiB<<20, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "packagebench:", err)
		os.Exit(1)
	}
}

type bench struct {
	root, dir, ferry, serve, skopeo, podman string
	reg                                     *testenv.Registry
}

func run(size int64, runs int) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "packagebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{root: root, dir: dir, ferry: filepath.Join(dir, "ferry")}
	for _, tool := range []struct {
		name string
		dst  *string
	}{{"skopeo", &b.skopeo}, {"docker-registry", nil}} {
		p, err := exec.LookPath(tool.name)
		if err != nil {
			return fmt.Errorf("%s is not installed: run make deps", tool.name)
		}
		if tool.dst != nil {
			*tool.dst = p
		}
	}
	b.podman, _ = exec.LookPath("podman")
	b.serve = filepath.Join(dir, "ferry-serve")
	for bin, pkg := range map[string]string{b.ferry: "./cmd/ferry", b.serve: "./cmd/ferry-serve"} {
		if err := benchkit.Build(bin, pkg); err != nil {
			return err
		}
	}
	regBin, _ := exec.LookPath("docker-registry")
	if err := os.MkdirAll(filepath.Join(dir, "registry"), 0o755); err != nil {
		return err
	}
	if b.reg, err = testenv.StartRegistry(regBin, filepath.Join(dir, "registry")); err != nil {
		return err
	}
	defer b.reg.Stop()

	// A GBDT and an MLP on the online-shoppers data, and the GBDT again with
	// a weights file beside it.
	shoppers := filepath.Join(root, "..", "shared", "datasets", "online-shoppers-intention", "online_shoppers_intention.csv")
	models := map[string]string{}
	for _, algo := range []string{"gbdt", "mlp"} {
		models[algo] = filepath.Join(dir, algo)
		if _, err := b.ferryCmd("train", "--data", shoppers, "--label", "Revenue", "--algorithm", algo, "--out", models[algo]); err != nil {
			return err
		}
	}
	big := filepath.Join(dir, "big")
	if out, err := exec.Command("cp", "-r", models["gbdt"], big).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the model: %v: %s", err, out)
	}
	weights := filepath.Join(big, "weights.bin")
	if err := randomFile(weights, size); err != nil {
		return err
	}
	bigLayout := filepath.Join(dir, "big-layout")
	if _, err := b.ferryCmd("package", "--model", big, "--layout", bigLayout, "--tag", "v1"); err != nil {
		return err
	}

	if err := b.pushes(regBin, big, bigLayout, weights, size, runs); err != nil {
		return err
	}
	if err := b.repush(big, weights, size); err != nil {
		return err
	}
	if err := b.sizes(models); err != nil {
		return err
	}
	return b.startToReady(models)
}

// pushes times, runs times each, the floor (hash and one raw upload of the
// weights), ferry package --image and skopeo copy of the same model, and
// prints the table.
func (b *bench) pushes(regBin, big, bigLayout, weights string, size int64, runs int) error {
	fmt.Printf("Measured %s, %s, %d CPUs: %d MiB of random weights, %d runs each (median), in one run.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), size>>20, runs)
	var floor, ferry, skopeo []time.Duration
	for i := range runs {
		t, err := timed(func() error { return b.floor(weights, fmt.Sprintf("floor/raw-%d", i)) })
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		floor = append(floor, t)
		t, err = timed(func() error {
			_, err := b.ferryCmd("package", "--model", big, "--image", fmt.Sprintf("%s/ferry/big-%d:v1", b.reg.Addr, i))
			return err
		})
		if err != nil {
			return err
		}
		ferry = append(ferry, t)
		if t, err = b.skopeoCopy(regBin, bigLayout, i); err != nil {
			return err
		}
		skopeo = append(skopeo, t)
	}
	f := benchkit.Median(floor)
	fmt.Println("| push of the model with its weights | time (median) | throughput | against the floor |")
	fmt.Println("|---|---:|---:|---:|")
	for _, r := range []struct {
		name string
		d    time.Duration
	}{{"floor: sha256 of the weights + one raw upload", f}, {"`ferry package --image`", benchkit.Median(ferry)}, {"`skopeo copy` from the OCI layout", benchkit.Median(skopeo)}} {
		fmt.Printf("| %s | %.2f s | %.0f MB/s | %.2fx |\n", r.name, r.d.Seconds(), float64(size)/r.d.Seconds()/1e6, r.d.Seconds()/f.Seconds())
	}

	return nil
}

// skopeoCopy times `skopeo copy` of the layout to a registry of its own:
// skopeo remembers where it has seen a blob (its blob info cache) and would
// mount the weights from ferry's repositories instead of uploading them.
func (b *bench) skopeoCopy(regBin, layoutDir string, run int) (time.Duration, error) {
	dir := filepath.Join(b.dir, fmt.Sprintf("skopeo-registry-%d", run))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	reg, err := testenv.StartRegistry(regBin, dir)
	if err != nil {
		return 0, err
	}
	defer reg.Stop()
	return timed(func() error {
		out, err := exec.Command(b.skopeo, "copy", "--quiet", "--dest-tls-verify=false", "oci:"+layoutDir+":v1",
			fmt.Sprintf("docker://%s/skopeo/big:v1", reg.Addr)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("skopeo copy: %v: %s", err, out)
		}
		return nil
	})
}

// floor is the least a push of the weights can cost: hash them, then upload
// their bytes once, monolithically, to a fresh repository.
func (b *bench) floor(path, repo string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	resp, err := http.Post("http://"+b.reg.Addr+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("start the upload: %s: %w", resp.Status, err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, loc.String(), f)
	if err != nil {
		return err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("upload: %s", resp.Status)
	}
	return nil
}

// repush pushes the model, changes its weights (a retrain) and pushes again
// through a proxy that counts the request bytes the registry receives.
func (b *bench) repush(big, weights string, size int64) error {
	target, _ := url.Parse("http://" + b.reg.Addr)
	var sent atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &counting{r.Body, &sent}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	image := strings.TrimPrefix(srv.URL, "http://") + "/ferry/repush"
	if _, err := b.ferryCmd("package", "--model", big, "--image", image+":v1"); err != nil {
		return err
	}
	first := sent.Load()
	if err := randomFile(weights, size); err != nil {
		return err
	}
	sent.Store(0)
	out, err := b.ferryCmd("package", "--model", big, "--image", image+":v2")
	if err != nil {
		return err
	}
	second := sent.Load()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	pinned := lines[len(lines)-1]
	raw, err := exec.Command(b.skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+pinned).Output()
	if err != nil {
		return fmt.Errorf("skopeo inspect %s: %w", pinned, err)
	}
	var manifest struct {
		Layers []struct {
			MediaType string `json:"mediaType"`
			Size      int64  `json:"size"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return err
	}
	var weightsLayer int64
	for _, l := range manifest.Layers {
		if strings.HasSuffix(l.MediaType, ".tar") {
			weightsLayer = l.Size
		}
	}
	fmt.Printf("\nRe-push after a retrain changed the weights (bytes the registry received, counted by a proxy):\n\n")
	fmt.Println("| push | request bytes | weights layer | over the weights layer |")
	fmt.Println("|---|---:|---:|---:|")
	fmt.Printf("| first | %d | %d | %+.3f %% |\n", first, weightsLayer, 100*float64(first-weightsLayer)/float64(weightsLayer))
	fmt.Printf("| after the change | %d | %d | %+.3f %% |\n", second, weightsLayer, 100*float64(second-weightsLayer)/float64(weightsLayer))
	return nil
}

type counting struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// sizes prints the layers of the plain models' images, from OCI layouts.
func (b *bench) sizes(models map[string]string) error {
	fmt.Printf("\nImage size of a model without side files (OCI layout, linux/amd64):\n\n")
	fmt.Println("| model | ferry-serve layer | model layer | config + manifest | total |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, algo := range []string{"gbdt", "mlp"} {
		dir := filepath.Join(b.dir, algo+"-layout")
		if _, err := b.ferryCmd("package", "--model", models[algo], "--layout", dir, "--tag", "v1"); err != nil {
			return err
		}
		p, err := layout.FromPath(dir)
		if err != nil {
			return err
		}
		idx, err := p.ImageIndex()
		if err != nil {
			return err
		}
		im, err := idx.IndexManifest()
		if err != nil || len(im.Manifests) != 1 {
			return fmt.Errorf("layout %s: %v", dir, err)
		}
		img, err := p.Image(im.Manifests[0].Digest)
		if err != nil {
			return err
		}
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		meta := m.Config.Size + im.Manifests[0].Size
		total := meta
		for _, l := range m.Layers {
			total += l.Size
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", algo, mib(m.Layers[0].Size), mib(m.Layers[len(m.Layers)-1].Size), kib(meta), mib(total))
	}
	return nil
}

// startToReady times ferry-serve from its start to a ready answer, as a
// process and, when podman is installed, as the packaged image's container.
func (b *bench) startToReady(models map[string]string) error {
	fmt.Printf("\nferry-serve from start to `GET /v2/health/ready` = 200 (median of 5; polled every 2 ms):\n\n")
	fmt.Println("| model | process | podman run (image already pulled) |")
	fmt.Println("|---|---:|---:|")
	for _, algo := range []string{"gbdt", "mlp"} {
		var proc, ctr []time.Duration
		for range 5 {
			port, err := freePort()
			if err != nil {
				return err
			}
			start := time.Now()
			cmd := exec.Command(b.serve, "--model", models[algo], "--addr", "127.0.0.1:"+strconv.Itoa(port))
			if err := cmd.Start(); err != nil {
				return err
			}
			err = waitReady(port)
			proc = append(proc, time.Since(start))
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if err != nil {
				return err
			}
		}
		podman := "not installed"
		if b.podman != "" {
			image := fmt.Sprintf("%s/ferry/%s:v1", b.reg.Addr, algo)
			out, err := b.ferryCmd("package", "--model", models[algo], "--image", image)
			if err != nil {
				return err
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			pinned := lines[len(lines)-1]
			if out, err := b.podmanCmd("pull", "--quiet", "--tls-verify=false", pinned); err != nil {
				return fmt.Errorf("podman pull: %v: %s", err, out)
			}
			for i := range 5 {
				port, err := freePort()
				if err != nil {
					return err
				}
				name := fmt.Sprintf("packagebench-%s-%d", algo, i)
				start := time.Now()
				if out, err := b.podmanCmd("run", "-d", "--rm", "--name", name, "--network", "host", "--pull", "never",
					"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096", pinned, "--addr", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
					return fmt.Errorf("podman run: %v: %s", err, out)
				}
				err = waitReady(port)
				ctr = append(ctr, time.Since(start))
				_, _ = b.podmanCmd("rm", "-f", "-t", "0", name)
				if err != nil {
					return err
				}
			}
			podman = fmt.Sprintf("%.0f ms", float64(benchkit.Median(ctr).Microseconds())/1000)
		}
		fmt.Printf("| %s | %.1f ms | %s |\n", algo, float64(benchkit.Median(proc).Microseconds())/1000, podman)
	}
	return nil
}

func (b *bench) ferryCmd(args ...string) (string, error) {
	cmd := exec.CommandContext(context.Background(), b.ferry, args...)
	cmd.Env = append(os.Environ(), "FERRY_SERVE_LINUX_AMD64="+b.serve, "SOURCE_DATE_EPOCH=1700000000")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ferry %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// podmanCmd runs podman with its store under bin/podman and the flags these
// machines need (see ENVIRONMENT.md), as the integration tests do.
func (b *bench) podmanCmd(args ...string) ([]byte, error) {
	store := filepath.Join(b.root, "bin", "podman")
	base := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "runroot"),
		"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	return exec.Command(b.podman, append(base, args...)...).CombinedOutput()
}

func waitReady(port int) error {
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/v2/health/ready"
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s: not ready in 30 s", url)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
func kib(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10)) }
