#!/usr/bin/env bash
# Builds the local control plane into bin/cluster/bin from the Go module
# proxy: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and
# the kubelet 1.37 (hack/cluster/tools, a module of its own), etcd 3.6
# (hack/cluster/etcd), kwok v0.8.0 and the real node's pause program. The first build takes 10-15 minutes on two cores; after
# that a stamp of the modules' go.mod/go.sum skips it, and Go's build cache
# makes a rebuild after `make clean` take a minute. The cluster's DNS server
# (hack/cluster/dns, of the main module) is rebuilt every time: seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/bin/cluster/bin
kwok=v0.8.0
mkdir -p "$out"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/cluster-dns" ./hack/cluster/dns)
stamp=$(cat "$root"/hack/cluster/{tools,etcd}/go.{mod,sum} "$root"/hack/cluster/pause/main.go <(echo "kwok $kwok") | sha256sum | cut -c1-16)
if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
export CGO_ENABLED=0
echo "building the local control plane into $out (10-15 minutes the first time)" >&2
(cd "$root/hack/cluster/tools" && go build -trimpath -ldflags "-s -w" -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet)
(cd "$root/hack/cluster/etcd" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" .)
GOBIN=$out go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$kwok"
(cd "$root" && go build -trimpath -ldflags "-s -w" -o "$out/pause" ./hack/cluster/pause)
echo "$stamp" > "$out/.stamp"
