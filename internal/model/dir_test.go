package model_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gbdt"
	"github.com/ferry-ml/ferry/internal/model"
)

func trained(t *testing.T) (*gbdt.Model, *data.Dataset) {
	t.Helper()
	d := &data.Dataset{Rows: 6, Label: []float64{0, 0, 1, 1, 0, 1},
		Columns: []data.Column{{Name: "x", Values: []float32{1, 2, 3, 4, 2, 5}}}}
	p := gbdt.DefaultParams(gbdt.Binary)
	p.Trees, p.MinChildWeight = 3, 0
	res, err := gbdt.Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Model, d
}

func manifest(d *data.Dataset) model.Manifest {
	return model.Manifest{Name: "m", Format: model.FormatGBDT, Task: model.TaskBinary, Objective: "binary",
		Features: d.Schema(), Metrics: map[string]map[string]float64{"train": {"auc": 1}}}
}

func TestRoundTrip(t *testing.T) {
	m, d := trained(t)
	dir := filepath.Join(t.TempDir(), "model")
	if err := model.Save(dir, manifest(d), m); err != nil {
		t.Fatal(err)
	}
	loaded, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.PredictDataset(d), loaded.PredictDataset(d)); diff != "" {
		t.Errorf("scores after a round trip (-before +after):\n%s", diff)
	}
	if loaded.Manifest.FormatVersion != model.FormatVersion || loaded.Manifest.Payload != "gbdt.json" {
		t.Errorf("manifest %+v", loaded.Manifest)
	}
	// Saving again over a model directory replaces it.
	if err := model.Save(dir, manifest(d), m); err != nil {
		t.Errorf("replace a model: %v", err)
	}
}

func TestSaveRefusesToClobber(t *testing.T) {
	m, d := trained(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := model.Save(dir, manifest(d), m)
	if err == nil || !strings.Contains(err.Error(), "is not empty and is not a model directory") {
		t.Errorf("Save over a non-model directory: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
		t.Error("a refused save touched the directory")
	}
}

func TestLoadErrors(t *testing.T) {
	m, d := trained(t)
	for name, edit := range map[string]func(dir string){
		"newer version":  func(dir string) { rewrite(t, dir, "model.json", `"format_version": 1`, `"format_version": 2`) },
		"unknown format": func(dir string) { rewrite(t, dir, "model.json", `"ferry-gbdt"`, `"ferry-forest"`) },
		"payload path":   func(dir string) { rewrite(t, dir, "model.json", `"gbdt.json"`, `"../gbdt.json"`) },
		"bad payload":    func(dir string) { os.WriteFile(filepath.Join(dir, "gbdt.json"), []byte("{"), 0o644) },
		"schema":         func(dir string) { rewrite(t, dir, "model.json", `"name": "x"`, `"name": "x"}, {"name": "y"`) },
		"no manifest":    func(dir string) { os.Remove(filepath.Join(dir, "model.json")) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "model")
			if err := model.Save(dir, manifest(d), m); err != nil {
				t.Fatal(err)
			}
			edit(dir)
			if _, err := model.Load(dir); err == nil {
				t.Error("loaded")
			} else {
				t.Log(err)
			}
		})
	}
}

func rewrite(t *testing.T, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
