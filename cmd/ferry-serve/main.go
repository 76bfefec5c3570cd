// Command ferry-serve is the model server inside ferry's model images: it
// serves one model directory over the Open Inference Protocol. It takes the
// same flags as `ferry serve`.
package main

import (
	_ "golang.org/x/crypto/x509roots/fallback" // CA roots for images that have no OS

	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferry-ml/ferry/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := append([]string{"serve"}, os.Args[1:]...)
	code := cli.Main(ctx, args, &cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
