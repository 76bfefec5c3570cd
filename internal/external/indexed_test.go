package external

import (
	"os/exec"
	"strings"
	"testing"
)

// Each index of a batch's Job gets its own trial's variables, and only
// those, through the case that precedes the command; what every trial
// shares stays in the pod's environment. Run by a real sh, with a value
// that needs quoting.
func TestIndexCaseGivesEachIndexItsTrial(t *testing.T) {
	jobs := []Job{
		{Command: "train", Env: []string{"FERRY_OUTPUT=/tmp/a", "FERRY_SEED=3", "FERRY_PARAM_HIDDEN=64,32", "FERRY_TRIAL=1"}},
		{Command: "train", Env: []string{"FERRY_OUTPUT=/tmp/b", "FERRY_SEED=3", "FERRY_PARAM_HIDDEN=it's $HOME `x`", "FERRY_TRIAL=2"}},
	}
	common, per, outs := splitEnv(jobs)
	if len(common) != 2 || common[0].Value != PodOutput || common[1].Name != "FERRY_SEED" || outs[0] != "/tmp/a" || outs[1] != "/tmp/b" {
		t.Fatalf("shared %v, outputs %v", common, outs)
	}
	script := indexCase(per) + `printf '%s|%s' "$FERRY_PARAM_HIDDEN" "$FERRY_TRIAL"`
	for index, want := range map[string]string{"0": "64,32|1", "1": "it's $HOME `x`|2"} {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = []string{indexEnv + "=" + index}
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != want {
			t.Errorf("index %s: %q %v, want %q", index, out, err, want)
		}
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{indexEnv + "=2"}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no trial for index 2") {
		t.Errorf("an index past the batch: %q %v", out, err)
	}
}

// The batch's Job: indexes fail on their own, every container knows its
// index, and each index's collector pushes to its own tag.
func TestIndexedJobSpec(t *testing.T) {
	k := Kubernetes{Image: "trainer:1", CollectorImage: "ferry:1", GPUs: 1}
	spec := k.jobSpec("ferry-train-x", "r/a:train-ferry-train-x", Job{Command: "python train.py"}, nil)
	indexed(spec, 3)
	s := spec.Spec
	if *s.Completions != 3 || *s.Parallelism != 3 || s.BackoffLimit != nil || *s.BackoffLimitPerIndex != 0 {
		t.Errorf("completions %d, parallelism %d, backoff %v per index %v", *s.Completions, *s.Parallelism, s.BackoffLimit, *s.BackoffLimitPerIndex)
	}
	pod := s.Template.Spec
	if got := pod.Containers[0].Args[len(pod.Containers[0].Args)-1]; got != "r/a:train-ferry-train-x-$(FERRY_INDEX)" {
		t.Errorf("the collector pushes to %s", got)
	}
	for _, c := range append(pod.InitContainers, pod.Containers...) {
		found := false
		for _, e := range c.Env {
			found = found || (e.Name == indexEnv && e.ValueFrom != nil && strings.Contains(e.ValueFrom.FieldRef.FieldPath, indexAnnotation))
		}
		if !found {
			t.Errorf("container %s is not told its index", c.Name)
		}
	}
	if q := pod.InitContainers[0].Resources.Limits["nvidia.com/gpu"]; q.Value() != 1 {
		t.Errorf("each trial's pod asks for %v GPUs, want 1", q.Value())
	}
}
