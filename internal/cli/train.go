package cli

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/external"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/train"
)

// runTrain is `ferry train` and the train action: the parameters, with
// ferry.yaml under them, into the train stage's config.
func runTrain(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	read, rerr := readOptions(in)
	cfg := train.StageConfig{
		Trainer: in.Enum("trainer"),
		Builtin: train.Config{
			Data: in.String("data"), Valid: in.String("valid"), Algorithm: in.Enum("algorithm"), Objective: in.Enum("objective"),
			Params: in.List("param"), Seed: int64(in.Int("seed")), Out: in.String("out"),
			Search: train.Search{Enabled: in.Bool("search"), Strategy: in.Enum("strategy"), Trials: in.Int("trials"), Folds: in.Int("folds"),
				Time: in.Duration("search-time"), Parallel: in.Int("parallel")},
		},
		Command: in.String("run"), Backend: in.Enum("backend"), Image: in.String("image"), GPUs: in.String("gpus"),
		MinGPUMemory: in.Int("min-gpu-memory"), Timeout: in.Duration("timeout"), InAction: env.Action != nil,
		Job: train.Job{Namespace: in.String("namespace"), Kubeconfig: in.String("kubeconfig"), Artifact: in.String("artifact"),
			CollectorImage: in.String("collector-image"), RegistrySecret: in.String("registry-secret"),
			UnschedulableGrace: in.Duration("unschedulable-grace"), RunAsRoot: in.Bool("run-as-root"), Nodes: in.Int("nodes"),
			NodeSelector: in.List("node-selector"), PodLabels: in.List("pod-label"), Tolerations: in.List("toleration")},
	}
	if env.Action != nil {
		cfg.Paths, cfg.Token, cfg.Event = in.List("paths"), in.String("github-token"), env.Event
	}
	if err := cmp.Or(in.Err(), rerr); err != nil {
		return nil, err
	}
	if f := env.File; f != nil {
		cfg.Builtin.Name, cfg.Builtin.Search.Metric = f.Name, f.Train.Search.Metric
		cfg.Builtin.Search.Space, cfg.Builtin.Search.Algorithms = f.Train.Search.Space, f.Train.Search.Algorithms
	}
	cfg.Builtin.Read, cfg.Builtin.GitSHA = read, gitSHA(ctx, env)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	deps := train.StageDeps{Log: env.Stdout, Getenv: env.Getenv, Auth: registryAuth("", "")}
	if env.Action != nil {
		deps.Group = env.Action.Group
	}
	res, err := train.RunStage(ctx, cfg, deps)
	if err != nil {
		return nil, err
	}
	return &Result{Outputs: res.Outputs, Summary: res.Summary}, nil
}

// runSearchTrial is a search trial's pod (ferry search-trial): it pulls
// the rows, scores its trial of the batch in FERRY_TRIAL_BATCH and writes
// the result where the kubelet keeps it as the termination message.
func runSearchTrial(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	ref, index, result := in.String("rows"), in.Int("index"), in.String("result")
	if err := in.Err(); err != nil {
		return nil, err
	}
	if i, err := strconv.Atoi(env.Getenv("JOB_COMPLETION_INDEX")); index < 0 && err == nil {
		index = i
	}
	if index < 0 {
		return nil, &input.Error{Name: "index", Missing: true, Want: "a trial's index in the batch, or a pod of an Indexed Job (JOB_COMPLETION_INDEX)"}
	}
	rows, err := external.PullRows(ctx, ref, registryAuth("", ""))
	if err != nil {
		return nil, err
	}
	out, err := train.RunTrial(ctx, rows, []byte(env.Getenv(external.TrialBatchEnv)), index)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Stdout, "%s\n", out)
	return &Result{}, os.WriteFile(result, out, 0o644)
}

// gitSHA is the commit being trained: GITHUB_SHA's head inside Actions, else
// the working directory's HEAD, else empty.
func gitSHA(ctx context.Context, env *Env) string {
	if env.Event != nil && env.Event.HeadSHA != "" {
		return env.Event.HeadSHA
	}
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
