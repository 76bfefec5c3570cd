package onnx_test

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/onnx"
	"github.com/ferry-ml/ferry/internal/testenv"
)

func load(t *testing.T, name string) *onnx.Model {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
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
func compare(t *testing.T, got, want []float64) {
	t.Helper()
	worst := 0.0
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > worst || math.IsNaN(d) {
			worst = d
		}
	}
	if worst > 1e-5 || math.IsNaN(worst) {
		t.Errorf("largest difference from PyTorch's own predictions %.3g, tolerance 1e-5", worst)
	}
	t.Logf("%d rows, largest difference from PyTorch %.3g", len(want), worst)
}

func TestMLPMatchesPyTorch(t *testing.T) {
	m := load(t, "higgs-mlp")
	d, err := data.Read(testenv.SharedData(t, "lightgbm-binary/binary.test"), data.Options{Format: data.TSV, Label: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(d.Schema()); err != nil {
		t.Fatal(err)
	}
	compare(t, m.PredictDataset(d), torchPredictions(t, "higgs-mlp"))
}

// One input per feature; the month goes in as its category index (int64),
// looked up by Gather in the embedding table.
func TestEmbeddingMatchesPyTorch(t *testing.T) {
	m := load(t, "shoppers-embedding")
	drop := []string{"Administrative", "Administrative_Duration", "Informational", "Informational_Duration", "ProductRelated",
		"ProductRelated_Duration", "BounceRates", "SpecialDay", "OperatingSystems", "Browser", "Region", "TrafficType", "VisitorType", "Weekend"}
	d, err := data.Read(testenv.SharedData(t, "online-shoppers-intention/online_shoppers_intention.csv"), data.Options{Label: "Revenue", Drop: drop})
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
	compare(t, m.PredictDataset(d.Subset(rows)), torchPredictions(t, "shoppers-embedding"))
}

func TestLoadErrors(t *testing.T) {
	b, err := os.ReadFile("testdata/unsupported-log.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.Parse(b); err == nil || !strings.Contains(err.Error(), "ONNX operators not supported: Log") {
		t.Errorf("unsupported operator: %v", err)
	}
	good, _ := os.ReadFile("testdata/higgs-mlp.onnx")
	if _, err := onnx.Parse(good[:len(good)/3]); err == nil {
		t.Error("a truncated model loaded")
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
