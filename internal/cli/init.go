package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/templates/workflows"
)

// actionlintConfig names the runner labels the command trainer's workflows use.
const actionlintConfig = ".github/actionlint.yaml"

// runInit is `ferry init`: it writes a commented ferry.yaml and the pull
// request and merge workflows for the chosen trainer into a repository,
// refusing to overwrite any file unless --force is given. Either every
// file is written or none.
func runInit(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	dir, trainer, force := in.String("dir"), in.Enum("trainer"), in.Bool("force")
	if err := in.Err(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return nil, usageErrorf("%s is not the root of a git repository (no .git): run `git init` there first, or pass --dir", dir)
	}
	w := workflows.Workflow{Version: version.Version, Trainer: trainer, RunsOn: "ubuntu-latest"}
	if trainer == "command" {
		w.RunsOn = "[self-hosted, gpu]"
	}
	files := map[string]string{"ferry.yaml": workflows.ConfigTemplate}
	for file, tmpl := range workflows.Workflows {
		// Training code of your own never runs for forks, so there is no
		// model for the fork report to evaluate.
		if tmpl == "fork-report.yml.tmpl" && trainer != "builtin" {
			continue
		}
		files[file] = tmpl
	}
	names := slices.Sorted(maps.Keys(files))
	contents := map[string]string{}
	if trainer == "command" {
		// actionlint knows GitHub's hosted labels only: say which labels the
		// self-hosted GPU runner carries, so the workflows lint clean.
		names = append(names, actionlintConfig)
		contents[actionlintConfig] = "# actionlint: the labels of this repository's self-hosted runners (written by `ferry init`).\nself-hosted-runner:\n  labels:\n    - gpu\n"
	}
	var existing []string
	for _, name := range names {
		if name == actionlintConfig {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				existing = append(existing, name)
			}
			continue
		}
		text, err := workflows.Render(files[name], w)
		if err != nil {
			return nil, err
		}
		if name == "ferry.yaml" {
			if _, err := config.Parse([]byte(text)); err != nil {
				return nil, fmt.Errorf("the ferry.yaml template does not parse: %w", err) // a bug in ferry, not the user's
			}
		}
		contents[name] = text
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			existing = append(existing, name)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if len(existing) > 0 && !force {
		return nil, usageErrorf("%s already exist%s in %s: nothing was written; pass --force to overwrite",
			strings.Join(existing, ", "), map[bool]string{true: "s", false: ""}[len(existing) == 1], dir)
	}
	// Write every file beside its target first, then rename them all, so
	// that a failure part way leaves the repository as it was.
	var tmps []string
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}()
	for _, name := range names {
		target := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return nil, err
		}
		tmp := target + ".ferry-init"
		if err := os.WriteFile(tmp, []byte(contents[name]), 0o644); err != nil {
			return nil, err
		}
		tmps = append(tmps, tmp)
	}
	for i, name := range names {
		if err := os.Rename(tmps[i], filepath.Join(dir, name)); err != nil {
			return nil, err
		}
	}
	tmps = nil
	for _, name := range names {
		fmt.Fprintf(env.Stdout, "wrote %s\n", filepath.Join(dir, name))
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
