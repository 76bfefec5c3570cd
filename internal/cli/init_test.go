package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/demo"
	"github.com/ferry-ml/ferry/internal/model"
)

func TestInit(t *testing.T) {
	for _, trainer := range []string{"builtin", "command", "kubernetes"} {
		t.Run(trainer, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, ".git"), 0o755)
			if r := run(t, laptop, "init", "--dir", dir, "--trainer", trainer); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			cfg, err := config.Load(filepath.Join(dir, "ferry.yaml"))
			if err != nil {
				t.Fatalf("the written ferry.yaml does not load: %v", err)
			}
			want := map[string]string{"builtin": "builtin", "command": "command", "kubernetes": "command"}[trainer]
			if cfg.Train.Trainer != want || len(cfg.Evaluate.Gates) == 0 {
				t.Errorf("ferry.yaml: trainer %q, gates %v", cfg.Train.Trainer, cfg.Evaluate.Gates)
			}
			model, err := os.ReadFile(filepath.Join(dir, ".github", "workflows", "model.yml"))
			if err != nil {
				t.Fatal(err)
			}
			if trainer == "command" && !strings.Contains(string(model), "runs-on: [self-hosted, gpu]") {
				t.Error("the command trainer's workflow does not run on the GPU runner")
			}
			lint, err := os.ReadFile(filepath.Join(dir, ".github", "actionlint.yaml"))
			if (trainer == "command") != (err == nil) || (err == nil && !strings.Contains(string(lint), "- gpu")) {
				t.Errorf("actionlint config %q (%v): want the gpu label for the command trainer's self-hosted runner only", lint, err)
			}
			if trainer == "kubernetes" && !strings.Contains(string(model), "backend: kubernetes") {
				t.Error("the kubernetes trainer's workflow does not train as a Job")
			}
			for _, wf := range []string{"deploy.yml", "train-comment.yml"} {
				if _, err := os.Stat(filepath.Join(dir, ".github", "workflows", wf)); err != nil {
					t.Error(err)
				}
			}
			_, err = os.Stat(filepath.Join(dir, ".github", "workflows", "fork-report.yml"))
			if (trainer == "builtin") != (err == nil) {
				t.Errorf("fork-report.yml written: %v; want it only for the builtin trainer (forks never run your training code)", err == nil)
			}
			if trainer != "builtin" && !strings.Contains(string(model), "if: github.event.pull_request.head.repo.full_name == github.repository") {
				t.Error("the model workflow runs your training code for forks")
			}
			if trainer == "builtin" {
				trainsAsInitWrites(t, dir)
			}
		})
	}
}

// trainsAsInitWrites trains with the ferry.yaml init wrote, on the demo's
// data laid out where it says: algorithm auto, chosen by cross-validation,
// with why in model.json.
func trainsAsInitWrites(t *testing.T, dir string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	for name, seed := range map[string]uint64{"train.csv": 1, "valid.csv": 2} {
		var b bytes.Buffer
		if err := demo.Write(&b, demo.Options{Queries: 60, Products: 10, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "data", name), b.Bytes(), 0o644)
	}
	out := filepath.Join(dir, "model")
	conf := filepath.Join(dir, "ferry.yaml")
	if r := run(t, laptop, "train", "--config", conf, "--data", filepath.Join(dir, "data", "train.csv"),
		"--valid", filepath.Join(dir, "data", "valid.csv"), "--drop", "product,position,relevance", "--out", out); r.code != 0 {
		t.Fatalf("train with the ferry.yaml init wrote: exit %d: %s", r.code, r.stderr)
	}
	loaded, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	m := loaded.Manifest
	if m.Algorithm != "gbdt" || m.Search == nil || m.Search.Why == "" {
		t.Errorf("algorithm auto chose %q, search record %+v: want gbdt (the one trainer for lambdarank) and why", m.Algorithm, m.Search)
	}
}

// An existing file stops init before it writes anything; --force overwrites.
func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte("name: mine\n"), 0o644)
	r := run(t, laptop, "init", "--dir", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "ferry.yaml already exists") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ferry.yaml")); string(b) != "name: mine\n" {
		t.Error("ferry.yaml was overwritten")
	}
	if _, err := os.Stat(filepath.Join(dir, ".github")); err == nil {
		t.Error("init wrote workflows although it refused")
	}
	if r := run(t, laptop, "init", "--dir", dir, "--force"); r.code != 0 {
		t.Fatalf("--force: exit %d: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ferry.yaml")); string(b) == "name: mine\n" {
		t.Error("--force did not overwrite ferry.yaml")
	}
}

func TestInitNeedsARepository(t *testing.T) {
	r := run(t, laptop, "init", "--dir", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "not the root of a git repository") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}
