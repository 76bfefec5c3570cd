package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/test/actiontest"
	"github.com/ferry-ml/ferry/test/forgetest"
)

// loop is a model repository's life on GitHub, played by the actions:
// pull requests train, evaluate (sticky comment, check run) and package;
// merges deploy. GitHub is the API fake; the registry (CNCF distribution)
// and the cluster (kube-apiserver, controller-manager, scheduler, kwok) are
// real.
type loop struct {
	t           *testing.T
	e           *deployEnv
	gh          *forgetest.GitHub
	api         string
	dir         string
	serve       string // a static ferry-serve, the images' server
	train, test string
}

// clickData writes n rows where a click depends on rating and price (plus
// noise), and color is noise: a model without rating is worse, one with
// every feature better.
func clickData(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("price,rating,color,clicked\n")
	for range n {
		price, rating := r.Float64()*100, 1+r.Float64()*4
		u := rating*15 - price*0.6 + r.NormFloat64()*8
		c := 0
		if u > 20 {
			c = 1
		}
		fmt.Fprintf(&b, "%.2f,%.2f,%s,%d\n", price, rating, []string{"red", "blue", "green"}[r.IntN(3)], c)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newLoop(t *testing.T) *loop {
	e := newDeployEnv(t)
	gh := &forgetest.GitHub{Pulls: map[string][]map[string]any{}}
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	l := &loop{t: t, e: e, gh: gh, api: srv.URL + "/", dir: dir, serve: staticServe(t, dir),
		train: filepath.Join(dir, "train.csv"), test: filepath.Join(dir, "test.csv")}
	clickData(t, l.train, 4000, 1)
	clickData(t, l.test, 3000, 2)
	return l
}

func sha(c byte, n int) string { return strings.Repeat(string(c), 39) + fmt.Sprint(n) }

// action runs one stage's action for an event, with every declared input
// empty unless set, and returns the exit code and the outputs.
func (l *loop) action(name, event, eventJSON string, set map[string]string, extra map[string]string) (int, map[string]string, string) {
	l.t.Helper()
	runner := actiontest.NewRunner(l.t, eventJSON)
	vars := runner.Vars(event, actiontest.StageInputs(name, set))
	vars["GITHUB_API_URL"] = l.api
	for k, v := range extra {
		vars[k] = v
	}
	env := actiontest.NewEnv(l.t, vars)
	var out bytes.Buffer
	code := cli.Main(context.Background(), []string{"action", name}, &cli.Env{Stdout: &out, Stderr: &out, Getenv: env.Getenv})
	return code, actiontest.ParseOutputs(l.t, actiontest.ReadFile(l.t, runner.Output)), out.String()
}

// pullRequest trains PR n's model (dropping the given columns), evaluates
// it against the champion in the registry and packages it as pr-N. It
// returns the evaluate action's exit code and outputs.
func (l *loop) pullRequest(n int, drop string) (int, map[string]string) {
	l.t.Helper()
	model := filepath.Join(l.dir, fmt.Sprintf("pr-%d", n))
	var out bytes.Buffer
	args := []string{"train", "--data", l.train, "--label", "clicked", "--param", "trees=60", "--out", model}
	if drop != "" {
		args = append(args, "--drop", drop)
	}
	if code := cli.Main(context.Background(), args, &cli.Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}); code != 0 {
		l.t.Fatalf("PR %d: train: %s", n, out.String())
	}
	event := fmt.Sprintf(`{"number": %d, "pull_request": {"number": %d,
 "head": {"sha": %q, "ref": "pr-%d", "repo": {"full_name": "shop/ranker"}},
 "base": {"sha": %q, "ref": "main", "repo": {"full_name": "shop/ranker"}}}}`, n, n, sha('c', n), n, sha('d', n))
	champion := l.e.repo.Tag("champion").String()
	if n == 1 {
		champion = "none" // the first model, stated: a champion that is not found is otherwise an error
	}
	code, outputs, log := l.action("evaluate", "pull_request", event, map[string]string{
		"candidate": model, "champion": champion, "data": l.test, "label": "clicked",
		"gate": "auc max-drop 1%", "bootstrap": "200", "confidence": "0.95", "seed": "1",
		"comment": "true", "check-run": "true", "github-token": "ghs_token",
	}, nil)
	l.t.Logf("PR %d evaluate: exit %d\n%s", n, code, log)
	pcode, _, plog := l.action("package", "pull_request", event, map[string]string{
		"model": model, "image": l.e.repo.String(), "tag": fmt.Sprintf("pr-%d\nsha-%s", n, sha('c', n)), "kind": "image",
	}, map[string]string{"FERRY_SERVE_LINUX_AMD64": l.serve, "FERRY_SERVE_LINUX_ARM64": "", "SOURCE_DATE_EPOCH": "1700000000"})
	if pcode != 0 {
		l.t.Fatalf("PR %d: package: exit %d\n%s", n, pcode, plog)
	}
	return code, outputs
}

// merge merges PR n (a merge commit GitHub links to it) and runs the deploy
// action on the push.
func (l *loop) merge(n int, extra ...string) (int, map[string]string) {
	l.t.Helper()
	commit := sha('a', n)
	l.gh.Pulls[commit] = []map[string]any{{"number": n, "merged_at": "2026-12-01T10:00:00Z", "head": map[string]any{"sha": sha('c', n)}}}
	set := map[string]string{"target": "kubernetes", "image": l.e.repo.String(), "name": "ranker", "namespace": l.e.ns,
		"kubeconfig": l.e.c.Kubeconfig, "timeout": "2m", "replicas": "4", "promote": "true", "github-token": "ghs_token",
		"unschedulable-grace": "30s", "cpu": "100m", "memory": "128Mi", "canary": "0", "analysis": "5m", "environment": "production"}
	for i := 0; i+1 < len(extra); i += 2 {
		set[extra[i]] = extra[i+1]
	}
	code, outputs, log := l.action("deploy", "push", `{"after": "`+commit+`", "ref": "refs/heads/main"}`, set,
		map[string]string{"GITHUB_SHA": commit})
	l.t.Logf("merge PR %d: exit %d\n%s", n, code, log)
	return code, outputs
}

// metric reads one metric's champion and candidate values from the
// evaluate action's metrics output.
func metric(t *testing.T, outputs map[string]string, name string) (champion, candidate float64) {
	t.Helper()
	var m struct {
		Metrics map[string]struct{ Champion, Candidate float64 }
	}
	if err := json.Unmarshal([]byte(outputs["metrics"]), &m); err != nil {
		t.Fatalf("metrics output %q: %v", outputs["metrics"], err)
	}
	return m.Metrics[name].Champion, m.Metrics[name].Candidate
}

// The whole loop: PR 1 (first model) -> merge -> deployed and champion;
// PR 2 (worse) -> the gate and the check run fail, nothing moves; PR 3
// (better) -> significant gains -> merge with a canary -> promoted; the
// next evaluation compares against PR 3's model.
func TestEndToEnd(t *testing.T) {
	l := newLoop(t)
	ctx := context.Background()

	// PR 1: price only. No champion yet.
	code, out := l.pullRequest(1, "rating,color")
	if code != 0 || out["verdict"] != "pass" {
		t.Fatalf("PR 1: exit %d, outputs %v", code, out)
	}
	if c := l.gh.On(1); len(c) != 1 || !strings.Contains(c[0].Body, "first model") && !strings.Contains(c[0].Body, "no champion") {
		t.Errorf("PR 1 comment: %+v", c)
	}
	if code, out := l.merge(1); code != 0 || out["status"] != "deployed" {
		t.Fatalf("merge PR 1: exit %d, outputs %v", code, out)
	}
	pr1 := l.e.tagDigest("pr-1")
	if l.e.tagDigest("champion") != pr1 || l.e.image(t, "ranker") != pr1 {
		t.Fatalf("after PR 1: champion %s, deployed %s, want %s", l.e.tagDigest("champion"), l.e.image(t, "ranker"), pr1)
	}

	// PR 2: color only: worse. The gate fails; nothing moves.
	checks := len(l.gh.Checks)
	code, out = l.pullRequest(2, "price,rating")
	if code != 1 || out["verdict"] != "fail" {
		t.Fatalf("PR 2: exit %d, outputs %v", code, out)
	}
	if len(l.gh.Checks) != checks+1 || l.gh.Checks[checks]["conclusion"] != "failure" || l.gh.Checks[checks]["head_sha"] != sha('c', 2) {
		t.Errorf("PR 2 check run: %v", l.gh.Checks[checks:])
	}
	if c := l.gh.On(2); len(c) != 1 || !strings.Contains(c[0].Body, "auc") {
		t.Errorf("PR 2 comment: %+v", c)
	}
	if l.e.tagDigest("champion") != pr1 {
		t.Errorf("a failed PR moved the champion to %s", l.e.tagDigest("champion"))
	}

	// PR 3: every feature: better, significantly. Merged with a canary.
	code, out = l.pullRequest(3, "")
	champ, cand := metric(t, out, "auc")
	if code != 0 || out["verdict"] != "pass" || !(cand > champ) {
		t.Fatalf("PR 3: exit %d, auc %.4f -> %.4f, outputs %v", code, champ, cand, out)
	}
	if c := l.gh.On(3); len(c) != 1 || !strings.Contains(c[0].Body, "better") {
		t.Errorf("PR 3's comment does not show a significant gain: %+v", c)
	}
	if code, out := l.merge(3, "canary", "25", "analysis", "2s"); code != 0 || out["status"] != "deployed" {
		t.Fatalf("merge PR 3: exit %d, outputs %v", code, out)
	}
	pr3 := l.e.tagDigest("pr-3")
	if l.e.tagDigest("champion") != pr3 || l.e.tagDigest("champion-prev") != pr1 || l.e.image(t, "ranker") != pr3 {
		t.Errorf("after PR 3: champion %s (prev %s), deployed %s; want %s (prev %s)",
			l.e.tagDigest("champion"), l.e.tagDigest("champion-prev"), l.e.image(t, "ranker"), pr3, pr1)
	}
	if _, err := l.e.cs.AppsV1().Deployments(l.e.ns).Get(ctx, "ranker-canary", metav1.GetOptions{}); err == nil {
		t.Error("the canary is still there after the promotion")
	}
	if len(l.gh.Deployments) != 2 {
		t.Errorf("GitHub deployments recorded: %d, want 2", len(l.gh.Deployments))
	}

	// PR 4 retrains PR 3's model: the champion it is compared with is PR 3's,
	// so every metric is unchanged.
	code, out = l.pullRequest(4, "")
	champ, cand = metric(t, out, "auc")
	if code != 0 || champ != cand {
		t.Errorf("PR 4 (PR 3's model again): exit %d, champion auc %.6f, candidate %.6f; want the same", code, champ, cand)
	}
}
