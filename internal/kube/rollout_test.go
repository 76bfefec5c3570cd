package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/templates/manifests"
)

// The cases follow kubectl's DeploymentStatusViewer (k8s.io/kubectl
// pkg/polymorphichelpers/rollout_status.go) state by state.
func TestRolloutStatus(t *testing.T) {
	dep := func(gen, observed int64, replicas int32, st appsv1.DeploymentStatus) *appsv1.Deployment {
		st.ObservedGeneration = observed
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "ranker", Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
			Status:     st,
		}
	}
	deadline := appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
		Message: `ReplicaSet "ranker-1" has timed out progressing.`,
	}}}
	for _, c := range []struct {
		name    string
		d       *appsv1.Deployment
		done    bool
		waiting string
		failure string
	}{
		{"spec not observed", dep(2, 1, 3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), false, "observe the new spec", ""},
		{"updating", dep(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3}), false, "1 of 3 new replicas updated", ""},
		{"old replicas left", dep(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3, AvailableReplicas: 3}), false, "1 old replicas pending termination", ""},
		{"not yet available", dep(2, 2, 3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2}), false, "2 of 3 updated replicas available", ""},
		{"complete", dep(2, 2, 3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), true, "rolled out", ""},
		{"scaled to zero", dep(1, 1, 0, appsv1.DeploymentStatus{}), true, "rolled out", ""},
		{"progress deadline", dep(2, 2, 3, deadline), false, "", "ProgressDeadlineExceeded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			done, msg, err := kube.RolloutStatus(c.d)
			if c.failure != "" {
				f, ok := err.(*kube.Failure)
				if !ok || f.Reason != c.failure {
					t.Fatalf("err %v, want a %s failure", err, c.failure)
				}
				return
			}
			if err != nil || done != c.done || !strings.Contains(msg, c.waiting) {
				t.Errorf("got (%v, %q, %v), want (%v, %q)", done, msg, err, c.done, c.waiting)
			}
		})
	}
}

func TestPodFailure(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	waiting := func(reason string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ranker-abc"}, Status: corev1.PodStatus{
			ContainerStatuses: []corev1.ContainerStatus{{Name: "server", RestartCount: 4,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "m"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}},
			}},
		}}
	}
	unschedulable := func(since time.Duration) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ranker-gpu"}, Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.", LastTransitionTime: metav1.NewTime(now.Add(-since)),
		}}}}
	}
	for _, c := range []struct {
		name   string
		pod    *corev1.Pod
		reason string
		in     string
	}{
		{"image pull back-off", waiting("ImagePullBackOff"), "ImagePullBackOff", "m"},
		{"one failed pull waits", waiting("ErrImagePull"), "", ""},
		{"crash loop names restarts and exit code", waiting("CrashLoopBackOff"), "CrashLoopBackOff", "restarted 4 times, last exit code 2"},
		{"bad config", waiting("CreateContainerConfigError"), "CreateContainerConfigError", "m"},
		{"creating", waiting("ContainerCreating"), "", ""},
		{"unschedulable past the grace", unschedulable(time.Minute), "Unschedulable", "Insufficient nvidia.com/gpu"},
		{"unschedulable within the grace", unschedulable(5 * time.Second), "", ""},
		{"healthy", &corev1.Pod{}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := kube.PodFailure(c.pod, now, 30*time.Second)
			if c.reason == "" {
				if f != nil {
					t.Fatalf("unexpected failure %v", f)
				}
				return
			}
			if f == nil || f.Reason != c.reason || !strings.Contains(f.Error(), c.in) || !strings.Contains(f.Error(), c.pod.Name) {
				t.Fatalf("got %v, want %s mentioning %q and the pod", f, c.reason, c.in)
			}
		})
	}
}

var spec = manifests.Deploy{
	Name: "ranker", Namespace: "search", Service: "ranker", Model: "ranker",
	Image:    "registry.example.com/shop/ranker@sha256:" + strings.Repeat("a", 64),
	Replicas: 2, Port: 8080, CPU: "100m", Memory: "128Mi", ProgressDeadlineSeconds: 60, Track: "stable",
}

func TestRender(t *testing.T) {
	objs, err := kube.Render(spec, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.String())
	}
	if strings.Join(got, " ") != "Deployment/ranker Service/ranker PodDisruptionBudget/ranker" {
		t.Errorf("objects %v", got)
	}
	withHPA := spec
	withHPA.MaxReplicas = 5
	objs, err = kube.Render(withHPA, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[1].Kind != "HorizontalPodAutoscaler" {
		t.Errorf("a canary-style render without shared objects, with an autoscaler: %v", objs)
	}
}

// Apply sends server-side apply patches as field manager ferry; the fake
// clientset's field-managed tracker applies them.
func TestApplyWithFake(t *testing.T) {
	cs := fake.NewClientset()
	objs, err := kube.Render(spec, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, o := range objs {
		if err := kube.Apply(ctx, cs, "search", o); err != nil {
			t.Fatal(err)
		}
	}
	d, err := cs.AppsV1().Deployments("search").Get(ctx, "ranker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kube.Image(d) != spec.Image || *d.Spec.Replicas != 2 {
		t.Errorf("applied deployment: image %s replicas %d", kube.Image(d), *d.Spec.Replicas)
	}
	if _, err := cs.CoreV1().Services("search").Get(ctx, "ranker", metav1.GetOptions{}); err != nil {
		t.Errorf("service: %v", err)
	}
	if err := kube.Apply(ctx, cs, "search", kube.Object{Kind: "Secret", Name: "x", Body: []byte("{}")}); err == nil {
		t.Error("a kind ferry does not apply was accepted")
	}
}

func TestEnsureNamespace(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	err := kube.EnsureNamespace(ctx, cs, "search", false)
	if err == nil || !strings.Contains(err.Error(), "--create-namespace") {
		t.Fatalf("a missing namespace: %v", err)
	}
	if err := kube.EnsureNamespace(ctx, cs, "search", true); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "search", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace not created: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := kube.Config(t.TempDir() + "/missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing kubeconfig: %v", err)
	}
}
