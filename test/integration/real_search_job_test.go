package integration

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/test/cluster"
	"github.com/ferry-ml/ferry/test/cluster/clustertest"
	"github.com/ferry-ml/ferry/test/testenv"
)

// A search of ferry's own trainer with its trials on the real node: each
// batch of trials is one Indexed Job of ferry's action image, one trial per
// index, scoring on the rows ferry shipped to the cluster's registry; the
// results come back in the pods' termination messages. The same seed gives
// the same trials, fold scores and model as the search on this machine's
// cores. Nodes: the real node.
func TestSearchTrialsOnTheRealNode(t *testing.T) {
	c := clustertest.Get(t)
	if c.Registry == "" {
		testenv.Missing(t, "the local cluster's real node", "run `make deps cluster-build` (containerd, runc, the CNI plugins, the kubelet)")
	}
	cs, ns := clustertest.Client(t, c), clustertest.Namespace(t, c)
	ferryImage := pushImage(t, c.Registry+"/ferry/ferry:test", actionImage(t))
	csv := searchData(t)
	search := func(t *testing.T, extra ...string) (int, string, string) {
		out := filepath.Join(t.TempDir(), "model")
		var buf bytes.Buffer
		env := &cli.Env{Stdout: &buf, Stderr: &buf, Getenv: func(string) string { return "" }}
		code := cli.Main(context.Background(), append([]string{"train", "--data", csv, "--label", "y", "--algorithm", "gbdt",
			"--search", "--trials", "4", "--parallel", "2", "--folds", "3", "--seed", "5", "--out", out}, extra...), env)
		t.Logf("ferry train: exit %d\n%s", code, buf.String())
		return code, buf.String(), out
	}
	onCluster := []string{"--backend", "kubernetes", "--collector-image", ferryImage, "--kubeconfig", c.Kubeconfig, "--namespace", ns,
		"--artifact", c.Registry + "/shop/models", "--node-selector", cluster.RealNodeLabel + "=real", "--toleration", cluster.RealNodeTaint + ":NoSchedule"}

	code, _, localOut := search(t)
	if code != 0 {
		t.Fatalf("the local search: exit %d", code)
	}
	code, log, remoteOut := search(t, onCluster...)
	if code != 0 {
		t.Fatalf("the search on the cluster: exit %d", code)
	}
	if n := strings.Count(log, "runs 2 trials (image "+ferryImage+")"); n != 2 {
		t.Errorf("%d Jobs of 2 trials, want 2", n)
	}
	local, remote := loadSearch(t, localOut), loadSearch(t, remoteOut)
	for i, w := range local.Manifest.Search.Trials {
		g := remote.Manifest.Search.Trials[i]
		if fmt.Sprint(w.Params, w.Folds, w.Rounds, w.State) != fmt.Sprint(g.Params, g.Folds, g.Rounds, g.State) {
			t.Errorf("trial %d: here %+v, on the cluster %+v", w.Number, w, g)
		}
	}
	if fmt.Sprint(local.Manifest.Params) != fmt.Sprint(remote.Manifest.Params) {
		t.Errorf("the refitted models' parameters: here %v, on the cluster %v", local.Manifest.Params, remote.Manifest.Params)
	}
	// The trials ran in real containers on the real node.
	events, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	started := 0
	for _, e := range events.Items {
		if e.Reason == "Started" && strings.HasPrefix(e.InvolvedObject.Name, "ferry-search-") &&
			(e.Source.Host == cluster.RealNode || e.ReportingInstance == cluster.RealNode) {
			started++
		}
	}
	if started != 4 {
		t.Errorf("the real kubelet started %d trial containers, want 4", started)
	}

	t.Run("AnImageThatCannotBePulled", func(t *testing.T) {
		args := append([]string{}, onCluster...)
		args[3] = c.Registry + "/ferry/ferry:missing"
		code, log, out := search(t, args...)
		if code == 0 || !strings.Contains(log, "trials 1 to 2 of gbdt") || !strings.Contains(log, "ferry/ferry:missing") {
			t.Errorf("exit %d; want a failure naming the trials and the image", code)
		}
		if _, err := os.Stat(out); err == nil {
			t.Error("a failed search left a model directory")
		}
	})
}

func loadSearch(t *testing.T, dir string) *model.Model {
	t.Helper()
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Manifest.Search == nil || len(m.Manifest.Search.Trials) != 4 {
		t.Fatalf("%s: the search's record %+v", dir, m.Manifest.Search)
	}
	return m
}

// searchData is 1,200 rows of four features whose label thresholds on
// pairs of them tell.
func searchData(t *testing.T) string {
	t.Helper()
	r := rand.New(rand.NewPCG(8, 1))
	var b strings.Builder
	b.WriteString("a,b,c,d,y\n")
	for range 1200 {
		x := [4]float64{r.Float64(), r.Float64(), r.NormFloat64(), r.Float64()}
		z := 2*math.Copysign(1, x[0]-0.4)*math.Copysign(1, x[1]-0.6) + x[2]
		y := 0
		if r.Float64() < 1/(1+math.Exp(-z)) {
			y = 1
		}
		fmt.Fprintf(&b, "%.4f,%.4f,%.4f,%.4f,%d\n", x[0], x[1], x[2], x[3], y)
	}
	p := filepath.Join(t.TempDir(), "search.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
