package report

import (
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
)

// TestWhyMoved checks what the section shows: only what differs (and the
// features always), the features added and removed, the importance table
// ordered by the larger value, five in view and the rest folded, and "—"
// for a feature a model does not have.
func TestWhyMoved(t *testing.T) {
	feats := func(names ...string) []data.Feature {
		var out []data.Feature
		for _, n := range names {
			out = append(out, data.Feature{Name: n})
		}
		return out
	}
	champ := model.Manifest{Features: feats("a", "b", "c", "d", "e", "old"), Params: map[string]string{"trees": "100", "seed": "1"}, Format: "gbdt"}
	cand := model.Manifest{Features: feats("a", "b", "c", "d", "e", "new"), Params: map[string]string{"trees": "300", "seed": "1"}, Format: "gbdt"}
	champ.Lineage.Trainer, cand.Lineage.Trainer = "ferry gbdt", "ferry gbdt"
	champ.Lineage.DataSHA256, cand.Lineage.DataSHA256 = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
	got := WhyMoved(champ, cand,
		map[string]float64{"a": 0.5, "b": 0.1, "c": 0.3, "d": 0.01, "e": 0.02, "old": 0.4},
		map[string]float64{"a": 0.6, "b": 0.2, "c": 0.1, "d": 0.01, "e": 0.03, "new": 0.45})
	for _, want := range []string{
		"| features | 6 | 6 (+`new`) (−`old`) |",
		"| `trees` | 100 | 300 |",
		"| training data | `sha256:aaaaaaaaaaaa` | `sha256:bbbbbbbbbbbb` |",
		"| `a` | 0.5000 | 0.6000 |\n| `new` | — | 0.4500 |\n| `old` | 0.4000 | — |\n| `c` | 0.3000 | 0.1000 |\n| `b` | 0.1000 | 0.2000 |\n",
		"<details><summary>2 more features</summary>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	for _, not := range []string{"`seed`", "| trainer |"} {
		if strings.Contains(got, not) {
			t.Errorf("%s is the same in both and should not be shown:\n%s", not, got)
		}
	}
	if got := WhyMoved(champ, cand, nil, nil); strings.Contains(got, "SHAP") {
		t.Errorf("without importances there is no table:\n%s", got)
	}
}
