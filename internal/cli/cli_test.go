package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/stage"
	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/test/actiontest"
)

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, getenv func(string) string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{Stdout: &out, Stderr: &errb, Getenv: getenv, ActionOptions: []actionio.Option{actionio.WithRandom(fixed{})}}
	code := cli.Main(context.Background(), args, env)
	return result{code, out.String(), errb.String()}
}

// laptop is the environment of a shell outside GitHub Actions.
func laptop(key string) string { return "" }

type fixed struct{}

func (fixed) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0x01
	}
	return len(p), nil
}

const delim = "ghadelimiter_01010101010101010101010101010101"

func TestHelpShowsEveryCommand(t *testing.T) {
	r := run(t, laptop, "--help")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, c := range stage.Commands() {
		if listed := strings.Contains(r.stdout, "  "+c.Name+" "); listed == c.Hidden {
			t.Errorf("ferry --help lists %s: %v; it is hidden: %v", c.Name, listed, c.Hidden)
		}
	}
	if strings.Contains(r.stdout, "action [stage]") {
		t.Error("the action image's entry point should stay hidden")
	}
}

// allCommands lists every command and subcommand with its path.
func allCommands() (paths [][]string, cmds []stage.Command) {
	var walk func(prefix []string, cs []stage.Command)
	walk = func(prefix []string, cs []stage.Command) {
		for _, c := range cs {
			p := append(append([]string(nil), prefix...), c.Name)
			paths, cmds = append(paths, p), append(cmds, c)
			walk(p, c.Sub)
		}
	}
	walk(nil, stage.Commands())
	return paths, cmds
}

func TestCommandHelp(t *testing.T) {
	paths, cmds := allCommands()
	for i, c := range cmds {
		path := paths[i]
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			r := run(t, laptop, append(path, "--help")...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "Examples:\n") || !strings.Contains(r.stdout, "ferry "+strings.Join(path, " ")) {
				t.Errorf("help has no example:\n%s", r.stdout)
			}
			for _, p := range c.FlagParams() {
				if p.Name != c.Positional && !strings.Contains(r.stdout, "--"+p.Name+" ") {
					t.Errorf("help does not explain --%s", p.Name)
				}
			}
		})
	}
}

func TestBadInvocations(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"trian"}, 2, `ferry: unknown command "trian": did you mean "train"? (commands: train, evaluate, package, deploy, monitor, serve, predict, metrics, model, demo, init, version)`},
		{[]string{"train", "--bogus"}, 2, `ferry train: unknown flag: --bogus (see 'ferry train --help')`},
		{[]string{"train", "extra"}, 2, `ferry train: unexpected argument "extra": ferry train takes flags only (see 'ferry train --help')`},
		{[]string{"deploy", "--replicas", "two"}, 2, `ferry deploy: --replicas: "two" is not valid: want a whole number such as 3`},
		{[]string{"metrics"}, 2, `ferry metrics: --predictions is required: CSV file with label and score columns.`},
		{[]string{"monitor", "--psi", "0"}, 2, "ferry monitor: --url is required: a ferry-serve's base URL, such as http://ranker.shop:8080; or name a Kubernetes deployment with --name, or a Prometheus server with --prometheus\n" +
			`ferry monitor: --psi: "0" is not valid: want a positive index such as 0.2`},
		{[]string{"init", "--trainer", "spark"}, 2, `ferry init: --trainer: "spark" is not valid: want one of builtin, command, kubernetes`},
		{[]string{"deploy", "--target", "kubernetes"}, 2, `ferry deploy: --image is required: the image to deploy: IMAGE:TAG, IMAGE@DIGEST or a repository`},
		{[]string{"deploy", "--target", "kubernetes", "--stop", "--image", "x"}, 2, `ferry deploy: --stop: "true" is not valid: want false with target kubernetes: it stops a local deployment (target local)`},
		{[]string{"deploy", "--target", "kubernetes", "--image", "x", "--toleration", "gpu:NoExecut"}, 2, `ferry deploy: --toleration: "gpu:NoExecut" is not valid: want KEY[=VALUE][:EFFECT] with EFFECT NoSchedule, PreferNoSchedule or NoExecute, not "NoExecut"`},
		{[]string{"deploy", "--target", "kubernetes", "--image", "x", "--toleration", "bad key=x"}, 2, `ferry deploy: --toleration: "bad key=x" is not valid: want KEY[=VALUE][:EFFECT] with a valid taint key; "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		{[]string{"train", "--data", "x.csv", "--param", "tree=3"}, 2, `ferry train: unknown gbdt parameter "tree": known are colsample, early-stopping, eval-at, gamma, lambda, learning-rate, max-bin, max-depth, max-leaves, min-child-weight, min-data-in-leaf, subsample, threads, trees, truncation-level`},
		{[]string{"train", "--data", "x.csv", "--delimiter", ";;"}, 2, `ferry train: --delimiter: ";;" is not valid: want one character such as ; or |, or tab`},
		{[]string{"train", "--data", "missing.csv", "--label", "y"}, 3, `ferry train: read data: open missing.csv: no such file or directory`},
		{[]string{"action"}, 2, `ferry action: ferry action runs inside a GitHub Actions job (GITHUB_ACTIONS=true); outside one, run 'ferry STAGE' with flags`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, laptop, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			if diff := cmp.Diff(tc.stderr+"\n", r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	r := run(t, laptop, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ferry "+version.Version+" (commit ") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	r = run(t, laptop, "version", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"version": "`+version.Version+`"`) {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}

// A command run from a workflow's `run:` step also annotates its errors.
func TestErrorsAnnotateInsideActions(t *testing.T) {
	env := actiontest.NewEnv(t, map[string]string{"GITHUB_ACTIONS": "true"})
	r := run(t, env.Getenv, "deploy", "--canary", "ten")
	if r.code != 2 {
		t.Errorf("exit %d", r.code)
	}
	want := `::error title=ferry deploy::--canary: "ten" is not valid: want a whole number such as 3` + "\n"
	if r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}

func TestActionVersion(t *testing.T) {
	runner := actiontest.NewRunner(t, `{}`)
	env := actiontest.NewEnv(t, runner.Vars("push", map[string]string{"command": "version"}))
	r := run(t, env.Getenv, "action")
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	info := version.Get()
	wantOut := "commit<<" + delim + "\n" + info.Commit + "\n" + delim + "\n" +
		"version<<" + delim + "\n" + info.Version + "\n" + delim + "\n"
	if diff := cmp.Diff(wantOut, actiontest.ReadFile(t, runner.Output)); diff != "" {
		t.Errorf("GITHUB_OUTPUT (-want +got):\n%s", diff)
	}
	wantSummary := "### ferry\n\n`" + info.String() + "`\n"
	if diff := cmp.Diff(wantSummary, actiontest.ReadFile(t, runner.Summary)); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// validValue is a value each kind accepts, standing in for what a workflow passes.
func validValue(s input.Spec) string {
	if s.Default != "" {
		return s.Default
	}
	switch s.Kind {
	case input.Int:
		return "1"
	case input.Float:
		return "0.5"
	case input.Bool:
		return "true"
	case input.Duration:
		return "1m"
	case input.Enum:
		return s.Values[0]
	}
	return "value"
}

// TestStagesReadTheirActionInputs runs every stage the way its action.yml
// does, with every declared input set: the strict environment fails the test
// on any input that is read but not declared, and the check below on any
// input that is declared but never read.
func TestStagesReadTheirActionInputs(t *testing.T) {
	for _, st := range stage.Stages() {
		t.Run(st.Name, func(t *testing.T) {
			runner := actiontest.NewRunner(t, `{}`)
			inputs := map[string]string{}
			var want []string
			for _, s := range st.InputParams() {
				inputs[s.Name] = validValue(s)
				want = append(want, "INPUT_"+strings.ToUpper(s.Name))
			}
			if _, ok := inputs["config"]; ok { // read first: it must be a ferry.yaml
				inputs["config"] = filepath.Join(t.TempDir(), "ferry.yaml")
				if err := os.WriteFile(inputs["config"], []byte("name: shop-ranker\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := actiontest.NewEnv(t, runner.Vars("pull_request", inputs))
			r := run(t, env.Getenv, "action", st.Name)
			if r.code == 1 {
				t.Fatalf("exit 1: %s%s", r.stdout, r.stderr)
			}
			got := env.Read("INPUT_")
			if diff := cmp.Diff(sorted(want), got); diff != "" {
				t.Errorf("inputs read: declared (-) vs read (+):\n%s", diff)
			}
		})
	}
}

func TestActionReportsEveryBadInput(t *testing.T) {
	runner := actiontest.NewRunner(t, `{}`)
	st, _ := stage.Lookup("deploy")
	inputs := map[string]string{}
	for _, s := range st.InputParams() {
		inputs[s.Name] = s.Default
	}
	inputs["replicas"], inputs["timeout"], inputs["github-token"] = "three", "soon", "ghs_abc"
	inputs["registry-password"] = "" // the runner would put the job's token here; it would be masked too
	env := actiontest.NewEnv(t, runner.Vars("push", inputs))
	r := run(t, env.Getenv, "action", "deploy")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	want := "::add-mask::ghs_abc\n" +
		`::error title=ferry::input "replicas": "three" is not valid: want a whole number such as 3` + "\n" +
		`::error title=ferry::input "timeout": "soon" is not valid: want a duration such as 90s, 10m or 1h30m` + "\n"
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if got := actiontest.ReadFile(t, runner.Output); got != "" {
		t.Errorf("a failed stage wrote outputs: %q", got)
	}
}

func TestActionUnknownStage(t *testing.T) {
	runner := actiontest.NewRunner(t, `{}`)
	env := actiontest.NewEnv(t, runner.Vars("push", map[string]string{"command": "retrain"}))
	r := run(t, env.Getenv, "action")
	if r.code != 2 || !strings.Contains(r.stdout, `::error title=ferry::input "command": "retrain" is not valid: want one of train, evaluate, package, deploy, monitor, version`) {
		t.Errorf("exit %d, log %q", r.code, r.stdout)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// Inside the action's container there is no shell or Python: the host
// backend refuses and says what works instead (the generated workflows
// failed there with "fork/exec /bin/sh"). The local target's smoke test is
// in test/integration (TestSelfTestUnderAct).
func TestActionRefusesWhatCannotWorkInItsContainer(t *testing.T) {
	for _, c := range []struct {
		stage  string
		inputs map[string]string
		want   string
	}{
		{"train", map[string]string{"trainer": "command", "run": "python train.py", "backend": "host", "out": "model"},
			`::error title=ferry::input "backend": "host" is not valid: want docker with image: YOUR-TRAINING-IMAGE`},
	} {
		t.Run(c.stage, func(t *testing.T) {
			runner := actiontest.NewRunner(t, `{}`)
			st, _ := stage.Lookup(c.stage)
			inputs := map[string]string{}
			for _, s := range st.InputParams() {
				inputs[s.Name] = s.Default
			}
			maps.Copy(inputs, c.inputs)
			env := actiontest.NewEnv(t, runner.Vars("push", inputs))
			r := run(t, env.Getenv, "action", c.stage)
			if r.code != 2 || !strings.Contains(r.stdout, c.want) {
				t.Errorf("exit %d, log:\n%s\nwant exit 2 and %q", r.code, r.stdout, c.want)
			}
		})
	}
}

// The README's exit-code table is what ferry does: its rows are the codes
// ExitCode returns, and one invocation of each kind exits with its code.
func TestExitCodesAsDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "## Exit codes")
	if !ok {
		t.Fatal("README.md has no Exit codes section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	var documented []int
	for _, line := range strings.Split(table, "\n") {
		var code int
		if _, err := fmt.Sscanf(line, "| %d |", &code); err == nil {
			documented = append(documented, code)
		}
	}
	if want := []int{cli.ExitOK, cli.ExitGate, cli.ExitUsage, cli.ExitError}; !slices.Equal(documented, want) {
		t.Errorf("README documents exit codes %v, ferry has %v", documented, want)
	}
	champion, candidate, test := trainPair(t)
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"evaluate", "--candidate", candidate, "--champion", champion, "--data", test, "--bootstrap", "20"}, cli.ExitOK},
		{[]string{"evaluate", "--candidate", champion, "--champion", candidate, "--data", test, "--bootstrap", "20", "--gate", "auc max-drop 0.1%"}, cli.ExitGate},
		{[]string{"evaluate", "--candidate", candidate, "--data", test, "--gate", "auc > 0.8"}, cli.ExitUsage},
		{[]string{"evaluate", "--candidate", filepath.Join(t.TempDir(), "none"), "--data", test}, cli.ExitError},
	} {
		if r := run(t, laptop, c.args...); r.code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, r.code, c.code, r.stderr)
		}
	}
}

// An error found deep in a stage names the parameter as the user met it:
// the train action's data has a text value in a numeric column, and the
// reader's advice names the input "categorical", where the command line
// would say --categorical.
func TestActionErrorsNameInputs(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "train.csv")
	if err := os.WriteFile(csv, []byte("price,clicked\n1,0\nfree,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runner := actiontest.NewRunner(t, `{}`)
	env := actiontest.NewEnv(t, runner.Vars("push", actiontest.StageInputs("train", map[string]string{
		"data": csv, "label": "clicked", "out": filepath.Join(dir, "model")})))
	r := run(t, env.Getenv, "action", "train")
	if r.code == 0 || !strings.Contains(r.stdout, `to read it as categories, name price in input \"categorical\"`) && !strings.Contains(r.stdout, `to read it as categories, name price in input "categorical"`) {
		t.Errorf("exit %d; the action's error does not name the input:\n%s", r.code, r.stdout)
	}
	cr := run(t, func(string) string { return "" }, "train", "--data", csv, "--label", "clicked", "--out", filepath.Join(dir, "model"))
	if !strings.Contains(cr.stderr, "to read it as categories, name price in --categorical") {
		t.Errorf("the command line's error does not name the flag:\n%s", cr.stderr)
	}
}
