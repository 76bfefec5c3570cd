package external_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ferrydata "github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/external"
	"github.com/ferry-ml/ferry/internal/gpu"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/test/testenv"
)

func fixture(t *testing.T) string {
	return filepath.Join(testenv.RepoRoot(t), "internal", "xgboost", "testdata", "higgs-binary.json")
}

func onnxFixture(t *testing.T) string {
	return filepath.Join(testenv.RepoRoot(t), "internal", "onnx", "testdata", "higgs-mlp.onnx")
}

// A command that exports ONNX: the network is bound to the data's schema.
func TestONNXCommand(t *testing.T) {
	dir := t.TempDir()
	data := trainCSV(t, dir)
	res, err := external.Train(context.Background(), external.Config{Command: `cp '` + onnxFixture(t) + `' "$FERRY_OUTPUT/model.onnx"`,
		Out: filepath.Join(dir, "model"), Data: data, Read: ferrydata.Options{Label: "y"}, Task: "binary", Backend: "host"}, deps(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Format != model.FormatONNX || res.Manifest.Task != "binary" || len(res.Manifest.Features) != 28 {
		t.Errorf("manifest %+v", res.Manifest)
	}
}

// A command that saves a LightGBM text model: its feature names become the
// schema when no data is given.
func TestLightGBMCommand(t *testing.T) {
	dir := t.TempDir()
	lgb := filepath.Join(testenv.RepoRoot(t), "internal", "lightgbm", "testdata", "hand.txt")
	res, err := external.Train(context.Background(), external.Config{Command: `cp '` + lgb + `' "$FERRY_OUTPUT/model.txt"`,
		Out: filepath.Join(dir, "model"), Backend: "host"}, deps(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Format != model.FormatLightGBM || m.Task != "binary" || len(m.Features) != 3 || m.Features[2].Name != "brand" || m.Algorithm != "lightgbm" {
		t.Errorf("manifest %+v", m)
	}
	if _, err := model.Load(filepath.Join(dir, "model")); err != nil {
		t.Error(err)
	}
}

func deps() external.Deps {
	return external.Deps{Backend: external.Host{}, GPU: func(context.Context, ...string) ([]byte, error) {
		return nil, errors.New("no GPU in this test")
	}}
}

func trainCSV(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for j := 1; j <= 28; j++ {
		if j > 1 {
			b.WriteString(",")
		}
		b.WriteString("x")
		b.WriteString(string(rune('a' + (j-1)/26)))
		b.WriteString(string(rune('a' + (j-1)%26)))
	}
	b.WriteString(",y\n")
	for i := 0; i < 5; i++ {
		b.WriteString(strings.Repeat("0.5,", 28) + "1\n")
	}
	p := filepath.Join(dir, "train.csv")
	os.WriteFile(p, []byte(b.String()), 0o644)
	return p
}

// A command that writes an XGBoost model and nested metrics becomes a model
// directory with the data's schema and the run's lineage.
func TestXGBoostCommand(t *testing.T) {
	dir := t.TempDir()
	data := trainCSV(t, dir)
	out := filepath.Join(dir, "model")
	var log bytes.Buffer
	cmd := `echo "training on $FERRY_DATA_TRAIN with seed $FERRY_SEED"; cp '` + fixture(t) + `' "$FERRY_OUTPUT/booster.json"; ` +
		`echo '{"valid": {"auc": 0.81, "ndcg": {"10": 0.7}}, "epochs": 12, "note": "x"}' > "$FERRY_OUTPUT/metrics.json"`
	res, err := external.Train(context.Background(), external.Config{Command: cmd, Out: out, Data: data, Read: ferrydata.Options{Label: "y"}, Seed: 9, Backend: "host", GitSHA: "abc"},
		deps(), &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "training on "+data+" with seed 9") {
		t.Errorf("the command's output did not stream to the log:\n%s", log.String())
	}
	m := res.Manifest
	if m.Format != model.FormatXGBoost || m.Task != "binary" || len(m.Features) != 28 || m.Features[0].Name != "xaa" {
		t.Errorf("format %s, task %s, %d features", m.Format, m.Task, len(m.Features))
	}
	if m.Metrics["valid"]["auc"] != 0.81 || m.Metrics["valid"]["ndcg.10"] != 0.7 || m.Metrics["reported"]["epochs"] != 12 {
		t.Errorf("metrics %v", m.Metrics)
	}
	if m.Lineage.Command != cmd || m.Lineage.GitSHA != "abc" || m.Lineage.DataSHA256 == "" || m.Lineage.Backend != "host" {
		t.Errorf("lineage %+v", m.Lineage)
	}
	if _, err := model.Load(out); err != nil {
		t.Error(err)
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name, cmd, want string
		timeout         time.Duration
	}{
		{"exit status", `echo preparing; echo "CUDA out of memory" >&2; exit 3`, "the training command exited with status 3; its last lines:\n    preparing\n    CUDA out of memory", 0},
		{"no model", `echo hi > "$FERRY_OUTPUT/notes.txt"`, "the command wrote no model to FERRY_OUTPUT (it holds: notes.txt)", 0},
		{"two models", `cp '` + fixture(t) + `' "$FERRY_OUTPUT/a.json"; cp '` + fixture(t) + `' "$FERRY_OUTPUT/b.json"`, "the command wrote 2 models to FERRY_OUTPUT (a.json (XGBoost JSON), b.json (XGBoost JSON)): write exactly one", 0},
		{"bad metrics", `cp '` + fixture(t) + `' "$FERRY_OUTPUT/a.json"; echo 'auc: 0.9' > "$FERRY_OUTPUT/metrics.json"`, "the command's metrics.json is not a JSON object", 0},
		{"onnx without data", `cp '` + onnxFixture(t) + `' "$FERRY_OUTPUT/model.onnx"`, "the command wrote model.onnx, whose inputs need the training data's schema: give the data with --data", 0},
		{"broken onnx", `echo x > "$FERRY_OUTPUT/model.onnx"`, "the command wrote model.onnx: not an ONNX model", 0},
		{"broken lightgbm", `printf 'tree\nversion=v3\n' > "$FERRY_OUTPUT/model.txt"`, `the command wrote model.txt: max_feature_idx "" is not a feature index`, 0},
		{"timeout", `echo started; sleep 30`, "the training command ran past its timeout and was stopped; its last lines:\n    started", 300 * time.Millisecond},
		{"ignores SIGTERM", `trap '' TERM; echo stubborn; sleep 30 & wait; sleep 30`, "the training command ran past its timeout and was stopped", 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "model")
			start := time.Now()
			_, err := external.Train(context.Background(), external.Config{Command: tc.cmd, Out: out, Timeout: tc.timeout, Grace: 300 * time.Millisecond, Backend: "host"},
				deps(), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tc.want)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v: the command was not stopped", took)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("a failed run left %v", entries)
			}
		})
	}
}

func TestGPUPreflight(t *testing.T) {
	facts := "0, NVIDIA H200, GPU-a, 143771, 512, 0, 560.35.03\n1, NVIDIA H200, GPU-b, 143771, 143000, 99, 560.35.03\n"
	smi := func(_ context.Context, args ...string) ([]byte, error) {
		if len(args) > 0 {
			return []byte(facts), nil
		}
		return []byte("| NVIDIA-SMI 560.35.03  Driver Version: 560.35.03  CUDA Version: 12.6 |"), nil
	}
	dir := t.TempDir()
	cmd := `echo "$CUDA_VISIBLE_DEVICES/$NVIDIA_VISIBLE_DEVICES" > "$FERRY_OUTPUT/../gpus.txt"; cp '` + fixture(t) + `' "$FERRY_OUTPUT/m.json"`
	res, err := external.Train(context.Background(), external.Config{Command: cmd, Out: filepath.Join(dir, "model"), GPUs: "1", MinGPUMemory: 1000, Backend: "host"},
		external.Deps{Backend: external.Host{}, GPU: smi}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "gpus.txt")); string(b) != "0/0\n" {
		t.Errorf("the command saw GPUs %q, want the free one, 0", b)
	}
	if g := res.Manifest.Run.GPU; g == nil || g.CUDA != "12.6" || len(g.Devices) != 2 {
		t.Errorf("GPU facts %+v", g)
	}
	_, err = external.Train(context.Background(), external.Config{Command: "true", Out: filepath.Join(dir, "m2"), GPUs: "device=1", MinGPUMemory: 1000, Backend: "host"},
		external.Deps{Backend: external.Host{}, GPU: smi}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "GPU 1 (NVIDIA H200) has 771 MiB free, under the 1000 MiB asked for") {
		t.Errorf("busy GPU: %v", err)
	}
	_, err = external.Train(context.Background(), external.Config{Command: "true", Out: filepath.Join(dir, "m3"), GPUs: "all", Backend: "host"},
		external.Deps{Backend: external.Host{}, GPU: func(context.Context, ...string) ([]byte, error) { return nil, gpu.ErrNoDriver }}, &bytes.Buffer{})
	if !errors.Is(err, gpu.ErrNoDriver) {
		t.Errorf("no driver: %v", err)
	}
}
