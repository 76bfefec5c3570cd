package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferry-ml/ferry/internal/deploy"
)

// History writes ferry model history's table: a champion per line, newest
// first, its promotion time, digest, tags (without the record tags),
// build time and metrics.
func History(w io.Writer, repo string, champions []deploy.Champion) error {
	if len(champions) == 0 {
		_, err := fmt.Fprintf(w, "%s has had no champion\n", repo)
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	deployed := slices.ContainsFunc(champions, func(c deploy.Champion) bool { return len(c.Deployments) > 0 })
	header := "PROMOTED\tDIGEST\tTAGS\tBUILT\tMETRICS"
	if deployed {
		header += "\tLAST DEPLOYED"
	}
	fmt.Fprintln(tw, header)
	for _, c := range champions {
		since := "before records"
		if !c.Since.IsZero() {
			since = c.Since.Format(time.RFC3339)
		}
		var tags, metrics []string
		for _, t := range c.Tags {
			if !strings.HasPrefix(t, deploy.ChampionRecordPrefix) || t == deploy.ChampionPrevTag {
				tags = append(tags, t)
			}
		}
		for k, v := range c.Metrics {
			metrics = append(metrics, k+"="+v)
		}
		slices.Sort(metrics)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", since, c.Digest[:min(len(c.Digest), 19)], strings.Join(tags, ","), c.Created, strings.Join(metrics, " "))
		if deployed {
			fmt.Fprintf(tw, "\t%s", lastDeployed(c))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// GC writes what ferry model gc deleted, or would in a dry run.
func GC(w io.Writer, repo string, res deploy.GCResult, dryRun bool, olderThan time.Duration) {
	verb := "deleted"
	if dryRun {
		verb = "would delete (dry run)"
	}
	for _, d := range res.Deleted {
		fmt.Fprintf(w, "%s %s@%s\n", verb, repo, d)
	}
	fmt.Fprintf(w, "%s %d image(s); kept %d pull request image(s) newer than %s\n", verb, len(res.Deleted), res.Kept, olderThan)
}

// lastDeployed is a champion's newest GitHub deployment in a few words:
// production success 2026-12-01T10:00:00Z by ana (#42), and how many more.
func lastDeployed(c deploy.Champion) string {
	if len(c.Deployments) == 0 {
		return "-"
	}
	d := c.Deployments[0]
	s := fmt.Sprintf("%s %s %s by %s", d.Environment, d.State, d.At.UTC().Format(time.RFC3339), d.By)
	if d.PullRequest > 0 {
		s += fmt.Sprintf(" (#%d)", d.PullRequest)
	}
	if n := len(c.Deployments) - 1; n > 0 {
		s += fmt.Sprintf(", %d more", n)
	}
	return s
}
