package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/profile"
)

// ferry monitor on a real deployment: two ferry-serve pods on the real node
// count the rows they score into the model's training bins, and ferry
// monitor reads both pods through the API server. Traffic drawn as the
// training rows were is not drift (exit 0); after a burst whose prices are
// 60 higher, price has drifted and rating has not (exit 1). Nodes: the real
// node.
func TestMonitorOnTheRealNode(t *testing.T) {
	c, cs, ns, m := realNodeModel(t, "monitor", "v1")
	if _, err := os.Stat(filepath.Join(m.dir, profile.File)); err != nil {
		t.Fatalf("train kept no profile: %v", err)
	}
	if code, _ := realDeploy(t, c, m, ns, c.Registry+"/shop/monitor:v1"); code != 0 {
		t.Fatal("the deploy failed")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	monitor := func(label string) (int, map[string]any) {
		out := filepath.Join(t.TempDir(), "drift.json")
		m.stderr.Reset()
		m.stdout.Reset()
		code := cli.Main(context.Background(), []string{"monitor", "--model", m.dir, "--name", "clicks", "--namespace", ns,
			"--kubeconfig", c.Kubeconfig, "--json", out}, m.env)
		t.Logf("%s: ferry monitor: exit %d\n%s%s", label, code, m.stdout.String(), m.stderr.String())
		var res map[string]any
		if b, err := os.ReadFile(out); err == nil {
			_ = json.Unmarshal(b, &res)
		}
		return code, res
	}

	sendClicks(t, cs, ns, rng, 1000, 0)
	code, res := monitor("traffic as in training")
	if code != 0 || res["status"] != "ok" || res["rows"] != 1000.0 {
		t.Errorf("traffic as in training: exit %d, status %v, rows %v; want 0, ok, 1000 (both pods' counts)", code, res["status"], res["rows"])
	}

	sendClicks(t, cs, ns, rng, 1000, 60)
	code, res = monitor("prices shifted")
	drifted, _ := res["drifted"].([]any)
	if code != 1 || res["status"] != "drift" || !slices.Contains(drifted, any("price")) || slices.Contains(drifted, any("rating")) {
		t.Errorf("prices shifted: exit %d, status %v, drifted %v; want 1, drift, price and not rating", code, res["status"], drifted)
	}
}

// sendClicks sends rows as the click model's clients would, 50 a request,
// spread over the deployment's pods by their pod IPs: price and rating
// drawn as newClicksModel's training rows were (price 0 to 89, rating 1
// to 5, uniform), prices raised by shift.
func sendClicks(t *testing.T, cs kubernetes.Interface, ns string, rng *rand.Rand, rows int, shift float64) {
	t.Helper()
	list, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=clicks"})
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.PodIP != "" && podIsReady(&p) {
			ips = append(ips, p.Status.PodIP)
		}
	}
	if len(ips) == 0 {
		t.Fatal("no ready pod to send to")
	}
	for k := 0; k*50 < rows; k++ {
		n := min(50, rows-k*50)
		price, rating := make([]float64, n), make([]float64, n)
		for i := range n {
			j := rng.IntN(300)
			price[i], rating[i] = float64(j%90)+shift, float64(1+j%5)
		}
		body, _ := json.Marshal(map[string]any{"inputs": []any{
			map[string]any{"name": "price", "shape": []int{n}, "datatype": "FP32", "data": price},
			map[string]any{"name": "rating", "shape": []int{n}, "datatype": "FP32", "data": rating},
		}})
		resp, err := http.Post(fmt.Sprintf("http://%s:8080/v2/models/clicks/infer", ips[k%len(ips)]), "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("infer: %s: %s", resp.Status, b)
		}
	}
}
