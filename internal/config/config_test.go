package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-ml/ferry/internal/config"
)

func TestValidFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid fixtures: %v", err)
	}
	for _, f := range files {
		if _, err := config.Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestFullFile(t *testing.T) {
	f, err := config.Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seed, boot, conf := 7, 2000, 0.9
	want := &config.File{
		Name: "search-ranker",
		Data: config.Data{Train: "data/train.csv", Valid: "data/valid.csv", Format: "csv", Delimiter: ";", Label: "clicked", Group: "query_id",
			Categorical: []string{"device", "category"}, Drop: []string{"session_id"}},
		Train: config.Train{Algorithm: "gbdt", Objective: "lambdarank",
			Params: map[string]config.Scalar{"learning-rate": "0.05", "trees": "300"}, Seed: &seed, Out: "model"},
		Evaluate: config.Evaluate{Gates: []string{"ndcg@10 max-drop 1%", "ndcg@10 >= 0.5"}, Bootstrap: &boot, Confidence: &conf, Slice: "device"},
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"learning-rate=0.05", "trees=300"}, f.Train.ParamList()); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
}

// Every invalid fixture starts with a comment giving the error it must
// produce.
func TestInvalidFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid fixtures: %v", err)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		first, _, _ := strings.Cut(string(b), "\n")
		want := strings.TrimSpace(strings.TrimPrefix(first, "# want:"))
		_, err := config.Load(f)
		if err == nil {
			t.Errorf("%s: accepted", f)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant it to contain %q", f, err, want)
		}
	}
}
