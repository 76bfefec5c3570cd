package cli

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/monitor"
)

// runMonitor is `ferry monitor`: the parameters, with ferry.yaml's monitor
// section under them, into the stage's Config; the verdict on stdout.
func runMonitor(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	cfg := monitor.Config{
		Model: in.String("model"), URL: in.String("url"), Name: in.String("name"), Namespace: in.String("namespace"),
		Kubeconfig: in.String("kubeconfig"), PSI: in.Float("psi"), PValue: in.Float("p-value"), Prometheus: in.String("prometheus"), Selector: in.String("selector"), Window: in.Duration("window"),
		MinRows: in.Int("min-rows"), Report: in.String("report"), JSON: in.String("json"), Timeout: in.Duration("timeout"),
	}
	if env.Action != nil {
		cfg.Event, cfg.Token, cfg.Issue = env.Event, in.String("github-token"), in.Bool("issue")
		cfg.RetrainWorkflow, cfg.RetrainRef = in.String("retrain-workflow"), in.String("retrain-ref")
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if env.File != nil {
		cfg.FeaturePSI = env.File.Monitor.Features
		if cfg.URL == "" && cfg.Name == "" && cfg.Prometheus == "" {
			cfg.Name = env.File.Name // ferry deploy's default deployment name
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res, err := monitor.Run(ctx, cfg, monitor.Deps{Remote: []remote.Option{registryAuth("", "")}})
	if err != nil {
		return nil, err
	}
	fmt.Fprint(env.Stdout, res.Text())
	if res.IssueURL != "" {
		fmt.Fprintf(env.Stdout, "issue: %s\n", res.IssueURL)
	}
	if res.Dispatched != "" {
		fmt.Fprintf(env.Stdout, "retraining started: %s\n", res.Dispatched)
	}
	return &Result{Outputs: res.Outputs(), Summary: res.Markdown(), Err: res.Err}, nil
}
