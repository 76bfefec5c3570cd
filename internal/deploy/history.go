package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/internal/input"
)

// ChampionRecordPrefix starts the tag Promote leaves on every digest it
// makes champion, followed by the time in UTC (champion-20261203T191500.123Z):
// the registry itself keeps the order of champions, which the moving
// champion and champion-prev tags cannot.
const ChampionRecordPrefix = "champion-"

const recordLayout = "20060102T150405.000Z"

// recordTag is the champion record tag for t.
func recordTag(t time.Time) string { return ChampionRecordPrefix + t.UTC().Format(recordLayout) }

// Champion is one digest that was champion, from the registry.
type Champion struct {
	Since   time.Time         `json:"since"` // when it was promoted
	Digest  string            `json:"digest"`
	Tags    []string          `json:"tags"` // every tag on the digest, such as pr-42, champion
	Created string            `json:"created,omitempty"`
	Name    string            `json:"name,omitempty"`
	Metrics map[string]string `json:"metrics,omitempty"` // from the image's dev.ferry.metric.* annotations
	// Deployments are the GitHub deployments of this digest, newest first,
	// when History was given a repository to read them from.
	Deployments []Deployed `json:"deployments,omitempty"`
}

// Deployed is one GitHub deployment of a champion's digest, as the deploy
// action records it (the image by digest in its payload).
type Deployed struct {
	Environment string    `json:"environment"`
	State       string    `json:"state"` // success, failure, inactive, ...
	At          time.Time `json:"at"`
	By          string    `json:"by"`
	PullRequest int       `json:"pull_request,omitempty"`
	Ref         string    `json:"ref"`
	URL         string    `json:"url,omitempty"`
}

// GitHub is how History and GC reach GitHub: the token (GITHUB_TOKEN) and
// API URL (GITHUB_API_URL, "" for github.com), and for History the
// repository (OWNER/NAME) whose deploy workflow records deployments; with
// no repository, History reads none.
type GitHub struct {
	Repository, Token, APIURL string
}

// History lists the repository's champions, newest first: the digests of
// its champion record tags, each with the tags on it and what its
// annotations say. A repository promoted before record tags existed shows
// its champion and champion-prev only, without their dates.
func History(ctx context.Context, repo name.Repository, src GitHub, opts ...remote.Option) ([]Champion, error) {
	opts = withDefaults(ctx, opts)
	var fc *forge.Client
	if src.Repository != "" {
		var err error
		if src.Token == "" {
			return nil, fmt.Errorf("GITHUB_TOKEN is empty: history reads the GitHub deployments of %s with it (permissions: deployments: read); leave out the repository to list the registry alone", src.Repository)
		}
		if fc, err = forge.ForRepository(src.Token, src.APIURL, src.Repository); err != nil {
			return nil, err
		}
	}
	tags, err := remote.List(repo, opts...)
	if err != nil {
		return nil, fmt.Errorf("list the tags of %s: %w", repo, describe(err))
	}
	byDigest, err := digestsOf(repo, tags, opts)
	if err != nil {
		return nil, err
	}
	var out []Champion
	seen := map[string]bool{}
	for _, tag := range tags {
		since, ok := recordTime(tag)
		if !ok {
			continue
		}
		d := byDigest[tag]
		c, err := describeChampion(repo, d, opts)
		if err != nil {
			return nil, err
		}
		c.Since, c.Tags, seen[d] = since, tagsOn(byDigest, d), true
		out = append(out, c)
	}
	for _, tag := range []string{ChampionTag, ChampionPrevTag} {
		if d, ok := byDigest[tag]; ok && !seen[d] {
			c, err := describeChampion(repo, d, opts)
			if err != nil {
				return nil, err
			}
			c.Tags, seen[d] = tagsOn(byDigest, d), true
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Champion) int { return b.Since.Compare(a.Since) })
	if fc != nil {
		if err := addDeployments(ctx, fc, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// addDeployments adds to each champion the GitHub deployments whose payload
// names its digest.
func addDeployments(ctx context.Context, fc *forge.Client, champions []Champion) error {
	index := map[string]int{}
	for i, c := range champions {
		index[c.Digest] = i
	}
	digestOf := func(payload map[string]any) string {
		image, _ := payload["image"].(string)
		_, d, _ := strings.Cut(image, "@")
		return d
	}
	records, err := fc.Deployments(ctx, "", func(p map[string]any) bool { _, ok := index[digestOf(p)]; return ok })
	if err != nil {
		return err
	}
	for _, r := range records {
		pr, _ := r.Payload["pull_request"].(float64)
		c := &champions[index[digestOf(r.Payload)]]
		c.Deployments = append(c.Deployments, Deployed{Environment: r.Environment, State: r.State, At: r.Created, By: r.Creator,
			PullRequest: int(pr), Ref: r.Ref, URL: r.URL})
	}
	return nil
}

func recordTime(tag string) (time.Time, bool) {
	s, ok := strings.CutPrefix(tag, ChampionRecordPrefix)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(recordLayout, s)
	return t, err == nil
}

// digestsOf resolves every tag to its digest, one HEAD request each.
func digestsOf(repo name.Repository, tags []string, opts []remote.Option) (map[string]string, error) {
	out := make(map[string]string, len(tags))
	for _, tag := range tags {
		desc, err := remote.Head(repo.Tag(tag), opts...)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", repo.Tag(tag), describe(err))
		}
		out[tag] = desc.Digest.String()
	}
	return out, nil
}

func tagsOn(byDigest map[string]string, d string) []string {
	var out []string
	for tag, td := range byDigest {
		if td == d {
			out = append(out, tag)
		}
	}
	slices.Sort(out)
	return out
}

// describeChampion reads a digest's annotations (on the manifest or the
// index).
func describeChampion(repo name.Repository, d string, opts []remote.Option) (Champion, error) {
	desc, err := remote.Get(repo.Digest(d), opts...)
	if err != nil {
		return Champion{}, fmt.Errorf("read %s@%s: %w", repo, d, describe(err))
	}
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return Champion{}, fmt.Errorf("%s@%s: %w", repo, d, err)
	}
	c := Champion{Digest: d, Created: m.Annotations["org.opencontainers.image.created"], Name: m.Annotations["dev.ferry.model.name"]}
	for k, v := range m.Annotations {
		if metric, ok := strings.CutPrefix(k, "dev.ferry.metric."); ok {
			if c.Metrics == nil {
				c.Metrics = map[string]string{}
			}
			c.Metrics[metric] = v
		}
	}
	return c, nil
}

// GCConfig says which tags GC may delete.
type GCConfig struct {
	// OlderThan: a pr-N or sha-* image created (its annotation) more
	// recently than this is kept.
	OlderThan time.Duration
	// KeepChampions: the digests of the newest this many champion records
	// are kept, with champion and champion-prev always.
	KeepChampions int
	// Open lists pull request numbers whose pr-N images are kept whatever
	// their age (the open pull requests, when known).
	Open []int
	// DryRun lists what would go and deletes nothing.
	DryRun bool
	Now    time.Time
	// Delete deletes one image by digest; nil deletes through the registry
	// API (the OCI DELETE of the manifest, then its tags where a registry
	// leaves them dangling). GHCR takes no registry DELETE: GHCRDelete
	// deletes through the GitHub Packages API.
	Delete func(ctx context.Context, digest string) error
	// GitHub is what GC deletes with on ghcr.io when Delete is nil.
	GitHub GitHub
}

// Validate checks the config before the registry is read.
func (c GCConfig) Validate() error {
	if c.KeepChampions < 1 {
		return &input.Error{Name: "keep-champions", Value: fmt.Sprint(c.KeepChampions), Want: "a whole number from 1"}
	}
	if c.OlderThan < 0 {
		return &input.Error{Name: "older-than", Value: c.OlderThan.String(), Want: "a duration of 0 or more, such as 720h"}
	}
	return nil
}

// GCResult is what GC deleted, or would.
type GCResult struct {
	Deleted []string // digests, each with its tags
	Kept    int      // candidate digests kept
}

var prTag = regexp.MustCompile(`^pr-(\d+)$`)

// GC deletes the images of pull requests and commits (pr-N, sha-*) that
// are older than the cut-off, never a digest that also carries another
// tag (champion, champion-prev, a kept champion record, a release), and
// never a pr-N of an open pull request. Registries delete manifests by
// digest, so a digest goes with every tag on it, which is why any other tag
// protects it.
func GC(ctx context.Context, repo name.Repository, cfg GCConfig, opts ...remote.Option) (GCResult, error) {
	var res GCResult
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	if cfg.Delete == nil && !cfg.DryRun && repo.RegistryStr() == "ghcr.io" {
		var err error
		if cfg.Delete, err = GHCRDelete(repo, cfg.GitHub.Token, cfg.GitHub.APIURL); err != nil {
			return res, err
		}
	}
	opts = withDefaults(ctx, opts)
	tags, err := remote.List(repo, opts...)
	if err != nil {
		return res, fmt.Errorf("list the tags of %s: %w", repo, describe(err))
	}
	byDigest, err := digestsOf(repo, tags, opts)
	if err != nil {
		return res, err
	}
	protected := map[string]bool{}
	var records []string
	for _, tag := range tags {
		if _, ok := recordTime(tag); ok {
			records = append(records, tag)
		}
	}
	slices.Sort(records) // the time in the name sorts as text
	for i, tag := range records {
		if i >= len(records)-cfg.KeepChampions {
			protected[byDigest[tag]] = true
		}
	}
	digests := map[string][]string{}
	for tag, d := range byDigest {
		digests[d] = append(digests[d], tag)
	}
	for d, onIt := range digests {
		if protected[d] || !allDisposable(onIt, cfg.Open) {
			continue
		}
		c, err := describeChampion(repo, d, opts)
		if err != nil {
			return res, err
		}
		created, err := time.Parse(time.RFC3339, c.Created)
		if err != nil || cfg.Now.Sub(created) < cfg.OlderThan {
			res.Kept++ // too recent, or of unknown age: kept
			continue
		}
		slices.Sort(onIt)
		res.Deleted = append(res.Deleted, d+" ("+strings.Join(onIt, ", ")+")")
		if cfg.DryRun {
			continue
		}
		if cfg.Delete != nil {
			if err := cfg.Delete(ctx, d); err != nil {
				return res, err
			}
			continue
		}
		if err := remote.Delete(repo.Digest(d), opts...); err != nil {
			return res, fmt.Errorf("delete %s@%s: %w", repo, d, describe(err))
		}
		// Most registries drop the digest's tags with it; for one that
		// keeps them (dangling), delete them too, where it can.
		for _, tag := range onIt {
			_ = remote.Delete(repo.Tag(tag), opts...)
		}
	}
	slices.Sort(res.Deleted)
	return res, nil
}

// allDisposable reports whether every tag is a pr-N of a pull request not
// open, or a sha-*.
func allDisposable(tags []string, open []int) bool {
	for _, tag := range tags {
		if m := prTag.FindStringSubmatch(tag); m != nil {
			n := 0
			fmt.Sscan(m[1], &n)
			if slices.Contains(open, n) {
				return false
			}
			continue
		}
		if !strings.HasPrefix(tag, "sha-") {
			return false
		}
	}
	return true
}

// GHCRDelete is GCConfig.Delete for an image on ghcr.io, whose registry
// refuses the OCI DELETE: each digest is deleted as a version of the
// container package through the GitHub Packages API (at apiURL, "" for
// github.com), with token. ghcr.io/OWNER/NAME is package NAME of OWNER.
// The package's versions are read on the first deletion, so a dry run
// needs no token.
func GHCRDelete(repo name.Repository, token, apiURL string) (func(ctx context.Context, digest string) error, error) {
	owner, pkg, ok := strings.Cut(repo.RepositoryStr(), "/")
	if !ok {
		return nil, fmt.Errorf("%s: a GHCR image is ghcr.io/OWNER/NAME", repo)
	}
	if token == "" {
		return nil, fmt.Errorf("deleting from %s goes through the GitHub Packages API, and GITHUB_TOKEN is empty: "+
			"in a workflow, env: GITHUB_TOKEN: ${{ github.token }} with permissions packages: write; else a token with read:packages and delete:packages", repo)
	}
	fc, err := forge.New(forge.Options{Token: token, APIURL: apiURL, Owner: owner, Repo: pkg})
	if err != nil {
		return nil, err
	}
	var p *forge.ContainerPackage
	return func(ctx context.Context, digest string) error {
		if p == nil {
			if p, err = fc.ContainerPackage(ctx, owner, pkg); err != nil {
				return err
			}
		}
		return p.Delete(ctx, digest)
	}, nil
}
