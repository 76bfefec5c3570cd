// Package cluster starts and stops a real, local Kubernetes control plane
// for tests and for users without a cluster: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler on loopback with generated
// certificates, RBAC on, kwok simulating nodes (some with nvidia.com/gpu
// capacity) and the pods on them, and one real node: containerd and a
// kubelet on this machine, pulling from a registry the cluster runs (see
// RealNode). Processes outlive the
// command that started them, so `make cluster-up` can return; each one's
// PID, log and the cluster's kubeconfig live in one state directory, and
// Down stops by PID what Up started.
package cluster
