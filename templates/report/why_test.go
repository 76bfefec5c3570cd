package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/profile"
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
	got := WhyMoved(&model.Model{Manifest: champ, PayloadBytes: 2048}, &model.Model{Manifest: cand, PayloadBytes: 3 << 20},
		map[string]float64{"a": 0.5, "b": 0.1, "c": 0.3, "d": 0.01, "e": 0.02, "old": 0.4},
		map[string]float64{"a": 0.6, "b": 0.2, "c": 0.1, "d": 0.01, "e": 0.03, "new": 0.45})
	for _, want := range []string{
		"| features | 6 | 6 (+`new`) (−`old`) |",
		"| `trees` | 100 | 300 |",
		"| training data | `sha256:aaaaaaaaaaaa` | `sha256:bbbbbbbbbbbb` |",
		"| `a` | 0.5000 | 0.6000 |\n| `new` | — | 0.4500 |\n| `old` | 0.4000 | — |\n| `c` | 0.3000 | 0.1000 |\n| `b` | 0.1000 | 0.2000 |\n",
		"<details><summary>2 more features</summary>",
		"| model size | 2.0 KiB | 3.0 MiB |",
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
	if got := WhyMoved(&model.Model{Manifest: champ}, &model.Model{Manifest: cand}, nil, nil); strings.Contains(got, "SHAP") || strings.Contains(got, "model size") {
		t.Errorf("without importances there is no table:\n%s", got)
	}
}

// TestWhyMovedShift checks the training rows and the shift row from two
// profiles: a feature whose training data moved is named with its PSI, one
// that did not is not.
func TestWhyMovedShift(t *testing.T) {
	ds := func(rows int, offset float32) *data.Dataset {
		d := &data.Dataset{Rows: rows, Columns: []data.Column{{Name: "price"}, {Name: "rating"}}}
		for i := range rows {
			d.Columns[0].Values = append(d.Columns[0].Values, float32(i%100)+offset)
			d.Columns[1].Values = append(d.Columns[1].Values, float32(i%5))
		}
		return d
	}
	champ := model.Manifest{Features: []data.Feature{{Name: "price"}, {Name: "rating"}}}
	got := WhyMoved(&model.Model{Manifest: champ, Profile: profile.Compute(ds(1000, 0), nil, "", 0)},
		&model.Model{Manifest: champ, Profile: profile.Compute(ds(1200, 50), nil, "", 0)}, nil, nil)
	if !strings.Contains(got, "| training rows | 1000 | 1200 |") || !regexp.MustCompile("\\| training data shift \\(PSI\\) \\|  \\| `price` [0-9.]+ \\|").MatchString(got) || strings.Contains(got, "`rating` ") {
		t.Errorf("shift rows:\n%s", got)
	}
}
