package actionio_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/test/actiontest"
)

// zeros is a random source that always yields the same bytes, so the
// delimiters in GITHUB_OUTPUT are known and the file can be compared byte for byte.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xab
	}
	return len(p), nil
}

const delim = "ghadelimiter_abababababababababababababababab"

func newAction(t *testing.T, inputs map[string]string) (*actionio.Action, *actiontest.Runner, *bytes.Buffer) {
	t.Helper()
	r := actiontest.NewRunner(t, `{}`)
	env := actiontest.NewEnv(t, r.Vars("push", inputs))
	var log bytes.Buffer
	return actionio.New(env.Getenv, &log, actionio.WithRandom(zeros{})), r, &log
}

func TestSetOutputFile(t *testing.T) {
	a, r, _ := newAction(t, nil)
	for _, kv := range [][2]string{
		{"digest", "sha256:0123"},
		{"report", "line one\nline two\n"},
		{"empty", ""},
	} {
		if err := a.SetOutput(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	want := "digest<<" + delim + "\nsha256:0123\n" + delim + "\n" +
		"report<<" + delim + "\nline one\nline two\n\n" + delim + "\n" +
		"empty<<" + delim + "\n\n" + delim + "\n"
	if diff := cmp.Diff(want, actiontest.ReadFile(t, r.Output)); diff != "" {
		t.Errorf("GITHUB_OUTPUT (-want +got):\n%s", diff)
	}
	got := actiontest.ParseOutputs(t, actiontest.ReadFile(t, r.Output))
	if diff := cmp.Diff(map[string]string{"digest": "sha256:0123", "report": "line one\nline two\n", "empty": ""}, got); diff != "" {
		t.Errorf("outputs as the runner reads them (-want +got):\n%s", diff)
	}
}

// A value that tries to close go-githubactions' fixed delimiter, or to start
// its own block, stays one value.
func TestSetOutputCannotInject(t *testing.T) {
	r := actiontest.NewRunner(t, `{}`)
	env := actiontest.NewEnv(t, r.Vars("push", nil))
	a := actionio.New(env.Getenv, &bytes.Buffer{}) // real random delimiters
	evil := "x\n_GitHubActionsFileCommandDelimeter_\nverdict=pass\nverdict<<EOF\npass\nEOF"
	if err := a.SetOutput("title", evil); err != nil {
		t.Fatal(err)
	}
	got := actiontest.ParseOutputs(t, actiontest.ReadFile(t, r.Output))
	if diff := cmp.Diff(map[string]string{"title": evil}, got); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

func TestSetOutputRefusesItsDelimiterAndBadNames(t *testing.T) {
	a, r, _ := newAction(t, nil)
	if err := a.SetOutput("x", "before\n"+delim+"\nx=forged"); err == nil {
		t.Error("a value containing its delimiter was written")
	}
	for _, name := range []string{"", "a\nb", "a=b", "9lives", "a<<b"} {
		if err := a.SetOutput(name, "v"); err == nil {
			t.Errorf("output name %q was accepted", name)
		}
	}
	if got := actiontest.ReadFile(t, r.Output); got != "" {
		t.Errorf("refused outputs still wrote %q", got)
	}
}

func TestAddSummary(t *testing.T) {
	a, r, _ := newAction(t, nil)
	if err := a.AddSummary("## ferry\n\n| a | b |\n|---|---|\n| 1 | 2 |"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddSummary("second\n"); err != nil {
		t.Fatal(err)
	}
	want := "## ferry\n\n| a | b |\n|---|---|\n| 1 | 2 |\nsecond\n"
	if diff := cmp.Diff(want, actiontest.ReadFile(t, r.Summary)); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	big := strings.Repeat("x", actionio.MaxSummaryBytes)
	if err := a.AddSummary(big); !errors.Is(err, actionio.ErrSummaryTooLarge) {
		t.Errorf("AddSummary(1 MiB) = %v, want ErrSummaryTooLarge", err)
	}
	if got := actiontest.ReadFile(t, r.Summary); got != want {
		t.Errorf("a refused summary changed the file: now %d bytes", len(got))
	}
}

func TestOutsideActions(t *testing.T) {
	env := actiontest.NewEnv(t, map[string]string{"GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_ACTIONS": ""})
	a := actionio.New(env.Getenv, &bytes.Buffer{})
	if a.Running() {
		t.Error("Running() with GITHUB_ACTIONS unset")
	}
	if err := a.SetOutput("x", "y"); err == nil || !strings.Contains(err.Error(), "GITHUB_OUTPUT is not set") {
		t.Errorf("SetOutput outside Actions: %v", err)
	}
}

func TestLogCommands(t *testing.T) {
	a, _, log := newAction(t, nil)
	end := a.Group("Train 100 trees")
	a.Error(actionio.Annotation{Title: "gate failed", File: "ferry.yaml", Line: 12, Col: 3, Message: "auc 0.71 < 0.80\nsee the report"})
	a.Warning(actionio.Annotation{Message: "100% of rows, a:b"})
	a.Notice(actionio.Annotation{Title: "champion", Message: "none yet"})
	end()
	want := "::group::Train 100 trees\n" +
		"::error col=3,file=ferry.yaml,line=12,title=gate failed::auc 0.71 < 0.80%0Asee the report\n" +
		"::warning::100%25 of rows, a:b\n" +
		"::notice title=champion::none yet\n" +
		"::endgroup::\n"
	if diff := cmp.Diff(want, log.String()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func TestSecretInputsAreMasked(t *testing.T) {
	a, _, log := newAction(t, map[string]string{
		"github-token": "ghs_secret123",
		"password":     "line1\nline2",
		"replicas":     "3",
	})
	specs := []input.Spec{
		{Name: "github-token", Kind: input.String, Secret: true, Usage: "token"},
		{Name: "password", Kind: input.String, Secret: true, Usage: "multi-line secret"},
		{Name: "replicas", Kind: input.Int, Usage: "replicas"},
	}
	in := a.Inputs(specs)
	if got := in.String("github-token"); got != "ghs_secret123" {
		t.Errorf("token = %q", got)
	}
	in.String("password")
	if got := in.Int("replicas"); got != 3 {
		t.Errorf("replicas = %d", got)
	}
	if err := in.Err(); err != nil {
		t.Fatal(err)
	}
	want := "::add-mask::ghs_secret123\n::add-mask::line1%0Aline2\n::add-mask::line1\n::add-mask::line2\n"
	if diff := cmp.Diff(want, log.String()); diff != "" {
		t.Errorf("masks (-want +got):\n%s", diff)
	}
}

func TestInputErrorsNameTheInput(t *testing.T) {
	a, _, _ := newAction(t, map[string]string{"replicas": "three", "data": ""})
	in := a.Inputs([]input.Spec{
		{Name: "replicas", Kind: input.Int, Usage: "Replicas."},
		{Name: "data", Kind: input.String, Required: true, Usage: "Training data."},
	})
	in.Int("replicas")
	in.String("data")
	want := `input "replicas": "three" is not valid: want a whole number such as 3` + "\n" +
		`input "data" is required: Training data.`
	if err := in.Err(); err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

func TestEvent(t *testing.T) {
	for _, tc := range []struct {
		file, name string
		want       actionio.Event
	}{
		{"pull_request.json", "pull_request", actionio.Event{PullRequest: 5,
			HeadSHA: strings.Repeat("c", 40), BaseSHA: strings.Repeat("d", 40), HeadRef: "more-trees", BaseRef: "main"}},
		{"pull_request_fork.json", "pull_request", actionio.Event{PullRequest: 17, Fork: true,
			HeadSHA: strings.Repeat("a", 40), BaseSHA: strings.Repeat("b", 40), HeadRef: "feature", BaseRef: "main"}},
		{"push.json", "push", actionio.Event{HeadSHA: strings.Repeat("2", 40), BaseSHA: strings.Repeat("1", 40)}},
		{"workflow_run_fork.json", "workflow_run", actionio.Event{ForkHead: "someone:patch-1", HeadSHA: strings.Repeat("3", 40), HeadRef: "patch-1"}},
		{"issue_comment.json", "issue_comment", actionio.Event{PullRequest: 9}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			payload, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			r := actiontest.NewRunner(t, string(payload))
			env := actiontest.NewEnv(t, r.Vars(tc.name, nil))
			got, err := actionio.New(env.Getenv, &bytes.Buffer{}).Event()
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Name, want.Repository, want.ServerURL, want.APIURL = tc.name, "shop/ranker", "https://github.com", "https://api.github.com"
			want.RunID, want.RunAttempt, want.RunURL = 42, 1, "https://github.com/shop/ranker/actions/runs/42"
			want.SHA, want.Ref, want.Actor, want.Workspace = "0000000000000000000000000000000000000001", "refs/heads/main", "octocat", r.Workspace
			if diff := cmp.Diff(want, *got); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventBadPayload(t *testing.T) {
	r := actiontest.NewRunner(t, `{"pull_request": `)
	env := actiontest.NewEnv(t, r.Vars("pull_request", nil))
	if _, err := actionio.New(env.Getenv, &bytes.Buffer{}).Event(); err == nil {
		t.Error("a truncated event payload was accepted")
	}
}
