// Command ferry-serve is the model server inside ferry's model images: it
// serves one model directory over the Open Inference Protocol, with the same
// flags as `ferry serve` (--model, --addr, --name). It links only the server
// and the model formats, not the rest of ferry, so that model images stay
// small; `ferry package` puts it in the image when it finds it beside ferry.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/serve"
	"github.com/ferry-ml/ferry/internal/stage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run returns the exit code: 0, 1 when serving failed, 2 for bad flags.
func run(ctx context.Context, args []string) int {
	cmd, _ := stage.Lookup("serve")
	fs := pflag.NewFlagSet("ferry-serve", pflag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "%s\n\nUsage: ferry-serve [flags]\n\nFlags:\n%s", cmd.Long, fs.FlagUsages())
	}
	input.AddFlags(fs, cmd.Params)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "ferry-serve: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ferry-serve: unexpected argument %q: the server takes flags only (--model, --addr, --name)\n", fs.Arg(0))
		return 2
	}
	cfg, err := stage.ServeConfig(input.NewReader(input.FlagSource{FlagSet: fs}, cmd.Params, nil))
	if err == nil {
		err = serve.Main(ctx, cfg, os.Stderr)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "ferry-serve: %v\n", err)
	var bad *input.Error
	if errors.As(err, &bad) {
		return 2
	}
	return 1
}
