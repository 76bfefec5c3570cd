package deploy

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/oip"
)

// CanaryChecks are what a canary must hold to through its analysis window.
// Readiness, restarts and failing pods are always checked; the serving
// metrics when ferry-serve's /metrics is reachable through the API server:
// server errors, refused requests beyond the stable pods' share, latency.
type CanaryChecks struct {
	// MaxErrorRate is the largest share of infer requests answered 5xx,
	// and the largest share answered 4xx beyond the stable pods' (default
	// 0.01).
	MaxErrorRate float64
	// MaxLatencyRatio is the largest ratio of the canary's mean infer
	// latency to the stable pods' over the window (default 1.5).
	MaxLatencyRatio float64
	// Metrics reads a pod's serving counters; default: the API server's pod
	// proxy to the pod's /metrics.
	Metrics MetricsSource
}

// ServeStats are a pod's cumulative infer counters, from ferry-serve's
// Prometheus metrics.
type ServeStats struct {
	Requests, Errors float64 // infer requests, and those answered 5xx
	// Refused are the infer requests answered 4xx: the server took them
	// for the client's mistake. A canary that refuses more of the same
	// traffic than the stable pods do breaks its clients (a model whose
	// inputs changed), even though it never answers 5xx.
	Refused    float64
	LatencySum float64 // seconds, over Requests
}

// MetricsSource scrapes one pod's serving counters.
type MetricsSource interface {
	Scrape(ctx context.Context, ns, pod string, port int) (ServeStats, error)
}

// ProxyMetrics scrapes /metrics through the API server's pod proxy, which
// works from outside the cluster network with the deployer's credentials.
type ProxyMetrics struct{ Client kubernetes.Interface }

// Scrape implements MetricsSource.
func (p ProxyMetrics) Scrape(ctx context.Context, ns, pod string, port int) (ServeStats, error) {
	body, err := kube.PodMetrics(ctx, p.Client, ns, pod, port)
	if err != nil {
		return ServeStats{}, err
	}
	return ParseServeStats(body)
}

// ParseServeStats reads the infer counters from ferry-serve's metrics in
// the Prometheus text format.
func ParseServeStats(text []byte) (ServeStats, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return ServeStats{}, fmt.Errorf("parse metrics: %w", err)
	}
	var s ServeStats
	if f := fams[oip.MetricRequests]; f != nil {
		for _, m := range f.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if labels[oip.LabelEndpoint] != oip.EndpointInfer {
				continue
			}
			v := m.GetCounter().GetValue()
			s.Requests += v
			switch {
			case strings.HasPrefix(labels[oip.LabelCode], "5"):
				s.Errors += v
			case strings.HasPrefix(labels[oip.LabelCode], "4"):
				s.Refused += v
			}
		}
	}
	if f := fams[oip.MetricDuration]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == oip.LabelEndpoint && l.GetValue() == oip.EndpointInfer {
					s.LatencySum += m.GetHistogram().GetSampleSum()
				}
			}
		}
	}
	return s, nil
}

func (s ServeStats) minus(o ServeStats) ServeStats {
	return ServeStats{Requests: s.Requests - o.Requests, Errors: s.Errors - o.Errors, Refused: s.Refused - o.Refused, LatencySum: s.LatencySum - o.LatencySum}
}

func (s ServeStats) plus(o ServeStats) ServeStats {
	return ServeStats{Requests: s.Requests + o.Requests, Errors: s.Errors + o.Errors, Refused: s.Refused + o.Refused, LatencySum: s.LatencySum + o.LatencySum}
}

// canary runs the new image as NAME-canary beside the stable Deployment,
// analyses it, then promotes it or removes it.
func (k *Kubernetes) canary(ctx context.Context, image string, res Result) (Result, error) {
	cd := k.Spec
	cd.Name, cd.Track, cd.Image, cd.MaxReplicas = k.Spec.Name+"-canary", "canary", image, 0
	cd.Replicas = canaryReplicas(k.Spec.Replicas, k.Canary)
	k.logf("canary: %d of %d replicas run %s for %s", cd.Replicas, k.Spec.Replicas+cd.Replicas, image, k.Analysis)
	abort := func(cause error) (Result, error) {
		if err := k.deleteCanary(context.WithoutCancel(ctx), cd.Name); err != nil {
			return Result{Image: res.Previous, Previous: res.Previous, Status: StatusFailed},
				fmt.Errorf("canary of %s failed: %w; removing the canary failed too: %v", k.Spec.Name, cause, err)
		}
		return Result{Image: res.Previous, Previous: res.Previous, Status: StatusCanaryAborted},
			fmt.Errorf("canary of %s failed: %w; the canary was removed and %s still serves", k.Spec.Name, cause, res.Previous)
	}
	if err := k.rollout(ctx, cd, false); err != nil {
		return abort(err)
	}
	if err := k.analyse(ctx, cd.Name, cd.Replicas); err != nil {
		return abort(err)
	}
	k.logf("canary passed its analysis: promoting %s", image)
	if err := k.rollout(ctx, k.stable(image), true); err != nil {
		stable, gerr := k.Client.AppsV1().Deployments(k.Spec.Namespace).Get(context.WithoutCancel(ctx), k.Spec.Name, metav1.GetOptions{})
		if gerr != nil {
			stable = nil
		}
		_ = k.deleteCanary(context.WithoutCancel(ctx), cd.Name)
		return k.rollback(ctx, stable, res, err)
	}
	if err := k.deleteCanary(ctx, cd.Name); err != nil {
		return res, fmt.Errorf("promoted %s, but removing the canary failed: %w", image, err)
	}
	return res, nil
}

// analyse holds the canary for the analysis window and checks it.
func (k *Kubernetes) analyse(ctx context.Context, name string, replicas int) error {
	checks := k.Checks
	if checks.MaxErrorRate == 0 {
		checks.MaxErrorRate = 0.01
	}
	if checks.MaxLatencyRatio == 0 {
		checks.MaxLatencyRatio = 1.5
	}
	if checks.Metrics == nil {
		checks.Metrics = ProxyMetrics{Client: k.Client}
	}
	canarySel := "app.kubernetes.io/instance=" + name
	stableSel := "app.kubernetes.io/instance=" + k.Spec.Name
	pods, err := k.pods(ctx, canarySel)
	if err != nil {
		return err
	}
	baseRestarts := kube.Restarts(pods)
	canaryStart, canaryOK := k.scrape(ctx, checks.Metrics, pods)
	var stableStart ServeStats
	stableOK := false
	if canaryOK { // the stable pods' counters matter only beside the canary's
		stablePods, _ := k.pods(ctx, stableSel)
		stableStart, stableOK = k.scrape(ctx, checks.Metrics, stablePods)
	} else {
		k.logf("canary: ferry-serve's /metrics is not reachable through the API server; checking readiness and restarts only")
	}
	if pods, err = k.hold(ctx, canarySel, replicas, baseRestarts); err != nil {
		return err
	}
	if !canaryOK {
		return nil
	}
	end, ok := k.scrape(ctx, checks.Metrics, pods)
	if !ok {
		k.logf("canary: its /metrics could not be read at the end of the analysis; judged on readiness and restarts only")
		return nil
	}
	c := end.minus(canaryStart)
	var s *ServeStats // the stable pods' change over the same window
	if stableOK {
		stablePods, _ := k.pods(ctx, stableSel)
		if sEnd, ok := k.scrape(ctx, checks.Metrics, stablePods); ok {
			d := sEnd.minus(stableStart)
			s = &d
		}
	}
	if err := judge(c, s, checks); err != nil {
		return err
	}
	if c.Requests == 0 {
		k.logf("canary: no infer request reached the canary during the analysis; judged on readiness and restarts only")
		return nil
	}
	k.logf("canary: %.0f infer requests, %.0f errors, %.0f refused", c.Requests, c.Errors, c.Refused)
	return nil
}

// hold watches the canary's pods (sel) for the analysis window: a pod
// that fails, a container that restarts beyond baseRestarts or fewer than
// replicas ready ends it early. It returns the pods as last seen.
func (k *Kubernetes) hold(ctx context.Context, sel string, replicas int, baseRestarts int32) ([]corev1.Pod, error) {
	var pods []corev1.Pod
	interval := min(max(k.Analysis/6, time.Second), 10*time.Second)
	deadline := time.Now().Add(k.Analysis)
	for {
		var err error
		if pods, err = k.pods(ctx, sel); err != nil {
			return nil, err
		}
		ready := 0
		for i := range pods {
			if f := kube.PodFailure(&pods[i], time.Now(), k.UnschedulableGrace); f != nil {
				return nil, f
			}
			if podReady(&pods[i]) {
				ready++
			}
		}
		if r := kube.Restarts(pods); r > baseRestarts {
			return nil, &kube.Failure{Reason: "Restarts", Message: fmt.Sprintf("canary containers restarted %d times during the analysis", r-baseRestarts)}
		}
		if ready < replicas {
			return nil, &kube.Failure{Reason: "NotReady", Message: fmt.Sprintf("%d of %d canary pods ready", ready, replicas)}
		}
		if !time.Now().Before(deadline) {
			return pods, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(interval, time.Until(deadline))):
		}
	}
}

// judge compares the canary's serving counters over the analysis window
// with the stable pods' (nil when they could not be read): server errors
// against MaxErrorRate; refusals (4xx) beyond the stable pods' share of
// the same traffic against MaxErrorRate too, or all of them when the
// stable pods' share is unknown (fail closed: a candidate that refuses its
// clients' requests must not pass for want of a baseline); mean latency
// against MaxLatencyRatio.
func judge(c ServeStats, s *ServeStats, checks CanaryChecks) error {
	if c.Requests == 0 {
		return nil
	}
	if rate := c.Errors / c.Requests; rate > checks.MaxErrorRate {
		return &kube.Failure{Reason: "ErrorRate", Message: fmt.Sprintf("%.0f of %.0f canary infer requests failed (%.2f%%, at most %.2f%% allowed)",
			c.Errors, c.Requests, 100*rate, 100*checks.MaxErrorRate)}
	}
	refused, baseline, against := c.Refused/c.Requests, 0.0, "the stable pods' metrics could not be read"
	if s != nil && s.Requests > 0 {
		baseline = s.Refused / s.Requests
		against = fmt.Sprintf("the stable pods refused %.2f%% of theirs", 100*baseline)
	}
	if refused-baseline > checks.MaxErrorRate {
		return &kube.Failure{Reason: "Refused", Message: fmt.Sprintf("the canary refused %.0f of %.0f infer requests as bad requests (%.2f%%) where %s (at most %.2f%% more allowed): the new model does not accept what the clients send; did its inputs change?",
			c.Refused, c.Requests, 100*refused, against, 100*checks.MaxErrorRate)}
	}
	if s != nil && s.Requests > 0 && s.LatencySum > 0 {
		ratio := (c.LatencySum / c.Requests) / (s.LatencySum / s.Requests)
		if ratio > checks.MaxLatencyRatio {
			return &kube.Failure{Reason: "Latency", Message: fmt.Sprintf("canary mean infer latency is %.2fx the stable pods' (at most %.2fx allowed)", ratio, checks.MaxLatencyRatio)}
		}
	}
	return nil
}

// scrape sums the serving counters of pods; ok is false when any pod's
// metrics cannot be read.
func (k *Kubernetes) scrape(ctx context.Context, src MetricsSource, pods []corev1.Pod) (ServeStats, bool) {
	var total ServeStats
	if len(pods) == 0 {
		return total, false
	}
	for _, p := range pods {
		s, err := src.Scrape(ctx, p.Namespace, p.Name, k.Spec.Port)
		if err != nil {
			return ServeStats{}, false
		}
		total = total.plus(s)
	}
	return total, true
}

func (k *Kubernetes) pods(ctx context.Context, selector string) ([]corev1.Pod, error) {
	list, err := k.Client.CoreV1().Pods(k.Spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods %s: %w", selector, err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// deleteCanary deletes the canary Deployment and waits until it is gone.
// Deletion is in the foreground: the Deployment goes last, after its
// ReplicaSet and its pods, which are the Service's endpoints and answer
// clients until they stop; a canary said to be removed must be, and a
// next canary of the same name must not meet the one being deleted.
func (k *Kubernetes) deleteCanary(ctx context.Context, name string) error {
	deployments := k.Client.AppsV1().Deployments(k.Spec.Namespace)
	fg := metav1.DeletePropagationForeground
	err := deployments.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete deployment %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		_, err := deployments.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("deployment %s is still being deleted: %w", name, ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
