// Package manifests renders the Kubernetes objects a deployment is made of
// (Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler) from
// templates embedded here and parsed once, and declares the value they are
// rendered from. It links no learner: the deploy side needs none.
package manifests
