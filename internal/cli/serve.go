package cli

import (
	"context"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/serve"
	"github.com/ferry-ml/ferry/internal/stage"
)

// runServe is `ferry serve`: it serves until the process is told to stop
// (SIGTERM, SIGINT), then drains. cmd/ferry-serve runs the same serve.Main.
func runServe(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	cfg, err := stage.ServeConfig(in)
	if err != nil {
		return nil, err
	}
	return &Result{}, serve.Main(ctx, cfg, env.Stderr)
}
