// Command deploybench measures `ferry deploy` against `kubectl apply
// --server-side` + `kubectl rollout status` on the same manifests and the
// same local cluster (test/cluster: kube-apiserver, controller-manager,
// scheduler, kwok), side by side in one run, both as fresh processes:
//
//	go run ./bench/deploybench [-runs 5] [-broken-cap 90s]
//
// It needs `make cluster-build` (the control plane and kubectl in
// bin/cluster/bin). Two cases: a rolling update to a new digest that
// completes, and one whose pods cannot pull their image: ferry names the
// failure and rolls back; kubectl waits for the progress deadline (600 s),
// so its run is cut at -broken-cap and reported as "more than" that.
//
// By default the pods run on kwok's simulated nodes (no container runs;
// the pull failure is simulated). With -real they run on the cluster's
// real node: containerd pulls a real model image (ferry-serve and a small
// model, a new layer per digest) from the cluster's registry, the
// readiness probes hit the real server, and the broken image is one whose
// new layer the registry no longer has.
//
//	go run ./bench/deploybench -real -runs 3 -broken-cap 60s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/templates/manifests"
	"github.com/ferry-ml/ferry/test/cluster"
)

func main() {
	runs := flag.Int("runs", 5, "runs of each case per tool")
	brokenCap := flag.Duration("broken-cap", 90*time.Second, "stop kubectl's wait on a broken rollout after this long")
	real := flag.Bool("real", false, "run the pods on the cluster's real node (containerd, kubelet) instead of kwok's")
	flag.Parse()
	if err := run(*runs, *brokenCap, *real); err != nil {
		fmt.Fprintln(os.Stderr, "deploybench:", err)
		os.Exit(1)
	}
}

type bench struct {
	dir, ferry, kubectl string
	c                   *cluster.Cluster
	repo                name.Repository
	real                bool
	base                v1.Image // with real: the packaged model image each digest adds a layer to
}

func run(runs int, brokenCap time.Duration, real bool) error {
	dir, err := os.MkdirTemp("", "deploybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, _ := filepath.Abs("bin/cluster/bin")
	b := &bench{dir: dir, ferry: filepath.Join(dir, "ferry"), kubectl: filepath.Join(bin, "kubectl"), real: real}
	if _, err := os.Stat(b.kubectl); err != nil {
		return fmt.Errorf("kubectl is not built: run `make cluster-build` (%w)", err)
	}
	if err := benchkit.Build(b.ferry, "./cmd/ferry"); err != nil {
		return err
	}
	ctx := context.Background()
	if b.c, err = cluster.Up(ctx, cluster.DefaultOptions(bin, filepath.Join(dir, "cluster"))); err != nil {
		return err
	}
	defer b.c.Stop()
	nodes := "kwok v0.8.0's simulated nodes"
	if real {
		if b.repo, err = name.NewRepository(b.c.Registry+"/shop/ranker", name.Insecure); err != nil {
			return err
		}
		if b.base, err = b.modelImage(); err != nil {
			return err
		}
		nodes = "the real node (containerd 1.6, runc, kubelet 1.37) pulling a ferry-serve model image from the cluster's registry on the pod network's gateway"
	} else {
		reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		defer reg.Close()
		if b.repo, err = name.NewRepository(strings.TrimPrefix(reg.URL, "http://") + "/shop/ranker"); err != nil {
			return err
		}
	}

	fmt.Printf("Measured %s, %s, %d CPUs; cluster: kube-apiserver, kube-controller-manager, kube-scheduler 1.37 on loopback, pods on %s.\n",
		time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), nodes)
	fmt.Printf("Each run: a fresh namespace, a Deployment of 3 replicas at digest A, then the timed update to digest B; medians of %d runs.\n\n", runs)
	fmt.Println("| case | ferry deploy | kubectl apply + rollout status | ratio (ferry / kubectl) |")
	fmt.Println("|---|---|---|---|")
	var ferryOK, kubectlOK, ferryBroken, kubectlBroken []time.Duration
	kubectlTimedOut := false
	for i := range runs {
		for _, tool := range []string{"ferry", "kubectl"} {
			d, _, err := b.update(ctx, tool, fmt.Sprintf("%s-ok-%d", tool, i), "", time.Hour)
			if err != nil {
				return fmt.Errorf("%s update: %w", tool, err)
			}
			if tool == "ferry" {
				ferryOK = append(ferryOK, d)
			} else {
				kubectlOK = append(kubectlOK, d)
			}
			d, timedOut, err := b.update(ctx, tool, fmt.Sprintf("%s-broken-%d", tool, i), "ImagePullBackOff", brokenCap)
			if err != nil {
				return fmt.Errorf("%s broken update: %w", tool, err)
			}
			if tool == "ferry" {
				ferryBroken = append(ferryBroken, d)
			} else {
				kubectlBroken = append(kubectlBroken, d)
				kubectlTimedOut = kubectlTimedOut || timedOut
			}
		}
	}
	fo, ko := benchkit.Median(ferryOK), benchkit.Median(kubectlOK)
	fmt.Printf("| rolling update to a completed rollout | %s | %s | %.2fx |\n", ms(fo), ms(ko), fo.Seconds()/ko.Seconds())
	fb, kb := benchkit.Median(ferryBroken), benchkit.Median(kubectlBroken)
	kbText := ms(kb)
	if kubectlTimedOut {
		kbText = "> " + brokenCap.String() + " (still waiting for the 600 s progress deadline; cut)"
	}
	fmt.Printf("| broken rollout (ImagePullBackOff) reported | %s (and rolled back) | %s | |\n", ms(fb), kbText)
	return nil
}

// update creates the Deployment at digest A in a fresh namespace (not
// timed), then times the tool updating it to digest B. With fail set, B's
// pods get that simulated failure. It reports whether the tool ran past
// limit (it is then stopped).
func (b *bench) update(ctx context.Context, tool, ns, fail string, limit time.Duration) (time.Duration, bool, error) {
	cs, err := b.c.Client()
	if err != nil {
		return 0, false, err
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return 0, false, err
	}
	defer cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	for {
		if _, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	a, err := b.push(false)
	if err != nil {
		return 0, false, err
	}
	if _, _, err := b.deploy(tool, ns, a, "", time.Hour); err != nil {
		return 0, false, fmt.Errorf("first rollout: %w", err)
	}
	broken := fail != ""
	bDigest, err := b.push(broken && b.real)
	if err != nil {
		return 0, false, err
	}
	if b.real {
		fail = "" // the failure is real: nothing to simulate
	}
	d, timedOut, err := b.deploy(tool, ns, bDigest, fail, limit)
	if broken {
		// Both tools exit non-zero on a broken rollout; that is the point.
		err = nil
	}
	return d, timedOut, err
}

func (b *bench) deploy(tool, ns, image, fail string, limit time.Duration) (time.Duration, bool, error) {
	var cmds [][]string
	switch tool {
	case "ferry":
		args := []string{b.ferry, "deploy", "--target", "kubernetes", "--kubeconfig", b.c.Kubeconfig, "--namespace", ns,
			"--name", "ranker", "--image", image, "--replicas", "3", "--promote=false", "--timeout", "10m"}
		if b.real {
			args = append(args, "--cpu", "50m", "--memory", "128Mi", "--node-selector", cluster.RealNodeLabel+"=real",
				"--toleration", cluster.RealNodeTaint+":NoSchedule")
		}
		if fail != "" {
			args = append(args, "--pod-label", "sim.ferry.dev/fail="+fail)
		}
		cmds = [][]string{args}
	case "kubectl":
		manifest := filepath.Join(b.dir, ns+".yaml")
		if err := b.writeManifest(manifest, ns, image, fail); err != nil {
			return 0, false, err
		}
		k := func(args ...string) []string {
			return append([]string{b.kubectl, "--kubeconfig", b.c.Kubeconfig, "-n", ns}, args...)
		}
		cmds = [][]string{
			k("apply", "--server-side", "--field-manager", "ferry", "-f", manifest),
			k("rollout", "status", "deployment/ranker", "--timeout", "10m"),
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	for _, c := range cmds {
		cmd := exec.CommandContext(ctx, c[0], c[1:]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return time.Since(start), true, nil
			}
			return time.Since(start), false, fmt.Errorf("%s: %v\n%s", strings.Join(c[:2], " "), err, out.String())
		}
	}
	return time.Since(start), false, nil
}

// writeManifest writes the manifests ferry applies, as one YAML stream.
func (b *bench) writeManifest(path, ns, image, fail string) error {
	spec := manifests.Deploy{Name: "ranker", Namespace: ns, Service: "ranker", Model: "ranker", Image: image,
		Replicas: 3, Port: 8080, CPU: "500m", Memory: "512Mi", Track: "stable", ProgressDeadlineSeconds: 600}
	if b.real {
		spec.CPU, spec.Memory, spec.NodeSelector = "50m", "128Mi", cluster.RealNodeSelector
		spec.Tolerations = []manifests.Toleration{{Key: cluster.RealNodeTaint, Effect: "NoSchedule"}}
	}
	if fail != "" {
		spec.Labels = map[string]string{"sim.ferry.dev/fail": fail}
	}
	objs, err := kube.Render(spec, true)
	if err != nil {
		return err
	}
	var docs []string
	for _, o := range objs {
		y, err := yaml.JSONToYAML(o.Body)
		if err != nil {
			return err
		}
		docs = append(docs, string(y))
	}
	return os.WriteFile(path, []byte(strings.Join(docs, "---\n")), 0o644)
}

// push pushes a new digest: a random image for kwok; for the real node,
// the model image with a new small layer (as a new model version adds
// one), which broken makes unpullable by deleting the layer after the push.
func (b *bench) push(broken bool) (string, error) {
	img, err := random.Image(256, 1)
	if err != nil {
		return "", err
	}
	var extra v1.Layer
	if b.real {
		if extra, err = random.Layer(256, types.DockerLayer); err != nil {
			return "", err
		}
		if img, err = mutate.AppendLayers(b.base, extra); err != nil {
			return "", err
		}
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref := b.repo.Digest(d.String())
	if err := remote.Write(ref, img); err != nil {
		return "", err
	}
	if broken {
		ld, err := extra.Digest()
		if err != nil {
			return "", err
		}
		req, _ := http.NewRequest(http.MethodDelete, "http://"+b.c.Registry+"/v2/"+b.repo.RepositoryStr()+"/blobs/"+ld.String(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return "", fmt.Errorf("delete the layer %s: %s", ld, resp.Status)
		}
	}
	return ref.String(), nil
}

// modelImage trains a small model and packages it with a static
// ferry-serve into the cluster's registry: the image the real node runs.
func (b *bench) modelImage() (v1.Image, error) {
	serve := filepath.Join(b.dir, "ferry-serve")
	if err := benchkit.Build(serve, "./cmd/ferry-serve"); err != nil {
		return nil, err
	}
	csv := filepath.Join(b.dir, "clicks.csv")
	var rows strings.Builder
	rows.WriteString("price,rating,clicked\n")
	for i := range 300 {
		fmt.Fprintf(&rows, "%d,%d,%d\n", i%90, 1+i%5, (i/7)%2)
	}
	if err := os.WriteFile(csv, []byte(rows.String()), 0o644); err != nil {
		return nil, err
	}
	model := filepath.Join(b.dir, "ranker")
	for _, args := range [][]string{
		{"train", "--data", csv, "--label", "clicked", "--param", "trees=20", "--out", model},
		{"package", "--model", model, "--image", b.repo.String(), "--tag", "base"},
	} {
		cmd := exec.Command(b.ferry, args...)
		cmd.Env = append(os.Environ(), "FERRY_SERVE_"+strings.ToUpper(runtime.GOOS+"_"+runtime.GOARCH)+"="+serve)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ferry %s: %v\n%s", args[0], err, out)
		}
	}
	return remote.Image(b.repo.Tag("base"))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
