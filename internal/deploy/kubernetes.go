package deploy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/templates/manifests"
)

// Statuses a deployment ends in (the deploy action's `status` output).
const (
	StatusDeployed      = "deployed"       // the new digest serves
	StatusUnchanged     = "unchanged"      // the digest already served; nothing changed
	StatusRolledBack    = "rolled-back"    // the rollout failed and the previous digest serves again
	StatusCanaryAborted = "canary-aborted" // the canary failed its analysis and was removed; stable untouched
	StatusFailed        = "failed"         // the rollout failed and nothing could be rolled back to
)

// Kubernetes deploys to a cluster.
type Kubernetes struct {
	Client          kubernetes.Interface
	Spec            manifests.Deploy // Name, Namespace, Service, Model, Replicas, ... (Image is set by Deploy)
	CreateNamespace bool
	Timeout         time.Duration // per rollout (the new one, and a rollback)
	// Canary is the percentage of replicas that run the new image first, for
	// Analysis, behind the same Service; 0 deploys directly.
	Canary   int
	Analysis time.Duration
	Checks   CanaryChecks
	// UnschedulableGrace is how long a pod may stay unschedulable before
	// the rollout fails; a cluster autoscaler may add a node within it.
	UnschedulableGrace time.Duration
	Log                func(format string, args ...any)
}

// Result is what a deployment did.
type Result struct {
	Image    string // IMAGE@DIGEST that serves now
	Previous string // the image that served before, "" for a first deployment
	Status   string
}

// ValidateNames checks a Deployment name and namespace against Kubernetes'
// rules (DNS-1123 labels), before anything is sent.
func ValidateNames(name, namespace string) error {
	for _, c := range []struct{ what, v string }{{"name", name}, {"namespace", namespace}} {
		if p := nameProblem(c.what, c.v); p != "" {
			return fmt.Errorf("invalid %s %q: %s", c.what, c.v, p)
		}
	}
	return nil
}

// nameProblem says what is wrong with a deployment's name or namespace, or
// "" when nothing is.
func nameProblem(what, v string) string {
	if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
		return errs[0]
	}
	// The canary Deployment is NAME-canary, which must fit too.
	if what == "name" && len(v)+len("-canary") > validation.DNS1123LabelMaxLength {
		return fmt.Sprintf("at most %d characters, so that NAME-canary fits in 63", validation.DNS1123LabelMaxLength-len("-canary"))
	}
	return ""
}

// Deploy rolls image (IMAGE@DIGEST) out. On a failed rollout it rolls back
// to the previous digest and returns the rollout's *kube.Failure wrapped
// with what was done; the Result says what serves.
func (k *Kubernetes) Deploy(ctx context.Context, image string) (Result, error) {
	if !kube.HasDigest(image) {
		return Result{}, fmt.Errorf("image %s is not pinned by digest: ferry deploys by digest only", image)
	}
	ns, name := k.Spec.Namespace, k.Spec.Name
	if err := ValidateNames(name, ns); err != nil {
		return Result{}, err
	}
	if err := kube.EnsureNamespace(ctx, k.Client, ns, k.CreateNamespace); err != nil {
		return Result{}, err
	}
	prev, err := k.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		prev = nil
	case err != nil:
		return Result{}, fmt.Errorf("read deployment %s/%s: %w", ns, name, err)
	}
	res := Result{Image: image, Previous: kube.Image(prev), Status: StatusDeployed}
	if res.Previous == image {
		res.Status = StatusUnchanged
	}
	if k.Canary > 0 && prev != nil && res.Previous != image {
		return k.canary(ctx, image, res)
	}
	if k.Canary > 0 && prev == nil {
		k.logf("no stable deployment %s/%s yet: deploying without a canary", ns, name)
	}
	if err := k.rollout(ctx, k.stable(image), true); err != nil {
		return k.rollback(ctx, prev, res, err)
	}
	return res, nil
}

// stable is the Spec for the stable Deployment serving image.
func (k *Kubernetes) stable(image string) manifests.Deploy {
	d := k.Spec
	d.Image, d.Track = image, "stable"
	return d
}

// rollout applies d's objects (the shared ones first, so that a refused
// Service or budget changes nothing that serves, then the Deployment) and
// waits for the Deployment's rollout.
func (k *Kubernetes) rollout(ctx context.Context, d manifests.Deploy, withShared bool) error {
	objs, err := kube.Render(d, withShared)
	if err != nil {
		return err
	}
	var deployment kube.Object
	for _, o := range objs {
		if o.Kind == "Deployment" {
			deployment = o
			continue
		}
		if err := kube.Apply(ctx, k.Client, d.Namespace, o); err != nil {
			return err
		}
	}
	if err := kube.Apply(ctx, k.Client, d.Namespace, deployment); err != nil {
		return err
	}
	k.logf("applied %s (image %s); waiting for the rollout", deployment, d.Image)
	// The deployment controller's progress deadline (set from the same
	// timeout) names the cause better than a client timeout; give it the
	// first word.
	wctx, cancel := context.WithTimeout(ctx, k.Timeout+15*time.Second)
	defer cancel()
	return kube.Wait(wctx, k.Client, d.Namespace, d.Name, kube.WaitOptions{
		UnschedulableGrace: k.UnschedulableGrace,
		Progress:           func(s string) { k.logf("%s: %s", d.Name, s) },
	})
}

// rollback re-applies the previous Deployment's image and labels after a
// failed rollout, and waits for it.
func (k *Kubernetes) rollback(ctx context.Context, prev *appsv1.Deployment, res Result, cause error) (Result, error) {
	if prev == nil || res.Previous == "" || res.Previous == res.Image {
		res.Status, res.Image = StatusFailed, res.Previous
		return res, fmt.Errorf("rollout of %s failed: %w; there is no previous revision to roll back to, "+
			"so deployment %s/%s is left as it is for inspection", k.Spec.Name, cause, k.Spec.Namespace, k.Spec.Name)
	}
	k.logf("rollout failed (%v); rolling back to %s", cause, res.Previous)
	d := k.stable(res.Previous)
	labels := prev.Spec.Template.Labels
	d.GitSHA = labels["ferry.dev/git-sha"]
	d.PullRequest, _ = strconv.Atoi(labels["ferry.dev/pull-request"])
	d.Labels = extraLabels(labels)
	// A rollback must not wait out the grace a failing pod of the new
	// revision had; use a fresh context if the caller's ran out.
	rctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), k.Timeout)
		defer cancel()
	}
	if err := k.rollout(rctx, d, false); err != nil {
		res.Status = StatusFailed
		return res, fmt.Errorf("rollout of %s failed: %w; the rollback to %s failed too: %v", k.Spec.Name, cause, res.Previous, err)
	}
	res.Status, res.Image = StatusRolledBack, res.Previous
	return res, fmt.Errorf("rollout of %s failed: %w; rolled back to %s", k.Spec.Name, cause, res.Previous)
}

// extraLabels are the labels of a pod template that ferry did not set
// itself: the --label values a revision was deployed with.
func extraLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if !strings.HasPrefix(k, "app.kubernetes.io/") && !strings.HasPrefix(k, "ferry.dev/") {
			out[k] = v
		}
	}
	return out
}

// canaryReplicas is the canary's share of replicas, at least one.
func canaryReplicas(replicas, percent int) int {
	return max(1, int(math.Ceil(float64(replicas)*float64(percent)/100)))
}

func (k *Kubernetes) logf(format string, args ...any) {
	if k.Log != nil {
		k.Log(format, args...)
	}
}

// IsFailure reports whether err carries a rollout failure (as opposed to a
// configuration or connection error), and returns it.
func IsFailure(err error) (*kube.Failure, bool) {
	var f *kube.Failure
	ok := errors.As(err, &f)
	return f, ok
}
