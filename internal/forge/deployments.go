package forge

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
)

// MergedPullRequest returns the pull request that a pushed commit merged:
// the merged pull request associated with sha (GitHub links a merge,
// squash or rebase commit to its pull request). It returns 0 and no error
// when the commit came from no pull request (a direct push).
func (c *Client) MergedPullRequest(ctx context.Context, sha string) (number int, headSHA string, err error) {
	prs, _, err := c.gh.PullRequests.ListPullRequestsWithCommit(ctx, c.owner, c.repo, sha, &github.ListOptions{PerPage: 100})
	if err != nil {
		return 0, "", fmt.Errorf("find the pull request of commit %s: %w", sha, err)
	}
	for _, pr := range prs {
		if pr.MergedAt != nil || pr.GetMerged() {
			return pr.GetNumber(), pr.GetHead().GetSHA(), nil
		}
	}
	return 0, "", nil
}

// Deployment is a GitHub deployment of a ref to an environment, with the
// status it ended in.
type Deployment struct {
	Ref         string // the commit deployed
	Environment string
	Description string
	State       string // success, failure, error or inactive
	LogURL      string // the run's page
	Payload     map[string]any
}

// RecordDeployment creates a deployment and its final status, so that the
// repository's Environments page shows what serves.
func (c *Client) RecordDeployment(ctx context.Context, d Deployment) (int64, error) {
	req := &github.DeploymentRequest{
		Ref: github.String(d.Ref), Environment: github.String(d.Environment),
		Description: github.String(d.Description), AutoMerge: github.Bool(false),
		RequiredContexts: &[]string{}, Payload: d.Payload,
		ProductionEnvironment: github.Bool(d.Environment == "production"),
	}
	dep, _, err := c.gh.Repositories.CreateDeployment(ctx, c.owner, c.repo, req)
	if err != nil {
		return 0, fmt.Errorf("create the GitHub deployment for %s: %w", d.Environment, err)
	}
	st := &github.DeploymentStatusRequest{State: github.String(d.State), Description: github.String(d.Description),
		AutoInactive: github.Bool(true)}
	if d.LogURL != "" {
		st.LogURL = github.String(d.LogURL)
	}
	if _, _, err := c.gh.Repositories.CreateDeploymentStatus(ctx, c.owner, c.repo, dep.GetID(), st); err != nil {
		return dep.GetID(), fmt.Errorf("set the status of GitHub deployment %d: %w", dep.GetID(), err)
	}
	return dep.GetID(), nil
}

// OpenPullRequestOf returns the open pull request whose head is head
// (owner:branch, as a fork's workflow_run names it) at sha: 0 and no error
// when there is none, or when the branch has moved past sha since.
func (c *Client) OpenPullRequestOf(ctx context.Context, head, sha string) (int, error) {
	prs, _, err := c.gh.PullRequests.List(ctx, c.owner, c.repo, &github.PullRequestListOptions{State: "open", Head: head, ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return 0, fmt.Errorf("find the pull request of %s: %w", head, err)
	}
	for _, pr := range prs {
		if pr.GetHead().GetSHA() == sha {
			return pr.GetNumber(), nil
		}
	}
	return 0, nil
}

// ChangedFiles lists the paths a pull request changes (every page; GitHub
// lists at most 3,000 files). A renamed file counts under both names.
func (c *Client) ChangedFiles(ctx context.Context, pr int) ([]string, error) {
	var out []string
	opt := &github.ListOptions{PerPage: 100}
	for {
		files, resp, err := c.gh.PullRequests.ListFiles(ctx, c.owner, c.repo, pr, opt)
		if err != nil {
			return nil, fmt.Errorf("list the files of pull request #%d: %w", pr, err)
		}
		for _, f := range files {
			out = append(out, f.GetFilename())
			if f.GetPreviousFilename() != "" {
				out = append(out, f.GetPreviousFilename())
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// DeploymentRecord is a deployment as GitHub lists it, with the state of
// its latest status.
type DeploymentRecord struct {
	ID          int64
	Environment string
	Ref         string
	Creator     string
	Created     time.Time
	State       string // "" when it has no status
	URL         string // the latest status's log URL, else the deployment's API URL
	Payload     map[string]any
}

// Deployments lists the repository's deployments to environment ("" for
// all), newest first, across every page; keep picks those of interest by
// payload, and only those are asked for their latest status (one call
// each).
func (c *Client) Deployments(ctx context.Context, environment string, keep func(payload map[string]any) bool) ([]DeploymentRecord, error) {
	opts := &github.DeploymentsListOptions{Environment: environment, ListOptions: github.ListOptions{PerPage: 100}}
	var out []DeploymentRecord
	for {
		page, resp, err := c.gh.Repositories.ListDeployments(ctx, c.owner, c.repo, opts)
		if err != nil {
			return nil, fmt.Errorf("list the GitHub deployments of %s/%s: %w", c.owner, c.repo, err)
		}
		for _, d := range page {
			var payload map[string]any
			_ = json.Unmarshal(d.Payload, &payload) // a payload that is not an object is not one of ferry's
			if !keep(payload) {
				continue
			}
			r := DeploymentRecord{ID: d.GetID(), Environment: d.GetEnvironment(), Ref: d.GetRef(), Creator: d.GetCreator().GetLogin(),
				Created: d.GetCreatedAt().Time, URL: d.GetURL(), Payload: payload}
			sts, _, err := c.gh.Repositories.ListDeploymentStatuses(ctx, c.owner, c.repo, r.ID, &github.ListOptions{PerPage: 1})
			if err != nil {
				return nil, fmt.Errorf("read the status of GitHub deployment %d: %w", r.ID, err)
			}
			if len(sts) > 0 {
				r.State = sts[0].GetState()
				if u := sts[0].GetLogURL(); u != "" {
					r.URL = u
				}
			}
			out = append(out, r)
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}
