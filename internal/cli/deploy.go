package cli

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/input"
)

// runDeploy is `ferry deploy` and the deploy action: the parameters into
// the stage's Config, with the recheck against the current champion wired
// in from the evaluate side.
func runDeploy(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	cfg := deploy.Config{
		Target: in.Enum("target"), Image: in.String("image"), Name: in.String("name"), Namespace: in.String("namespace"),
		Kubeconfig: in.String("kubeconfig"), CreateNamespace: in.Bool("create-namespace"), Promote: in.Bool("promote"),
		Stop: in.Bool("stop"), Replicas: in.Int("replicas"), MaxReplicas: in.Int("max-replicas"), GPUs: in.Int("replica-gpus"),
		Canary: in.Int("canary"), PullRequest: in.Int("pull-request"), Timeout: in.Duration("timeout"), Analysis: in.Duration("analysis"),
		UnschedulableGrace: in.Duration("unschedulable-grace"), CPU: in.String("cpu"), Memory: in.String("memory"),
		LocalDir: in.String("local-dir"), Recheck: in.Bool("recheck"),
		PodLabels: in.List("pod-label"), NodeSelector: in.List("node-selector"), Tolerations: in.List("toleration"),
	}
	var user, password string
	if env.Action != nil {
		cfg.Event, cfg.Environment, cfg.Token = env.Event, in.String("environment"), in.String("github-token")
		user, password = in.String("registry-username"), in.String("registry-password")
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	auth := registryAuth(user, password)
	deps := deploy.Deps{
		Stdout: env.Stdout, Action: env.Action, Remote: []remote.Option{auth},
		Log: func(format string, args ...any) { fmt.Fprintf(env.Stderr, "ferry deploy: "+format+"\n", args...) },
		Recheck: func(ctx context.Context, pinned name.Digest, logf func(string, ...any)) (*deploy.Outcome, error) {
			return recheck(ctx, in, env, auth, pinned, logf)
		},
	}
	out, err := deploy.Run(ctx, cfg, deps)
	if err != nil || out == nil {
		return nil, err
	}
	return &Result{Outputs: out.Outputs, Summary: out.Summary, Err: out.Err}, nil
}
