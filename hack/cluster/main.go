// Command cluster starts, stops and reports on the local Kubernetes control
// plane (test/cluster) that `make cluster-up` leaves running:
//
//	go run ./hack/cluster up      # kubeconfig at bin/cluster/kubeconfig
//	go run ./hack/cluster status
//	go run ./hack/cluster down
//
// The programs come from `make cluster-build` (hack/cluster/build.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/ferry-ml/ferry/test/cluster"
)

func main() {
	dir := flag.String("dir", "bin/cluster", "state directory: kubeconfig, logs, PIDs")
	bin := flag.String("bin", "bin/cluster/bin", "where `make cluster-build` put the programs")
	realNode := flag.Bool("real-node", true, "also start the real node (containerd and a kubelet; needs root)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: cluster [-dir DIR] [-bin DIR] [-real-node=false] up|down|status")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, flag.Arg(0), *dir, *bin, *realNode); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd, dir, bin string, realNode bool) error {
	switch cmd {
	case "up":
		opts := cluster.DefaultOptions(bin, dir)
		opts.RealNode = realNode
		c, err := cluster.Up(ctx, opts)
		if err != nil {
			return err
		}
		fmt.Printf("cluster up at %s\nexport KUBECONFIG=%s\n", c.Server, c.Kubeconfig)
		if c.Registry != "" {
			fmt.Printf("the real node %s pulls from the registry %s\n", cluster.RealNode, c.Registry)
		}
		return nil
	case "down":
		return cluster.Down(dir)
	case "status":
		st, err := cluster.Status(dir)
		if err != nil {
			return err
		}
		if len(st) == 0 {
			fmt.Println("no cluster started from", dir)
			return nil
		}
		names := make([]string, 0, len(st))
		for n := range st {
			names = append(names, n)
		}
		sort.Strings(names)
		down := 0
		for _, n := range names {
			state := "running"
			if !st[n] {
				state, down = "stopped", down+1
			}
			fmt.Printf("%-24s %s\n", n, state)
		}
		if down > 0 {
			return fmt.Errorf("%d of %d programs are not running (logs in %s/logs)", down, len(names), dir)
		}
		return nil
	default:
		return fmt.Errorf("unknown command %q: want up, down or status", cmd)
	}
}
