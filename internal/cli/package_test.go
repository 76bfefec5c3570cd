package cli_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/internal/stage"
	"github.com/ferry-ml/ferry/test/actiontest"
)

// The package action with registry credentials (as the runner passes the
// job's token) pushes a directory as a ModelPack artifact that pulls back
// file for file.
func TestPackageActionModelPack(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "output")
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(out, "model.xgb.json"), []byte(`{"learner": {}}`), 0o644)
	os.WriteFile(filepath.Join(out, "metrics.json"), []byte(`{"auc": 0.91}`), 0o644)

	runner := actiontest.NewRunner(t, `{}`)
	st, _ := stage.Lookup("package")
	inputs := map[string]string{}
	for _, s := range st.InputParams() {
		inputs[s.Name] = s.Default
	}
	repo := strings.TrimPrefix(srv.URL, "http://") + "/shop/ranker"
	for k, v := range map[string]string{"model": out, "image": repo, "kind": "modelpack", "tag": "train-42",
		"registry-username": "octocat", "registry-password": "ghs_token", "platform": ""} {
		inputs[k] = v
	}
	vars := runner.Vars("push", inputs)
	vars["SOURCE_DATE_EPOCH"] = "1700000000"
	env := actiontest.NewEnv(t, vars)
	r := run(t, env.Getenv, "action", "package")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	outputs := actiontest.ParseOutputs(t, actiontest.ReadFile(t, runner.Output))
	if !strings.HasPrefix(outputs["ref"], repo+"@sha256:") {
		t.Fatalf("outputs %v", outputs)
	}
	back := t.TempDir()
	if _, err := oci.PullModelPack(context.Background(), repo+":train-42", back); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(back, "metrics.json")); err != nil || string(b) != `{"auc": 0.91}` {
		t.Errorf("metrics.json came back as %q (%v)", b, err)
	}
}
