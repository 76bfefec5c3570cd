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
		Report: in.String("report"), JSON: in.String("json"), ModelChanged: true,
	}
	read, rerr := readOptions(in)
	configPath := in.String("config")
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
	file, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	if file != nil {
		o := overlay{in}
		if read, err = o.dataOptions(read, file.Data); err != nil {
			return nil, err
		}
		cfg.Name, cfg.FirstModel = file.Name, file.Evaluate.FirstModel
		cfg.Data = o.str("data", cfg.Data, file.Data.Test)
		cfg.Gates = o.list("gate", cfg.Gates, file.Evaluate.Gates)
		cfg.Slice = o.str("slice", cfg.Slice, file.Evaluate.Slice)
		if file.Evaluate.Bootstrap != nil && !in.Given("bootstrap") {
			cfg.Resamples = *file.Evaluate.Bootstrap
		}
		if file.Evaluate.Confidence != nil && !in.Given("confidence") {
			cfg.Confidence = *file.Evaluate.Confidence
		}
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
