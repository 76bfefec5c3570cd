package cli

import (
	"context"
	"fmt"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/templates/workflows"
)

// runInit is `ferry init` (workflows.Init).
func runInit(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	dir, trainer, force := in.String("dir"), in.Enum("trainer"), in.Bool("force")
	if err := in.Err(); err != nil {
		return nil, err
	}
	written, err := workflows.Init(dir, trainer, version.Version, force)
	if err != nil {
		return nil, err
	}
	for _, f := range written {
		fmt.Fprintf(env.Stdout, "wrote %s\n", f)
	}
	fmt.Fprintf(env.Stdout, `next:
  1. edit ferry.yaml: your data paths, label and group columns, and the gates
  2. commit and push; open a pull request that changes the model: ferry trains, evaluates and comments
  3. protect main: require the check run "ferry / <model>"
  4. add the secret KUBECONFIG and the environment "production" for deploy.yml
     (the kubernetes trainer: a separate secret TRAINING_KUBECONFIG for a Job-only role; see docs/security.md)
`)
	return &Result{}, nil
}
