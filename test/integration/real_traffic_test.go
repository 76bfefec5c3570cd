package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// traffic is load on the real node's ferry-serve pods, sent the way a
// Service would spread it if this cluster had a kube-proxy: to the pod IPs
// of the Ready pods that are not terminating (the Service's endpoints),
// round robin, over kept-alive connections. The endpoints are re-read
// every 200 ms, about as late as kube-proxy learns of them.
type traffic struct {
	cs       kubernetes.Interface
	ns, sel  string
	body     []byte
	stop     chan struct{}
	done     sync.WaitGroup
	mu       sync.Mutex
	targets  []corev1.Pod
	codes    map[int]int    // answers by status code
	byPod    map[string]int // answers by pod
	notTaken int            // connections refused: never accepted, a client retries them
	lost     []string       // accepted (connected) but never answered
}

// startTraffic sends body to /v2/models/MODEL/infer of the pods matching
// sel with workers clients, until the returned function is called; that
// returns what happened.
func startTraffic(t *testing.T, cs kubernetes.Interface, ns, sel, model, body string, workers int) func() *traffic {
	t.Helper()
	tr := &traffic{cs: cs, ns: ns, sel: sel, body: []byte(body), stop: make(chan struct{}), codes: map[int]int{}, byPod: map[string]int{}}
	tr.refresh(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	tr.done.Add(1)
	go func() {
		defer tr.done.Done()
		for {
			select {
			case <-tr.stop:
				return
			case <-time.After(200 * time.Millisecond):
				tr.refresh(t)
			}
		}
	}()
	for w := range workers {
		tr.done.Add(1)
		go func() {
			defer tr.done.Done()
			for i := w; ; i++ {
				select {
				case <-tr.stop:
					return
				default:
				}
				tr.mu.Lock()
				if len(tr.targets) == 0 {
					tr.mu.Unlock()
					time.Sleep(20 * time.Millisecond)
					continue
				}
				p := tr.targets[i%len(tr.targets)]
				tr.mu.Unlock()
				tr.send(client, p, model)
			}
		}()
	}
	return func() *traffic {
		close(tr.stop)
		tr.done.Wait()
		client.CloseIdleConnections()
		return tr
	}
}

// refresh re-reads the endpoints: Ready pods that are not terminating.
func (tr *traffic) refresh(t *testing.T) {
	list, err := tr.cs.CoreV1().Pods(tr.ns).List(context.Background(), metav1.ListOptions{LabelSelector: tr.sel})
	if err != nil {
		t.Logf("traffic: list pods: %v", err)
		return
	}
	var ready []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.PodIP != "" && podIsReady(&p) {
			ready = append(ready, p)
		}
	}
	tr.mu.Lock()
	tr.targets = ready
	tr.mu.Unlock()
}

func (tr *traffic) send(client *http.Client, p corev1.Pod, model string) {
	resp, err := client.Post(fmt.Sprintf("http://%s:8080/v2/models/%s/infer", p.Status.PodIP, model), "application/json", bytes.NewReader(tr.body))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		tr.notTaken++
	case err != nil:
		tr.lost = append(tr.lost, fmt.Sprintf("%s: %v", p.Name, err))
	default:
		tr.codes[resp.StatusCode]++
		tr.byPod[p.Name]++
	}
}

func (tr *traffic) String() string {
	return fmt.Sprintf("answers by code %v, by pod %v; %d connections refused; %d lost", tr.codes, tr.byPod, tr.notTaken, len(tr.lost))
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
