package workflows

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/input"
)

// actionlintConfig names the runner labels the command trainer's workflows use.
const actionlintConfig = ".github/actionlint.yaml"

// Init writes a commented ferry.yaml and the pull request and merge
// workflows for the trainer ("builtin", "command" or "kubernetes") into the
// repository at dir, and returns the files written. It refuses to
// overwrite any file unless force. Either every file is written or none.
func Init(dir, trainer, version string, force bool) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return nil, &input.ParamError{Name: "dir", Usage: true,
			Format: strings.ReplaceAll(dir, "%", "%%") + " is not the root of a git repository (no .git): run `git init` there first, or give another with %s"}
	}
	w := Workflow{Version: version, Trainer: trainer, RunsOn: "ubuntu-latest"}
	if trainer == "command" {
		w.RunsOn = "[self-hosted, gpu]"
	}
	files := map[string]string{"ferry.yaml": ConfigTemplate}
	for file, tmpl := range Workflows {
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
		text, err := Render(files[name], w)
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
		return nil, &input.ParamError{Name: "force", Usage: true, Format: strings.ReplaceAll(fmt.Sprintf("%s already exist%s in %s: nothing was written; ",
			strings.Join(existing, ", "), map[bool]string{true: "s", false: ""}[len(existing) == 1], dir), "%", "%%") + "set %s to overwrite"}
	}
	if err := writeAll(dir, names, contents); err != nil {
		return nil, err
	}
	written := make([]string, len(names))
	for i, name := range names {
		written[i] = filepath.Join(dir, name)
	}
	return written, nil
}

// writeAll writes every file beside its target first, then renames them
// all, so that a failure part way leaves the repository as it was.
func writeAll(dir string, names []string, contents map[string]string) error {
	var tmps []string
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}()
	for _, name := range names {
		target := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		tmp := target + ".ferry-init"
		if err := os.WriteFile(tmp, []byte(contents[name]), 0o644); err != nil {
			return err
		}
		tmps = append(tmps, tmp)
	}
	for i, name := range names {
		if err := os.Rename(tmps[i], filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	tmps = nil
	return nil
}
