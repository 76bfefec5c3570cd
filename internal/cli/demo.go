package cli

import (
	"context"

	"github.com/ferry-ml/ferry/internal/demo"
	"github.com/ferry-ml/ferry/internal/input"
)

// runDemo is `ferry demo`: the loop on generated data (package demo).
func runDemo(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	cfg := demo.Config{Dir: in.String("dir"), Seed: in.Int("seed")}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if err := demo.Run(ctx, cfg, demo.Deps{Stdout: env.Stdout, Stderr: env.Stderr, Getenv: env.Getenv}); err != nil {
		return nil, err
	}
	return &Result{}, nil
}
