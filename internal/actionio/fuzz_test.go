package actionio_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/test/actiontest"
)

// Whatever a value holds, the runner reads back exactly one output with
// exactly that value.
func FuzzSetOutput(f *testing.F) {
	for _, seed := range []string{"", "plain", "a\nb", "x\n_GitHubActionsFileCommandDelimeter_\ny=1", "v<<EOF\nEOF", "\r\n", "ghadelimiter_"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := actiontest.NewRunner(t, `{}`)
		env := actiontest.NewEnv(t, r.Vars("push", nil))
		a := actionio.New(env.Getenv, &bytes.Buffer{})
		if err := a.SetOutput("out", value); err != nil {
			t.Fatal(err)
		}
		got := actiontest.ParseOutputs(t, actiontest.ReadFile(t, r.Output))
		// The runner splits lines on \n and drops a trailing \r of each.
		if len(got) != 1 {
			t.Fatalf("one value became %d outputs: %q", len(got), got)
		}
		if got["out"] != value && !bytes.ContainsRune([]byte(value), '\r') {
			t.Fatalf("value %q came back as %q", value, got["out"])
		}
	})
}

// No event payload makes Event panic.
func FuzzEvent(f *testing.F) {
	for _, name := range []string{"pull_request.json", "pull_request_fork.json", "push.json", "workflow_run_fork.json", "issue_comment.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(`{"pull_request": null, "issue": {"pull_request": null}}`)
	f.Add(`{"workflow_run": {"pull_requests": [{}, {}]}}`)
	f.Fuzz(func(t *testing.T, payload string) {
		r := actiontest.NewRunner(t, payload)
		env := actiontest.NewEnv(t, r.Vars("pull_request", nil))
		ev, err := actionio.New(env.Getenv, &bytes.Buffer{}).Event()
		if err == nil && ev == nil {
			t.Fatal("no event and no error")
		}
	})
}
