package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/test/cluster"
	"github.com/ferry-ml/ferry/test/cluster/clustertest"
	"github.com/ferry-ml/ferry/test/testenv"
)

// On the real node (containerd and a kubelet beside kwok's simulated
// nodes): `ferry package` pushes a model image to the cluster's registry,
// `ferry deploy` rolls it out, containerd pulls it, the pods' readiness
// probes pass against the real ferry-serve, and the model answers through
// the API server's pod proxy. Nodes: the real node: the pull, the probes,
// the server are real.
func TestDeployOnTheRealNode(t *testing.T) {
	c, cs, ns, m := realNodeModel(t, "clicks", "pr-1")
	start := time.Now()
	code, _ := realDeploy(t, c, m, ns, c.Registry+"/shop/clicks:pr-1")
	t.Logf("deploy took %s", time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("deploy on the real node: exit %d", code)
	}
	ctx := context.Background()
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=clicks"})
	if err != nil {
		t.Fatal(err)
	}
	ready := 0
	for _, p := range pods.Items {
		if p.Spec.NodeName != cluster.RealNode {
			t.Errorf("pod %s ran on %s, not the real node", p.Name, p.Spec.NodeName)
		}
		if p.Status.PodIP == "" || len(p.Status.ContainerStatuses) == 0 || !p.Status.ContainerStatuses[0].Ready || p.Status.ContainerStatuses[0].ImageID == "" {
			continue
		}
		ready++
		// The real server, through the API server's pod proxy.
		body := `{"inputs": [{"name": "price", "shape": [1], "datatype": "FP32", "data": [10]}, {"name": "rating", "shape": [1], "datatype": "FP32", "data": [4]}]}`
		out, err := cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name(p.Name+":8080").SubResource("proxy").
			Suffix("v2/models/clicks/infer").SetHeader("Content-Type", "application/json").Body([]byte(body)).DoRaw(ctx)
		if err != nil {
			t.Fatalf("infer through the pod proxy of %s: %v: %s", p.Name, err, out)
		}
		var resp struct {
			Outputs []struct{ Data []float64 } `json:"outputs"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Outputs) != 1 || len(resp.Outputs[0].Data) != 1 {
			t.Errorf("infer answer from %s: %v %s", p.Name, err, out)
		}
	}
	if ready != 2 {
		t.Errorf("%d of %d pods ran a Ready ferry-serve pulled by containerd, want 2", ready, len(pods.Items))
	}
	// The pods' events come from the real kubelet: a pull, a start.
	events, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range events.Items {
		if e.Source.Host == cluster.RealNode || e.ReportingInstance == cluster.RealNode {
			reasons = append(reasons, e.Reason)
		}
	}
	if got := strings.Join(reasons, ","); !strings.Contains(got, "Pulled") || !strings.Contains(got, "Started") {
		t.Errorf("the real kubelet's events: %s; want Pulled and Started", got)
	}
}

// realNodeModel gives a test the cluster's real node (or handles it as
// missing), a namespace, and a small click model packaged into the
// cluster's registry as REGISTRY/shop/REPO:TAG.
func realNodeModel(t *testing.T, repo, tag string) (*cluster.Cluster, kubernetes.Interface, string, clicksModel) {
	t.Helper()
	c := clustertest.Get(t)
	if c.Registry == "" {
		testenv.Missing(t, "the local cluster's real node", "run `make deps cluster-build` (containerd, runc, the CNI plugins, the kubelet)")
	}
	m := newClicksModel(t, t.TempDir())
	if code := cli.Main(context.Background(), []string{"package", "--model", m.dir, "--image", c.Registry + "/shop/" + repo, "--tag", tag}, m.env); code != 0 {
		t.Fatalf("package: exit %d: %s", code, m.stderr.String())
	}
	return c, clustertest.Client(t, c), clustertest.Namespace(t, c), m
}

// realDeploy runs `ferry deploy` of image onto the real node, in ns, with
// more flags when given.
func realDeploy(t *testing.T, c *cluster.Cluster, m clicksModel, ns, image string, flags ...string) (int, string) {
	t.Helper()
	m.stderr.Reset()
	code := cli.Main(context.Background(), append([]string{"deploy", "--target", "kubernetes", "--kubeconfig", c.Kubeconfig, "--namespace", ns,
		"--name", "clicks", "--image", image, "--replicas", "2", "--cpu", "50m", "--memory", "128Mi", "--timeout", "3m",
		"--node-selector", cluster.RealNodeLabel + "=real", "--toleration", cluster.RealNodeTaint + ":NoSchedule", "--promote=false"}, flags...), m.env)
	t.Logf("deploy %s: exit %d\n%s", image, code, m.stderr.String())
	return code, m.stderr.String()
}

// Real failures on the real node, each reported early by name and rolled
// back to the image that served: an image whose layer the registry no
// longer has (containerd's pull fails: ImagePullBackOff), and an image
// whose server exits at start (its model.json is broken: CrashLoopBackOff).
// Nodes: the real node.
func TestDeployRollsBackRealFailures(t *testing.T) {
	c, cs, ns, m := realNodeModel(t, "failing", "good")
	repo := c.Registry + "/shop/failing"
	good, err := name.ParseReference(repo+":good", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(good)
	if err != nil {
		t.Fatal(err)
	}
	// A broken model: ferry-serve fails to load it and exits.
	crashing, err := mutate.AppendLayers(img, fileLayer(t, "model/model.json", "{"))
	if err != nil {
		t.Fatal(err)
	}
	crashRef, _ := name.ParseReference(repo+":crash", name.Insecure)
	if err := remote.Write(crashRef, crashing); err != nil {
		t.Fatal(err)
	}
	// An image the registry cannot serve whole: a fresh layer, deleted
	// after the push (the manifest still resolves).
	goneLayer := fileLayer(t, "gone.txt", "gone")
	unpullable, err := mutate.AppendLayers(img, goneLayer)
	if err != nil {
		t.Fatal(err)
	}
	pullRef, _ := name.ParseReference(repo+":unpullable", name.Insecure)
	if err := remote.Write(pullRef, unpullable); err != nil {
		t.Fatal(err)
	}
	d, _ := goneLayer.Digest()
	req, _ := http.NewRequest(http.MethodDelete, "http://"+c.Registry+"/v2/shop/failing/blobs/"+d.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete the layer %s: %v %v", d, err, resp)
	}
	resp.Body.Close()

	if code, _ := realDeploy(t, c, m, ns, repo+":good"); code != 0 {
		t.Fatal("the first deploy failed")
	}
	digestOf := func() string {
		dep, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "clicks", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return dep.Spec.Template.Spec.Containers[0].Image
	}
	served := digestOf()
	for _, tc := range []struct{ tag, reason string }{{"unpullable", "ImagePull"}, {"crash", "CrashLoopBackOff"}} {
		t.Run(tc.reason, func(t *testing.T) {
			start := time.Now()
			code, stderr := realDeploy(t, c, m, ns, repo+":"+tc.tag)
			if code != 3 || !strings.Contains(stderr, tc.reason) || !strings.Contains(stderr, "rolled back to "+served) {
				t.Fatalf("exit %d, want 3 with %s and the rollback to %s named", code, tc.reason, served)
			}
			t.Logf("real %s reported and rolled back in %s", tc.reason, time.Since(start).Round(time.Millisecond))
			if got := digestOf(); got != served {
				t.Errorf("after the rollback the deployment runs %s, want %s", got, served)
			}
		})
	}
}

// fileLayer is an image layer holding one file.
func fileLayer(t *testing.T, path, content string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

// retrain trains the click model again on its data with the header
// replaced (a renamed column is a changed input) and more flags, and
// packages it as ref (REPO:TAG).
func retrain(t *testing.T, m clicksModel, ref, header string, flags ...string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(m.dir), "clicks.csv"))
	if err != nil {
		t.Fatal(err)
	}
	_, rows, _ := strings.Cut(string(b), "\n")
	dir := t.TempDir()
	csv := filepath.Join(dir, "clicks.csv")
	if err := os.WriteFile(csv, []byte(header+"\n"+rows), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "clicks") // the same model name: the same route
	i := strings.LastIndexByte(ref, ':')
	repo, tag := ref[:i], ref[i+1:]
	for _, args := range [][]string{
		append([]string{"train", "--data", csv, "--label", "clicked", "--out", out}, flags...),
		{"package", "--model", out, "--image", repo, "--tag", tag},
	} {
		if code := cli.Main(context.Background(), args, m.env); code != 0 {
			t.Fatalf("ferry %s: exit %d: %s", args[0], code, m.stderr.String())
		}
	}
}

// clicksRequest is what the click model's clients send.
const clicksRequest = `{"inputs": [{"name": "price", "shape": [2], "datatype": "FP32", "data": [10, 55]}, {"name": "rating", "shape": [2], "datatype": "FP32", "data": [4, 2]}]}`

// The canary analysis on real ferry-serve pods, with clients' traffic
// spread over the stable and canary pods as a Service would: a candidate
// whose input was renamed refuses every request the clients send (400,
// never a 5xx), which the analysis reads from the pods' /metrics through
// the API server and aborts on; a candidate with the same inputs passes on
// its real request counts and is promoted, and the promotion (a rolling
// update and the canary's removal, SIGTERM to serving pods) loses no
// request. Nodes: the real node.
func TestCanaryOnTheRealNode(t *testing.T) {
	c, cs, ns, m := realNodeModel(t, "canary", "v1")
	repo := c.Registry + "/shop/canary"
	retrain(t, m, repo+":renamed", "price,stars,clicked")
	retrain(t, m, repo+":v2", "price,rating,clicked", "--param", "trees=30")
	if code, _ := realDeploy(t, c, m, ns, repo+":v1"); code != 0 {
		t.Fatal("the first deploy failed")
	}
	sel := "app.kubernetes.io/name=clicks"

	stop := startTraffic(t, cs, ns, sel, "clicks", clicksRequest, 4)
	code, stderr := realDeploy(t, c, m, ns, repo+":renamed", "--canary", "50", "--analysis", "10s")
	tr := stop()
	t.Logf("traffic over the refusing canary: %s", tr)
	if code != 3 || !strings.Contains(stderr, "Refused") || !strings.Contains(stderr, "did its inputs change?") || !strings.Contains(stderr, "canary was removed") {
		t.Errorf("a canary refusing its clients: exit %d, want 3 with Refused named and the canary removed", code)
	}
	if tr.codes[http.StatusBadRequest] == 0 || tr.codes[http.StatusOK] == 0 {
		t.Errorf("the traffic did not reach both the stable pods and the canary: %s", tr)
	}

	stop = startTraffic(t, cs, ns, sel, "clicks", clicksRequest, 4)
	code, stderr = realDeploy(t, c, m, ns, repo+":v2", "--canary", "50", "--analysis", "10s")
	tr = stop()
	t.Logf("traffic over the healthy canary and its promotion: %s", tr)
	if code != 0 || !strings.Contains(stderr, "promoting") {
		t.Fatalf("a healthy canary: exit %d, want 0 and its promotion", code)
	}
	counted := regexp.MustCompile(`canary: (\d+) infer requests, 0 errors, 0 refused`).FindStringSubmatch(stderr)
	if counted == nil {
		t.Fatalf("the analysis did not report the canary's real request counts")
	}
	if n, _ := strconv.Atoi(counted[1]); n == 0 {
		t.Errorf("the analysis counted no request on the canary")
	}
	if len(tr.lost) > 0 || tr.notTaken > 0 || len(tr.codes) != 1 || tr.codes[http.StatusOK] == 0 {
		t.Errorf("requests failed while the canary was promoted and removed: %s; lost: %v", tr, tr.lost)
	}
}

// A rolling update under load: the old pods get SIGTERM (after the
// preStop pause) while clients send requests; each accepted request is
// answered, by an old pod draining or a new one. Nodes: the real node.
func TestRollingUpdateUnderLoad(t *testing.T) {
	c, cs, ns, m := realNodeModel(t, "rolling", "v1")
	repo := c.Registry + "/shop/rolling"
	retrain(t, m, repo+":v2", "price,rating,clicked", "--param", "trees=30")
	if code, _ := realDeploy(t, c, m, ns, repo+":v1"); code != 0 {
		t.Fatal("the first deploy failed")
	}
	stop := startTraffic(t, cs, ns, "app.kubernetes.io/name=clicks", "clicks", clicksRequest, 8)
	time.Sleep(time.Second) // load on the old pods before the update
	code, _ := realDeploy(t, c, m, ns, repo+":v2")
	time.Sleep(time.Second) // and on the new ones after it
	tr := stop()
	t.Logf("traffic over the rolling update: %s", tr)
	if code != 0 {
		t.Fatalf("the update: exit %d", code)
	}
	if len(tr.lost) > 0 || tr.notTaken > 0 || len(tr.codes) != 1 || tr.codes[http.StatusOK] == 0 {
		t.Errorf("requests failed during the rolling update: %s; lost: %v", tr, tr.lost)
	}
	if len(tr.byPod) < 4 {
		t.Errorf("%d pods answered, want the 2 old and the 2 new: the load did not span the update", len(tr.byPod))
	}
}
