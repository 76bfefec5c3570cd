package kube

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// InstanceLabel names the deployment a ferry-deployed pod belongs to.
const InstanceLabel = "app.kubernetes.io/instance"

// PodMetrics reads a pod's /metrics through the API server's pod proxy,
// which works from outside the cluster network with the caller's
// credentials.
func PodMetrics(ctx context.Context, cs kubernetes.Interface, ns, pod string, port int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return cs.CoreV1().Pods(ns).ProxyGet("http", pod, strconv.Itoa(port), "/metrics", nil).DoRaw(ctx)
}

// ServingPods lists the pods of the ferry deployment name that are running
// and not being deleted.
func ServingPods(ctx context.Context, cs kubernetes.Interface, ns, name string) ([]corev1.Pod, error) {
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: InstanceLabel + "=" + name})
	if err != nil {
		return nil, fmt.Errorf("list the pods of %s/%s: %w", ns, name, err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out, nil
}

// ServePort is the first container's first declared port, where
// ferry-serve listens; 8080, ferry-serve's default, when none is declared.
func ServePort(p *corev1.Pod) int {
	if len(p.Spec.Containers) > 0 && len(p.Spec.Containers[0].Ports) > 0 {
		return int(p.Spec.Containers[0].Ports[0].ContainerPort)
	}
	return 8080
}
