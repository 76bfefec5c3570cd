// Command ferry carries model changes from a pull request to production: it
// trains, evaluates, packages and deploys models, from a laptop or as the
// GitHub Actions in actions/.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ferry-ml/ferry/internal/cli"
	_ "github.com/ferry-ml/ferry/internal/objstore" // data from s3://, gs:// and az:// (ferry-serve reads none, and links none of it)
)

func main() {
	fallbackRoots() // CA roots for images that have no OS
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := os.Args[1:]
	// Model images carry this binary as /ferry-serve: called so, it serves.
	if filepath.Base(os.Args[0]) == "ferry-serve" {
		args = append([]string{"serve"}, args...)
	}
	code := cli.Main(ctx, args, &cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
