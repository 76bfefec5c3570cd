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
