package cli

import (
	"context"

	"github.com/ferry-ml/ferry/internal/evaluate"
	"github.com/ferry-ml/ferry/internal/input"
)

// runEvaluate is `ferry evaluate` and the evaluate action: the parameters,
// with ferry.yaml under them, into the stage's Config.
func runEvaluate(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	cfg := evaluate.Config{
		Candidate: in.String("candidate"), Champion: in.String("champion"),
		CandidatePredictions: in.String("candidate-predictions"), ChampionPredictions: in.String("champion-predictions"),
		Data: in.String("data"), Gates: in.List("gate"), Slice: in.String("slice"), Weight: in.String("weight"),
		Resamples: in.Int("bootstrap"), Confidence: in.Float("confidence"), Seed: uint64(in.Int("seed")),
		Report: in.String("report"), JSON: in.String("json"), ModelChanged: true, AllowDataChange: in.Bool("allow-data-change"),
	}
	read, rerr := readOptions(in)
	if env.Action != nil {
		cfg.Event, cfg.Comment, cfg.CheckRun, cfg.HeadSHA = env.Event, in.Bool("comment"), in.Bool("check-run"), in.String("head-sha")
		cfg.Token, cfg.ModelChanged = in.String("github-token"), in.Bool("model-changed")
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	if env.File != nil {
		cfg.Name, cfg.FirstModel = env.File.Name, env.File.Evaluate.FirstModel
	}
	cfg.Read = read
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res, err := evaluate.Run(ctx, cfg, evaluate.Deps{Stdout: env.Stdout, Stderr: env.Stderr, Action: env.Action, Auth: registryAuth("", "")})
	if err != nil {
		return nil, err
	}
	return &Result{Outputs: res.Outputs(), Summary: res.Summary, Err: res.Err}, nil
}
