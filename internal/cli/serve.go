package cli

import (
	"context"
	"log/slog"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/serve"
)

// runServe is `ferry serve` and ferry-serve: it serves until the process is
// told to stop (SIGTERM, SIGINT), then drains.
func runServe(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	cfg := serve.Config{ModelDir: in.String("model"), Addr: in.String("addr"), Name: in.String("name")}
	if err := in.Err(); err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	s, err := serve.New(cfg, log)
	if err != nil {
		return nil, err
	}
	return &Result{}, s.Run(ctx, nil)
}
