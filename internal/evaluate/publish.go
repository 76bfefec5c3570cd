package evaluate

import (
	"context"
	"errors"
	"fmt"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/templates/report"
)

// publish posts the sticky comment and the check run. A fork's pull request
// has a read-only token in its own run: ferry then reports in the job
// summary only, and says so. The base repository's workflow_run that
// reports on it (fork-report.yml) has the base's token and posts both.
func publish(ctx context.Context, cfg Config, ev *actionio.Event, deps Deps, rep report.Report, res *compare.Result, summary string) (string, error) {
	if ev.Fork {
		deps.Action.Notice(actionio.Annotation{Title: "ferry evaluate",
			Message: "a pull request from a fork gets a read-only token: the report is in the job summary only, with no comment and no check run"})
		return "", nil
	}
	fc, err := forge.ForRepository(cfg.Token, ev.APIURL, ev.Repository)
	if err != nil {
		return "", err
	}
	// The check run first: a required check that never appears blocks the
	// pull request, whatever happens to the comment. Both are attempted.
	var errs []error
	if cfg.CheckRun && ev.HeadSHA != "" {
		conclusion := map[string]string{compare.Pass: "success", compare.Fail: "failure", compare.Nothing: "neutral"}[res.Verdict()]
		run, kind, err := fc.ReportStatus(ctx, forge.CheckRun{Name: "ferry / " + rep.Model, HeadSHA: ev.HeadSHA, Conclusion: conclusion,
			Title: rep.Headline, Summary: summary, DetailsURL: ev.RunURL})
		if err != nil {
			errs = append(errs, fmt.Errorf("create the check run: %w%s", err, permissionHint(err, "checks: write")))
		} else {
			fmt.Fprintf(deps.Stdout, "%s %s: %s\n", kind, conclusion, run)
		}
	}
	url := ""
	pr := ev.PullRequest
	if cfg.Comment && pr == 0 && ev.ForkHead != "" {
		// A fork's pull request, reported by the base repository's
		// workflow_run: GitHub's payload leaves its number out.
		if pr, err = fc.OpenPullRequestOf(ctx, ev.ForkHead, ev.HeadSHA); err != nil {
			return "", errors.Join(append(errs, err)...)
		}
		if pr == 0 {
			deps.Action.Warning(actionio.Annotation{Title: "ferry evaluate",
				Message: fmt.Sprintf("no open pull request from %s at %s (closed, or pushed to since): no comment", ev.ForkHead, ev.HeadSHA[:min(7, len(ev.HeadSHA))])})
		}
	}
	switch {
	case !cfg.Comment:
	case pr == 0 && ev.ForkHead == "":
		deps.Action.Notice(actionio.Annotation{Title: "ferry evaluate", Message: "this run is not for a pull request (" + ev.Name + "): no comment"})
	case pr != 0:
		body, err := report.Comment(rep)
		if err != nil {
			return "", errors.Join(append(errs, err)...)
		}
		body = report.FoldComment(body, rep, forge.MaxCommentBytes)
		var outcome string
		if url, outcome, err = fc.UpsertComment(ctx, pr, report.CommentMarker(rep.Model), body); err != nil {
			errs = append(errs, fmt.Errorf("post the comment: %w%s", err, permissionHint(err, "pull-requests: write")))
		} else {
			fmt.Fprintf(deps.Stdout, "pull request comment %s: %s\n", outcome, url)
		}
	}
	return url, errors.Join(errs...)
}

// permissionHint names the permission a job lacks, only when GitHub said
// so (403, or 404 as it answers for what a token may not see); a refused
// connection or a 5xx gets no such hint.
func permissionHint(err error, permission string) string {
	if forge.IsForbidden(err) {
		return " (the job needs permissions: " + permission + ")"
	}
	return ""
}
