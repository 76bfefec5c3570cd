package stage

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-ml/ferry/internal/input"
)

// Output is one value a stage writes to the runner's GITHUB_OUTPUT.
type Output struct {
	Name        string
	Description string
}

// Permission is one `permissions:` scope a stage's token needs, and why.
type Permission struct {
	Scope  string // contents, pull-requests, checks, packages, deployments, id-token
	Access string // read or write
	Why    string
}

// Command is one `ferry` subcommand.
type Command struct {
	Name    string
	Short   string // one line for the command list
	Long    string // a paragraph for --help
	Example string // shell lines for --help
	Params  []input.Spec
	// Action is true for the pipeline stages that run as GitHub Actions.
	Action      bool
	ActionTitle string // the action's display name
	Outputs     []Output
	Permissions []Permission
	// Positional names the parameter that the command's one positional
	// argument fills, as in `ferry model import FILE`; "" for none.
	Positional string
	// Sub are subcommands, such as `ferry model import`.
	Sub []Command
	// Hidden commands are ferry's own plumbing (what a trial's pod runs),
	// left out of --help.
	Hidden bool
}

// FlagParams returns the parameters that appear as flags.
func (c Command) FlagParams() []input.Spec { return filter(c.Params, input.Spec.Flag) }

// InputParams returns the parameters that appear as action inputs.
func (c Command) InputParams() []input.Spec { return filter(c.Params, input.Spec.Input) }

func filter(specs []input.Spec, keep func(input.Spec) bool) []input.Spec {
	var out []input.Spec
	for _, s := range specs {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// HasParam reports whether name is one of the command's declared parameters.
func (c Command) HasParam(name string) bool {
	return slices.ContainsFunc(c.Params, func(s input.Spec) bool { return s.Name == name })
}

// HasOutput reports whether name is one of the command's declared outputs.
func (c Command) HasOutput(name string) bool {
	return slices.ContainsFunc(c.Outputs, func(o Output) bool { return o.Name == name })
}

// Commands returns every ferry command in the order --help lists them.
func Commands() []Command {
	return []Command{
		train(), evaluate(), packageCmd(), deploy(), monitor(),
		serveCmd(), predict(), metrics(), model(), demo(), initCmd(), versionCmd(), searchTrial(),
	}
}

// Stages returns the commands that run as GitHub Actions, in pipeline order.
func Stages() []Command {
	var out []Command
	for _, c := range Commands() {
		if c.Action {
			out = append(out, c)
		}
	}
	return out
}

// Lookup returns the command called name.
func Lookup(name string) (Command, bool) {
	for _, c := range Commands() {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// StageNames lists the pipeline stages' names, for the root action's
// `command` input.
func StageNames() []string {
	var names []string
	for _, s := range Stages() {
		names = append(names, s.Name)
	}
	return names
}

// RootCommandParam is the root action's `command` input: which stage to run.
func RootCommandParam() input.Spec {
	return input.Spec{
		Name: "command", Kind: input.Enum, Required: true, Surface: input.InputOnly,
		Values: append(StageNames(), "version"),
		Usage:  "The stage to run.",
	}
}

// RootInputs is the root action's inputs: `command` and the union of the
// stages' inputs. An input shared by several stages must have the same kind in
// each; when their defaults differ, the root action declares none and each
// stage applies its own (an input left out arrives empty).
func RootInputs() ([]input.Spec, error) {
	specs := []input.Spec{RootCommandParam()}
	index := map[string]int{}
	defaults := map[string][]string{}
	usages := map[string][]string{}
	for _, st := range Stages() {
		for _, s := range st.InputParams() {
			defaults[s.Name] = append(defaults[s.Name], fmt.Sprintf("%s for %s", cmp.Or(s.Default, "none"), st.Name))
			usages[s.Name] = append(usages[s.Name], st.Name+": "+s.Usage)
			i, ok := index[s.Name]
			if !ok {
				index[s.Name] = len(specs)
				specs = append(specs, s)
				continue
			}
			prev := specs[i]
			if prev.Kind != s.Kind || prev.Required != s.Required || prev.Secret != s.Secret || !slices.Equal(prev.Values, s.Values) {
				return nil, fmt.Errorf("input %q is declared with another kind by %s", s.Name, st.Name)
			}
			if prev.Default != s.Default {
				specs[i].Default = ""
			}
		}
	}
	for i, s := range specs {
		if u := usages[s.Name]; len(u) > 1 && !sameAfterColon(u) {
			specs[i].Usage = strings.Join(u, " ")
		}
		if s.Default == "" && len(defaults[s.Name]) > 1 && !allEmpty(defaults[s.Name]) {
			specs[i].Usage += " Default: " + strings.Join(defaults[s.Name], ", ") + "."
		}
	}
	return specs, nil
}

// sameAfterColon reports whether every "stage: usage" line has one usage.
func sameAfterColon(lines []string) bool {
	first := lines[0][strings.Index(lines[0], ": "):]
	for _, l := range lines[1:] {
		if l[strings.Index(l, ": "):] != first {
			return false
		}
	}
	return true
}

func allEmpty(defaults []string) bool {
	for _, d := range defaults {
		if !strings.HasPrefix(d, "none for ") {
			return false
		}
	}
	return true
}

// RootOutputs is the union of the stages' outputs plus the version command's.
func RootOutputs() []Output {
	var outs []Output
	seen := map[string]bool{}
	for _, st := range append(Stages(), versionCmd()) {
		for _, o := range st.Outputs {
			if !seen[o.Name] {
				seen[o.Name] = true
				outs = append(outs, o)
			}
		}
	}
	return outs
}
