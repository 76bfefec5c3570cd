// Command etcd is etcd 3.6's server, built from the Go module proxy for the
// local control plane (`make cluster-up`); Debian's etcd is too old for the
// watch features kube-apiserver 1.37 asks for.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
