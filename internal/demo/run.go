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
	"sort"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/evaluate"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/oip"
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
	start := time.Now()
	r := &run{Config: cfg, Deps: deps, out: deps.Stdout, paths: map[string]string{},
		champion: filepath.Join(cfg.Dir, "models", "champion"), candidate: filepath.Join(cfg.Dir, "models", "candidate")}
	fmt.Fprintf(r.out, "ferry demo: %s; everything goes under %s/\n", version.Get(), cfg.Dir)
	if err := prepareDir(cfg.Dir); err != nil {
		return err
	}
	for _, step := range []func(context.Context) error{r.generate, r.train, r.evaluate, r.truth} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	url, stop, err := r.ship(ctx)
	if stop != nil {
		defer stop()
	}
	if err != nil {
		return err
	}
	if url != "" { // "": no image to run, said by ship
		if err := r.infer(ctx, url); err != nil {
			return err
		}
		fmt.Fprintf(r.out, "[stop]     stopped the server and the registry\n")
	}
	return done(r.out, start, cfg.Dir)
}

// run is one demo's state, passed from step to step.
type run struct {
	Config
	Deps
	out                 io.Writer
	paths               map[string]string // data splits by name
	champion, candidate string            // model directories
	test                *data.Dataset     // the test split, as the candidate reads it
	relevance           []float64         // the hidden truth of the test split
	products            []string
}

// generate writes the three data splits.
func (r *run) generate(context.Context) error {
	for i, split := range []struct {
		name    string
		queries int
	}{{"train", 800}, {"valid", 200}, {"test", 300}} {
		p := filepath.Join(r.Dir, "data", split.name+".csv")
		if err := writeData(p, Options{Queries: split.queries, Products: 24, Seed: uint64(r.Seed)*10 + uint64(i)}); err != nil {
			return err
		}
		r.paths[split.name] = p
	}
	fmt.Fprintf(r.out, "[data]     generated search sessions: 800 train, 200 validation, 300 test queries of 24 products, position-biased clicks and purchases\n")
	return nil
}

// train trains the champion (production) and the candidate (the pull
// request).
func (r *run) train(ctx context.Context) error {
	read := data.Options{Label: "label", Group: "query", Categorical: []string{"category"}}
	hidden := []string{"product", "position", "relevance"}
	for _, m := range []struct {
		what, dir string
		drop      []string
		params    []string
	}{
		{"champion: LambdaMART without the text-match feature (what runs in production)", r.champion, append(hidden, "text_match"), []string{"trees=60"}},
		{"candidate: the pull request adds the text-match feature", r.candidate, hidden, []string{"trees=200", "learning-rate=0.05", "early-stopping=60"}},
	} {
		rd := read
		rd.Drop = m.drop
		res, err := train.Run(ctx, train.Config{Data: r.paths["train"], Valid: r.paths["valid"], Read: rd, Algorithm: "gbdt",
			Objective: "lambdarank", Params: m.params, Seed: int64(r.Seed), Out: m.dir}, io.Discard, nil)
		if err != nil {
			return fmt.Errorf("train the %s: %w", m.what, err)
		}
		fmt.Fprintf(r.out, "[train]    %s\n           -> %s (%d features, validation NDCG@10 %.4f, %.2fs)\n", m.what, m.dir,
			len(res.Manifest.Features), res.Manifest.Metrics["valid"]["ndcg@10"], res.Manifest.Run.Seconds.Train)
	}
	return nil
}

// evaluate compares the candidate with the champion on the test queries,
// with intervals and a gate, as the pull request's check would: the
// evaluate stage itself.
func (r *run) evaluate(ctx context.Context) error {
	reportPath := filepath.Join(r.Dir, "report.md")
	gate := "ndcg@10 max-drop 1%"
	ecfg := evaluate.Config{Candidate: r.candidate, Champion: r.champion, Data: r.paths["test"], Gates: []string{gate},
		Resamples: 1000, Confidence: 0.95, Seed: uint64(r.Seed), Report: reportPath, ModelChanged: true}
	if err := ecfg.Validate(); err != nil {
		return err
	}
	ev, err := evaluate.Run(ctx, ecfg, evaluate.Deps{Stdout: io.Discard, Stderr: r.Stderr})
	if err != nil {
		return err
	}
	verdict := "passes"
	if ev.Verdict == compare.Fail {
		verdict = "fails"
	}
	fmt.Fprintf(r.out, "[evaluate] %s; the gate %q %s; the report is %s\n", ev.Headline, gate, verdict, reportPath)
	return r.explain(ctx)
}

// explain prints the candidate's top features by TreeSHAP on the test
// rows, as the report's "why the numbers moved" lists them.
func (r *run) explain(ctx context.Context) error {
	cm, err := model.Load(r.candidate)
	if err != nil {
		return err
	}
	d, err := cm.ReadData(ctx, r.paths["test"], data.Options{})
	if err != nil {
		return err
	}
	imp := cm.Importance(d, 300) // the report used 1,000; a few hundred rank the top three alike
	if imp == nil {
		return nil
	}
	order := make([]int, len(imp))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return imp[order[a]] > imp[order[b]] })
	var top []string
	for _, j := range order[:min(3, len(order))] {
		top = append(top, fmt.Sprintf("%s %.2f", d.Columns[j].Name, imp[j]))
	}
	fmt.Fprintf(r.out, "[explain]  the candidate's top features by TreeSHAP (mean |SHAP| on the test rows): %s\n", strings.Join(top, ", "))
	return nil
}

// truth scores both models by the hidden relevance, which a simulation
// knows: NDCG@10.
func (r *run) truth(ctx context.Context) error {
	scores := map[string][]float64{}
	for name, d := range map[string]string{"champion": r.champion, "candidate": r.candidate} {
		m, err := model.Load(d)
		if err != nil {
			return err
		}
		t, err := m.ReadData(ctx, r.paths["test"], data.Options{})
		if err != nil {
			return err
		}
		scores[name], r.test = m.PredictDataset(t), t
	}
	var err error
	if r.relevance, r.products, err = truthOf(r.paths["test"]); err != nil {
		return err
	}
	groups := r.test.Groups()
	fmt.Fprintf(r.out, "[truth]    NDCG@10 by the shoppers' hidden relevance: champion %.4f, candidate %.4f\n",
		metrics.NDCG(r.relevance, scores["champion"], groups, 10), metrics.NDCG(r.relevance, scores["candidate"], groups, 10))
	return nil
}

// ship packages the candidate as an OCI image, without Docker, into an
// image layout to keep and into a registry started here on loopback (the
// package stage builds the same digest both times), then deploys it as a
// local process from the registry, by digest: the deploy stage's local
// target. It returns the server's URL ("" when there is no image to run:
// no static ferry-serve) and what stops the server and the registry.
func (r *run) ship(ctx context.Context) (string, func(), error) {
	getenv := func(k string) string {
		if k == "SOURCE_DATE_EPOCH" {
			return "0"
		}
		return r.Getenv(k)
	}
	packDeps := pack.Deps{Stdout: io.Discard, Stderr: io.Discard, Getenv: getenv}
	layoutDir := filepath.Join(r.Dir, "image")
	pcfg := pack.Config{Model: r.candidate, Layout: layoutDir, Tags: []string{"candidate"}, Platforms: []string{runtime.GOOS + "/" + runtime.GOARCH}, Kind: "image"}
	if err := pcfg.Validate(); err != nil {
		return "", nil, err
	}
	if _, err := pack.Run(ctx, pcfg, packDeps); err != nil {
		fmt.Fprintf(r.out, "[package]  skipped: %v\n", err)
		fmt.Fprintf(r.out, "[deploy]   skipped: there is no image\n")
		return "", nil, nil
	}
	reg, err := startRegistry()
	if err != nil {
		return "", nil, err
	}
	pcfg.Layout, pcfg.Image, pcfg.Tags = "", reg.Addr+"/shop/ranker", []string{"pr-1"}
	pushed, err := pack.Run(ctx, pcfg, packDeps)
	if err != nil {
		return "", reg.Close, err
	}
	fmt.Fprintf(r.out, "[package]  the candidate as an OCI image (ferry-serve + model, no Docker), pushed to a registry on loopback:\n           %s (layout kept in %s)\n", pushed.Ref, layoutDir)
	dcfg := deploy.Config{Target: "local", Image: pushed.Ref, Name: "ranker", LocalDir: filepath.Join(r.Dir, "deploy"),
		Replicas: 1, Timeout: time.Minute, CPU: "500m", Memory: "512Mi"}
	if err := dcfg.Validate(); err != nil {
		return "", reg.Close, err
	}
	deployed, err := deploy.Run(ctx, dcfg, deploy.Deps{Stdout: io.Discard})
	if err != nil {
		return "", reg.Close, fmt.Errorf("deploy the candidate locally: %w", err)
	}
	stop := func() {
		_ = deploy.StopLocal(dcfg.LocalDir, dcfg.Name)
		os.RemoveAll(dcfg.LocalDir)
		reg.Close()
	}
	url := deployed.Outputs["url"]
	fmt.Fprintf(r.out, "[deploy]   the image's own ferry-serve runs at %s, smoke-tested\n", url)
	return url, stop, nil
}

// infer sends real infer requests: the deployed model ranks a few test
// queries.
func (r *run) infer(ctx context.Context, url string) error {
	cm, err := model.Load(r.candidate)
	if err != nil {
		return err
	}
	t, err := readTable(r.paths["test"])
	if err != nil {
		return err
	}
	for _, q := range r.test.Groups()[:3] {
		ranked, err := rank(ctx, url, "ranker", cm.Manifest.Features, t, q)
		if err != nil {
			return err
		}
		fmt.Fprintf(r.out, "[infer]    query %s, top 5 of %d products (hidden relevance 0-3):", r.test.GroupKeys[r.test.Group[q[0]]], len(q))
		for _, i := range ranked[:5] {
			fmt.Fprintf(r.out, " %s (%.0f)", r.products[i], r.relevance[i])
		}
		fmt.Fprintln(r.out)
	}
	return r.monitor(ctx, url, cm.Manifest.Features, t)
}

// monitor sends the test split's queries to the deployed model as
// production traffic and runs ferry monitor on it, then a burst of
// of the same queries with prices 2.5 times higher and runs it again:
// the first is not drift, the second is, and its report is drift.md.
func (r *run) monitor(ctx context.Context, url string, features []data.Feature, t *table) error {
	send := func(queries [][]int, scale map[string]float64) error {
		for _, q := range queries {
			req, err := t.request(features, q, scale)
			if err != nil {
				return err
			}
			if _, err := (oip.Client{URL: url}).Infer(ctx, "ranker", req); err != nil {
				return err
			}
		}
		return nil
	}
	cfg := monitor.Config{Model: r.candidate, URL: url, PSI: 0.2, PValue: 0.01, MinRows: 200}
	queries := r.test.Groups()
	if err := send(queries, nil); err != nil {
		return err
	}
	res, err := monitor.Run(ctx, cfg, monitor.Deps{})
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "[monitor]  the test split as production traffic, %d rows scored: %s\n", res.Rows, verdict(res))
	if err := send(queries, map[string]float64{"price": 2.5}); err != nil {
		return err
	}
	cfg.Report = filepath.Join(r.Dir, "drift.md")
	if res, err = monitor.Run(ctx, cfg, monitor.Deps{}); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "[monitor]  then the same queries with prices 2.5 times higher, %d rows in all: %s; the report is %s\n", res.Rows, verdict(res), cfg.Report)
	return nil
}

// verdict says a monitor result in a line, with its most shifted column.
func verdict(res *monitor.Result) string {
	top := res.Columns[0]
	switch res.Status {
	case monitor.StatusDrift:
		return fmt.Sprintf("drift in %s (PSI %.2f in %s)", strings.Join(res.Drifted, ", "), top.PSI, top.Name)
	case monitor.StatusOK:
		return fmt.Sprintf("no drift in %d columns (largest PSI %.3f, %s)", len(res.Columns), top.PSI, top.Name)
	}
	return res.Note
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
