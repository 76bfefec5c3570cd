package cli_test

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/ferry-ml/ferry/test/actiontest"
	"github.com/ferry-ml/ferry/test/forgetest"
)

// A merge whose pull request changed no file of the model has no pr-N
// image: the deploy action rolls nothing out, exits 0 and says why (before
// any cluster is contacted: no kubeconfig is given here). A tag the user
// named that does not exist stays an error.
func TestDeploySkipsAMergeWithoutImage(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	repo := strings.TrimPrefix(reg.URL, "http://") + "/shop/ranker"
	merge := strings.Repeat("9", 40)
	gh := &forgetest.GitHub{Pulls: map[string][]map[string]any{
		merge: {{"number": 7, "merged_at": "2026-12-01T10:00:00Z", "head": map[string]any{"sha": strings.Repeat("7", 40)}}},
	}}
	api := httptest.NewServer(gh)
	defer api.Close()
	for _, c := range []struct {
		image    string
		wantCode int
		want     string
	}{
		{repo, 0, "pull request #7 has no image"},
		{repo + ":v2", -1, "no such image in the registry"}, // -1: fails, whatever the code
	} {
		runner := actiontest.NewRunner(t, `{"ref": "refs/heads/main", "after": "`+merge+`"}`)
		vars := runner.Vars("push", actiontest.StageInputs("deploy", map[string]string{
			"target": "kubernetes", "image": c.image, "github-token": "ghs_x",
		}))
		vars["GITHUB_API_URL"], vars["GITHUB_SHA"] = api.URL+"/", merge
		r := run(t, actiontest.NewEnv(t, vars).Getenv, "action", "deploy")
		out := actiontest.ParseOutputs(t, actiontest.ReadFile(t, runner.Output))
		summary := actiontest.ReadFile(t, runner.Summary)
		if (r.code != c.wantCode && !(c.wantCode == -1 && r.code != 0)) || !strings.Contains(r.stdout+r.stderr+summary, c.want) {
			t.Errorf("%s: exit %d (want %d), outputs %v\n%s%s%s\nwant %q", c.image, r.code, c.wantCode, out, r.stdout, r.stderr, summary, c.want)
		}
		if c.wantCode == 0 && out["status"] != "skipped" {
			t.Errorf("%s: status %q, want skipped", c.image, out["status"])
		}
	}
}
