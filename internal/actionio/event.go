package actionio

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Event is what a stage needs to know about the workflow run it is part of.
type Event struct {
	Name       string // GITHUB_EVENT_NAME: pull_request, push, workflow_run...
	Repository string // owner/name
	ServerURL  string // https://github.com or a GitHub Enterprise host
	APIURL     string
	RunID      int64
	RunAttempt int64
	RunURL     string // link to this run's page
	SHA        string // GITHUB_SHA: for pull_request, the test merge commit
	Ref        string
	Actor      string
	Workspace  string

	// PullRequest is the pull request's number, 0 when the run is not for one.
	PullRequest int
	// HeadSHA is the commit under test: the pull request's head, or the
	// pushed commit.
	HeadSHA string
	// BaseSHA is what HeadSHA is compared with: the pull request's base, or
	// the commit before a push.
	BaseSHA string
	HeadRef string
	BaseRef string
	// Fork is true when the pull request comes from another repository. Its
	// token is read-only and secrets are absent: stages report, never write.
	Fork bool
	// ForkHead is the head of a fork's pull request as a workflow_run sees
	// it (owner:branch): that run belongs to the base repository, with its
	// token, so it may comment and create check runs; GitHub leaves the
	// pull request out of its payload, so the number is found by this head.
	ForkHead string
}

// eventPayload is the part of the webhook payloads that Event reads.
type eventPayload struct {
	Before      string   `json:"before"`
	After       string   `json:"after"`
	PullRequest *pullReq `json:"pull_request"`
	Issue       *struct {
		Number      int             `json:"number"`
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	WorkflowRun *struct {
		HeadSHA        string  `json:"head_sha"`
		HeadBranch     string  `json:"head_branch"`
		HeadRepository *repo   `json:"head_repository"`
		Repository     *repo   `json:"repository"`
		PullRequests   []prRef `json:"pull_requests"`
	} `json:"workflow_run"`
	MergeGroup *struct {
		HeadSHA string `json:"head_sha"`
		BaseSHA string `json:"base_sha"`
		HeadRef string `json:"head_ref"`
		BaseRef string `json:"base_ref"`
	} `json:"merge_group"`
}

type repo struct {
	FullName string `json:"full_name"`
	Owner    *struct {
		Login string `json:"login"`
	} `json:"owner"`
}

type branch struct {
	SHA  string `json:"sha"`
	Ref  string `json:"ref"`
	Repo *repo  `json:"repo"`
}

type pullReq struct {
	Number int    `json:"number"`
	Head   branch `json:"head"`
	Base   branch `json:"base"`
}

type prRef struct {
	Number int    `json:"number"`
	Head   branch `json:"head"`
	Base   branch `json:"base"`
}

// Event reads the run's context: GITHUB_* variables and the webhook payload at
// GITHUB_EVENT_PATH.
func (a *Action) Event() (*Event, error) {
	c, err := a.gha.Context()
	if err != nil {
		return nil, fmt.Errorf("read the GitHub Actions context: %w", err)
	}
	e := &Event{
		Name:       c.EventName,
		Repository: c.Repository,
		ServerURL:  strings.TrimSuffix(c.ServerURL, "/"),
		APIURL:     c.APIURL,
		RunID:      c.RunID,
		RunAttempt: c.RunAttempt,
		SHA:        c.SHA,
		Ref:        c.Ref,
		Actor:      c.Actor,
		Workspace:  c.Workspace,
		HeadSHA:    c.SHA,
		HeadRef:    c.HeadRef,
		BaseRef:    c.BaseRef,
	}
	if e.Repository != "" && e.RunID != 0 {
		e.RunURL = fmt.Sprintf("%s/%s/actions/runs/%d", e.ServerURL, e.Repository, e.RunID)
		if e.RunAttempt > 1 {
			e.RunURL += fmt.Sprintf("/attempts/%d", e.RunAttempt)
		}
	}
	var p eventPayload
	if c.Event != nil {
		// go-githubactions decodes the payload into a map; decode it again
		// into the typed fields this package reads.
		raw, err := json.Marshal(c.Event)
		if err != nil {
			return nil, fmt.Errorf("read the event payload %s: %w", c.EventPath, err)
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("read the event payload %s: %w", c.EventPath, err)
		}
	}
	e.fromPayload(&p)
	return e, nil
}

func (e *Event) fromPayload(p *eventPayload) {
	switch {
	case p.PullRequest != nil:
		pr := p.PullRequest
		e.PullRequest = pr.Number
		e.HeadSHA, e.BaseSHA = pr.Head.SHA, pr.Base.SHA
		e.HeadRef, e.BaseRef = pr.Head.Ref, pr.Base.Ref
		// A deleted fork has no head repository: treat it as a fork.
		e.Fork = pr.Head.Repo == nil || pr.Base.Repo == nil || pr.Head.Repo.FullName != pr.Base.Repo.FullName
	case p.WorkflowRun != nil:
		wr := p.WorkflowRun
		e.HeadSHA, e.HeadRef = wr.HeadSHA, wr.HeadBranch
		// The run itself is the base repository's (its token, its secrets),
		// whoever wrote the pull request it reports on: not a fork's run.
		fromFork := wr.HeadRepository == nil || wr.Repository == nil || wr.HeadRepository.FullName != wr.Repository.FullName
		if fromFork && wr.HeadRepository != nil && wr.HeadRepository.Owner != nil {
			e.ForkHead = wr.HeadRepository.Owner.Login + ":" + wr.HeadBranch
		}
		// GitHub lists pull requests here only when they come from the same
		// repository; a fork's run has none, and the number must be found
		// through the API by head sha.
		for _, pr := range wr.PullRequests {
			if pr.Head.SHA == wr.HeadSHA || len(wr.PullRequests) == 1 {
				e.PullRequest, e.BaseSHA, e.BaseRef = pr.Number, pr.Base.SHA, pr.Base.Ref
				break
			}
		}
	case p.MergeGroup != nil:
		mg := p.MergeGroup
		e.HeadSHA, e.BaseSHA, e.HeadRef, e.BaseRef = mg.HeadSHA, mg.BaseSHA, mg.HeadRef, mg.BaseRef
	case p.Issue != nil && len(p.Issue.PullRequest) > 0 && string(p.Issue.PullRequest) != "null":
		// issue_comment on a pull request: the payload does not carry the
		// head sha; a stage that needs it asks the API.
		e.PullRequest = p.Issue.Number
		e.HeadSHA = ""
	case e.Name == "push":
		if p.After != "" {
			e.HeadSHA = p.After
		}
		if p.Before != "" && strings.Trim(p.Before, "0") != "" {
			e.BaseSHA = p.Before
		}
	}
}
