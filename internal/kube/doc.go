// Package kube is ferry's Kubernetes client side: loading a kubeconfig,
// server-side apply of the manifests rendered from templates/, and watching a
// rollout with kubectl's completion rules plus early failure detection.
package kube
