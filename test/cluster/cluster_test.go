package cluster_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-ml/ferry/test/cluster"
	"github.com/ferry-ml/ferry/test/cluster/clustertest"
)

// The control plane's own tests need no real node (test/integration runs
// on it): one real node runs per machine.
func TestMain(m *testing.M) {
	clustertest.MainWith(m, func(o *cluster.Options) { o.RealNode = false })
}

func TestNodes(t *testing.T) {
	c := clustertest.Get(t)
	cs := clustertest.Client(t, c)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gpus := 0
	for _, n := range nodes.Items {
		q := n.Status.Allocatable["nvidia.com/gpu"]
		if q.Value() > 0 {
			gpus++
			if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "nvidia.com/gpu" {
				t.Errorf("GPU node %s taints %v, want nvidia.com/gpu:NoSchedule", n.Name, n.Spec.Taints)
			}
			if q.Value() != 4 {
				t.Errorf("GPU node %s has %d GPUs, want 4", n.Name, q.Value())
			}
		}
	}
	if len(nodes.Items) != 3 || gpus != 1 {
		t.Errorf("%d nodes, %d with GPUs; want 3 and 1", len(nodes.Items), gpus)
	}
}

// A pod is scheduled (by the real kube-scheduler) and runs (kwok); a pod
// labelled sim.ferry.dev/fail gets the simulated failure instead.
func TestPods(t *testing.T) {
	c := clustertest.Get(t)
	cs := clustertest.Client(t, c)
	ns := clustertest.Namespace(t, c)
	ctx := context.Background()
	mk := func(name, fail string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Image: "example.com/x@sha256:" + strings.Repeat("a", 64)}}}}
		if fail != "" {
			p.Labels["sim.ferry.dev/fail"] = fail
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("ok", "")
	mk("pull", "ImagePullBackOff")
	mk("crash", "CrashLoopBackOff")
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, _ := cs.CoreV1().Pods(ns).Get(ctx, "ok", metav1.GetOptions{})
		pull, _ := cs.CoreV1().Pods(ns).Get(ctx, "pull", metav1.GetOptions{})
		crash, _ := cs.CoreV1().Pods(ns).Get(ctx, "crash", metav1.GetOptions{})
		waiting := func(p *corev1.Pod) string {
			if p == nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				return ""
			}
			return p.Status.ContainerStatuses[0].State.Waiting.Reason
		}
		if ok != nil && ok.Status.Phase == corev1.PodRunning && ok.Spec.NodeName != "" &&
			waiting(pull) == "ImagePullBackOff" && waiting(crash) == "CrashLoopBackOff" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: ok phase %s on %q, pull waiting %q, crash waiting %q",
				ok.Status.Phase, ok.Spec.NodeName, waiting(pull), waiting(crash))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Up records PIDs, refuses a second start in the same directory, and Down
// stops everything it started.
func TestUpStatusDown(t *testing.T) {
	clustertest.Get(t) // skips or fails the same way when the programs are missing
	if !ensureBridge(t) && os.Getenv("CI") == "true" {
		t.Fatal("CI runs as root with iproute2: the bridge must be possible")
	}
	dir := t.TempDir()
	opts := cluster.Options{BinDir: clustertest.BinDir(), Dir: dir, CPUNodes: 1}
	ctx := context.Background()
	c, err := cluster.Up(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	st, err := cluster.Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range cluster.Binaries {
		if !st[b] {
			t.Errorf("%s is not running: %v", b, st)
		}
	}
	if _, err := cluster.Up(ctx, opts); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("a second Up in the same directory: %v", err)
	}
	if err := cluster.Down(dir); err != nil {
		t.Fatal(err)
	}
	if st, _ := cluster.Status(dir); len(st) != 0 {
		t.Errorf("after Down: %v", st)
	}
	// A cluster without a real node leaves the machine's pod bridge alone:
	// another cluster's real node, and its registry on the bridge's
	// address, may be using it (Down deleting it once broke every
	// real-node test running beside this one).
	if _, err := net.InterfaceByName(bridge); err != nil {
		t.Errorf("the bridge %s is gone after Down of a cluster without a real node: %v", bridge, err)
	}
}

// bridge is the real node's pod bridge (cluster's cniBridge).
const bridge = "ferry0"

// ensureBridge makes the pod bridge when this machine allows it and it is
// missing, as a real node would; it is left in place (a real node beside
// this test may be using it). It reports whether the bridge exists.
func ensureBridge(t *testing.T) bool {
	t.Helper()
	if _, err := net.InterfaceByName(bridge); err == nil {
		return true
	}
	if out, err := exec.Command("ip", "link", "add", bridge, "type", "bridge").CombinedOutput(); err != nil && !strings.Contains(string(out), "File exists") {
		t.Logf("cannot make the bridge %s here (%v: %s)", bridge, err, out)
		return false
	}
	return true
}
