// Package integration runs ferry's built artifacts against the real components
// a user meets: the action image under podman the way the GitHub Actions
// runner starts a container action. `make test` builds the artifacts and
// installs the components first.
//
// The Kubernetes tests share one local cluster (test/cluster): a real
// control plane with two kinds of nodes, and each test's comment says which
// its pods use. kwok's simulated nodes run no container: they hold what a
// real node here cannot (GPUs, many nodes) and pod states simulated by
// label. The real node (containerd and a kubelet) runs real containers
// pulled from the cluster's registry: the tests named OnTheRealNode and
// those of real failures, traffic and rollouts under load.
package integration
