package cli_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/test/forgetest"
)

// ferry model history and gc on a registry: the champions listed newest
// first; gc's default is a dry run, and a bad repository is a usage error.
func TestModelHistoryAndGC(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	repo, _ := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/shop/ranker")
	for _, tag := range []string{"pr-1", "pr-2"} {
		img, _ := random.Image(64, 1)
		if err := remote.Write(repo.Tag(tag), img); err != nil {
			t.Fatal(err)
		}
		d, err := deploy.Resolve(context.Background(), repo.Tag(tag).String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := deploy.Promote(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, laptop, "model", "history", repo.String())
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "PROMOTED") || !strings.Contains(lines[1], "champion,pr-2") || !strings.Contains(lines[2], "champion-prev,pr-1") {
		t.Errorf("history: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The GitHub deployments the deploy action recorded, with the digest.
	gh := &forgetest.GitHub{}
	api := httptest.NewServer(gh)
	defer api.Close()
	fc, _ := forge.ForRepository("t0ken", api.URL, "shop/ranker")
	two, _ := deploy.Resolve(context.Background(), repo.Tag("pr-2").String())
	if _, err := fc.RecordDeployment(context.Background(), forge.Deployment{Ref: "abc", Environment: "production", State: "success",
		Payload: map[string]any{"image": two.String(), "pull_request": 2}}); err != nil {
		t.Fatal(err)
	}
	withGitHub := func(k string) string {
		return map[string]string{"GITHUB_TOKEN": "t0ken", "GITHUB_API_URL": api.URL}[k]
	}
	r = run(t, withGitHub, "model", "history", repo.String(), "--github-repository", "shop/ranker")
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasSuffix(lines[0], "LAST DEPLOYED") || !strings.Contains(lines[1], "production success") ||
		!strings.HasSuffix(lines[1], "by github-actions[bot] (#2)") || !strings.HasSuffix(lines[2], "-") {
		t.Errorf("history with deployments: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, laptop, "model", "history", repo.String(), "--github-repository", "shop/ranker"); r.code == 0 || !strings.Contains(r.stderr, "GITHUB_TOKEN is empty") {
		t.Errorf("history with deployments, no token: exit %d, %s", r.code, r.stderr)
	}
	// random images carry no creation time: of unknown age, kept.
	r = run(t, laptop, "model", "gc", repo.String(), "--older-than", "1h")
	if r.code != 0 || !strings.Contains(r.stdout, "would delete (dry run) 0 image(s)") {
		t.Errorf("gc: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, laptop, "model", "gc", repo.String()+":v1"); r.code != 2 || !strings.Contains(r.stderr, "IMAGE: ") {
		t.Errorf("gc of a tag: exit %d, %s", r.code, r.stderr)
	}
}
