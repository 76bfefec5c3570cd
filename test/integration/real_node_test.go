package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
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
	"github.com/ferry-ml/ferry/internal/cluster"
	"github.com/ferry-ml/ferry/internal/cluster/clustertest"
	"github.com/ferry-ml/ferry/internal/testenv"
)

// On the real node (containerd and a kubelet beside kwok's simulated
// nodes): `ferry package` pushes a model image to the cluster's registry,
// `ferry deploy` rolls it out, containerd pulls it, the pods' readiness
// probes pass against the real ferry-serve, and the model answers through
// the API server's pod proxy. Real: the pull, the probes, the server.
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

// realDeploy runs `ferry deploy` of image onto the real node, in ns.
func realDeploy(t *testing.T, c *cluster.Cluster, m clicksModel, ns, image string) (int, string) {
	t.Helper()
	m.stderr.Reset()
	code := cli.Main(context.Background(), []string{"deploy", "--target", "kubernetes", "--kubeconfig", c.Kubeconfig, "--namespace", ns,
		"--name", "clicks", "--image", image, "--replicas", "2", "--cpu", "50m", "--memory", "128Mi", "--timeout", "3m",
		"--node-selector", cluster.RealNodeLabel + "=real", "--toleration", cluster.RealNodeTaint + ":NoSchedule", "--promote=false"}, m.env)
	t.Logf("deploy %s: exit %d\n%s", image, code, m.stderr.String())
	return code, m.stderr.String()
}

// Real failures on the real node, each reported early by name and rolled
// back to the image that served: an image whose layer the registry no
// longer has (containerd's pull fails: ImagePullBackOff), and an image
// whose server exits at start (its model.json is broken: CrashLoopBackOff).
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
