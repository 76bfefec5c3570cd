package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/input"
)

// repository reads the image parameter as a repository.
func repository(in *input.Reader) (name.Repository, error) {
	ref := in.String("image")
	if err := in.Err(); err != nil {
		return name.Repository{}, err
	}
	repo, err := name.NewRepository(ref)
	if err != nil {
		return name.Repository{}, &input.Error{Param: in.Describe("image"), Value: ref, Want: "an image repository such as ghcr.io/shop/ranker, without a tag or digest"}
	}
	return repo, nil
}

// runModelHistory is `ferry model history IMAGE`.
func runModelHistory(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	asJSON := in.Bool("json")
	repo, err := repository(in)
	if err != nil {
		return nil, err
	}
	champions, err := deploy.History(ctx, repo, registryAuth("", ""))
	if err != nil {
		return nil, err
	}
	if asJSON {
		b, err := json.MarshalIndent(champions, "", "  ")
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return &Result{}, nil
	}
	if len(champions) == 0 {
		fmt.Fprintf(env.Stdout, "%s has had no champion\n", repo)
		return &Result{}, nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROMOTED\tDIGEST\tTAGS\tBUILT\tMETRICS")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", since, c.Digest[:min(len(c.Digest), 19)], strings.Join(tags, ","), c.Created, strings.Join(metrics, " "))
	}
	return &Result{}, tw.Flush()
}

// runModelGC is `ferry model gc IMAGE`.
func runModelGC(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	cfg := deploy.GCConfig{OlderThan: in.Duration("older-than"), KeepChampions: in.Int("keep-champions"), DryRun: in.Bool("dry-run"), Now: time.Now()}
	for _, s := range in.List("open") {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "#"))
		if err != nil || n < 1 {
			return nil, &input.Error{Param: in.Describe("open"), Value: s, Want: "pull request numbers such as 41,42"}
		}
		cfg.Open = append(cfg.Open, n)
	}
	repo, err := repository(in)
	if err != nil {
		return nil, err
	}
	if cfg.KeepChampions < 1 {
		return nil, &input.Error{Param: in.Describe("keep-champions"), Value: strconv.Itoa(cfg.KeepChampions), Want: "a whole number from 1"}
	}
	res, err := deploy.GC(ctx, repo, cfg, registryAuth("", ""))
	if err != nil {
		return nil, err
	}
	verb := "deleted"
	if cfg.DryRun {
		verb = "would delete (dry run)"
	}
	for _, d := range res.Deleted {
		fmt.Fprintf(env.Stdout, "%s %s@%s\n", verb, repo, d)
	}
	fmt.Fprintf(env.Stdout, "%s %d image(s); kept %d pull request image(s) newer than %s\n", verb, len(res.Deleted), res.Kept, cfg.OlderThan)
	return &Result{}, nil
}
