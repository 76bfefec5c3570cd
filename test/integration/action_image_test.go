package integration

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/test/actiontest"
	"github.com/ferry-ml/ferry/test/testenv"
)

// runnerUID is the uid of the runner's user on GitHub-hosted runners; the
// workspace and the file-command files belong to it.
const runnerUID = 1001

// actionRun is one container action step, laid out as the runner lays it out:
// the workspace at /github/workspace, the output and summary files in
// /github/file_commands, the event payload in /github/workflow.
type actionRun struct {
	dir                               string
	workspace, fileCommands, workflow string
}

func newActionRun(t *testing.T) *actionRun {
	t.Helper()
	dir := t.TempDir()
	r := &actionRun{
		dir:          dir,
		workspace:    filepath.Join(dir, "workspace"),
		fileCommands: filepath.Join(dir, "_runner_file_commands"),
		workflow:     filepath.Join(dir, "_github_workflow"),
	}
	for _, d := range []string{r.workspace, r.fileCommands, r.workflow} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The runner creates the files before the step, as its own user.
	for _, f := range []string{"set_output_1", "step_summary_1"} {
		if err := os.WriteFile(filepath.Join(r.fileCommands, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(r.workflow, "event.json"), []byte(`{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":"2222222222222222222222222222222222222222"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		for _, p := range []string{r.workspace, r.fileCommands, r.workflow,
			filepath.Join(r.fileCommands, "set_output_1"), filepath.Join(r.fileCommands, "step_summary_1"),
			filepath.Join(r.workflow, "event.json")} {
			if err := os.Chown(p, runnerUID, runnerUID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r
}

// podman runs the action image from the OCI layout `make image` wrote.
func podman(t *testing.T, r *actionRun, inputs map[string]string, args ...string) (stdout string, code int) {
	t.Helper()
	bin := testenv.LookPath(t, "podman", "run `make deps` (apt-get install podman runc)")
	root := testenv.RepoRoot(t)
	layout := filepath.Join(root, "bin", "image")
	if _, err := os.Stat(filepath.Join(layout, "index.json")); err != nil {
		testenv.Missing(t, "the action image layout bin/image", "run `make image`")
	}
	store := filepath.Join(root, "bin", "podman")
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_REPOSITORY": "shop/ranker",
		"GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_SHA": strings.Repeat("2", 40),
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_WORKSPACE": "/github/workspace",
		"GITHUB_EVENT_PATH":   "/github/workflow/event.json",
		"GITHUB_OUTPUT":       "/github/file_commands/set_output_1",
		"GITHUB_STEP_SUMMARY": "/github/file_commands/step_summary_1",
	}
	for name, v := range inputs {
		env["INPUT_"+strings.ToUpper(name)] = v
	}
	cmdArgs := []string{
		"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "runroot"),
		"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"run", "--rm", "--network", "none",
		"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
		"--workdir", "/github/workspace",
		"-v", r.workspace + ":/github/workspace",
		"-v", r.fileCommands + ":/github/file_commands",
		"-v", r.workflow + ":/github/workflow",
	}
	for k, v := range env {
		cmdArgs = append(cmdArgs, "-e", k+"="+v)
	}
	cmdArgs = append(cmdArgs, "oci:"+layout+":v"+version.Version)
	cmdArgs = append(cmdArgs, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, cmdArgs...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("podman: %v\n%s", err, errb.String())
	}
	if code == 125 || code == 126 || code == 127 {
		t.Fatalf("podman could not start the container (exit %d):\n%s", code, errb.String())
	}
	t.Logf("ferry's log:\n%s%s", out.String(), errb.String())
	return out.String(), code
}

func (r *actionRun) file(t *testing.T, name string) string {
	return actiontest.ReadFile(t, filepath.Join(r.fileCommands, name))
}

func TestActionImageVersion(t *testing.T) {
	r := newActionRun(t)
	log, code := podman(t, r, map[string]string{"command": "version"}, "action")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	outputs := actiontest.ParseOutputs(t, r.file(t, "set_output_1"))
	if outputs["version"] != version.Version || len(outputs["commit"]) != 40 {
		t.Errorf("outputs = %v, want version %s and a 40-digit commit", outputs, version.Version)
	}
	if s := r.file(t, "step_summary_1"); !strings.HasPrefix(s, "### ferry\n\n`ferry "+version.Version+" (commit ") {
		t.Errorf("summary = %q", s)
	}
	if os.Geteuid() == 0 {
		want := "::debug::ferry runs as uid 1001, the owner of /github/workspace"
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q: ferry kept root", want)
		}
	}
}

// The stage actions pass their stage as an argument and their inputs as
// INPUT_*; bad inputs become ::error annotations, secrets are masked, and
// nothing is written to the outputs.
func TestActionImageBadInputs(t *testing.T) {
	r := newActionRun(t)
	log, code := podman(t, r, map[string]string{
		"target": "kubernetes", "image": "registry.example.com/shop/ranker:pr-1",
		"replicas": "three", "github-token": "ghs_notarealtoken",
	}, "action", "deploy")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	for _, want := range []string{
		"::add-mask::ghs_notarealtoken\n",
		`::error title=ferry::input "replicas": "three" is not valid: want a whole number such as 3` + "\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if diff := cmp.Diff("", r.file(t, "set_output_1")); diff != "" {
		t.Errorf("a failed step wrote outputs: %s", diff)
	}
}

// A bad input to the deploy action inside the image fails before anything
// is resolved or applied, with exit 2 and an annotation naming the input.
func TestActionImageDeployBadInput(t *testing.T) {
	r := newActionRun(t)
	log, code := podman(t, r, map[string]string{"image": "registry.example.com/shop/ranker:pr-1", "target": "kubernetes", "name": "Ranker_1"}, "action", "deploy")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(log, `::error title=ferry::input "name": "Ranker_1" is not valid: want a DNS-1123 label`) {
		t.Errorf("the log does not name the bad input:\n%s", log)
	}
}

// The train action trains for real inside the image: the model lands in the
// workspace, owned by the runner's user, and the outputs and summary say
// what was trained.
func TestActionImageTrains(t *testing.T) {
	r := newActionRun(t)
	var csv strings.Builder
	csv.WriteString("query,price,rating,clicked\n")
	for i := 0; i < 400; i++ {
		price, rating := float64(i%97), 1+float64(i%5)
		clicked := 0
		if rating*10-price/3 > 20 {
			clicked = 1
		}
		fmt.Fprintf(&csv, "q%d,%.1f,%.1f,%d\n", i/8, price, rating, clicked)
	}
	data := filepath.Join(r.workspace, "clicks.csv")
	if err := os.WriteFile(data, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(data, runnerUID, runnerUID); err != nil {
			t.Fatal(err)
		}
	}
	log, code := podman(t, r, map[string]string{
		"data": "clicks.csv", "label": "clicked", "drop": "query", "out": "model", "param": "trees=20\nmax-depth=3",
	}, "action", "train")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(log, "::group::Train gbdt (binary) on clicks.csv") || !strings.Contains(log, "round 20/20") {
		t.Errorf("the log lacks the training group and progress")
	}
	outputs := actiontest.ParseOutputs(t, r.file(t, "set_output_1"))
	var m map[string]map[string]float64
	if err := json.Unmarshal([]byte(outputs["metrics"]), &m); err != nil || m["train"]["auc"] < 0.9 {
		t.Errorf("metrics output %q (%v)", outputs["metrics"], err)
	}
	if outputs["model-dir"] != "model" {
		t.Errorf("model-dir = %q", outputs["model-dir"])
	}
	summary := r.file(t, "step_summary_1")
	for _, want := range []string{"### 🏋️ Trained model: gbdt (binary)", "```mermaid\nxychart-beta", "| auc |"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	loaded, err := model.Load(filepath.Join(r.workspace, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Manifest.Lineage.GitSHA != strings.Repeat("2", 40) {
		t.Errorf("lineage git sha %q, want the pushed commit", loaded.Manifest.Lineage.GitSHA)
	}
	if os.Geteuid() == 0 {
		fi, err := os.Stat(filepath.Join(r.workspace, "model", "model.json"))
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != runnerUID {
			t.Errorf("model.json belongs to uid %d, want the runner's %d", uid, runnerUID)
		}
	}

	// The same image packages the model for both platforms: the action image
	// carries the small ferry-serve (cmd/ferry-serve) for each.
	log, code = podman(t, r, map[string]string{"model": "model", "layout": "image", "platform": "linux/amd64\nlinux/arm64", "kind": "image"}, "action", "package")
	if code != 0 {
		t.Fatalf("package: exit %d\n%s", code, log)
	}
	ref := actiontest.ParseOutputs(t, r.file(t, "set_output_1"))["ref"] // the runner appends each step's outputs
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		img, _, err := oci.OpenImage(context.Background(), filepath.Join(r.workspace, ref), v1.Platform{OS: "linux", Architecture: arch})
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		dir := t.TempDir()
		if err := oci.Unpack(img, dir); err != nil {
			t.Fatal(err)
		}
		f, err := elf.Open(filepath.Join(dir, "ferry-serve"))
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if info, err := buildinfo.ReadFile(filepath.Join(dir, "ferry-serve")); err != nil || info.Path != "github.com/ferry-ml/ferry/cmd/ferry-serve" {
			t.Errorf("the %s image's ferry-serve is not cmd/ferry-serve: %v %v", arch, info, err)
		}
		if f.Machine != machine {
			t.Errorf("the %s image's ferry-serve is built for %s", arch, f.Machine)
		}
		f.Close()
	}
}
