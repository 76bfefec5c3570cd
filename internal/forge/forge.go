package forge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// MaxCommentBytes is GitHub's limit on a comment's body.
const MaxCommentBytes = 65536

// Options configure a Client.
type Options struct {
	Token   string
	APIURL  string // default https://api.github.com; a GitHub Enterprise API URL otherwise
	Owner   string
	Repo    string
	BotName string // the login whose comments ferry may edit; default github-actions[bot]
	// HTTP is the transport underneath (default http.DefaultTransport).
	HTTP http.RoundTripper
	// Attempts and MaxWait bound retries (defaults 5 and 60 s).
	Attempts int
	MaxWait  time.Duration
	// Sleep replaces the wait between retries (tests).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client talks to one repository.
type Client struct {
	gh          *github.Client
	owner, repo string
	bot         string
}

// ForRepository returns a client for repository, as OWNER/NAME (how the
// runner's GITHUB_REPOSITORY and the event write it), at apiURL.
func ForRepository(token, apiURL, repository string) (*Client, error) {
	owner, repo, _ := strings.Cut(repository, "/")
	return New(Options{Token: token, APIURL: apiURL, Owner: owner, Repo: repo})
}

// New returns a client for the repository.
func New(o Options) (*Client, error) {
	if o.Token == "" {
		return nil, fmt.Errorf("no GitHub token: the input github-token is empty (github-token: '', or a secret that is not set); leave it out to use the job's token")
	}
	if o.Owner == "" || o.Repo == "" {
		return nil, fmt.Errorf("no repository: GITHUB_REPOSITORY is not set")
	}
	rt := &retryTransport{next: o.HTTP, attempts: o.Attempts, maxWait: o.MaxWait, now: time.Now, sleep: o.Sleep}
	if rt.next == nil {
		rt.next = http.DefaultTransport
	}
	if rt.attempts <= 0 {
		rt.attempts = 5
	}
	if rt.maxWait <= 0 {
		rt.maxWait = 60 * time.Second
	}
	if rt.sleep == nil {
		rt.sleep = sleepCtx
	}
	gh := github.NewClient(&http.Client{Transport: rt, Timeout: 2 * time.Minute}).WithAuthToken(o.Token)
	if o.APIURL != "" && strings.TrimSuffix(o.APIURL, "/") != "https://api.github.com" {
		var err error
		if gh, err = gh.WithEnterpriseURLs(o.APIURL, o.APIURL); err != nil {
			return nil, fmt.Errorf("GitHub API URL %q: %w", o.APIURL, err)
		}
	}
	bot := o.BotName
	if bot == "" {
		bot = "github-actions[bot]"
	}
	return &Client{gh: gh, owner: o.Owner, repo: o.Repo, bot: bot}, nil
}

// Comment outcomes.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// UpsertComment makes the pull request carry exactly one comment of ferry's
// that starts with marker, with body: it edits the bot's comment that has the
// marker (reading every page of comments), creates one when there is none,
// leaves it alone when the text is the same, and deletes the bot's older
// duplicates. Comments by anyone else are never touched, marker or not.
func (c *Client) UpsertComment(ctx context.Context, pr int, marker, body string) (url, outcome string, err error) {
	if !strings.HasPrefix(body, marker) {
		return "", "", fmt.Errorf("the comment does not start with its marker %q", marker)
	}
	if len(body) > MaxCommentBytes {
		return "", "", fmt.Errorf("the comment is %d bytes, over GitHub's %d", len(body), MaxCommentBytes)
	}
	var ours []*github.IssueComment
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		page, resp, err := c.gh.Issues.ListComments(ctx, c.owner, c.repo, pr, opts)
		if err != nil {
			return "", "", fmt.Errorf("list the comments of pull request #%d: %w", pr, err)
		}
		for _, cm := range page {
			if cm.GetUser().GetLogin() == c.bot && strings.HasPrefix(cm.GetBody(), marker) {
				ours = append(ours, cm)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(ours) == 0 {
		cm, _, err := c.gh.Issues.CreateComment(ctx, c.owner, c.repo, pr, &github.IssueComment{Body: github.String(body)})
		if err != nil {
			return "", "", fmt.Errorf("comment on pull request #%d: %w", pr, err)
		}
		return cm.GetHTMLURL(), Created, nil
	}
	keep := ours[0]
	for _, dup := range ours[1:] {
		if _, err := c.gh.Issues.DeleteComment(ctx, c.owner, c.repo, dup.GetID()); err != nil {
			return "", "", fmt.Errorf("delete a duplicate comment: %w", err)
		}
	}
	if keep.GetBody() == body {
		return keep.GetHTMLURL(), Unchanged, nil
	}
	cm, _, err := c.gh.Issues.EditComment(ctx, c.owner, c.repo, keep.GetID(), &github.IssueComment{Body: github.String(body)})
	if err != nil {
		return "", "", fmt.Errorf("update the comment on pull request #%d: %w", pr, err)
	}
	return cm.GetHTMLURL(), Updated, nil
}

// CheckRun is a completed check run's content.
type CheckRun struct {
	Name       string
	HeadSHA    string
	Conclusion string // success, failure or neutral
	Title      string
	Summary    string // Markdown, up to 65,535 characters
	DetailsURL string
}

// CreateCheckRun records a completed check run on the commit.
func (c *Client) CreateCheckRun(ctx context.Context, cr CheckRun) (string, error) {
	summary := cr.Summary
	if len(summary) > 65535 {
		summary = "The report is over GitHub's size limit for a check run: see the job summary."
	}
	opts := github.CreateCheckRunOptions{
		Name: cr.Name, HeadSHA: cr.HeadSHA,
		Status: github.String("completed"), Conclusion: github.String(cr.Conclusion),
		CompletedAt: &github.Timestamp{Time: time.Now()},
		Output:      &github.CheckRunOutput{Title: github.String(cr.Title), Summary: github.String(summary)},
	}
	if cr.DetailsURL != "" {
		opts.DetailsURL = github.String(cr.DetailsURL)
	}
	run, _, err := c.gh.Checks.CreateCheckRun(ctx, c.owner, c.repo, opts)
	if err != nil {
		return "", fmt.Errorf("create the check run %q: %w", cr.Name, err)
	}
	return run.GetHTMLURL(), nil
}

// ReportStatus records the verdict on the commit: a check run, or, when
// GitHub refuses check runs to this token (only GitHub App tokens such as
// the job's GITHUB_TOKEN may create them; a personal access token may not),
// a commit status with the same name, state and title, which branch
// protection can require just the same. It returns the link and which of
// the two it made.
func (c *Client) ReportStatus(ctx context.Context, cr CheckRun) (url, kind string, err error) {
	url, err = c.CreateCheckRun(ctx, cr)
	var ge *github.ErrorResponse
	if err == nil || !errors.As(err, &ge) || ge.Response == nil ||
		(ge.Response.StatusCode != http.StatusForbidden && ge.Response.StatusCode != http.StatusNotFound) {
		return url, "check run", err
	}
	state := map[string]string{"success": "success", "failure": "failure", "neutral": "success"}[cr.Conclusion]
	if state == "" {
		state = "error"
	}
	desc := cr.Title
	if r := []rune(desc); len(r) > 140 { // GitHub's limit on a status description
		desc = string(r[:139]) + "…"
	}
	st := &github.RepoStatus{State: github.String(state), Context: github.String(cr.Name), Description: github.String(desc)}
	if cr.DetailsURL != "" {
		st.TargetURL = github.String(cr.DetailsURL)
	}
	if _, _, serr := c.gh.Repositories.CreateStatus(ctx, c.owner, c.repo, cr.HeadSHA, st); serr != nil {
		return "", "", fmt.Errorf("%w; the commit status in its place failed too: %v", err, serr)
	}
	return cr.DetailsURL, "commit status", nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// IsForbidden reports whether GitHub refused a request for the token's
// permissions: a 403 (not a rate limit), or a 404, which GitHub answers for
// what a token may not see.
func IsForbidden(err error) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return false
	}
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return false
	}
	return er.Response.StatusCode == http.StatusForbidden || er.Response.StatusCode == http.StatusNotFound
}
