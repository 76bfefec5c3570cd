package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ferry-ml/ferry/templates/manifests"
)

// fakeMetrics serves each pod's counters: the first scrape of a pod gives
// start, later ones end.
type fakeMetrics struct {
	mu         sync.Mutex
	seen       map[string]bool
	start, end map[string]ServeStats // by the pod's track
}

func (f *fakeMetrics) Scrape(_ context.Context, _, pod string, _ int) (ServeStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	track := "stable"
	if strings.Contains(pod, "canary") {
		track = "canary"
	}
	if !f.seen[pod] {
		f.seen[pod] = true
		return f.start[track], nil
	}
	return f.end[track], nil
}

func readyPod(name, instance string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "search", Labels: map[string]string{"app.kubernetes.io/instance": instance}},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

// The analysis reads the serving counters' change over the window: a canary
// answering 5xx or much slower than the stable pods fails it.
func TestCanaryAnalysis(t *testing.T) {
	base := ServeStats{Requests: 100, Errors: 0, LatencySum: 1}
	for _, c := range []struct {
		name        string
		canaryEnd   ServeStats
		stableEnd   ServeStats
		wantFailure string
	}{
		{"healthy", ServeStats{Requests: 300, LatencySum: 3}, ServeStats{Requests: 1100, LatencySum: 11}, ""},
		{"errors", ServeStats{Requests: 300, Errors: 10, LatencySum: 3}, ServeStats{Requests: 1100, LatencySum: 11}, "ErrorRate"},
		{"slow", ServeStats{Requests: 300, LatencySum: 7}, ServeStats{Requests: 1100, LatencySum: 11}, "Latency"},
		// A candidate whose inputs changed refuses what the stable accepts.
		{"refuses", ServeStats{Requests: 300, Refused: 200, LatencySum: 3}, ServeStats{Requests: 1100, LatencySum: 11}, "Refused"},
		// Clients that send bad requests to both: not the canary's fault.
		{"refuses like the stable", ServeStats{Requests: 300, Refused: 20, LatencySum: 3}, ServeStats{Requests: 1100, Refused: 100, LatencySum: 11}, ""},
		{"refuses a little more", ServeStats{Requests: 300, Refused: 24, LatencySum: 3}, ServeStats{Requests: 1100, Refused: 100, LatencySum: 11}, "Refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs := fake.NewClientset(readyPod("ranker-canary-1", "ranker-canary"), readyPod("ranker-1", "ranker"), readyPod("ranker-2", "ranker"))
			src := &fakeMetrics{seen: map[string]bool{},
				start: map[string]ServeStats{"canary": base, "stable": base},
				end:   map[string]ServeStats{"canary": c.canaryEnd, "stable": c.stableEnd}}
			k := &Kubernetes{Client: cs, Spec: manifests.Deploy{Name: "ranker", Namespace: "search", Port: 8080},
				Analysis: 10 * time.Millisecond, Checks: CanaryChecks{Metrics: src}}
			err := k.analyse(context.Background(), "ranker-canary", 1)
			f, _ := IsFailure(err)
			switch {
			case c.wantFailure == "" && err != nil:
				t.Fatalf("a healthy canary failed: %v", err)
			case c.wantFailure != "" && (f == nil || f.Reason != c.wantFailure):
				t.Fatalf("got %v, want a %s failure", err, c.wantFailure)
			}
		})
	}
}

// A canary pod that is not ready fails the analysis.
func TestCanaryNotReady(t *testing.T) {
	p := readyPod("ranker-canary-1", "ranker-canary")
	p.Status.Conditions[0].Status = corev1.ConditionFalse
	cs := fake.NewClientset(p)
	k := &Kubernetes{Client: cs, Spec: manifests.Deploy{Name: "ranker", Namespace: "search", Port: 8080},
		Analysis: 10 * time.Millisecond, Checks: CanaryChecks{Metrics: &fakeMetrics{seen: map[string]bool{}}}}
	err := k.analyse(context.Background(), "ranker-canary", 1)
	if f, ok := IsFailure(err); !ok || f.Reason != "NotReady" {
		t.Fatalf("got %v, want NotReady", err)
	}
}

// unreachableMetrics fails every scrape, as a NetworkPolicy that blocks the
// pod proxy does, and counts them.
type unreachableMetrics struct {
	mu   sync.Mutex
	pods []string
}

func (u *unreachableMetrics) Scrape(_ context.Context, _, pod string, _ int) (ServeStats, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pods = append(u.pods, pod)
	return ServeStats{}, errors.New("forbidden")
}

// When the canary's metrics cannot be read, the analysis checks readiness and
// restarts only, and does not spend scrapes (3 s each at worst) on the
// stable pods.
func TestCanaryWithoutMetrics(t *testing.T) {
	cs := fake.NewClientset(readyPod("ranker-canary-1", "ranker-canary"), readyPod("ranker-1", "ranker"), readyPod("ranker-2", "ranker"))
	src := &unreachableMetrics{}
	var log strings.Builder
	k := &Kubernetes{Client: cs, Spec: manifests.Deploy{Name: "ranker", Namespace: "search", Port: 8080},
		Analysis: 10 * time.Millisecond, Checks: CanaryChecks{Metrics: src}, Log: func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }}
	if err := k.analyse(context.Background(), "ranker-canary", 1); err != nil {
		t.Fatalf("a ready canary without metrics failed: %v", err)
	}
	if len(src.pods) != 1 || src.pods[0] != "ranker-canary-1" {
		t.Errorf("scraped %v, want the canary pod once", src.pods)
	}
	if !strings.Contains(log.String(), "checking readiness and restarts only") {
		t.Errorf("log %q does not say the metrics are not checked", log.String())
	}
}

// judge fails closed on refusals: without the stable pods' share to compare
// with, every refused request counts against the canary.
func TestCanaryRefusalsWithoutBaseline(t *testing.T) {
	checks := CanaryChecks{MaxErrorRate: 0.01, MaxLatencyRatio: 1.5}
	c := ServeStats{Requests: 200, Refused: 10, LatencySum: 1}
	err := judge(c, nil, checks)
	if f, ok := IsFailure(err); !ok || f.Reason != "Refused" || !strings.Contains(f.Message, "could not be read") {
		t.Fatalf("got %v, want Refused naming the missing baseline", err)
	}
	if err := judge(c, &ServeStats{Requests: 100, Refused: 5, LatencySum: 0.5}, checks); err != nil {
		t.Fatalf("the same share as the stable pods failed: %v", err)
	}
	if err := judge(ServeStats{}, nil, checks); err != nil {
		t.Fatalf("a canary without traffic failed on metrics: %v", err)
	}
}
