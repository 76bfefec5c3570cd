package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-ml/ferry/internal/cli"
)

// --target local unpacks the packaged image, runs its own ferry-serve as a
// process, smoke-tests it and reports the URL; a second deployment
// replaces the first; --stop stops it.
func TestDeployLocal(t *testing.T) {
	dir := t.TempDir()
	m := newClicksModel(t, dir)
	layout := filepath.Join(dir, "image")
	m.stdout.Reset()
	if code := cli.Main(context.Background(), []string{"package", "--model", m.dir, "--layout", layout}, m.env); code != 0 {
		t.Fatalf("package: %s", m.stderr)
	}
	ref := lastLine(m.stdout.String())
	state := filepath.Join(dir, "deployments")
	deploy := func(args ...string) string {
		t.Helper()
		m.stdout.Reset()
		m.stderr.Reset()
		all := append([]string{"deploy", "--target", "local", "--name", "clicks", "--local-dir", state}, args...)
		if code := cli.Main(context.Background(), all, m.env); code != 0 {
			t.Fatalf("ferry %s: exit %d: %s", strings.Join(all, " "), code, m.stderr)
		}
		return lastLine(m.stdout.String())
	}
	url := deploy("--image", ref)
	t.Cleanup(func() { deploy("--stop") })
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("printed %q, want the server's URL", url)
	}
	pid := readPID(t, filepath.Join(state, "clicks", "pid"))
	resp, err := http.Post(url+"/v2/models/clicks/infer", "application/json",
		strings.NewReader(`{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[0, 1], [80, 2]]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Outputs []struct{ Data []float64 }
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(out.Outputs) != 1 || len(out.Outputs[0].Data) != 2 {
		t.Fatalf("infer: %s %+v", resp.Status, out)
	}

	// Deploying again starts a new server and stops the old one.
	url2 := deploy("--image", ref)
	if url2 == url || alive(pid) {
		t.Errorf("redeploy: URL %s (was %s), old process alive: %v", url2, url, alive(pid))
	}
	pid2 := readPID(t, filepath.Join(state, "clicks", "pid"))
	deploy("--stop")
	if alive(pid2) {
		t.Errorf("--stop left PID %d running", pid2)
	}
	if _, err := http.Get(url2 + "/v2/health/live"); err == nil {
		t.Error("the server still answers after --stop")
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// alive reports whether pid runs (a zombie counts as gone).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(stat), ") Z ")
}
