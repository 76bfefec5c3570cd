package monitor

import (
	"context"
	"fmt"

	"github.com/ferry-ml/ferry/internal/forge"
)

// IssueLabel marks ferry's drift issues.
const IssueLabel = "ferry-drift"

// publish opens or updates the model's drift issue and starts the
// retraining workflow, as cfg asks. Retraining starts once per drift
// episode: when the issue is opened, not on the runs that update it (with
// no issue, on every run that finds drift).
func publish(ctx context.Context, cfg Config, res *Result) error {
	if !cfg.Issue && cfg.RetrainWorkflow == "" {
		return nil
	}
	ev := cfg.Event
	fc, err := forge.ForRepository(cfg.Token, ev.APIURL, ev.Repository)
	if err != nil {
		return err
	}
	opened := false
	if cfg.Issue {
		marker := "<!-- ferry-monitor: " + res.Model + " -->"
		body := marker + "\n" + res.Markdown()
		if cfg.RetrainWorkflow != "" {
			body += fmt.Sprintf("\nWhen this issue was opened, ferry started `%s` on `%s`: its model arrives as a pull request. "+
				"Later runs update this issue and start nothing; close it once the retrained model is deployed, and the next drift opens a new one.\n",
				cfg.RetrainWorkflow, cfg.RetrainRef)
		}
		if ev.RunURL != "" {
			body += fmt.Sprintf("\nLast checked by [this run](%s).\n", ev.RunURL)
		}
		url, outcome, err := fc.UpsertIssue(ctx, marker, "ferry: production traffic of "+res.Model+" has drifted", body, []string{IssueLabel})
		if err != nil {
			return err
		}
		res.IssueURL, opened = url, outcome == forge.Created
	}
	if cfg.RetrainWorkflow != "" && (opened || !cfg.Issue) {
		if err := fc.Dispatch(ctx, cfg.RetrainWorkflow, cfg.RetrainRef, nil); err != nil {
			return err
		}
		res.Dispatched = cfg.RetrainWorkflow + "@" + cfg.RetrainRef
	}
	return nil
}
