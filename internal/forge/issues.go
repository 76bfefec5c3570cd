package forge

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// UpsertIssue keeps one open issue of ferry's whose body starts with marker:
// it edits the bot's open issue with that marker (reading every page),
// creates one with title and labels when there is none, and leaves it alone
// when title and body are the same. Issues anyone else opened are never
// touched, marker or not; a closed one is not reopened (a new one starts).
func (c *Client) UpsertIssue(ctx context.Context, marker, title, body string, labels []string) (url, outcome string, err error) {
	if !strings.HasPrefix(body, marker) {
		return "", "", fmt.Errorf("the issue does not start with its marker %q", marker)
	}
	if len(body) > MaxCommentBytes {
		return "", "", fmt.Errorf("the issue is %d bytes, over GitHub's %d", len(body), MaxCommentBytes)
	}
	var ours *github.Issue
	opts := &github.IssueListByRepoOptions{State: "open", Creator: c.bot, ListOptions: github.ListOptions{PerPage: 100}}
	for ours == nil {
		page, resp, err := c.gh.Issues.ListByRepo(ctx, c.owner, c.repo, opts)
		if err != nil {
			return "", "", fmt.Errorf("list the open issues: %w", err)
		}
		for _, is := range page {
			if !is.IsPullRequest() && is.GetUser().GetLogin() == c.bot && strings.HasPrefix(is.GetBody(), marker) {
				ours = is
				break
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if ours == nil {
		is, _, err := c.gh.Issues.Create(ctx, c.owner, c.repo, &github.IssueRequest{Title: &title, Body: &body, Labels: &labels})
		if err != nil {
			return "", "", fmt.Errorf("open an issue: %w", err)
		}
		return is.GetHTMLURL(), Created, nil
	}
	if ours.GetBody() == body && ours.GetTitle() == title {
		return ours.GetHTMLURL(), Unchanged, nil
	}
	is, _, err := c.gh.Issues.Edit(ctx, c.owner, c.repo, ours.GetNumber(), &github.IssueRequest{Title: &title, Body: &body})
	if err != nil {
		return "", "", fmt.Errorf("update issue #%d: %w", ours.GetNumber(), err)
	}
	return is.GetHTMLURL(), Updated, nil
}

// Dispatch starts the workflow (its file name, such as retrain.yml, or its
// id) on ref with a workflow_dispatch event. The workflow must declare
// workflow_dispatch, and every input given.
func (c *Client) Dispatch(ctx context.Context, workflow, ref string, inputs map[string]any) error {
	_, err := c.gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, c.owner, c.repo, workflow, github.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: inputs})
	if err != nil {
		return fmt.Errorf("start workflow %s on %s: %w", workflow, ref, err)
	}
	return nil
}
