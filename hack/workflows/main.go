// Command workflows renders the workflows `ferry init` writes, for every
// trainer, into a directory, so that `make lint` can run actionlint on them.
// It also writes a workflow that uses every action of this repository with
// every input, beside links to the action.yml files, so that actionlint
// parses those files and checks the inputs against them.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-ml/ferry/internal/stage"
	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/templates/workflows"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: workflows DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "workflows:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	out := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, trainer := range []string{"builtin", "command", "kubernetes"} {
		runsOn := "ubuntu-latest"
		if trainer == "command" {
			runsOn = "[self-hosted, gpu]"
		}
		for file, tmpl := range workflows.Workflows {
			text, err := workflows.Render(tmpl, workflows.Workflow{Version: version.Version, Trainer: trainer, RunsOn: runsOn})
			if err != nil {
				return err
			}
			name := trainer + "-" + strings.TrimSuffix(filepath.Base(file), ".yml") + ".yml"
			if err := os.WriteFile(filepath.Join(out, name), []byte(text), 0o644); err != nil {
				return err
			}
		}
	}
	return localActions(dir, out)
}

// localActions writes a workflow that uses the root action and each stage's
// action from this checkout, and links the action files beside it.
func localActions(dir, out string) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	for _, link := range []string{"action.yml", "actions"} {
		dst := filepath.Join(dir, link)
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		if err := os.Symlink(filepath.Join(root, link), dst); err != nil {
			return err
		}
	}
	var b strings.Builder
	b.WriteString("name: local actions\non: workflow_dispatch\npermissions:\n  contents: read\njobs:\n  use:\n    runs-on: ubuntu-latest\n    steps:\n")
	b.WriteString("      - uses: ./\n        with:\n          command: version\n")
	for _, st := range stage.Stages() {
		fmt.Fprintf(&b, "      - uses: ./actions/%s\n        with:\n", st.Name)
		for _, in := range st.InputParams() {
			fmt.Fprintf(&b, "          %s: %q\n", in.Name, "x")
		}
	}
	return os.WriteFile(filepath.Join(out, "local-actions.yml"), []byte(b.String()), 0o644)
}
