package cli

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/templates/report"
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
	champions, err := deploy.History(ctx, repo, deploy.GitHub{Repository: in.String("github-repository"), Token: env.Getenv("GITHUB_TOKEN"), APIURL: env.Getenv("GITHUB_API_URL")}, registryAuth("", ""))
	if err != nil {
		return nil, err
	}
	if asJSON {
		return printJSON(env.Stdout, champions, true)
	}
	return &Result{}, report.History(env.Stdout, repo.String(), champions)
}

// runModelGC is `ferry model gc IMAGE`.
func runModelGC(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	cfg := deploy.GCConfig{OlderThan: in.Duration("older-than"), KeepChampions: in.Int("keep-champions"), DryRun: in.Bool("dry-run"), Now: time.Now(),
		GitHub: deploy.GitHub{Token: env.Getenv("GITHUB_TOKEN"), APIURL: env.Getenv("GITHUB_API_URL")}}
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
	res, err := deploy.GC(ctx, repo, cfg, registryAuth("", ""))
	if err != nil {
		return nil, err
	}
	report.GC(env.Stdout, repo.String(), res, cfg.DryRun, cfg.OlderThan)
	return &Result{}, nil
}
