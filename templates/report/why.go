package report

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/profile"
)

// shownFeatures is how many features the importance table shows before the
// fold.
const shownFeatures = 5

// WhyMoved says what changed between champion and candidate and what
// drives each one's scores: the features added and removed, the trainer,
// the parameters that differ, the training data, its rows and the features
// whose training distribution moved (from the profiles, when both have
// one), the training time and the weights' size, then each
// feature's mean |SHAP| side by side (imp maps a feature to it; nil when
// the model's format has none). Empty when there is no champion.
func WhyMoved(champModel, candModel *model.Model, champImp, candImp map[string]float64) string {
	champ, cand := champModel.Manifest, candModel.Manifest
	champProf, candProf := champModel.Profile, candModel.Profile
	var b strings.Builder
	b.WriteString("**Why the numbers moved**\n\n| | champion | candidate |\n|---|---|---|\n")
	row := func(what, a, c string) {
		if a != c || what == "features" {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", what, a, c)
		}
	}
	added, removed := featureDiff(champ.Features, cand.Features)
	change := ""
	if len(added) > 0 {
		change += " (+" + strings.Join(codes(added), ", +") + ")"
	}
	if len(removed) > 0 {
		change += " (−" + strings.Join(codes(removed), ", −") + ")"
	}
	row("features", fmt.Sprint(len(champ.Features)), fmt.Sprint(len(cand.Features))+change)
	row("trainer", trainerOf(champ), trainerOf(cand))
	for _, k := range paramKeys(champ.Params, cand.Params) {
		row("`"+k+"`", cmp.Or(champ.Params[k], "—"), cmp.Or(cand.Params[k], "—"))
	}
	row("training data", dataOf(champ), dataOf(cand))
	if champProf != nil && candProf != nil {
		row("training rows", fmt.Sprint(champProf.Rows), fmt.Sprint(candProf.Rows))
		if s := shifts(champProf, candProf); s != "" {
			row("training data shift (PSI)", "", s)
		}
	}
	if champ.Run.Seconds.Train > 0 || cand.Run.Seconds.Train > 0 {
		row("training time", seconds(champ.Run.Seconds.Train), seconds(cand.Run.Seconds.Train))
	}
	if champModel.PayloadBytes > 0 || candModel.PayloadBytes > 0 {
		row("model size", size(champModel.PayloadBytes), size(candModel.PayloadBytes))
	}
	if champImp == nil && candImp == nil {
		return b.String()
	}
	b.WriteString("\n" + importanceTable(champImp, candImp))
	return b.String()
}

// shownShifts is how many features the training data shift names.
const shownShifts = 3

// shifts names the features whose training distributions moved most from
// the champion's to the candidate's (PSI, the candidate's data laid into
// the champion's bins), "" when none moved by 0.1 or more.
func shifts(champ, cand *profile.Profile) string {
	type shift struct {
		name string
		psi  float64
	}
	var all []shift
	for i := range cand.Features {
		c := &cand.Features[i]
		if ch := champ.Feature(c.Name); ch != nil {
			if psi := ch.Shift(c); psi >= 0.1 {
				all = append(all, shift{c.Name, psi})
			}
		}
	}
	slices.SortFunc(all, func(a, b shift) int { return cmp.Compare(b.psi, a.psi) })
	var parts []string
	for _, s := range all[:min(len(all), shownShifts)] {
		parts = append(parts, fmt.Sprintf("%s %.2f", code(s.name), s.psi))
	}
	if len(all) > shownShifts {
		parts = append(parts, fmt.Sprintf("and %d more", len(all)-shownShifts))
	}
	return strings.Join(parts, ", ")
}

// importanceTable lists the features by the larger of their two mean |SHAP|
// values, the first few in view and the rest folded.
func importanceTable(champImp, candImp map[string]float64) string {
	names := slices.Collect(maps.Keys(candImp))
	for n := range champImp {
		if _, ok := candImp[n]; !ok {
			names = append(names, n)
		}
	}
	top := func(n string) float64 { return max(champImp[n], candImp[n]) }
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(top(b), top(a)), cmp.Compare(a, b)) })
	cell := func(imp map[string]float64, n string) string {
		if imp == nil {
			return "n/a"
		}
		v, ok := imp[n]
		if !ok {
			return "—"
		}
		return fmt.Sprintf("%.4f", v)
	}
	head := "| feature | champion mean \\|SHAP\\| | candidate mean \\|SHAP\\| |\n|---|---:|---:|\n"
	var shown, folded strings.Builder
	for i, n := range names {
		line := fmt.Sprintf("| %s | %s | %s |\n", code(n), cell(champImp, n), cell(candImp, n))
		if i < shownFeatures {
			shown.WriteString(line)
		} else {
			folded.WriteString(line)
		}
	}
	out := "What drives each model's scores on the evaluation rows (mean |SHAP|, in the models' margin units: exact by TreeSHAP for trees, estimated by permutation sampling for other models):\n\n" + head + shown.String()
	if folded.Len() > 0 {
		out += fmt.Sprintf("\n<details><summary>%d more features</summary>\n\n%s%s\n</details>\n", len(names)-shownFeatures, head, folded.String())
	}
	return out
}

func featureDiff(champ, cand []data.Feature) (added, removed []string) {
	in := func(fs []data.Feature, n string) bool {
		return slices.ContainsFunc(fs, func(f data.Feature) bool { return f.Name == n })
	}
	for _, f := range cand {
		if !in(champ, f.Name) {
			added = append(added, f.Name)
		}
	}
	for _, f := range champ {
		if !in(cand, f.Name) {
			removed = append(removed, f.Name)
		}
	}
	return added, removed
}

func paramKeys(a, b map[string]string) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	out := slices.Sorted(maps.Keys(keys))
	return slices.DeleteFunc(out, func(k string) bool { return a[k] == b[k] })
}

func trainerOf(m model.Manifest) string {
	return cmp.Or(m.Lineage.Trainer, m.Format+" "+m.Algorithm)
}

func dataOf(m model.Manifest) string {
	if m.Lineage.DataSHA256 == "" {
		return "—"
	}
	return "`sha256:" + m.Lineage.DataSHA256[:min(12, len(m.Lineage.DataSHA256))] + "`"
}

func size(n int64) string {
	switch {
	case n <= 0:
		return "—"
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func seconds(s float64) string {
	if s <= 0 || math.IsNaN(s) {
		return "—"
	}
	return fmt.Sprintf("%.2f s", s)
}
