package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/test/cluster"
	"github.com/ferry-ml/ferry/test/cluster/clustertest"
	"github.com/ferry-ml/ferry/test/testenv"
)

// The training Job on the real node, with nothing played by the test: the
// training container (busybox with a saved XGBoost model, as a team's image
// would carry its trainer) runs the command as user 65532, its log streams
// from the real kubelet, the collector is ferry's own action image pushing
// the output as a ModelPack artifact to the cluster's registry from inside
// the pod, and ferry pulls it back into a model directory. A failing
// command fails the run with its exit status and its last log lines, which
// the kubelet kept as the container's termination message. Nodes: the real
// node.
func TestTrainJobOnTheRealNode(t *testing.T) {
	c := clustertest.Get(t)
	if c.Registry == "" {
		testenv.Missing(t, "the local cluster's real node", "run `make deps cluster-build` (containerd, runc, the CNI plugins, the kubelet)")
	}
	cs, ns := clustertest.Client(t, c), clustertest.Namespace(t, c)
	collector := pushImage(t, c.Registry+"/ferry/ferry:test", actionImage(t))
	saved, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "xgboost", "testdata", "higgs-binary.json"))
	if err != nil {
		t.Fatal(err)
	}
	trainerImg, err := mutate.AppendLayers(busyboxImage(t),
		fileLayer(t, "trainer/model.xgb.json", string(saved)), fileLayer(t, "trainer/metrics.json", `{"valid": {"auc": 0.83}}`))
	if err != nil {
		t.Fatal(err)
	}
	trainer := pushImage(t, c.Registry+"/shop/trainer:1", trainerImg)

	train := func(t *testing.T, command string, extra ...string) (int, string, string) {
		out := filepath.Join(t.TempDir(), "model")
		var buf bytes.Buffer
		env := &cli.Env{Stdout: &buf, Stderr: &buf, Getenv: func(string) string { return "" }}
		code := cli.Main(context.Background(), append([]string{"train", "--trainer", "command", "--backend", "kubernetes", "--run", command,
			"--image", trainer, "--collector-image", collector, "--kubeconfig", c.Kubeconfig, "--namespace", ns,
			"--artifact", c.Registry + "/shop/models", "--out", out, "--timeout", "3m",
			"--node-selector", cluster.RealNodeLabel + "=real", "--toleration", cluster.RealNodeTaint + ":NoSchedule"}, extra...), env)
		t.Logf("ferry train: exit %d\n%s", code, buf.String())
		return code, buf.String(), out
	}

	t.Run("Trains", func(t *testing.T) {
		code, log, out := train(t, `echo "trainer: running as uid $(awk '/^Uid/ {print $2}' /proc/self/status) in $HOME"; cp /trainer/* "$FERRY_OUTPUT"/ && echo "trainer: saved $(ls "$FERRY_OUTPUT" | tr '\n' ' ')"`)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		// These lines were written inside the container: the log came from
		// the kubelet through the API server.
		for _, want := range []string{"trainer: running as uid 65532 in /tmp", "trainer: saved metrics.json model.xgb.json", "collected the model from " + c.Registry + "/shop/models:train-"} {
			if !strings.Contains(log, want) {
				t.Errorf("the log lacks %q", want)
			}
		}
		m, err := model.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if m.Manifest.Format != "xgboost-json" || m.Manifest.Lineage.Backend != "kubernetes" || m.Manifest.Metrics["valid"]["auc"] != 0.83 {
			t.Errorf("model: format %s, backend %s, metrics %v", m.Manifest.Format, m.Manifest.Lineage.Backend, m.Manifest.Metrics)
		}
		// The collector pushed from the pod: the artifact is in the registry.
		// (Other tests of the same cluster push search-* tags there too.)
		tags, err := remote.List(mustRepo(t, c.Registry+"/shop/models"))
		trained := 0
		for _, tag := range tags {
			if strings.HasPrefix(tag, "train-") {
				trained++
			}
		}
		if err != nil || trained != 1 {
			t.Errorf("the registry's artifacts: %v %v", tags, err)
		}
		// The pod ran on the real node: its events came from that kubelet.
		events, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		started := 0
		for _, e := range events.Items {
			if e.Reason == "Started" && (e.Source.Host == cluster.RealNode || e.ReportingInstance == cluster.RealNode) {
				started++
			}
		}
		if started != 2 {
			t.Errorf("the real kubelet started %d containers, want 2 (train and collect)", started)
		}
	})

	// Across nodes: two pods of an Indexed Job at once, each with its rank
	// and the rendezvous variables, meet as PyTorch's env:// rendezvous
	// meets: rank 0 listens on MASTER_PORT, rank 1 resolves MASTER_ADDR
	// (rank 0's name under the Job's headless Service, through the
	// cluster's DNS, published before the pods are ready) and connects to
	// it. Rank 0's output is the model; the other pod's collector packages
	// nothing.
	t.Run("AcrossNodes", func(t *testing.T) {
		code, log, out := train(t, `echo "rank $RANK of $WORLD_SIZE, master $MASTER_ADDR:$MASTER_PORT, torchrun $PET_NNODES x $PET_NPROC_PER_NODE"; `+
			`if [ "$RANK" = 0 ]; then echo "rank 0 heard: $(busybox nc -l -p "$MASTER_PORT" </dev/null)"; cp /trainer/* "$FERRY_OUTPUT"/; `+
			`elif [ "$RANK" != 1 ] || [ "$WORLD_SIZE" != 2 ]; then exit 9; `+
			`else i=0; while [ $i -lt 90 ]; do echo "hello from rank $RANK" | busybox nc -w 2 "$MASTER_ADDR" "$MASTER_PORT" && exit 0; i=$((i+1)); sleep 1; done; `+
			`busybox nslookup "$MASTER_ADDR" >&2; echo "rank 1 never reached $MASTER_ADDR:$MASTER_PORT" >&2; exit 8; fi`, "--nodes", "2")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		if !strings.Contains(log, "rank 0 of 2, master ferry-train-") || !strings.Contains(log, ":29500, torchrun 2 x 1") {
			t.Errorf("rank 0's log lacks its rendezvous variables")
		}
		if !strings.Contains(log, "rank 0 heard: hello from rank 1") {
			t.Errorf("rank 1 did not reach rank 0 at MASTER_ADDR:MASTER_PORT")
		}
		if m, err := model.Load(out); err != nil || m.Manifest.Metrics["valid"]["auc"] != 0.83 {
			t.Errorf("rank 0's model was not collected: %v", err)
		}
		svcs, err := cs.CoreV1().Services(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range svcs.Items {
			if strings.HasPrefix(s.Name, "ferry-train-") && s.DeletionTimestamp == nil && len(s.OwnerReferences) == 0 {
				t.Errorf("headless Service %s is not owned by its Job", s.Name)
			}
		}
	})

	// A search of the team's command: each batch of --parallel trials is
	// one Indexed Job, a trial per index, each index with its own
	// FERRY_PARAM_ values and its own artifact; a trial whose command fails
	// is a failed trial, and the others of its batch still finish.
	t.Run("SearchAsOneIndexedJobPerBatch", func(t *testing.T) {
		yaml := filepath.Join(t.TempDir(), "ferry.yaml")
		if err := os.WriteFile(yaml, []byte("train:\n  search:\n    space:\n      x: [1, 2, 3, 4]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, log, out := train(t, `if [ "$FERRY_PARAM_X" = 3 ]; then echo "trial $FERRY_TRIAL: x=3 diverged" >&2; exit 4; fi; `+
			`cp /trainer/model.xgb.json "$FERRY_OUTPUT"/ && echo "{\"valid\": {\"auc\": 0.$FERRY_PARAM_X}}" > "$FERRY_OUTPUT/metrics.json"`,
			"--search", "--strategy", "grid", "--trials", "4", "--parallel", "2", "--config", yaml)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		if n := strings.Count(log, "runs 2 trials, one per index"); n != 2 {
			t.Errorf("%d Indexed Jobs of 2 trials, want 2", n)
		}
		m, err := model.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		s := m.Manifest.Search
		if s == nil || len(s.Trials) != 4 || m.Manifest.Metrics["valid"]["auc"] != 0.4 || s.BestTrial().Params["x"] != "4" {
			t.Fatalf("search %+v, model metrics %v: want 4 trials and x=4's model", s, m.Manifest.Metrics)
		}
		for _, tr := range s.Trials {
			failed := tr.State == "failed"
			if failed != (tr.Params["x"] == "3") || (failed && (!strings.Contains(tr.Error, "exited with status 4") || !strings.Contains(tr.Error, "x=3 diverged"))) {
				t.Errorf("trial %d (x=%s): %s %q", tr.Number, tr.Params["x"], tr.State, tr.Error)
			}
			if !failed && tr.Score != map[string]float64{"1": 0.1, "2": 0.2, "4": 0.4}[tr.Params["x"]] {
				t.Errorf("trial %d (x=%s) scored %v: the index ran another trial's values", tr.Number, tr.Params["x"], tr.Score)
			}
		}
	})

	t.Run("ARankFails", func(t *testing.T) {
		code, log, _ := train(t, `if [ "$RANK" = 1 ]; then echo "rank 1: NCCL watchdog timeout" >&2; exit 5; fi; cp /trainer/* "$FERRY_OUTPUT"/; sleep 5`, "--nodes", "2")
		if code != 3 || !strings.Contains(log, "exited with status 5") || !strings.Contains(log, "rank 1: NCCL watchdog timeout") || !strings.Contains(log, "(rank 1 of 2, pod ferry-train-") {
			t.Errorf("exit %d; want 3, rank 1's status 5 and its last line, naming the rank", code)
		}
	})

	t.Run("Fails", func(t *testing.T) {
		code, log, out := train(t, `echo "epoch 3: loss is NaN" >&2; exit 7`)
		if code != 3 || !strings.Contains(log, "exited with status 7") || !strings.Contains(log, "its last lines: epoch 3: loss is NaN; (container train: Error)") {
			t.Errorf("exit %d; want 3, the status 7 and the command's last line as the kubelet kept it", code)
		}
		if _, err := os.Stat(out); err == nil {
			t.Error("a failed training left a model directory")
		}
	})
}

// pushImage writes img to ref and returns ref by digest.
func pushImage(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return r.Context().Digest(d.String()).String()
}

func mustRepo(t *testing.T, repo string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
