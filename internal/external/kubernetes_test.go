package external

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The training pod runs without root, privileges or a service-account token
// unless the user asks for root; either way it gains no privileges.
func TestJobSpecSecurity(t *testing.T) {
	for _, tc := range []struct {
		name     string
		asRoot   bool
		env      []corev1.EnvVar
		wantHome string
	}{
		{name: "default", wantHome: "/tmp"},
		{name: "the job's HOME is kept", env: []corev1.EnvVar{{Name: "HOME", Value: "/work"}}, wantHome: "/work"},
		{name: "root asked for", asRoot: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := Kubernetes{Image: "trainer:1", CollectorImage: "ferry:1", RunAsRoot: tc.asRoot}
			pod := k.jobSpec("ferry-train-x", "r/a:train-x", Job{Command: "python train.py"}, tc.env).Spec.Template.Spec
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Error("the pod mounts a service-account token")
			}
			train, collect := pod.InitContainers[0].SecurityContext, pod.Containers[0].SecurityContext
			for name, sc := range map[string]*corev1.SecurityContext{"train": train, "collect": collect} {
				if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("%s may escalate privileges: %+v", name, sc)
				}
			}
			if collect.RunAsNonRoot == nil || !*collect.RunAsNonRoot || *collect.RunAsUser != NonRootUID {
				t.Errorf("the collector may run as root: %+v", collect)
			}
			nonRoot := train.RunAsNonRoot != nil && *train.RunAsNonRoot && train.RunAsUser != nil && *train.RunAsUser == NonRootUID &&
				train.Capabilities != nil && len(train.Capabilities.Drop) == 1 && train.Capabilities.Drop[0] == "ALL"
			if nonRoot == tc.asRoot {
				t.Errorf("run-as-root %v, but the training container's context is %+v", tc.asRoot, train)
			}
			home := ""
			for _, e := range pod.InitContainers[0].Env {
				if e.Name == "HOME" {
					home = e.Value
				}
			}
			if home != tc.wantHome {
				t.Errorf("HOME %q, want %q", home, tc.wantHome)
			}
		})
	}
}

// A Job across nodes: an Indexed Job of that many pods at once, under the
// headless Service of its name, each training container with PyTorch's
// and torchrun's rendezvous variables and its rank from its index, and a
// collector that is told its rank (only rank 0 packages).
func TestDistributedJobSpec(t *testing.T) {
	k := Kubernetes{Image: "trainer:1", CollectorImage: "ferry:1", Nodes: 3, GPUs: 2}
	j := k.jobSpec("ferry-train-x", "r/a:train-x", Job{Command: "torchrun train.py"}, nil)
	s := j.Spec
	if s.CompletionMode == nil || *s.CompletionMode != "Indexed" || *s.Completions != 3 || *s.Parallelism != 3 || *s.BackoffLimit != 0 {
		t.Fatalf("job spec %+v: want Indexed, 3 completions at once, no retries", s)
	}
	if s.Template.Spec.Subdomain != "ferry-train-x" {
		t.Errorf("subdomain %q: rank 0 is not reachable as ferry-train-x-0.ferry-train-x", s.Template.Spec.Subdomain)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range s.Template.Spec.InitContainers[0].Env {
		env[e.Name] = e
	}
	for name, want := range map[string]string{"MASTER_ADDR": "ferry-train-x-0.ferry-train-x", "MASTER_PORT": "29500", "WORLD_SIZE": "3",
		"LOCAL_WORLD_SIZE": "1", "LOCAL_RANK": "0", "PET_NNODES": "3", "PET_NPROC_PER_NODE": "2", "PET_MASTER_ADDR": "ferry-train-x-0.ferry-train-x"} {
		if env[name].Value != want {
			t.Errorf("%s=%q, want %q", name, env[name].Value, want)
		}
	}
	for _, name := range []string{"RANK", "PET_NODE_RANK"} {
		if f := env[name].ValueFrom; f == nil || f.FieldRef == nil || f.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("%s is not the pod's completion index: %+v", name, env[name])
		}
	}
	args := s.Template.Spec.Containers[0].Args
	if len(args) < 2 || args[len(args)-2] != "--rank" || args[len(args)-1] != "$(RANK)" {
		t.Errorf("collector args %v: the collector is not told its rank", args)
	}
	if one := (Kubernetes{Image: "trainer:1", CollectorImage: "ferry:1"}).jobSpec("j", "r/a:t", Job{Command: "x"}, nil); one.Spec.CompletionMode != nil || one.Spec.Template.Spec.Subdomain != "" {
		t.Errorf("a one-pod Job is indexed: %+v", one.Spec)
	}
}
