package forge_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/test/forgetest"
)

func client(t *testing.T, f *forgetest.GitHub, waits *[]time.Duration) *forge.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := forge.New(forge.Options{Token: "ghs_test", APIURL: srv.URL + "/", Owner: "shop", Repo: "ranker",
		Sleep: func(_ context.Context, d time.Duration) error { *waits = append(*waits, d); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const marker = "<!-- ferry:report model=ranker -->"

func TestUpsertComment(t *testing.T) {
	f := &forgetest.GitHub{}
	f.Add("alice", "looks good")
	f.Add("alice", marker+"\nsomeone quoting ferry's marker") // not the bot's: never touched
	f.Add("bob", "LGTM")
	var waits []time.Duration
	c := client(t, f, &waits)
	ctx := context.Background()

	url, outcome, err := c.UpsertComment(ctx, 5, marker, marker+"\nreport 1")
	if err != nil || outcome != forge.Created || !strings.Contains(url, "issuecomment-4") {
		t.Fatalf("first: %q %q %v", url, outcome, err)
	}
	if _, outcome, _ = c.UpsertComment(ctx, 5, marker, marker+"\nreport 1"); outcome != forge.Unchanged {
		t.Errorf("same text again: %q, want unchanged", outcome)
	}
	if _, outcome, _ = c.UpsertComment(ctx, 5, marker, marker+"\nreport 2"); outcome != forge.Updated {
		t.Errorf("new text: %q, want updated", outcome)
	}
	var bodies []string
	for _, cm := range f.Comments {
		bodies = append(bodies, cm.User.Login+": "+cm.Body)
	}
	want := []string{"alice: looks good", "alice: " + marker + "\nsomeone quoting ferry's marker", "bob: LGTM", "github-actions[bot]: " + marker + "\nreport 2"}
	if diff := cmp.Diff(want, bodies); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	posts := 0
	for _, l := range f.Log {
		if strings.HasPrefix(l, "POST") {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("%d comments posted, want 1: %v", posts, f.Log)
	}
}

func TestDuplicatesAreRemoved(t *testing.T) {
	f := &forgetest.GitHub{}
	f.Add("github-actions[bot]", marker+"\nold")
	f.Add("alice", "hi")
	f.Add("github-actions[bot]", marker+"\nolder duplicate")
	var waits []time.Duration
	_, outcome, err := client(t, f, &waits).UpsertComment(context.Background(), 5, marker, marker+"\nnew")
	if err != nil || outcome != forge.Updated || len(f.Comments) != 2 || f.Comments[0].Body != marker+"\nnew" {
		t.Errorf("outcome %q %v, comments %+v", outcome, err, f.Comments)
	}
}

func TestRateLimitsAreWaitedOut(t *testing.T) {
	reset := time.Now().Add(30 * time.Second).Unix()
	for name, hdr := range map[string]map[string]string{
		"primary":   {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(reset, 10)},
		"secondary": {"Retry-After": "7"},
	} {
		t.Run(name, func(t *testing.T) {
			f := &forgetest.GitHub{Limited: 2, LimitHeaders: hdr}
			var waits []time.Duration
			_, outcome, err := client(t, f, &waits).UpsertComment(context.Background(), 5, marker, marker+"\nx")
			if err != nil || outcome != forge.Created {
				t.Fatalf("%q %v", outcome, err)
			}
			if len(waits) != 2 {
				t.Fatalf("waits %v, want two", waits)
			}
			for _, w := range waits {
				if name == "secondary" && w != 7*time.Second {
					t.Errorf("waited %v, Retry-After said 7s", w)
				}
				if name == "primary" && (w < 20*time.Second || w > 31*time.Second) {
					t.Errorf("waited %v, the limit resets in about 30s", w)
				}
			}
		})
	}
}

func TestForbiddenIsNotRetried(t *testing.T) {
	f := &forgetest.GitHub{Limited: 1, LimitHeaders: map[string]string{}}
	var waits []time.Duration
	_, _, err := client(t, f, &waits).UpsertComment(context.Background(), 5, marker, marker+"\nx")
	if err == nil || len(waits) != 0 {
		t.Errorf("a plain 403 (no permission): err %v, waits %v; want an error and no retry", err, waits)
	}
}

func TestCheckRun(t *testing.T) {
	f := &forgetest.GitHub{}
	var waits []time.Duration
	url, err := client(t, f, &waits).CreateCheckRun(context.Background(), forge.CheckRun{
		Name: "ferry / ranker", HeadSHA: strings.Repeat("c", 40), Conclusion: "failure", Title: "auc -0.02: gate failed", Summary: "## report",
	})
	if err != nil || url != "https://github.com/shop/ranker/runs/1" {
		t.Fatalf("%q %v", url, err)
	}
	got := f.Checks[0]
	if got["conclusion"] != "failure" || got["status"] != "completed" || got["head_sha"] != strings.Repeat("c", 40) ||
		got["output"].(map[string]any)["title"] != "auc -0.02: gate failed" {
		t.Errorf("check run %v", got)
	}
}

// A 502 from a proxy in front of GitHub is retried for a read; the comment
// is then created once.
func TestBadGatewayThenSuccess(t *testing.T) {
	f := &forgetest.GitHub{BadGateway: 1, BadGatewayMethod: "GET"}
	var waits []time.Duration
	_, outcome, err := client(t, f, &waits).UpsertComment(context.Background(), 5, marker, marker+"\nx")
	if err != nil || outcome != forge.Created || len(f.Comments) != 1 {
		t.Fatalf("outcome %q, err %v, %d comments", outcome, err, len(f.Comments))
	}
	if len(waits) != 1 {
		t.Errorf("waits %v, want one retry", waits)
	}
}

// A 502 on a POST is ambiguous (the comment may exist): it is not repeated.
func TestBadGatewayOnPostIsNotRepeated(t *testing.T) {
	f := &forgetest.GitHub{BadGateway: 1, BadGatewayMethod: "POST"}
	var waits []time.Duration
	_, _, err := client(t, f, &waits).UpsertComment(context.Background(), 5, marker, marker+"\nx")
	if err == nil || len(waits) != 0 {
		t.Errorf("err %v, waits %v; want the error and no retry", err, waits)
	}
}

// A token that may not create check runs gets a commit status instead.
func TestCommitStatusFallback(t *testing.T) {
	f := &forgetest.GitHub{ChecksForbidden: true}
	var waits []time.Duration
	_, kind, err := client(t, f, &waits).ReportStatus(context.Background(), forge.CheckRun{
		Name: "ferry / ranker", HeadSHA: strings.Repeat("c", 40), Conclusion: "failure",
		Title: "auc -0.02: gate failed " + strings.Repeat("x", 200), DetailsURL: "https://github.com/shop/ranker/actions/runs/1",
	})
	if err != nil || kind != "commit status" {
		t.Fatalf("kind %q, err %v", kind, err)
	}
	if len(f.Statuses) != 1 {
		t.Fatalf("statuses %v", f.Statuses)
	}
	st := f.Statuses[0]
	if st["state"] != "failure" || st["context"] != "ferry / ranker" || st["sha"] != strings.Repeat("c", 40) ||
		len([]rune(st["description"].(string))) > 140 || st["target_url"] != "https://github.com/shop/ranker/actions/runs/1" {
		t.Errorf("status %v", st)
	}
}

// A user's container package with a nested name (ghcr.io/ana/search/ranker
// is package "search/ranker" of user ana): its versions are read across
// pages, deleted by id under /users with the name escaped, and a digest it
// does not have, or a package it cannot see, is a clear error.
func TestContainerPackageOfAUser(t *testing.T) {
	f := &forgetest.GitHub{UserOwners: []string{"ana"}, Packages: map[string][]map[string]any{"ana/search/ranker": {
		{"id": 1, "name": "sha256:aa"}, {"id": 2, "name": "sha256:bb"}, {"id": 3, "name": "sha256:cc"}}}}
	var waits []time.Duration
	c := client(t, f, &waits)
	ctx := context.Background()
	p, err := c.ContainerPackage(ctx, "ana", "search/ranker")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, "sha256:cc"); err != nil { // on the second page
		t.Fatal(err)
	}
	if n := len(f.Packages["ana/search/ranker"]); n != 2 || !slices.Contains(f.Log, "DELETE /users/ana/packages/container/search/ranker/versions/3") {
		t.Errorf("%d versions left; requests %v", n, f.Log)
	}
	if err := p.Delete(ctx, "sha256:dd"); err == nil || !strings.Contains(err.Error(), "has no version sha256:dd") {
		t.Errorf("an unknown digest: %v", err)
	}
	if _, err := c.ContainerPackage(ctx, "ana", "other"); err == nil || !strings.Contains(err.Error(), `no container package "other" of ana`) {
		t.Errorf("a package the token cannot see: %v", err)
	}
}
