package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/external"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/test/testenv"
)

// trainJob runs `ferry train --trainer command --backend kubernetes`.
func trainJob(t *testing.T, e *deployEnv, out string, args ...string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	env := &cli.Env{Stdout: &buf, Stderr: &buf, Getenv: func(string) string { return "" }}
	all := append([]string{"train", "--trainer", "command", "--backend", "kubernetes", "--run", "python train.py",
		"--image", "registry.example.com/shop/trainer:1", "--kubeconfig", e.c.Kubeconfig, "--namespace", e.ns,
		"--artifact", e.repo.String(), "--out", out}, args...)
	code := cli.Main(context.Background(), all, env)
	t.Logf("ferry %s: exit %d\n%s", strings.Join(args, " "), code, buf.String())
	return code, buf.String()
}

// collector plays the Job's collector container, which kwok does not run:
// when a training Job appears, it pushes what the container would have
// found in FERRY_OUTPUT (an XGBoost model and metrics.json) as a ModelPack
// artifact to the reference the Job is annotated with.
func collector(t *testing.T, e *deployEnv) <-chan *batchv1.Job {
	t.Helper()
	output := t.TempDir()
	src := filepath.Join(testenv.RepoRoot(t), "internal", "xgboost", "testdata", "higgs-binary.json")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(output, "model.xgb.json"), b, 0o644)
	os.WriteFile(filepath.Join(output, "metrics.json"), []byte(`{"valid": {"auc": 0.81}}`), 0o644)
	w, err := e.cs.BatchV1().Jobs(e.ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan *batchv1.Job, 1)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			j, ok := ev.Object.(*batchv1.Job)
			if !ok || ev.Type != watch.Added {
				continue
			}
			img, err := oci.ModelPack(output, oci.ModelPackInfo{Name: "trained"})
			if err == nil {
				ref, _ := name.ParseReference(j.Annotations[external.ArtifactAnnotation])
				err = remote.Write(ref, img)
			}
			if err != nil {
				t.Errorf("collector: %v", err)
			}
			seen <- j
			return
		}
	}()
	return seen
}

// A training Job asking for a GPU runs on the GPU node; its output comes
// back through the registry as a model directory. Nodes: kwok's GPU node
// (only simulated nodes have GPUs); the test plays the collector.
// TestTrainJobOnTheRealNode runs a Job whole.
func TestTrainJobOnGPUNode(t *testing.T) {
	e := newDeployEnv(t)
	jobs := collector(t, e)
	out := filepath.Join(t.TempDir(), "model")
	code, log := trainJob(t, e, out, "--gpus", "1", "--node-selector", "nvidia.com/gpu.present=true")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	m, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Manifest.Format != "xgboost-json" || m.Manifest.Lineage.Backend != "kubernetes" || m.Manifest.Metrics["valid"]["auc"] != 0.81 {
		t.Errorf("model: format %s backend %s metrics %v", m.Manifest.Format, m.Manifest.Lineage.Backend, m.Manifest.Metrics)
	}
	if !strings.Contains(log, "collected the model") {
		t.Errorf("log does not say the model was collected:\n%s", log)
	}
	var j *batchv1.Job
	select {
	case j = <-jobs:
	case <-time.After(5 * time.Second):
		t.Fatal("no Job was created")
	}
	pod := j.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the training pod mounts a service account token")
	}
	if sc := pod.Containers[0].SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("the collector may run as root: %+v", sc)
	}
	train := j.Spec.Template.Spec.InitContainers[0]
	if q := train.Resources.Limits["nvidia.com/gpu"]; q.Value() != 1 || train.Image != "registry.example.com/shop/trainer:1" {
		t.Errorf("train container: image %s, GPU limit %v", train.Image, train.Resources.Limits)
	}
	env := map[string]string{}
	for _, v := range train.Env {
		env[v.Name] = v.Value
	}
	if env["FERRY_OUTPUT"] != external.PodOutput || env["FERRY_SEED"] == "" {
		t.Errorf("train container env %v", env)
	}
	// The pod ran on the GPU node; the Job is deleted once collected.
	pods, _ := e.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + j.Name})
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && p.Spec.NodeName != "kwok-gpu-0" {
			t.Errorf("pod %s ran on %s, want the GPU node", p.Name, p.Spec.NodeName)
		}
	}
	if _, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), j.Name, metav1.GetOptions{}); err == nil {
		dl := time.Now().Add(5 * time.Second)
		for time.Now().Before(dl) {
			if j2, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), j.Name, metav1.GetOptions{}); err != nil || j2.DeletionTimestamp != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("the Job %s is still there after success", j.Name)
	}
}

// A Job no node can hold fails with the scheduler's reason; a failing
// command fails with its exit code. Neither leaves a model behind. Nodes:
// kwok's (a pod asking for 64 GPUs; a failure simulated by label).
func TestTrainJobFailures(t *testing.T) {
	e := newDeployEnv(t)
	out := filepath.Join(t.TempDir(), "model")
	code, log := trainJob(t, e, out, "--gpus", "64", "--unschedulable-grace", "2s")
	if code != 3 || !strings.Contains(log, "cannot be scheduled") || !strings.Contains(log, "nvidia.com/gpu") {
		t.Errorf("unschedulable: exit %d", code)
	}
	code, log = trainJob(t, e, out, "--pod-label", "sim.ferry.dev/fail=Failed")
	if code != 3 || !strings.Contains(log, "exited with status 1") {
		t.Errorf("failing command: exit %d", code)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed training left a model directory")
	}
	left, _ := e.cs.BatchV1().Jobs(e.ns).List(context.Background(), metav1.ListOptions{})
	for _, j := range left.Items {
		if j.DeletionTimestamp == nil {
			t.Errorf("Job %s left behind", j.Name)
		}
	}
}
