package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/test/actiontest"
	"github.com/ferry-ml/ferry/test/forgetest"
	"github.com/ferry-ml/ferry/test/testenv"
)

// trainPair trains a weak champion (without the rating) and a candidate on
// the click data, and returns their directories and the evaluation file.
func trainPair(t *testing.T) (champion, candidate, test string) {
	t.Helper()
	dir := t.TempDir()
	train := clicks(t, dir, "train.csv", 3000, 1)
	test = clicks(t, dir, "test.csv", 2000, 2)
	champion, candidate = filepath.Join(dir, "champion"), filepath.Join(dir, "candidate")
	if r := run(t, laptop, "train", "--data", train, "--label", "clicked", "--drop", "query,rating", "--out", champion); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := run(t, laptop, "train", "--data", train, "--label", "clicked", "--drop", "query", "--out", candidate); r.code != 0 {
		t.Fatal(r.stderr)
	}
	return champion, candidate, test
}

func TestEvaluate(t *testing.T) {
	champion, candidate, test := trainPair(t)
	dir := t.TempDir()
	report, result := filepath.Join(dir, "report.md"), filepath.Join(dir, "result.json")
	r := run(t, laptop, "evaluate", "--candidate", candidate, "--champion", champion, "--data", test,
		"--gate", "auc max-drop 1%", "--gate", "auc >= 0.6", "--bootstrap", "300", "--report", report, "--json", result)
	if r.code != 0 {
		t.Fatalf("exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
	md := actiontest.ReadFile(t, report)
	if !strings.HasPrefix(md, "### ✅ candidate: auc +") || !strings.Contains(md, "| auc |") || !strings.Contains(md, "better |") {
		t.Errorf("report:\n%s", md)
	}
	// Why: the candidate adds rating, and TreeSHAP shows it mattering to
	// the candidate alone.
	if !strings.Contains(md, "more metrics</summary>") || !strings.Contains(md, "Compared on `"+test+"` (sha256 `") {
		t.Errorf("the other metrics are not folded, or the data compared on is not named:\n%s", md)
	}
	if !strings.Contains(md, "| features | 2 | 3 (+`rating`) |") || !regexp.MustCompile("\\| `rating` \\| — \\| [0-9]+\\.[0-9]{4} \\|").MatchString(md) {
		t.Errorf("no or wrong why-the-numbers-moved section:\n%s", md)
	}
	var res struct {
		Pass    bool
		Metrics map[string]struct {
			Champion, Candidate, Low, High float64
			Verdict                        string
		}
	}
	if err := json.Unmarshal([]byte(actiontest.ReadFile(t, result)), &res); err != nil {
		t.Fatal(err)
	}
	auc := res.Metrics["auc"]
	if !res.Pass || auc.Verdict != "better" || !(auc.Candidate > auc.Champion) || !(auc.Low > 0) {
		t.Errorf("result %+v", res)
	}

	// The candidate as the champion's successor fails when the roles swap.
	r = run(t, laptop, "evaluate", "--candidate", champion, "--champion", candidate, "--data", test, "--gate", "auc max-drop 1%", "--bootstrap", "100")
	if r.code != 1 || !strings.Contains(r.stderr, "ferry evaluate: gate failed: auc went from") {
		t.Errorf("worse candidate: exit %d, %s", r.code, r.stderr)
	}
	// The first model: no champion.
	r = run(t, laptop, "evaluate", "--candidate", candidate, "--data", test, "--gate", "auc max-drop 1%")
	if r.code != 0 || !strings.Contains(r.stdout, "first model: no champion to compare with, auc ") {
		t.Errorf("first model: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestEvaluatePredictionFiles(t *testing.T) {
	champion, candidate, test := trainPair(t)
	dir := t.TempDir()
	cp, chp := filepath.Join(dir, "cand.csv"), filepath.Join(dir, "champ.csv")
	for _, x := range [][2]string{{candidate, cp}, {champion, chp}} {
		if r := run(t, laptop, "predict", "--model", x[0], "--data", test, "--out", x[1]); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	r := run(t, laptop, "evaluate", "--candidate-predictions", cp, "--champion-predictions", chp, "--bootstrap", "100")
	if r.code != 0 || !strings.Contains(r.stdout, "| auc |") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	other := filepath.Join(dir, "other.csv")
	os.WriteFile(other, []byte("row,group,label,score\n0,,1,0.5\n"), 0o644)
	r = run(t, laptop, "evaluate", "--candidate-predictions", cp, "--champion-predictions", other)
	if r.code != 3 || !strings.Contains(r.stderr, "scored 2000 and 1 rows: evaluate both on the same data") {
		t.Errorf("different rows: exit %d, %s", r.code, r.stderr)
	}
}

func TestEvaluateBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--candidate", "m", "--data", "d.csv", "--gate", "auc > 0.8"}, `ferry evaluate: --gate: "auc > 0.8" is not valid: want unknown comparison ">"`},
		{[]string{"--candidate", "m", "--data", "d.csv", "--confidence", "95"}, `ferry evaluate: --confidence: "95" is not valid: want a level between 0 and 1, such as 0.95`},
		{[]string{"--data", "d.csv"}, "ferry evaluate: --candidate is required: the candidate model directory or image (or a candidate predictions file)"},
	} {
		r := run(t, laptop, append([]string{"evaluate"}, tc.args...)...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q\nwant prefix %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// As an action, a failed gate still writes the outputs and the summary, then
// fails the step with an annotation that names the gate.
func TestEvaluateActionGateFails(t *testing.T) {
	champion, candidate, test := trainPair(t)
	runner := actiontest.NewRunner(t, `{}`)
	env := actiontest.NewEnv(t, runner.Vars("pull_request", actiontest.StageInputs("evaluate", map[string]string{
		"candidate": champion, "champion": candidate, "data": test, "gate": "auc max-drop 0.5%", "bootstrap": "50",
		"comment": "false", "check-run": "false", "github-token": "ghs_x",
	})))
	r := run(t, env.Getenv, "action", "evaluate")
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	if !strings.Contains(r.stdout, "::error title=ferry evaluate%3A gate auc max-drop 0.5%25::auc went from") || strings.Contains(r.stdout, "::error title=ferry::") {
		t.Errorf("no annotation naming the gate:\n%s", r.stdout)
	}
	outputs := actiontest.ParseOutputs(t, actiontest.ReadFile(t, runner.Output))
	if outputs["verdict"] != "fail" || !strings.Contains(outputs["metrics"], `"auc"`) {
		t.Errorf("outputs %v", outputs)
	}
	if s := actiontest.ReadFile(t, runner.Summary); !strings.HasPrefix(s, "### ❌") {
		t.Errorf("summary:\n%s", s)
	}
}

func evaluateInputs(candidate, champion, test string) map[string]string {
	return actiontest.StageInputs("evaluate", map[string]string{
		"candidate": candidate, "champion": champion, "data": test, "gate": "auc max-drop 1%", "bootstrap": "50",
		"comment": "true", "check-run": "true", "github-token": "ghs_x",
	})
}

const prEvent = `{"number": 5, "pull_request": {"number": 5,
 "head": {"sha": "cccccccccccccccccccccccccccccccccccccccc", "ref": "feature", "repo": {"full_name": "%s"}},
 "base": {"sha": "dddddddddddddddddddddddddddddddddddddddd", "ref": "main", "repo": {"full_name": "shop/ranker"}}}}`

// The evaluate action posts one sticky comment (updated, not duplicated, on
// the next push) and a check run on the pull request's head commit.
func TestEvaluateActionPublishes(t *testing.T) {
	champion, candidate, test := trainPair(t)
	gh := &forgetest.GitHub{}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	for push := 0; push < 2; push++ {
		runner := actiontest.NewRunner(t, fmt.Sprintf(prEvent, "shop/ranker"))
		vars := runner.Vars("pull_request", evaluateInputs(candidate, champion, test))
		vars["GITHUB_API_URL"] = srv.URL + "/"
		env := actiontest.NewEnv(t, vars)
		if r := run(t, env.Getenv, "action", "evaluate"); r.code != 0 {
			t.Fatalf("push %d: exit %d\n%s", push, r.code, r.stdout)
		}
		out := actiontest.ParseOutputs(t, actiontest.ReadFile(t, runner.Output))
		if !strings.Contains(out["comment-url"], "issuecomment-1") {
			t.Errorf("push %d: comment-url %q", push, out["comment-url"])
		}
	}
	if len(gh.Comments) != 1 || !strings.HasPrefix(gh.Comments[0].Body, "<!-- ferry:report model=candidate -->\n### ✅") {
		t.Errorf("comments: %+v", gh.Comments)
	}
	if len(gh.Checks) != 2 || gh.Checks[0]["conclusion"] != "success" || gh.Checks[0]["head_sha"] != strings.Repeat("c", 40) {
		t.Errorf("check runs: %v", gh.Checks)
	}
}

func TestEvaluateActionForkIsReportOnly(t *testing.T) {
	champion, candidate, test := trainPair(t)
	gh := &forgetest.GitHub{}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	runner := actiontest.NewRunner(t, fmt.Sprintf(prEvent, "someone/ranker"))
	vars := runner.Vars("pull_request", evaluateInputs(candidate, champion, test))
	vars["GITHUB_API_URL"] = srv.URL + "/"
	r := run(t, actiontest.NewEnv(t, vars).Getenv, "action", "evaluate")
	if r.code != 0 || !strings.Contains(r.stdout, "::notice title=ferry evaluate::a pull request from a fork gets a read-only token") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
	if len(gh.Log) != 0 {
		t.Errorf("a fork's run called the API: %v", gh.Log)
	}
	if s := actiontest.ReadFile(t, runner.Summary); !strings.Contains(s, "| auc |") {
		t.Errorf("no report in the summary:\n%s", s)
	}
}

// fork-report.yml: the base repository's workflow_run reports on a fork's
// pull request with the base's token: it finds the pull request by the
// fork's head, comments on it and creates the check run on its head sha.
func TestEvaluateActionForkReport(t *testing.T) {
	champion, candidate, test := trainPair(t)
	head := strings.Repeat("3", 40)
	gh := &forgetest.GitHub{Open: map[string][]map[string]any{
		"someone:patch-1": {{"number": 17, "head": map[string]any{"sha": head}}},
	}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	event := `{"action":"completed","workflow_run":{"head_sha":"` + head + `","head_branch":"patch-1",
 "head_repository":{"full_name":"someone/ranker","owner":{"login":"someone"}},"repository":{"full_name":"shop/ranker"},"pull_requests":[]}}`
	runner := actiontest.NewRunner(t, event)
	inputs := evaluateInputs(candidate, champion, test)
	inputs["head-sha"] = head
	vars := runner.Vars("workflow_run", inputs)
	vars["GITHUB_API_URL"] = srv.URL + "/"
	r := run(t, actiontest.NewEnv(t, vars).Getenv, "action", "evaluate")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	if c := gh.On(17); len(c) != 1 {
		t.Errorf("comments on the fork's pull request #17: %+v", c)
	}
	if len(gh.Checks) != 1 || gh.Checks[0]["head_sha"] != head {
		t.Errorf("check runs: %v, want one on the fork's head %s", gh.Checks, head)
	}
}

// Slices by a column, and gates from ferry.yaml.
func TestEvaluateSlicesAndConfig(t *testing.T) {
	champion, candidate, test := trainPair(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(conf, []byte("evaluate:\n  gates: [\"auc >= 0.99\"]\n  bootstrap: 20\n  slice: device\n"), 0o644)
	r := run(t, laptop, "evaluate", "--config", conf, "--candidate", candidate, "--champion", champion, "--data", test)
	if r.code != 1 || !strings.Contains(r.stderr, "gate failed: auc is ") {
		t.Errorf("gate from ferry.yaml: exit %d, %s", r.code, r.stderr)
	}
	for _, want := range []string{"**By device**", "| device | rows | auc champion | auc candidate | delta |", "| mobile |", "| desktop |", "| tablet |", "20 paired bootstrap resamples"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// A flag overrides ferry.yaml's gates.
	if r := run(t, laptop, "evaluate", "--config", conf, "--candidate", candidate, "--champion", champion, "--data", test, "--gate", "auc >= 0.5"); r.code != 0 {
		t.Errorf("--gate over ferry.yaml: exit %d, %s", r.code, r.stderr)
	}
}

// Models can be named by image reference: the candidate by its pr tag, the
// champion by the champion tag, which does not exist before the first
// deployment (the candidate is then judged alone).
func TestEvaluateImageReferences(t *testing.T) {
	champion, candidate, test := trainPair(t)
	bin := filepath.Join(t.TempDir(), "ferry")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ferry")
	build.Dir, build.Env = testenv.RepoRoot(t), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ferry: %v\n%s", err, out)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/shop/clicks"
	getenv := func(k string) string {
		if k == "FERRY_SERVE_LINUX_AMD64" {
			return bin
		}
		return ""
	}
	r := run(t, getenv, "package", "--model", candidate, "--image", repo, "--tag", "pr-2")
	if r.code != 0 {
		t.Fatalf("package: %s", r.stderr)
	}
	// No champion yet: an error unless the first model is stated, as a
	// mistyped tag or host looks exactly the same.
	r = run(t, laptop, "evaluate", "--candidate", repo+":pr-2", "--champion", repo+":champion", "--data", test, "--bootstrap", "20")
	if r.code != 2 || !strings.Contains(r.stderr, `--champion: "`+repo+`:champion" is not valid: want a champion image that exists (`+repo+` has tags pr-2); if this pull request brings the first model, say so`) {
		t.Fatalf("no champion, not stated: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	first := filepath.Join(t.TempDir(), "ferry.yaml")
	os.WriteFile(first, []byte("evaluate:\n  first-model: true\n"), 0o644)
	for _, args := range [][]string{{"--config", first, "--champion", repo + ":champion"}, {"--champion", "none"}} {
		r = run(t, laptop, append([]string{"evaluate", "--candidate", repo + ":pr-2", "--data", test, "--bootstrap", "20"}, args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "first model: no champion to compare with") {
			t.Fatalf("first model stated (%v): exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := run(t, getenv, "package", "--model", champion, "--image", repo, "--tag", "champion"); r.code != 0 {
		t.Fatalf("package: %s", r.stderr)
	}
	r = run(t, laptop, "evaluate", "--candidate", repo+":pr-2", "--champion", repo+":champion", "--data", test, "--bootstrap", "50")
	if r.code != 0 || !strings.Contains(r.stdout, "| auc |") || strings.Contains(r.stdout, "first model") {
		t.Errorf("with a champion: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// first-model left in ferry.yaml once a champion exists: compared, and a warning.
	r = run(t, laptop, "evaluate", "--config", first, "--candidate", repo+":pr-2", "--champion", repo+":champion", "--data", test, "--bootstrap", "20")
	if r.code != 0 || strings.Contains(r.stdout, "first model") || !strings.Contains(r.stderr, "remove first-model") {
		t.Errorf("first-model with a champion: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A typo in the tag names what the repository has, first-model or not:
	// a repository with a champion tag is past its first model.
	for _, conf := range []string{first, ""} {
		r = run(t, laptop, "evaluate", "--config", conf, "--candidate", repo+":pr-2", "--champion", repo+":champoin", "--data", test)
		if r.code != 2 || !strings.Contains(r.stderr, "has tags champion, pr-2") {
			t.Errorf("a mistyped tag (config %q): exit %d\n%s", conf, r.code, r.stderr)
		}
	}
	// A champion that looks like a path is a directory, never a Docker Hub image.
	for _, dir := range []string{"models/nope", "./models/prod"} {
		r = run(t, laptop, "evaluate", "--candidate", repo+":pr-2", "--champion", dir, "--data", test)
		if r.code == 0 || !strings.Contains(r.stderr, dir) || strings.Contains(r.stderr, "index.docker.io") {
			t.Errorf("champion %s: exit %d\n%s", dir, r.code, r.stderr)
		}
	}
}

// A pull request that changes no file of the train step's paths trains
// nothing, and evaluate posts a successful check run under the model's
// name, so the required check appears; one that changes data trains.
func TestNoModelChange(t *testing.T) {
	dir := t.TempDir()
	data := clicks(t, dir, "train.csv", 300, 1)
	conf := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(conf, []byte("name: ranker\n"), 0o644)
	gh := &forgetest.GitHub{Files: map[int][]string{5: {"README.md", "docs/a.md", "docs/b.md"}, 6: {"README.md", "data/train.csv"}}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	trainOnce := func(pr int) (map[string]string, string) {
		runner := actiontest.NewRunner(t, fmt.Sprintf(strings.Replace(prEvent, `"number": 5`, fmt.Sprintf(`"number": %d`, pr), 2), "shop/ranker"))
		vars := runner.Vars("pull_request", actiontest.StageInputs("train", map[string]string{
			"config": conf, "data": data, "label": "clicked", "out": filepath.Join(dir, fmt.Sprint("model", pr)),
			"paths": "ferry.yaml\ndata/**\n*.py", "github-token": "ghs_x", "param": "trees=3",
		}))
		vars["GITHUB_API_URL"] = srv.URL + "/"
		r := run(t, actiontest.NewEnv(t, vars).Getenv, "action", "train")
		if r.code != 0 {
			t.Fatalf("#%d: exit %d\n%s", pr, r.code, r.stdout)
		}
		return actiontest.ParseOutputs(t, actiontest.ReadFile(t, runner.Output)), actiontest.ReadFile(t, runner.Summary)
	}
	out, summary := trainOnce(5)
	if out["changed"] != "false" || out["model-dir"] != "" || !strings.Contains(summary, "changes 3 files, none of them under paths") {
		t.Errorf("#5 (docs only): outputs %v, summary %q", out, summary)
	}
	if _, err := os.Stat(filepath.Join(dir, "model5")); err == nil {
		t.Error("#5 trained a model")
	}
	if out, _ := trainOnce(6); out["changed"] != "true" || out["model-dir"] == "" {
		t.Errorf("#6 (data): outputs %v", out)
	}

	runner := actiontest.NewRunner(t, fmt.Sprintf(prEvent, "shop/ranker"))
	vars := runner.Vars("pull_request", actiontest.StageInputs("evaluate", map[string]string{
		"config": conf, "model-changed": "false", "github-token": "ghs_x", "check-run": "true", "comment": "true",
	}))
	vars["GITHUB_API_URL"] = srv.URL + "/"
	if r := run(t, actiontest.NewEnv(t, vars).Getenv, "action", "evaluate"); r.code != 0 {
		t.Fatalf("evaluate: exit %d\n%s", r.code, r.stdout)
	}
	if len(gh.Checks) != 1 || gh.Checks[0]["name"] != "ferry / ranker" || gh.Checks[0]["conclusion"] != "success" {
		t.Errorf("check runs %v: want one successful ferry / ranker", gh.Checks)
	}
	if len(gh.Comments) != 0 {
		t.Errorf("a pull request with no model change got a comment: %+v", gh.Comments)
	}
}

// An empty token (github-token: ” or a secret that is not set) stops the
// action before any request, naming the input: the action.yml default's
// text is never sent as a credential.
func TestEvaluateActionEmptyToken(t *testing.T) {
	champion, candidate, test := trainPair(t)
	gh := &forgetest.GitHub{}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	runner := actiontest.NewRunner(t, fmt.Sprintf(prEvent, "shop/ranker"))
	inputs := evaluateInputs(candidate, champion, test)
	inputs["github-token"] = ""
	vars := runner.Vars("pull_request", inputs)
	vars["GITHUB_API_URL"] = srv.URL + "/"
	r := run(t, actiontest.NewEnv(t, vars).Getenv, "action", "evaluate")
	if r.code != 2 || !strings.Contains(r.stdout, `input "github-token" is required: a token to comment and create the check run with: it is empty`) {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
	if len(gh.Log) != 0 {
		t.Errorf("requests were sent without a token: %v", gh.Log)
	}
}

// Every gate the help, the README, the docs and the templates show parses:
// an example a user copies must work.
func TestDocumentedGatesParse(t *testing.T) {
	root := filepath.Join("..", "..")
	var texts []string
	for _, glob := range []string{"README.md", "docs/*.md", "actions/README.md", "templates/workflows/*.tmpl", "internal/stage/*.go"} {
		files, _ := filepath.Glob(filepath.Join(root, glob))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			texts = append(texts, string(b))
		}
	}
	r := run(t, laptop, "evaluate", "--help")
	texts = append(texts, r.stdout)
	gate := regexp.MustCompile(`[a-z][a-z0-9@]* (>=|<=|max-drop|max-increase) [0-9.]+%?( abs)?( significant)?`)
	seen := 0
	for _, text := range texts {
		for _, g := range gate.FindAllString(text, -1) {
			seen++
			if _, err := compare.ParseGate(g); err != nil {
				t.Errorf("a documented gate does not parse: %v", err)
			}
		}
	}
	if seen < 5 {
		t.Errorf("found %d documented gates: the pattern no longer matches the docs", seen)
	}
}

// A comment that cannot be posted does not cost the rest: the check run is
// created first, the outputs and the summary are written, and the step
// fails with exit 3 and a hint only when GitHub refused the permission; an
// API that cannot be reached gets no permission hint.
func TestEvaluateActionPublishingFailures(t *testing.T) {
	champion, candidate, test := trainPair(t)
	gh := &forgetest.GitHub{CommentsForbidden: true}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	closed := httptest.NewServer(gh)
	closed.Close()
	for _, c := range []struct {
		name, api, want, notWant string
	}{
		{"comment refused", srv.URL + "/", "(the job needs permissions: pull-requests: write)", "checks: write"},
		{"API unreachable", closed.URL + "/", "connection refused", "the job needs permissions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			runner := actiontest.NewRunner(t, fmt.Sprintf(prEvent, "shop/ranker"))
			vars := runner.Vars("pull_request", evaluateInputs(candidate, champion, test))
			vars["GITHUB_API_URL"] = c.api
			r := run(t, actiontest.NewEnv(t, vars).Getenv, "action", "evaluate")
			if r.code != 3 || !strings.Contains(r.stdout, c.want) || strings.Contains(r.stdout, c.notWant) {
				t.Errorf("exit %d, want 3, %q and not %q:\n%s", r.code, c.want, c.notWant, r.stdout)
			}
			out := actiontest.ParseOutputs(t, actiontest.ReadFile(t, runner.Output))
			if out["verdict"] != "pass" || out["metrics"] == "" {
				t.Errorf("outputs %v: want them written although publishing failed", out)
			}
			if s := actiontest.ReadFile(t, runner.Summary); !strings.Contains(s, "| auc |") {
				t.Errorf("summary not written:\n%s", s)
			}
		})
	}
	if len(gh.Checks) != 1 || gh.Checks[0]["conclusion"] != "success" {
		t.Errorf("check runs %v: want the check run created although the comment was refused", gh.Checks)
	}
}
