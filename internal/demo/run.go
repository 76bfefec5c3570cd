package demo

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/evaluate"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/pack"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/internal/version"
)

// demoMarker marks a directory as the demo's own, so a second run may clear it.
const demoMarker = ".ferry-demo"

// Config is a demo run.
type Config struct {
	Dir  string // where everything goes; a previous demo's directory is cleared
	Seed int
}

// Deps are what Run uses of the outside world.
type Deps struct {
	Stdout io.Writer // the demo's story, a few lines per step
	Stderr io.Writer
	Getenv func(string) string
}

// Run runs the pull-request-to-production loop on generated e-commerce
// search data, through the stages' own Run: train, evaluate, package,
// deploy (local), then real infer requests.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	dir, seed, env := cfg.Dir, cfg.Seed, deps
	start := time.Now()
	out := env.Stdout
	fmt.Fprintf(out, "ferry demo: %s; everything goes under %s/\n", version.Get(), dir)
	if err := prepareDir(dir); err != nil {
		return err
	}

	// 1. Data.
	paths := map[string]string{}
	for i, split := range []struct {
		name    string
		queries int
	}{{"train", 800}, {"valid", 200}, {"test", 300}} {
		p := filepath.Join(dir, "data", split.name+".csv")
		if err := writeData(p, Options{Queries: split.queries, Products: 24, Seed: uint64(seed)*10 + uint64(i)}); err != nil {
			return err
		}
		paths[split.name] = p
	}
	fmt.Fprintf(out, "[data]     generated search sessions: 800 train, 200 validation, 300 test queries of 24 products, position-biased clicks and purchases\n")

	// 2. The champion (production) and the candidate (the pull request).
	read := data.Options{Label: "label", Group: "query", Categorical: []string{"category"}}
	hidden := []string{"product", "position", "relevance"}
	champion, candidate := filepath.Join(dir, "models", "champion"), filepath.Join(dir, "models", "candidate")
	for _, m := range []struct {
		what, dir string
		drop      []string
		params    []string
	}{
		{"champion: LambdaMART without the text-match feature (what runs in production)", champion, append(hidden, "text_match"), []string{"trees=60"}},
		{"candidate: the pull request adds the text-match feature", candidate, hidden, []string{"trees=200", "learning-rate=0.05", "early-stopping=60"}},
	} {
		r := read
		r.Drop = m.drop
		res, err := train.Run(ctx, train.Config{Data: paths["train"], Valid: paths["valid"], Read: r, Algorithm: "gbdt",
			Objective: "lambdarank", Params: m.params, Seed: int64(seed), Out: m.dir}, io.Discard, nil)
		if err != nil {
			return fmt.Errorf("train the %s: %w", m.what, err)
		}
		fmt.Fprintf(out, "[train]    %s\n           -> %s (%d features, validation NDCG@10 %.4f, %.2fs)\n", m.what, m.dir,
			len(res.Manifest.Features), res.Manifest.Metrics["valid"]["ndcg@10"], res.Manifest.Run.Seconds.Train)
	}

	// 3. Evaluate: the candidate against the champion on the test queries,
	// with intervals and a gate, as the pull request's check would: the
	// evaluate stage itself.
	reportPath := filepath.Join(dir, "report.md")
	gate := "ndcg@10 max-drop 1%"
	ecfg := evaluate.Config{Candidate: candidate, Champion: champion, Data: paths["test"], Gates: []string{gate},
		Resamples: 1000, Confidence: 0.95, Seed: uint64(seed), Report: reportPath, ModelChanged: true}
	if err := ecfg.Validate(); err != nil {
		return err
	}
	ev, err := evaluate.Run(ctx, ecfg, evaluate.Deps{Stdout: io.Discard, Stderr: env.Stderr})
	if err != nil {
		return err
	}
	verdict := "passes"
	if ev.Verdict == compare.Fail {
		verdict = "fails"
	}
	fmt.Fprintf(out, "[evaluate] %s; the gate %q %s; the report is %s\n", ev.Headline, gate, verdict, reportPath)

	// The truth a simulation knows: NDCG@10 by the hidden relevance.
	scores := map[string][]float64{}
	var test *data.Dataset
	for name, d := range map[string]string{"champion": champion, "candidate": candidate} {
		m, err := model.Load(d)
		if err != nil {
			return err
		}
		t, err := m.ReadData(paths["test"], data.Options{})
		if err != nil {
			return err
		}
		scores[name], test = m.PredictDataset(t), t
	}
	groups := test.Groups()
	truth, products, err := truthOf(paths["test"])
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "[truth]    NDCG@10 by the shoppers' hidden relevance: champion %.4f, candidate %.4f\n",
		metrics.NDCG(truth, scores["champion"], groups, 10), metrics.NDCG(truth, scores["candidate"], groups, 10))

	// 4. Package the candidate as an OCI image, without Docker: into an
	// image layout to keep, and into a registry started here on loopback;
	// the package stage builds the same digest both times.
	host := runtime.GOOS + "/" + runtime.GOARCH
	getenv := func(k string) string {
		if k == "SOURCE_DATE_EPOCH" {
			return "0"
		}
		return env.Getenv(k)
	}
	packDeps := pack.Deps{Stdout: io.Discard, Stderr: io.Discard, Getenv: getenv}
	layoutDir := filepath.Join(dir, "image")
	pcfg := pack.Config{Model: candidate, Layout: layoutDir, Tags: []string{"candidate"}, Platforms: []string{host}, Kind: "image"}
	if err := pcfg.Validate(); err != nil {
		return err
	}
	if _, err := pack.Run(ctx, pcfg, packDeps); err != nil {
		fmt.Fprintf(out, "[package]  skipped: %v\n", err)
		fmt.Fprintf(out, "[deploy]   skipped: there is no image\n")
		return done(out, start, dir)
	}
	reg, err := startRegistry()
	if err != nil {
		return err
	}
	defer reg.Close()
	pcfg.Layout, pcfg.Image, pcfg.Tags = "", reg.Addr+"/shop/ranker", []string{"pr-1"}
	if err := pcfg.Validate(); err != nil {
		return err
	}
	pushed, err := pack.Run(ctx, pcfg, packDeps)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "[package]  the candidate as an OCI image (ferry-serve + model, no Docker), pushed to a registry on loopback:\n           %s (layout kept in %s)\n", pushed.Ref, layoutDir)

	// 5. Deploy it as a local process from the registry, by digest: the
	// deploy stage's local target.
	dcfg := deploy.Config{Target: "local", Image: pushed.Ref, Name: "ranker", LocalDir: filepath.Join(dir, "deploy"),
		Replicas: 1, Timeout: time.Minute, CPU: "500m", Memory: "512Mi"}
	if err := dcfg.Validate(); err != nil {
		return err
	}
	deployed, err := deploy.Run(ctx, dcfg, deploy.Deps{Stdout: io.Discard})
	if err != nil {
		return fmt.Errorf("deploy the candidate locally: %w", err)
	}
	defer func() {
		_ = deploy.StopLocal(dcfg.LocalDir, dcfg.Name)
		os.RemoveAll(dcfg.LocalDir)
	}()
	url := deployed.Outputs["url"]
	fmt.Fprintf(out, "[deploy]   the image's own ferry-serve runs at %s, smoke-tested\n", url)
	cm, err := model.Load(candidate)
	if err != nil {
		return err
	}

	// 6. Real infer requests: the deployed model ranks a few test queries.
	for _, q := range groups[:3] {
		ranked, err := rank(ctx, url, "ranker", cm.Manifest.Features, paths["test"], q)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "[infer]    query %s, top 5 of %d products (hidden relevance 0-3):", test.GroupKeys[test.Group[q[0]]], len(q))
		for _, r := range ranked[:5] {
			fmt.Fprintf(out, " %s (%.0f)", products[r], truth[r])
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "[stop]     stopped the server and the registry\n")
	return done(out, start, dir)
}

func done(out io.Writer, start time.Time, dir string) error {
	fmt.Fprintf(out, "ferry demo: done in %.1fs; left %s/ (data, models, report.md, image)\n", time.Since(start).Seconds(), dir)
	return nil
}

// prepareDir empties a previous demo's directory, or creates a new one;
// it refuses a non-empty directory that is not the demo's.
func prepareDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo directory: %w", err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return input.Paramf("dir", strings.ReplaceAll(dir, "%", "%%")+" exists and is not a ferry demo directory: give another with %s")
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clear the previous demo: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("written by ferry demo; removed by the next run\n"), 0o644)
}

func writeData(path string, o Options) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write demo data: %w", err)
	}
	if err := Write(f, o); err != nil {
		f.Close()
		return fmt.Errorf("write demo data: %w", err)
	}
	return f.Close()
}

// truthOf reads the hidden relevance and the product ids of a demo file.
func truthOf(path string) (relevance []float64, products []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range rows[1:] {
		rel, err := data.ParseLabel(r[len(r)-1])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		relevance = append(relevance, rel)
		products = append(products, r[1])
	}
	return relevance, products, nil
}
