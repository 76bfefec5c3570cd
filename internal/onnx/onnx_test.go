package onnx_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/onnx"
	"github.com/ferry-ml/ferry/test/testenv"
)

// load reads a fixture as ferry-serve does, with ParseFile.
func load(t testing.TB, name string) *onnx.Model {
	t.Helper()
	m, err := onnx.ParseFile(filepath.Join("testdata", name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// ParseFile (the file read a field at a time, raw weights straight into
// their tensors) and Parse (the bytes in memory) build the same network:
// the same scores to the bit.
func TestParseFileMatchesParse(t *testing.T) {
	m, d := higgsMLP(t)
	e, ed := shoppersEmbedding(t)
	rd := shoppersRanker(t)
	for _, c := range []struct {
		name string
		file *onnx.Model
		d    *data.Dataset
	}{{"higgs-mlp", m, d}, {"shoppers-embedding", e, ed}, {"shoppers-ranker-opset17", load(t, "shoppers-ranker-opset17"), rd}} {
		b, err := os.ReadFile(filepath.Join("testdata", c.name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		mem, err := onnx.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.Check(c.d.Schema()); err != nil {
			t.Fatal(err)
		}
		if err := c.file.Check(c.d.Schema()); err != nil {
			t.Fatal(err)
		}
		got, want := c.file.PredictDataset(c.d), mem.PredictDataset(c.d)
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("%s row %d: ParseFile scores %v, Parse %v", c.name, i, got[i], want[i])
			}
		}
	}
}

// torchPredictions reads what PyTorch itself predicted (written by
// hack/testdata/onnx_models.py before the export).
func torchPredictions(t *testing.T, name string) []float64 {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".predictions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, r := range rows[1:] {
		v, _ := strconv.ParseFloat(r[1], 64)
		out = append(out, v)
	}
	return out
}

// Tolerance 1e-5: float32 networks, PyTorch's kernels against gonum's.
func compare(t *testing.T, got, want []float64) { compareWith(t, "PyTorch", got, want) }

// compareWith checks ferry's scores against a reference's, within 1e-5.
func compareWith(t *testing.T, reference string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s scored %d rows, ferry %d", reference, len(want), len(got))
	}
	worst := 0.0
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > worst || math.IsNaN(d) {
			worst = d
		}
	}
	if worst > 1e-5 || math.IsNaN(worst) {
		t.Errorf("largest difference from %s's own predictions %.3g, tolerance 1e-5", reference, worst)
	}
	t.Logf("%d rows, largest difference from %s %.3g", len(want), reference, worst)
}

// higgsMLP loads the PyTorch HIGGS MLP bound to the HIGGS test rows.
func higgsMLP(t testing.TB) (*onnx.Model, *data.Dataset) {
	t.Helper()
	m := load(t, "higgs-mlp")
	d, err := data.Read(context.Background(), testenv.SharedData(t, "lightgbm-binary/binary.test"), data.Options{Format: data.TSV, Label: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(d.Schema()); err != nil {
		t.Fatal(err)
	}
	return m, d
}

func TestMLPMatchesPyTorch(t *testing.T) {
	m, d := higgsMLP(t)
	compare(t, m.PredictDataset(d), torchPredictions(t, "higgs-mlp"))
}

// One input per feature; the month goes in as its category index (int64),
// looked up by Gather in the embedding table.
func TestEmbeddingMatchesPyTorch(t *testing.T) {
	m, d := shoppersEmbedding(t)
	compare(t, m.PredictDataset(d), torchPredictions(t, "shoppers-embedding"))
}

// shoppersEmbedding loads the embedding fixture bound to the first 500
// online shoppers rows.
func shoppersEmbedding(t *testing.T) (*onnx.Model, *data.Dataset) {
	t.Helper()
	m := load(t, "shoppers-embedding")
	drop := []string{"Administrative", "Administrative_Duration", "Informational", "Informational_Duration", "ProductRelated",
		"ProductRelated_Duration", "BounceRates", "SpecialDay", "OperatingSystems", "Browser", "Region", "TrafficType", "VisitorType", "Weekend"}
	d, err := data.Read(context.Background(), testenv.SharedData(t, "online-shoppers-intention/online_shoppers_intention.csv"), data.Options{Label: "Revenue", Drop: drop})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(d.Schema()); err != nil {
		t.Fatal(err)
	}
	rows := make([]int, 500)
	for i := range rows {
		rows[i] = i
	}
	return m, d.Subset(rows)
}

// shoppersRanker reads the columns the ranker fixture takes: Month and
// VisitorType by name, and the five others, in file order, as its "dense"
// input.
func shoppersRanker(t *testing.T) *data.Dataset {
	t.Helper()
	keep := map[string]bool{"Administrative": true, "ProductRelated_Duration": true, "BounceRates": true, "ExitRates": true,
		"PageValues": true, "Month": true, "VisitorType": true, "Revenue": true}
	f, err := os.Open(testenv.SharedData(t, "online-shoppers-intention/online_shoppers_intention.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	var drop []string
	for _, h := range header {
		if !keep[h] {
			drop = append(drop, h)
		}
	}
	d, err := data.Read(context.Background(), testenv.SharedData(t, "online-shoppers-intention/online_shoppers_intention.csv"), data.Options{Label: "Revenue", Drop: drop})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]int, 500)
	for i := range rows {
		rows[i] = i
	}
	return d.Subset(rows)
}

// The same PyTorch ranker exported at opsets 13, 14 and 17 (ReduceMean and
// Pow become one LayerNormalization at 17), each against PyTorch's own
// predictions. Its inputs: "Month" and "VisitorType" ([rows] int64
// embedding indexes) and "dense", [rows, 5] float, which takes the features
// no input is named after.
func TestRankerMatchesPyTorchAtEachOpset(t *testing.T) {
	d := shoppersRanker(t)
	want := torchPredictions(t, "shoppers-ranker")
	for _, opset := range []int{13, 14, 17} {
		t.Run(strconv.Itoa(opset), func(t *testing.T) {
			m := load(t, "shoppers-ranker-opset"+strconv.Itoa(opset))
			if err := m.Check(d.Schema()); err != nil {
				t.Fatal(err)
			}
			compare(t, m.PredictDataset(d), want)
		})
	}
}

// One compiled model, many goroutines: every run must give the same
// scores (with -race, any shared mutable state on the request path fails).
func TestConcurrentRuns(t *testing.T) {
	m, d := higgsMLP(t)
	want := m.PredictDataset(d)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for rep := 0; rep < 20; rep++ {
				lo := (g*37 + rep*11) % (d.Rows - 10)
				rows := []int{lo, lo + 3, lo + 9}
				got := m.PredictDataset(d.Subset(rows))
				for k, r := range rows {
					if got[k] != want[r] {
						errs <- fmt.Sprintf("goroutine %d: row %d scored %v, alone %v", g, r, got[k], want[r])
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestLoadErrors(t *testing.T) {
	b, err := os.ReadFile("testdata/unsupported-conv.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.Parse(b); err == nil || !strings.Contains(err.Error(), "ONNX operators not supported (opset 14): Conv; ferry scores") {
		t.Errorf("unsupported operator: %v", err)
	}
	good, _ := os.ReadFile("testdata/higgs-mlp.onnx")
	if _, err := onnx.Parse(good[:len(good)/3]); err == nil {
		t.Error("a truncated model loaded")
	}
	cut := filepath.Join(t.TempDir(), "cut.onnx")
	if err := os.WriteFile(cut, good[:len(good)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.ParseFile(cut); err == nil || !strings.Contains(err.Error(), "not an ONNX model") {
		t.Errorf("a truncated model file: %v", err)
	}
	if _, err := onnx.ParseFile(filepath.Join(t.TempDir(), "absent.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no file: %v", err)
	}
	m := load(t, "higgs-mlp")
	if err := m.Check([]data.Feature{{Name: "a"}, {Name: "b"}}); err == nil || !strings.Contains(err.Error(), "takes 28 features and the schema lists 2") {
		t.Errorf("schema mismatch: %v", err)
	}
	e := load(t, "shoppers-embedding")
	if err := e.Check([]data.Feature{{Name: "PageValues"}, {Name: "Month"}}); err == nil || !strings.Contains(err.Error(), `ONNX input "ExitRates" is not a feature of the schema`) {
		t.Errorf("missing feature: %v", err)
	}
}

// Any bytes: Parse returns a model or an error, never panics; a model that
// loads scores a row or reports NaN.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"higgs-mlp", "shoppers-embedding", "shoppers-ranker-opset17", "unsupported-conv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".onnx"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "m.onnx")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fm, ferr := onnx.ParseFile(path) // never panics either
		m, err := onnx.Parse(b)
		if err != nil {
			return
		}
		d := &data.Dataset{Rows: 1, Columns: []data.Column{{Name: "x", Values: []float32{1}}}}
		if m.Check(d.Schema()) != nil {
			return
		}
		want := m.PredictDataset(d)
		if ferr != nil || fm.Check(d.Schema()) != nil {
			return // ParseFile refuses group wire types Parse skips
		}
		if got := fm.PredictDataset(d); math.Float64bits(got[0]) != math.Float64bits(want[0]) {
			t.Errorf("ParseFile scores %v, Parse %v", got[0], want[0])
		}
	})
}

// BenchmarkPredict scores the HIGGS MLP fixture (28-64-32-1, PyTorch) at 1
// and 256 rows per call, in process.
func BenchmarkPredict(b *testing.B) {
	m, d := higgsMLP(b)
	for _, rows := range []int{1, 256} {
		idx := make([]int, rows)
		for i := range idx {
			idx[i] = i
		}
		sub := d.Subset(idx)
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.PredictDataset(sub)
			}
		})
	}
}

// ONNX Runtime (onnxruntime-node 1.30.0, installed into bin/ort by
// hack/deps.sh) is the independent reference: every fixture, fed the very
// tensors ferry builds, scores within 1e-5 of ferry's executor.
func TestMatchesONNXRuntime(t *testing.T) {
	node := testenv.LookPath(t, "node", "run `make deps` (apt-get install nodejs npm)")
	modules := filepath.Join(testenv.RepoRoot(t), "bin", "ort", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "onnxruntime-node")); err != nil {
		testenv.Missing(t, "onnxruntime-node in bin/ort", "run ./hack/deps.sh (npm install onnxruntime-node)")
	}
	higgs, hd := higgsMLP(t)
	emb, ed := shoppersEmbedding(t)
	type ortCase struct {
		name string
		m    *onnx.Model
		d    *data.Dataset
	}
	cases := []ortCase{{"higgs-mlp", higgs, hd}, {"shoppers-embedding", emb, ed}}
	// Opset 18's axes-as-input reductions and Split with num_outputs, built
	// with ONNX's helper (no exporter installable here writes opset 18).
	op18 := load(t, "higgs-opset18")
	if err := op18.Check(hd.Schema()); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, ortCase{"higgs-opset18", op18, hd})
	rd := shoppersRanker(t)
	for _, opset := range []string{"13", "14", "17"} {
		m := load(t, "shoppers-ranker-opset"+opset)
		if err := m.Check(rd.Schema()); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, ortCase{"shoppers-ranker-opset" + opset, m, rd})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			feeds, err := json.Marshal(onnx.Feeds(tc.m, tc.d))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(node, filepath.Join("testdata", "ort.js"), filepath.Join("testdata", tc.name+".onnx"))
			cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
			cmd.Stdin = bytes.NewReader(feeds)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("ONNX Runtime: %v\n%s", err, stderr.String())
			}
			var want []float64
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("ONNX Runtime's output: %v", err)
			}
			compareWith(t, "ONNX Runtime", tc.m.PredictDataset(tc.d), want)
		})
	}
}
