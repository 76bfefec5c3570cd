package deploy

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/test/forgetest"
)

// historyRepo is a registry with images pushed as ferry package would:
// each with its creation time and a metric in its annotations.
type historyRepo struct {
	t    *testing.T
	repo name.Repository
	now  time.Time
}

func newHistoryRepo(t *testing.T) *historyRepo {
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/shop/ranker")
	if err != nil {
		t.Fatal(err)
	}
	return &historyRepo{t: t, repo: repo, now: time.Now()}
}

// push pushes a new image built age ago under the tags.
func (h *historyRepo) push(age time.Duration, auc string, tags ...string) name.Digest {
	img, err := random.Image(64, 1)
	if err != nil {
		h.t.Fatal(err)
	}
	img = mutate.Annotations(img, map[string]string{
		"org.opencontainers.image.created": h.now.Add(-age).UTC().Format(time.RFC3339),
		"dev.ferry.model.name":             "ranker", "dev.ferry.metric.auc": auc,
	}).(v1.Image)
	for _, tag := range tags {
		if err := remote.Write(h.repo.Tag(tag), img); err != nil {
			h.t.Fatal(err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		h.t.Fatal(err)
	}
	return h.repo.Digest(d.String())
}

func (h *historyRepo) tags() []string {
	tags, err := remote.List(h.repo)
	if err != nil {
		h.t.Fatal(err)
	}
	return tags
}

// TestHistoryListsChampionsInOrder promotes three images in turn (one of
// them twice) and checks the history: newest first, each with its tags and
// metrics, the re-promotion a record of its own.
func TestHistoryListsChampionsInOrder(t *testing.T) {
	h := newHistoryRepo(t)
	ctx := context.Background()
	one, two, three := h.push(72*time.Hour, "0.71", "pr-1"), h.push(48*time.Hour, "0.74", "pr-2"), h.push(24*time.Hour, "0.76", "pr-3")
	for _, d := range []name.Digest{one, two, three} {
		if _, err := Promote(ctx, d); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // records are to the millisecond
	}
	if _, err := Promote(ctx, three); err != nil { // the champion again: no new record
		t.Fatal(err)
	}
	got, err := History(ctx, h.repo, GitHub{})
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, c := range got {
		digests = append(digests, c.Digest)
	}
	if want := []string{three.DigestStr(), two.DigestStr(), one.DigestStr()}; !slices.Equal(digests, want) {
		t.Fatalf("history %v, want pr-3, pr-2, pr-1", digests)
	}
	if c := got[0]; !slices.Contains(c.Tags, "champion") || !slices.Contains(c.Tags, "pr-3") || c.Metrics["auc"] != "0.76" || c.Name != "ranker" || c.Since.IsZero() {
		t.Errorf("newest: %+v", c)
	}
	if c := got[1]; !slices.Contains(c.Tags, ChampionPrevTag) || !got[1].Since.Before(got[0].Since) {
		t.Errorf("second: %+v", c)
	}
}

// TestGCKeepsWhatMatters checks which images go: old pull request and
// commit images do; champions, the champion before, an open pull
// request's, a release-tagged one and recent ones stay; a dry run deletes
// nothing.
func TestGCKeepsWhatMatters(t *testing.T) {
	h := newHistoryRepo(t)
	ctx := context.Background()
	old := 60 * 24 * time.Hour
	champ, prev := h.push(old, "0.8", "pr-10"), h.push(old, "0.7", "pr-9")
	for _, d := range []name.Digest{prev, champ} {
		if _, err := Promote(ctx, d); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	gone1 := h.push(old, "0.6", "pr-1", "sha-aaaa")
	gone2 := h.push(old, "0.6", "sha-bbbb")
	h.push(old, "0.6", "pr-3")           // open
	h.push(old, "0.6", "pr-4", "v1.0.0") // released
	h.push(2*time.Hour, "0.6", "pr-5")   // recent
	cfg := GCConfig{OlderThan: 30 * 24 * time.Hour, KeepChampions: 1, Open: []int{3}, DryRun: true, Now: h.now}
	before := h.tags()
	res, err := GC(ctx, h.repo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 2 || !strings.HasPrefix(strings.Join(res.Deleted, " "), "") || !slices.Equal(h.tags(), before) {
		t.Fatalf("dry run: deleted %v, tags %v (were %v)", res.Deleted, h.tags(), before)
	}
	cfg.DryRun = false
	if res, err = GC(ctx, h.repo, cfg); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(res.Deleted, "\n")
	if len(res.Deleted) != 2 || !strings.Contains(joined, gone1.DigestStr()+" (pr-1, sha-aaaa)") || !strings.Contains(joined, gone2.DigestStr()+" (sha-bbbb)") || res.Kept != 1 {
		t.Errorf("deleted %v, kept %d; want pr-1/sha-aaaa and sha-bbbb, and pr-5 kept as recent", res.Deleted, res.Kept)
	}
	for _, tag := range []string{"champion", "champion-prev", "pr-9", "pr-10", "pr-3", "pr-4", "v1.0.0", "pr-5"} {
		if !slices.Contains(h.tags(), tag) {
			t.Errorf("%s was deleted", tag)
		}
	}
}

// On GHCR, whose registry refuses the OCI DELETE, gc deletes package
// versions through the GitHub Packages API (the stand-in): the same
// images go as through the registry, by their version ids; a token that
// may not delete, or none, is a clear error.
func TestGCOnGHCR(t *testing.T) {
	h := newHistoryRepo(t)
	ctx := context.Background()
	old := 60 * 24 * time.Hour
	champ := h.push(old, "0.8", "pr-10")
	if _, err := Promote(ctx, champ); err != nil {
		t.Fatal(err)
	}
	gone := h.push(old, "0.6", "pr-1", "sha-aaaa")
	kept := h.push(2*time.Hour, "0.6", "pr-5")
	gh := &forgetest.GitHub{Packages: map[string][]map[string]any{}}
	for i, d := range []name.Digest{champ, gone, kept} {
		gh.Packages["shop/ranker"] = append(gh.Packages["shop/ranker"], map[string]any{"id": 100 + i, "name": d.DigestStr()})
	}
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	if _, err := GHCRDelete(h.repo, "", srv.URL); err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN is empty") {
		t.Fatalf("no token: %v", err)
	}
	del, err := GHCRDelete(h.repo, "t0ken", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := GCConfig{OlderThan: 30 * 24 * time.Hour, KeepChampions: 1, Now: h.now, Delete: del}
	gh.PackagesForbidden = true
	if _, err := GC(ctx, h.repo, cfg); err == nil || !strings.Contains(err.Error(), "packages: write") {
		t.Fatalf("a token that may not delete: %v", err)
	}
	gh.PackagesForbidden = false
	res, err := GC(ctx, h.repo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, v := range gh.Packages["shop/ranker"] {
		left = append(left, v["name"].(string))
	}
	if len(res.Deleted) != 1 || !strings.HasPrefix(res.Deleted[0], gone.DigestStr()) || !slices.Equal(left, []string{champ.DigestStr(), kept.DigestStr()}) {
		t.Errorf("deleted %v; versions left %v: want only pr-1/sha-aaaa's version deleted", res.Deleted, left)
	}
	if !slices.Contains(gh.Log, "DELETE /orgs/shop/packages/container/ranker/versions/101") {
		t.Errorf("requests: %v", gh.Log)
	}
}

// With a repository, history adds each champion's GitHub deployments: the
// ones the deploy action recorded with the champion's digest in their
// payload (read across pages, with their latest status), not another
// image's; without a token it says so instead of listing less.
func TestHistoryAddsGitHubDeployments(t *testing.T) {
	h := newHistoryRepo(t)
	ctx := context.Background()
	one, two := h.push(48*time.Hour, "0.71", "pr-1"), h.push(24*time.Hour, "0.74", "pr-2")
	gh := &forgetest.GitHub{}
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	fc, err := forge.ForRepository("t0ken", srv.URL, "shop/ranker")
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range []struct {
		digest name.Digest
		pr     int
		state  string
	}{{one, 1, "success"}, {two, 2, "failure"}, {two, 2, "success"}} {
		if _, err := Promote(ctx, d.digest); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if _, err := fc.RecordDeployment(ctx, forge.Deployment{Ref: fmt.Sprintf("sha%d", i), Environment: "production", State: d.state,
			Payload: map[string]any{"image": d.digest.String(), "pull_request": d.pr}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fc.RecordDeployment(ctx, forge.Deployment{Ref: "other", Environment: "production", State: "success",
		Payload: map[string]any{"image": "ghcr.io/shop/other@sha256:" + strings.Repeat("0", 64)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := History(ctx, h.repo, GitHub{Repository: "shop/ranker", APIURL: srv.URL}); err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN is empty") {
		t.Fatalf("no token: %v", err)
	}
	got, err := History(ctx, h.repo, GitHub{Repository: "shop/ranker", Token: "t0ken", APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Digest != two.DigestStr() || got[1].Digest != one.DigestStr() {
		t.Fatalf("history %+v", got)
	}
	var states []string
	for _, d := range got[0].Deployments {
		states = append(states, d.State)
		if d.PullRequest != 2 || d.Environment != "production" || d.By != "github-actions[bot]" || d.At.IsZero() {
			t.Errorf("pr-2's deployment %+v", d)
		}
	}
	if !slices.Equal(states, []string{"success", "failure"}) {
		t.Errorf("pr-2's deployments' states %v, want the newest first: success, failure", states)
	}
	if len(got[1].Deployments) != 1 || got[1].Deployments[0].Ref != "sha0" || got[1].Deployments[0].PullRequest != 1 {
		t.Errorf("pr-1's deployments %+v", got[1].Deployments)
	}
}
