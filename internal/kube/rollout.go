package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// RolloutStatus applies kubectl's completion rules (`kubectl rollout
// status`) to a Deployment: the controller has observed the latest
// generation, every replica is updated, no old replica is left, and every
// updated replica is available. It returns whether the rollout is complete
// and what it waits for; a Deployment past its progress deadline is a
// *Failure.
func RolloutStatus(d *appsv1.Deployment) (bool, string, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return false, "waiting for the deployment controller to observe the new spec", nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return false, "", &Failure{Reason: "ProgressDeadlineExceeded",
				Message: fmt.Sprintf("deployment %s exceeded its progress deadline: %s", d.Name, c.Message)}
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return false, fmt.Sprintf("%d of %d new replicas updated", s.UpdatedReplicas, want), nil
	case s.Replicas > s.UpdatedReplicas:
		return false, fmt.Sprintf("%d old replicas pending termination", s.Replicas-s.UpdatedReplicas), nil
	case s.AvailableReplicas < s.UpdatedReplicas:
		return false, fmt.Sprintf("%d of %d updated replicas available", s.AvailableReplicas, s.UpdatedReplicas), nil
	}
	return true, "rolled out", nil
}

// Failure is a rollout that will not complete, with the cause named.
type Failure struct {
	Reason  string // ImagePullBackOff, CrashLoopBackOff, Unschedulable, ProgressDeadlineExceeded, ...
	Pod     string // the pod that shows it, when one does
	Message string
}

func (f *Failure) Error() string {
	if f.Pod != "" {
		return fmt.Sprintf("%s: pod %s: %s", f.Reason, f.Pod, f.Message)
	}
	return f.Reason + ": " + f.Message
}

// fatalWaiting are container waiting reasons that do not clear by waiting:
// the kubelet already retried and backs off, or the spec itself is wrong.
// ErrImagePull is left out: one failed pull may be a registry blip, and the
// kubelet turns a persistent one into ImagePullBackOff within seconds.
var fatalWaiting = map[string]bool{
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CrashLoopBackOff":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// PodFailure reports why a pod of a rollout cannot become ready, or nil: a
// container waiting for a reason that does not clear (image pull back-off,
// crash loop, bad configuration), or the pod unschedulable for longer than
// grace (a cluster autoscaler may still add a node within it).
func PodFailure(p *corev1.Pod, now time.Time, grace time.Duration) *Failure {
	if p.DeletionTimestamp != nil {
		return nil
	}
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && fatalWaiting[w.Reason] {
			msg := w.Message
			if t := cs.LastTerminationState.Terminated; t != nil && w.Reason == "CrashLoopBackOff" {
				msg = fmt.Sprintf("container %s restarted %d times, last exit code %d (%s)", cs.Name, cs.RestartCount, t.ExitCode, t.Reason)
			}
			if msg == "" {
				msg = "container " + cs.Name
			}
			return &Failure{Reason: w.Reason, Pod: p.Name, Message: msg}
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
			now.Sub(c.LastTransitionTime.Time) >= grace {
			return &Failure{Reason: "Unschedulable", Pod: p.Name, Message: c.Message}
		}
	}
	return nil
}

// WaitOptions tune Wait.
type WaitOptions struct {
	// UnschedulableGrace is how long a pod may stay unschedulable before
	// the rollout fails.
	UnschedulableGrace time.Duration
	// Progress, when set, receives each change of what the rollout waits for.
	Progress func(string)
}

// Wait watches a Deployment until its rollout completes (nil), a pod of the
// new revision shows a failure that will not clear, the deployment passes
// its progress deadline (a *Failure), or ctx ends.
func Wait(ctx context.Context, cs kubernetes.Interface, ns, name string, opts WaitOptions) error {
	deps := cs.AppsV1().Deployments(ns)
	var dw, pw watch.Interface
	defer func() {
		for _, w := range []watch.Interface{dw, pw} {
			if w != nil {
				w.Stop()
			}
		}
	}()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	last := ""
	for {
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil && ctx.Err() != nil {
			return timedOut(ctx, ns, name, last)
		}
		if err != nil {
			return fmt.Errorf("deployment %s/%s: %w", ns, name, explain(err))
		}
		done, msg, err := RolloutStatus(d)
		if err != nil || done {
			return err
		}
		// Until the controller observed the spec, the revision annotation
		// and the newest ReplicaSet may still be the previous ones: a
		// rollback would blame the pods it is replacing.
		if d.Generation <= d.Status.ObservedGeneration {
			if f, err := newRevisionFailure(ctx, cs, d, opts.UnschedulableGrace); err != nil || f != nil {
				if f != nil {
					return f
				}
				return err
			}
		}
		if msg != last && opts.Progress != nil {
			opts.Progress(msg)
		}
		last = msg
		// (Re)open the watches; any event, or the tick, re-checks.
		if dw == nil {
			if dw, err = deps.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: d.ResourceVersion}); err != nil {
				dw = nil
			}
		}
		if pw == nil {
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err == nil {
				if pw, err = cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: sel.String()}); err != nil {
					pw = nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return timedOut(ctx, ns, name, last)
		case _, ok := <-resultChan(dw):
			if !ok {
				dw = nil
			}
		case _, ok := <-resultChan(pw):
			if !ok {
				pw = nil
			}
		case <-tick.C:
		}
	}
}

// timedOut is the error of a Wait whose context ended: a Timeout failure
// (which the caller rolls back) or the cancellation itself.
func timedOut(ctx context.Context, ns, name, waiting string) error {
	if ctx.Err() == context.DeadlineExceeded {
		return &Failure{Reason: "Timeout", Message: fmt.Sprintf("deployment %s/%s did not complete its rollout in time (it was waiting: %s)", ns, name, waiting)}
	}
	return fmt.Errorf("rollout of %s/%s: %w (it was waiting: %s)", ns, name, ctx.Err(), waiting)
}

func resultChan(w watch.Interface) <-chan watch.Event {
	if w == nil {
		return nil
	}
	return w.ResultChan()
}

// newRevisionFailure checks the pods of the Deployment's newest ReplicaSet,
// and a ReplicaFailure condition (pods refused by a quota or admission).
func newRevisionFailure(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment, grace time.Duration) (*Failure, error) {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue && time.Since(c.LastTransitionTime.Time) >= grace {
			return &Failure{Reason: c.Reason, Message: c.Message}, nil
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	rss, err := cs.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("replicasets of %s: %w", d.Name, explain(err))
	}
	revision := d.Annotations["deployment.kubernetes.io/revision"]
	hash := ""
	for _, rs := range rss.Items {
		if metav1.IsControlledBy(&rs, d) && rs.Annotations["deployment.kubernetes.io/revision"] == revision {
			hash = rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		}
	}
	if hash == "" {
		return nil, nil
	}
	req, err := labels.NewRequirement(appsv1.DefaultDeploymentUniqueLabelKey, selection.Equals, []string{hash})
	if err != nil {
		return nil, err
	}
	podSel := sel.Add(*req)
	pods, err := cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: podSel.String()})
	if err != nil {
		return nil, fmt.Errorf("pods of %s: %w", d.Name, explain(err))
	}
	now := time.Now()
	for i := range pods.Items {
		if f := PodFailure(&pods.Items[i], now, grace); f != nil {
			return f, nil
		}
	}
	return nil, nil
}

// Image returns the image of a Deployment's first container, and "" when
// the Deployment does not exist.
func Image(d *appsv1.Deployment) string {
	if d == nil || len(d.Spec.Template.Spec.Containers) == 0 {
		return ""
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// Restarts sums the container restarts of pods.
func Restarts(pods []corev1.Pod) int32 {
	var n int32
	for _, p := range pods {
		for _, c := range p.Status.ContainerStatuses {
			n += c.RestartCount
		}
	}
	return n
}

// HasDigest reports whether an image reference is pinned by digest.
func HasDigest(image string) bool { return strings.Contains(image, "@sha256:") }
