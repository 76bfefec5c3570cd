package templates_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ml/ferry/templates/workflows"
)

// workflow is the part of a workflow file these tests read.
type workflow struct {
	Concurrency map[string]any `json:"concurrency"`
	Jobs        map[string]struct {
		If          string            `json:"if"`
		Concurrency map[string]any    `json:"concurrency"`
		Permissions map[string]string `json:"permissions"`
		Steps       []struct {
			Name string            `json:"name"`
			ID   string            `json:"id"`
			If   string            `json:"if"`
			Uses string            `json:"uses"`
			Run  string            `json:"run"`
			With map[string]string `json:"with"`
			Env  map[string]string `json:"env"`
		} `json:"steps"`
	} `json:"jobs"`
}

func render(t *testing.T, file, trainer string) (workflow, string) {
	t.Helper()
	text, err := workflows.Render(workflows.Workflows[file], workflows.Workflow{Version: "0.1.0", Trainer: trainer, RunsOn: "ubuntu-latest"})
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal([]byte(text), &w); err != nil {
		t.Fatalf("%s (%s): %v", file, trainer, err)
	}
	return w, text
}

const (
	modelYML   = ".github/workflows/model.yml"
	commentYML = ".github/workflows/train-comment.yml"
	forkYML    = ".github/workflows/fork-report.yml"
	deployYML  = ".github/workflows/deploy.yml"
)

// A comment on the pull request ("LGTM") must not cancel a running
// training: the /train workflow has no workflow-level group, and its job's
// group is its own and never cancels.
func TestCommentsCannotCancelTraining(t *testing.T) {
	for _, trainer := range []string{"builtin", "command", "kubernetes"} {
		model, _ := render(t, modelYML, trainer)
		comment, _ := render(t, commentYML, trainer)
		if comment.Concurrency != nil {
			t.Errorf("%s: train-comment.yml has a workflow-level concurrency group %v: every comment would enter it", trainer, comment.Concurrency)
		}
		job := comment.Jobs["model"]
		group, _ := job.Concurrency["group"].(string)
		if group == "" || group == model.Concurrency["group"] || job.Concurrency["cancel-in-progress"] != false {
			t.Errorf("%s: /train job concurrency %v, model.yml's %v: want a group of its own that does not cancel", trainer, job.Concurrency, model.Concurrency)
		}
	}
}

// /train retrains exactly as a push does: the same train step.
func TestTrainOnCommentTrainsLikeThePush(t *testing.T) {
	for _, trainer := range []string{"builtin", "command", "kubernetes"} {
		model, _ := render(t, modelYML, trainer)
		comment, _ := render(t, commentYML, trainer)
		train := func(w workflow) map[string]string {
			for _, s := range w.Jobs["model"].Steps {
				if s.ID == "train" {
					return s.With
				}
			}
			t.Fatalf("%s: no train step", trainer)
			return nil
		}
		push := maps.Clone(train(model))
		// Only the push's step skips training when nothing the model is
		// made from changed; a /train always trains.
		delete(push, "paths")
		delete(push, "github-token")
		if diff := cmp.Diff(push, train(comment)); diff != "" {
			t.Errorf("%s: train step of model.yml (-) and train-comment.yml (+):\n%s", trainer, diff)
		}
	}
}

// The command trainer runs the team's code in its training image through
// the docker backend: the action's own container has no shell or Python.
func TestCommandTrainerUsesTheDockerBackend(t *testing.T) {
	model, _ := render(t, modelYML, "command")
	for _, s := range model.Jobs["model"].Steps {
		if s.ID == "train" && (s.With["backend"] != "docker" || s.With["image"] == "") {
			t.Errorf("train step %v: want backend docker with an image", s.With)
		}
	}
}

// Every job that pulls the champion can read packages; pull request jobs
// never see the production kubeconfig.
func TestPermissionsAndSecrets(t *testing.T) {
	for _, trainer := range []string{"builtin", "command", "kubernetes"} {
		for _, file := range []string{modelYML, commentYML, forkYML} {
			if file == forkYML && trainer != "builtin" {
				continue // init writes the fork report for the builtin trainer only
			}
			w, text := render(t, file, trainer)
			for name, job := range w.Jobs {
				if p := job.Permissions["packages"]; p != "read" && p != "write" {
					t.Errorf("%s %s job %s: packages permission %q, want read to pull the champion", trainer, file, name, p)
				}
			}
			if strings.Contains(text, "secrets.KUBECONFIG") {
				t.Errorf("%s %s: a pull request job reads secrets.KUBECONFIG, the production deploy's credential", trainer, file)
			}
		}
	}
	_, deploy := render(t, deployYML, "kubernetes")
	if !strings.Contains(deploy, "secrets.KUBECONFIG") {
		t.Error("deploy.yml does not read the production kubeconfig")
	}
}

// The model workflow runs on every pull request (no paths filter, so the
// required check always appears); its train step decides from paths, which
// include the training code, and the later steps follow its changed output.
func TestEveryPullRequestGetsTheCheck(t *testing.T) {
	for _, trainer := range []string{"builtin", "command", "kubernetes"} {
		w, text := render(t, modelYML, trainer)
		var raw map[string]any
		if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
			t.Fatal(err)
		}
		on, _ := raw["true"].(map[string]any) // YAML 1.1 reads the key on as true
		if pr, _ := on["pull_request"].(map[string]any); pr["paths"] != nil || pr["paths-ignore"] != nil {
			t.Errorf("%s: model.yml filters pull requests by path (%v): the required check would not appear on the others", trainer, pr)
		}
		for _, s := range w.Jobs["model"].Steps {
			switch {
			case s.ID == "train":
				for _, want := range []string{"ferry.yaml", "data/**", "*.py", "requirements*.txt"} {
					if !strings.Contains(s.With["paths"], want+"\n") {
						t.Errorf("%s: train paths %q lack %q", trainer, s.With["paths"], want)
					}
				}
			case s.ID == "evaluate" && s.With["model-changed"] != "${{ steps.train.outputs.changed }}":
				t.Errorf("%s: evaluate does not learn whether the model changed: %v", trainer, s.With)
			case s.Name == "Package" && !strings.Contains(s.If, "steps.train.outputs.changed == 'true'"):
				t.Errorf("%s: Package runs when nothing was trained (if: %q)", trainer, s.If)
			}
		}
	}
}

// The pin step of /train, run for real by /bin/sh with a stand-in gh that
// answers the pull request's current head: it trains the commit the
// maintainer named, and refuses a head that moved after the comment or a
// comment that names no commit.
func TestTrainPinsTheNamedCommit(t *testing.T) {
	w, _ := render(t, commentYML, "builtin")
	var script string
	var env map[string]string
	for _, s := range w.Jobs["model"].Steps {
		if s.ID == "pr" {
			script, env = s.Run, s.Env
		}
	}
	if script == "" || env["COMMENT"] != "${{ github.event.comment.body }}" {
		t.Fatalf("no pin step reading the comment from the environment (env %v)", env)
	}
	const head = "0123456789abcdef0123456789abcdef01234567"
	bin := t.TempDir()
	gh := "#!/bin/sh\n[ \"$1 $2 $3 $4\" = \"api repos/acme/shop/pulls/7 --jq .head.sha\" ] || { echo \"unexpected gh $*\" >&2; exit 9; }\necho " + head + "\n"
	if err := os.WriteFile(filepath.Join(bin, "gh"), []byte(gh), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		comment, wantErr, wantSHA string
	}{
		{"/train 0123456", "", head},
		{"/train " + head + "\nthanks!", "", head},
		{"/train fedcba9", "the pull request's head is now " + head + ": a push came after the review; review it and comment /train 0123456789ab", ""},
		{"/train", "name the commit you reviewed: /train <sha>", ""},
		{"/train $(touch /tmp/x)", "name the commit you reviewed", ""},
		{"/train 01234", "give at least 7 hex digits", ""},
	} {
		out := filepath.Join(t.TempDir(), "output")
		os.WriteFile(out, nil, 0o644)
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "COMMENT=" + c.comment, "REPO=acme/shop", "PR=7", "GH_TOKEN=t", "GITHUB_OUTPUT=" + out}
		log, err := cmd.CombinedOutput()
		written, _ := os.ReadFile(out)
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(string(log), c.wantErr)):
			t.Errorf("%q: err %v, log %q, want a refusal saying %q", c.comment, err, log, c.wantErr)
		case c.wantErr == "" && (err != nil || string(written) != "sha="+c.wantSHA+"\n"):
			t.Errorf("%q: err %v, log %q, output %q, want sha=%s", c.comment, err, log, written, c.wantSHA)
		case c.wantErr != "" && len(written) > 0:
			t.Errorf("%q: refused, yet wrote %q", c.comment, written)
		}
	}
}

// No generated workflow pushes to git, so no checkout leaves the token in
// .git/config.
func TestCheckoutsDropTheirCredentials(t *testing.T) {
	for _, trainer := range []string{"builtin", "command", "kubernetes"} {
		for file := range workflows.Workflows {
			w, _ := render(t, file, trainer)
			for name, job := range w.Jobs {
				for _, s := range job.Steps {
					if strings.HasPrefix(s.Uses, "actions/checkout@") && s.With["persist-credentials"] != "false" {
						t.Errorf("%s %s job %s: a checkout keeps its credentials (with: %v)", trainer, file, name, s.With)
					}
				}
			}
		}
	}
}
