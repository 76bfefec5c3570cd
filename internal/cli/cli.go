package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/stage"
)

// Main runs ferry with the given arguments (without the program name) and
// returns the process's exit code. Errors are printed to env.Stderr, one line
// each, prefixed by the command; inside a GitHub Actions job they also become
// ::error annotations.
func Main(ctx context.Context, args []string, env *Env) int {
	root := NewRoot(env)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if !isReported(err) {
		reportError(env, commandPath(cmd, root), err)
	}
	return ExitCode(err)
}

func commandPath(cmd, root *cobra.Command) string {
	if cmd == nil {
		return root.Name()
	}
	return cmd.CommandPath()
}

// reportError prints every problem in err on a line of its own.
func reportError(env *Env, prefix string, err error) {
	lines := input.Problems(err)
	for _, line := range lines {
		fmt.Fprintf(env.Stderr, "%s: %s\n", prefix, line)
	}
	if env.Action == nil && env.Getenv("GITHUB_ACTIONS") == "true" {
		a := actionio.New(env.Getenv, env.Stdout)
		for _, line := range lines {
			a.Error(actionio.Annotation{Title: prefix, Message: line})
		}
	}
}

// NewRoot builds the `ferry` command tree.
func NewRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "ferry",
		Short: "Carry model changes from a pull request to production",
		Long: `ferry trains, evaluates, packages and deploys machine-learning models from GitHub pull
requests: the candidate is compared with the production model on the same data, the verdict
blocks or allows the merge, and on merge the exact image that was evaluated rolls out.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(": did you mean %q?", s[0])
			}
			return usageErrorf("%s (commands: %s)", msg, strings.Join(commandNames(), ", "))
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SuggestionsMinimumDistance = 2
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%w (see '%s --help')", err, c.CommandPath())
	})
	for _, c := range stage.Commands() {
		root.AddCommand(newCommand(env, c))
	}
	root.AddCommand(newActionCommand(env))
	return root
}

func commandNames() []string {
	var names []string
	for _, c := range stage.Commands() {
		if !c.Hidden {
			names = append(names, c.Name)
		}
	}
	return names
}

func newCommand(env *Env, c stage.Command) *cobra.Command {
	return newSubcommand(env, c, c.Name)
}

// newSubcommand builds the cobra command for c, whose handler is found by
// key: the command's path without "ferry", such as "model import".
func newSubcommand(env *Env, c stage.Command, key string) *cobra.Command {
	short := c.Short
	if _, ok := handlers[key]; !ok {
		short += " (not in this build yet)"
	}
	use := c.Name + " [flags]"
	if c.Positional != "" {
		use = c.Name + " " + strings.ToUpper(c.Positional) + " [flags]"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Hidden:  c.Hidden,
		Long:    c.Long,
		Example: c.Example,
		Args: func(cmd *cobra.Command, args []string) error {
			want := 0
			if c.Positional != "" {
				want = 1
			}
			switch {
			case len(args) > want && want == 0:
				return usageErrorf("unexpected argument %q: %s takes flags only (see '%s --help')", args[len(args)-1], cmd.CommandPath(), cmd.CommandPath())
			case len(args) != want:
				return usageErrorf("%s takes one %s argument, got %d (see '%s --help')", cmd.CommandPath(), strings.ToUpper(c.Positional), len(args), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var src input.Source = input.FlagSource{FlagSet: cmd.Flags()}
			if c.Positional != "" {
				src = positional{Source: src, name: c.Positional, value: args[0]}
			}
			cenv := *env
			src, err := withConfig(&cenv, c, src)
			if err != nil {
				return err
			}
			in := input.NewReader(src, c.FlagParams(), nil)
			res, err := handlerFor(c, key)(cmd.Context(), &cenv, in)
			if err == nil && res != nil {
				err = res.Err
			}
			return input.Rename(err, in.Describe)
		},
	}
	input.AddFlags(cmd.Flags(), c.FlagParams())
	if c.Positional != "" {
		_ = cmd.Flags().MarkHidden(c.Positional)
	}
	for _, sub := range c.Sub {
		cmd.AddCommand(newSubcommand(env, sub, key+" "+sub.Name))
	}
	return cmd
}

// positional fills one parameter from the command's positional argument.
type positional struct {
	input.Source
	name, value string
}

func (p positional) Lookup(name string) (string, bool) {
	if name == p.name {
		return p.value, true
	}
	return p.Source.Lookup(name)
}

func (p positional) Describe(name string) string {
	if name == p.name {
		return strings.ToUpper(p.name)
	}
	return p.Source.Describe(name)
}

// newActionCommand is `ferry action [STAGE]`, the entry point of the action
// image: it reads the stage's inputs from INPUT_* variables and writes its
// outputs and summary to the runner's files.
func newActionCommand(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:    "action [stage]",
		Short:  "Run a stage as a GitHub Action (the action image's entry point)",
		Hidden: true,
		Args:   cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunAction(cmd.Context(), env, args)
		},
	}
}

// RunAction runs one stage inside a GitHub Actions job. The stage is args[0]
// or, for the root action, the `command` input.
func RunAction(ctx context.Context, env *Env, args []string) error {
	a := actionio.New(env.Getenv, env.Stdout, env.ActionOptions...)
	if !a.Running() {
		return usageErrorf("ferry action runs inside a GitHub Actions job (GITHUB_ACTIONS=true); outside one, run 'ferry STAGE' with flags")
	}
	aenv := *env
	aenv.Action = a
	err := runAction(ctx, &aenv, a, args)
	if err == nil {
		return nil
	}
	var gate *compare.GateError
	if !errors.As(err, &gate) { // a failed gate annotated itself
		for _, line := range input.Problems(err) {
			a.Error(actionio.Annotation{Title: "ferry", Message: line})
		}
	}
	// Already reported as annotations; return it for the exit code only.
	return reported{err}
}

func runAction(ctx context.Context, env *Env, a *actionio.Action, args []string) error {
	// The runner starts the container in the workspace (--workdir), so
	// relative paths in inputs already resolve against it.
	ws := env.Getenv("GITHUB_WORKSPACE")
	// The Docker socket's group is kept for the docker training backend.
	uid, switched, err := actionio.RunAsOwnerOf(ws, "/var/run/docker.sock")
	if err != nil {
		return fmt.Errorf("run as the workspace's owner: %w", err)
	}
	if switched {
		a.Debug(fmt.Sprintf("ferry runs as uid %d, the owner of %s", uid, ws))
	}
	var name string
	if len(args) == 1 {
		name = args[0]
	} else {
		in := a.Inputs([]input.Spec{stage.RootCommandParam()})
		name = in.Enum("command")
		if err := in.Err(); err != nil {
			return err
		}
	}
	c, ok := stage.Lookup(name)
	if !ok || !(c.Action || c.Name == "version") {
		return usageErrorf("unknown stage %q: want one of %s", name, strings.Join(stage.RootCommandParam().Values, ", "))
	}
	ev, err := a.Event()
	if err != nil {
		return err
	}
	env.Event = ev
	src, err := withConfig(env, c, a.InputSource())
	if err != nil {
		return err
	}
	in := input.NewReader(src, c.InputParams(), a.Mask)
	res, err := handlerFor(c, c.Name)(ctx, env, in)
	if err != nil {
		return input.Rename(err, in.Describe)
	}
	if err := writeResult(a, c, res); err != nil {
		return err
	}
	return input.Rename(res.Err, in.Describe)
}

// writeResult writes a stage's outputs, in name order, and its summary.
func writeResult(a *actionio.Action, c stage.Command, res *Result) error {
	if res == nil {
		return nil
	}
	names := make([]string, 0, len(res.Outputs))
	for name := range res.Outputs {
		if !c.HasOutput(name) {
			return fmt.Errorf("internal error: %s writes output %q, which its action.yml does not declare", c.Name, name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := a.SetOutput(name, res.Outputs[name]); err != nil {
			return err
		}
	}
	if res.Summary != "" {
		if err := a.AddSummary(res.Summary); err != nil {
			return err
		}
	}
	return nil
}

// reported marks an error whose lines were already written as annotations.
type reported struct{ error }

func (r reported) Unwrap() error { return r.error }

func isReported(err error) bool {
	var r reported
	return errors.As(err, &r)
}
