// Command cluster-dns is the local cluster's DNS server: the pods on its real
// node resolve through it (the kubelet's clusterDNS) the names Kubernetes'
// DNS specification gives Services and the pods behind headless ones, as
// CoreDNS's kubernetes plugin answers them:
//
//   - SERVICE.NAMESPACE.svc.DOMAIN: a Service's cluster IP, or for a headless
//     Service the addresses of the pods it selects;
//   - HOSTNAME.SERVICE.NAMESPACE.svc.DOMAIN: a pod whose spec sets that
//     hostname and subdomain, when a headless Service of the subdomain's
//     name selects it (how the pods of an Indexed Job find rank 0).
//
// A pod's address is published once the pod is ready, or at once when the
// Service publishes pods that are not ready, as Kubernetes' EndpointSlices
// do. Only A records are answered; any other name is NXDOMAIN (nothing
// outside the cluster is reachable from these machines). The cluster has
// no kube-proxy, so a cluster IP resolves but does not route; the pods'
// own addresses do.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the cluster's kubeconfig")
	listen := flag.String("listen", "", "UDP address to answer on (host:port)")
	domain := flag.String("domain", "cluster.local", "the cluster's DNS domain")
	flag.Parse()
	if err := run(*kubeconfig, *listen, *domain); err != nil {
		log.Fatalf("cluster-dns: %v", err)
	}
}

func run(kubeconfig, listen, domain string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	conn, err := net.ListenPacket("udp", listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { <-ctx.Done(); conn.Close() }()
	r := &resolver{client: cs, domain: domain}
	fmt.Fprintf(os.Stderr, "cluster-dns: answering %s on %s\n", domain, listen)
	return serve(ctx, conn, r)
}

// serve answers the queries that arrive on conn until ctx ends, each in its
// own goroutine so that a slow API server does not hold the others.
func serve(ctx context.Context, conn net.PacketConn, r *resolver) error {
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		query := append([]byte(nil), buf[:n]...)
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if reply, err := r.answer(ctx, query); err == nil {
				conn.WriteTo(reply, from)
			}
		}()
	}
}

// resolver answers from the API server.
type resolver struct {
	client kubernetes.Interface
	domain string
}

// answer is the reply to one query message: A records for a cluster name,
// an empty answer for other types of a name that exists, NXDOMAIN for a
// name that does not, SERVFAIL when the API server cannot tell.
func (r *resolver) answer(ctx context.Context, query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	reply := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	addrs, found, err := r.lookup(ctx, q.Name.String())
	switch {
	case err != nil:
		log.Printf("cluster-dns: %s: %v", q.Name, err)
		reply.RCode = dnsmessage.RCodeServerFailure
	case !found:
		reply.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, reply)
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeALL {
		for _, a := range addrs {
			rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}
			if err := b.AResource(rh, dnsmessage.AResource{A: a.As4()}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// lookup resolves a fully qualified name to IPv4 addresses. found is false
// for a name the cluster does not have.
func (r *resolver) lookup(ctx context.Context, fqdn string) (addrs []netip.Addr, found bool, err error) {
	suffix := ".svc." + r.domain + "."
	name := strings.ToLower(fqdn)
	if !strings.HasSuffix(name, suffix) {
		return nil, false, nil
	}
	parts := strings.Split(strings.TrimSuffix(name, suffix), ".")
	switch len(parts) {
	case 2:
		return r.service(ctx, parts[1], parts[0])
	case 3:
		return r.podHost(ctx, parts[2], parts[1], parts[0])
	}
	return nil, false, nil
}

// service resolves SERVICE.NAMESPACE: its cluster IP, or the addresses of a
// headless Service's pods.
func (r *resolver) service(ctx context.Context, ns, name string) ([]netip.Addr, bool, error) {
	svc, err := r.getService(ctx, ns, name)
	if svc == nil || err != nil {
		return nil, false, err
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		a, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil || !a.Is4() {
			return nil, true, nil
		}
		return []netip.Addr{a}, true, nil
	}
	pods, err := r.endpoints(ctx, svc)
	var addrs []netip.Addr
	for _, p := range pods {
		addrs = append(addrs, p.addr)
	}
	return addrs, true, err
}

// podHost resolves HOSTNAME.SERVICE.NAMESPACE: the pods with that hostname
// and subdomain behind the headless Service.
func (r *resolver) podHost(ctx context.Context, ns, subdomain, host string) ([]netip.Addr, bool, error) {
	svc, err := r.getService(ctx, ns, subdomain)
	if svc == nil || err != nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return nil, false, err
	}
	pods, err := r.endpoints(ctx, svc)
	if err != nil {
		return nil, false, err
	}
	var addrs []netip.Addr
	for _, p := range pods {
		if p.hostname == host && p.subdomain == subdomain {
			addrs = append(addrs, p.addr)
		}
	}
	return addrs, len(addrs) > 0, nil
}

// getService is the Service, or nil when there is none.
func (r *resolver) getService(ctx context.Context, ns, name string) (*corev1.Service, error) {
	svc, err := r.client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return svc, err
}

// endpoint is a pod a Service publishes.
type endpoint struct {
	addr                netip.Addr
	hostname, subdomain string
}

// endpoints are the pods a headless Service selects that have an IPv4
// address and are ready, or all that have one when the Service publishes
// pods that are not ready.
func (r *resolver) endpoints(ctx context.Context, svc *corev1.Service) ([]endpoint, error) {
	if len(svc.Spec.Selector) == 0 {
		return nil, nil
	}
	list, err := r.client.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return nil, err
	}
	var out []endpoint
	for _, p := range list.Items {
		a, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !a.Is4() || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if !svc.Spec.PublishNotReadyAddresses && !ready(&p) {
			continue
		}
		out = append(out, endpoint{addr: a, hostname: p.Spec.Hostname, subdomain: p.Spec.Subdomain})
	}
	return out, nil
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
