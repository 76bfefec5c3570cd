package cli_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMetricsCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	binary := write("binary.csv", "row,group,label,score\n0,,0,0.1\n1,,1,0.8\n2,,1,0.45\n3,,0,0.5\n4,,1,0.9\n5,,0,0.2\n6,,0,0.65\n7,,1,0.3\n")
	ranking := write("ranking.csv", "row,group,label,score\n0,q1,0,0.1\n1,q1,2,0.9\n2,q1,0,0.5\n3,q1,1,0.4\n4,q2,0,0.3\n5,q2,0,0.2\n")
	regression := write("regression.csv", "label,score\n1.5,1\n2,2.5\n")
	for _, tc := range []struct {
		args []string
		keys []string
	}{
		{[]string{"--predictions", binary}, []string{"accuracy", "auc", "brier", "ece", "f1", "logloss", "precision", "recall", "rows"}},
		{[]string{"--predictions", ranking, "--k", "2"}, []string{"groups", "map@2", "mrr", "ndcg@2", "precision@2", "recall@2", "rows"}},
		{[]string{"--predictions", regression}, []string{"mae", "mse", "rmse", "rows"}},
	} {
		r := run(t, laptop, append([]string{"metrics", "--json"}, tc.args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d %s", tc.args, r.code, r.stderr)
		}
		var got map[string]float64
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%v: %v: %s", tc.args, err, r.stdout)
		}
		var keys []string
		for k := range got {
			keys = append(keys, k)
		}
		if diff := cmp.Diff(tc.keys, sorted(keys)); diff != "" {
			t.Errorf("%v keys (-want +got):\n%s", tc.args, diff)
		}
		if tc.args[1] == binary && got["accuracy"] != 0.5 {
			t.Errorf("accuracy %v, want 0.5 (scikit-learn)", got["accuracy"])
		}
		if tc.args[1] == ranking && got["groups"] != 2 {
			t.Errorf("groups %v, want 2", got["groups"])
		}
	}
	r := run(t, laptop, "metrics", "--predictions", binary, "--score", "margin")
	if r.code != 3 || !strings.Contains(r.stderr, `want columns "label" and "margin", the label and the score; the header has row, group, label, score`) {
		t.Errorf("missing column: exit %d, %s", r.code, r.stderr)
	}
	bad := write("bad.csv", "label,score\n1,0.5\n0,high\n")
	r = run(t, laptop, "metrics", "--predictions", bad)
	if r.code != 3 || !strings.Contains(r.stderr, bad+`:3: column "score": "high" is not a finite number`) {
		t.Errorf("bad score: exit %d, %s", r.code, r.stderr)
	}
	if r := run(t, laptop, "metrics", "--predictions", binary, "--k", "0"); r.code != 2 {
		t.Errorf("--k 0: exit %d", r.code)
	}
}

// Sample weights from a column, as scikit-learn's sample_weight.
func TestMetricsWeights(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.csv")
	os.WriteFile(p, []byte("label,score,w\n0,0.1,1\n1,0.8,2\n1,0.45,0.5\n0,0.5,3\n1,0.9,1\n0,0.2,1\n0,0.65,2\n1,0.3,0.25\n"), 0o644)
	r := run(t, laptop, "metrics", "--predictions", p, "--weight", "w", "--json")
	var got map[string]float64
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	// scikit-learn 1.2.1 with sample_weight: roc_auc_score 0.857142857, accuracy_score 0.465116279.
	if math.Abs(got["auc"]-0.8571428571428572) > 1e-12 || math.Abs(got["accuracy"]-0.46511627906976744) > 1e-12 {
		t.Errorf("auc %v, accuracy %v", got["auc"], got["accuracy"])
	}
	os.WriteFile(p, []byte("label,score,w\n0,0.1,-1\n"), 0o644)
	if r := run(t, laptop, "metrics", "--predictions", p, "--weight", "w"); r.code != 3 || !strings.Contains(r.stderr, `column "w": "-1" is not a weight`) {
		t.Errorf("negative weight: exit %d, %s", r.code, r.stderr)
	}
}
