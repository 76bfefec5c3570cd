package main

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// The names an Indexed Job's pods look up, through Go's own resolver over
// UDP to the server, against a fake API server.
func TestServe(t *testing.T) {
	pod := func(name, ip string, ready bool, subdomain string) *corev1.Pod {
		cond := corev1.ConditionFalse
		if ready {
			cond = corev1.ConditionTrue
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"job": subdomain}},
			Spec:       corev1.PodSpec{Hostname: name, Subdomain: subdomain},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}},
		}
	}
	headless := func(name string, publishNotReady bool) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}, Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, PublishNotReadyAddresses: publishNotReady, Selector: map[string]string{"job": name}}}
	}
	cs := fake.NewSimpleClientset(
		headless("train", true), pod("train-0", "10.89.0.7", false, "train"), pod("train-1", "10.89.0.8", false, "train"),
		headless("strict", false), pod("strict-0", "10.89.0.9", false, "strict"), pod("strict-1", "10.89.0.10", true, "strict"),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.12"}},
	)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); conn.Close() }()
	go serve(ctx, conn, &resolver{client: cs, domain: "cluster.local"})
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", conn.LocalAddr().String())
	}}

	for _, c := range []struct {
		name string
		want []string // nil: NXDOMAIN
	}{
		{"train-0.train.shop.svc.cluster.local.", []string{"10.89.0.7"}},
		{"TRAIN-1.train.shop.svc.cluster.local.", []string{"10.89.0.8"}},
		{"train.shop.svc.cluster.local.", []string{"10.89.0.7", "10.89.0.8"}},
		{"strict-1.strict.shop.svc.cluster.local.", []string{"10.89.0.10"}},
		{"strict-0.strict.shop.svc.cluster.local.", nil}, // not ready, not published
		{"web.shop.svc.cluster.local.", []string{"10.96.0.12"}},
		{"x-0.web.shop.svc.cluster.local.", nil}, // not headless
		{"train-0.train.other.svc.cluster.local.", nil},
		{"train-0.train.shop.svc.elsewhere.", nil},
		{"example.com.", nil},
	} {
		got, err := res.LookupHost(ctx, c.name)
		var dnsErr *net.DNSError
		switch {
		case c.want == nil && (!errors.As(err, &dnsErr) || !dnsErr.IsNotFound):
			t.Errorf("%s: %v %v, want NXDOMAIN", c.name, got, err)
		case c.want != nil && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != nil:
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
	}
}
