// Command pause is the pod sandbox's process on the local cluster's real
// node: it holds the pod's namespaces and waits to be stopped. Nothing can
// be pulled from the internet here, so `make cluster-build` builds it and
// the cluster pushes it, as a one-file image, to its own registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
