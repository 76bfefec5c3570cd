package compare_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/compare"
)

// binaryScores: a candidate that separates the classes better than the
// champion, on n rows.
func binaryScores(n int, gap float64) compare.Scores {
	rng := rand.New(rand.NewPCG(1, 2))
	s := compare.Scores{}
	for i := 0; i < n; i++ {
		y := float64(i % 2)
		s.Labels = append(s.Labels, y)
		noise := rng.NormFloat64()
		s.Champion = append(s.Champion, 1/(1+math.Exp(-(y-0.5+noise))))
		s.Candidate = append(s.Candidate, 1/(1+math.Exp(-((y-0.5)*(1+gap)+noise))))
	}
	return s
}

func TestBetterCandidate(t *testing.T) {
	res, err := compare.Compare(binaryScores(4000, 2), compare.Options{Resamples: 300, Confidence: 0.95, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	auc := res.Metric("auc")
	if auc == nil || auc.Verdict != compare.Better || !(auc.Low > 0 && auc.Low <= auc.Delta && auc.Delta <= auc.High) {
		t.Errorf("auc %+v: want a better verdict with an interval around the delta, above 0", auc)
	}
	if ll := res.Metric("logloss"); ll == nil || ll.HigherIsBetter || ll.Verdict != compare.Better {
		t.Errorf("logloss %+v: lower is better, and the candidate's is lower", ll)
	}
}

// The same scores for both: every interval is exactly zero, every verdict
// "no significant change".
func TestIdenticalModels(t *testing.T) {
	s := binaryScores(500, 0)
	s.Candidate = append([]float64(nil), s.Champion...)
	res, err := compare.Compare(s, compare.Options{Resamples: 100, Confidence: 0.9, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Metrics {
		if m.Delta != 0 || m.Low != 0 || m.High != 0 || m.Verdict != compare.NoSignificant {
			t.Errorf("%s: %+v", m.Name, m)
		}
	}
}

// A pure-noise difference is, most of the time, no significant change: over
// 40 seeds the 90 % interval of AUC's delta covers 0 at least 30 times.
func TestNoiseIsNotSignificant(t *testing.T) {
	covered := 0
	for seed := uint64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		var s compare.Scores
		for i := 0; i < 300; i++ {
			y := float64(rng.IntN(2))
			s.Labels = append(s.Labels, y)
			s.Champion = append(s.Champion, y*0.5+rng.Float64())
			s.Candidate = append(s.Candidate, y*0.5+rng.Float64())
		}
		res, err := compare.Compare(s, compare.Options{Resamples: 200, Confidence: 0.9, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if res.Metric("auc").Verdict == compare.NoSignificant {
			covered++
		}
	}
	if covered < 30 {
		t.Errorf("the interval covered 0 in %d of 40 noise-only comparisons", covered)
	}
}

func TestRankingResamplesQueries(t *testing.T) {
	var s compare.Scores
	rng := rand.New(rand.NewPCG(5, 5))
	for q := 0; q < 60; q++ {
		var g []int
		for d := 0; d < 10; d++ {
			rel := float64(rng.IntN(4))
			g = append(g, len(s.Labels))
			s.Labels = append(s.Labels, rel)
			s.Candidate = append(s.Candidate, rel+rng.NormFloat64()*0.5)
			s.Champion = append(s.Champion, rel+rng.NormFloat64()*3)
		}
		s.Groups = append(s.Groups, g)
	}
	res, err := compare.Compare(s, compare.Options{Resamples: 200, Confidence: 0.95, Seed: 1, K: []int{10}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Task != "ranking" || res.Groups != 60 {
		t.Fatalf("task %s, %d groups", res.Task, res.Groups)
	}
	if m := res.Metric("ndcg@10"); m == nil || m.Verdict != compare.Better {
		t.Errorf("ndcg@10: %+v", m)
	}
}

func TestDeterministic(t *testing.T) {
	s := binaryScores(800, 0.3)
	a, _ := compare.Compare(s, compare.Options{Resamples: 100, Confidence: 0.95, Seed: 9})
	b, _ := compare.Compare(s, compare.Options{Resamples: 100, Confidence: 0.95, Seed: 9})
	if a.Metric("auc").Low != b.Metric("auc").Low || a.Metric("f1").High != b.Metric("f1").High {
		t.Error("the same seed gave other intervals")
	}
}

func TestGates(t *testing.T) {
	s := binaryScores(1000, 1)
	var gates []compare.Gate
	for _, text := range []string{"auc >= 0.5", "auc >= 0.99", "logloss max-increase 0 abs", "auc max-drop 1%", "brier <= 0.01"} {
		g, err := compare.ParseGate(text)
		if err != nil {
			t.Fatal(err)
		}
		gates = append(gates, g)
	}
	res, err := compare.Compare(s, compare.Options{Gates: gates})
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{true, false, true, true, false}
	for i, g := range res.Gates {
		if g.Pass != want[i] {
			t.Errorf("gate %q: pass %v (%s), want %v", g.Gate.Text, g.Pass, g.Message, want[i])
		}
	}
	if res.Pass {
		t.Error("the comparison passed with failing gates")
	}
	// Swapped, the champion is the better model: the drop gates fail.
	s.Candidate, s.Champion = s.Champion, s.Candidate
	res, _ = compare.Compare(s, compare.Options{Gates: gates[2:4]})
	for _, g := range res.Gates {
		if g.Pass {
			t.Errorf("gate %q passed a worse candidate: %s", g.Gate.Text, g.Message)
		}
	}
	// Without a champion, drop gates pass and say why.
	s.Champion = nil
	res, _ = compare.Compare(s, compare.Options{Gates: gates[2:3]})
	if !res.Gates[0].Pass || !strings.Contains(res.Gates[0].Message, "no champion") {
		t.Errorf("no champion: %+v", res.Gates[0])
	}
}

func TestParseGateErrors(t *testing.T) {
	for text, want := range map[string]string{
		"auc":                  "want METRIC >= VALUE",
		"aucc >= 0.8":          `unknown metric "aucc"`,
		"auc > 0.8":            `unknown comparison ">"`,
		"auc >= high":          `"high" is not a valid value`,
		"ndcg@10 max-drop -1%": `"-1%" is not a valid value`,
		// A drop without its unit read as an absolute 1.0 never fails.
		"ndcg@10 max-drop 1":        `"1" has no unit: write ndcg@10 max-drop 1% (percent of the champion's value) or ndcg@10 max-drop 1 abs`,
		"logloss max-drop 2%":       "lower logloss is better, so it does not drop: write logloss max-increase 2%",
		"auc max-increase 1%":       "higher auc is better, so it does not increase: write auc max-drop 1%",
		"auc max-drop 1% sometimes": `unexpected "sometimes"`,
		"auc >= 0.8 significant":    "a threshold is METRIC >= VALUE, nothing after it",
	} {
		if _, err := compare.ParseGate(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseGate(%q) = %v, want %q", text, err, want)
		}
	}
	if g, err := compare.ParseGate(" ndcg@10  max-drop  1% "); err != nil || !g.Relative || g.Value != 1 {
		t.Errorf("relative gate: %+v %v", g, err)
	}
	if g, err := compare.ParseGate("logloss max-increase 0.01 abs significant"); err != nil || g.Relative || !g.Significant || g.Value != 0.01 {
		t.Errorf("absolute significant gate: %+v %v", g, err)
	}
}

// A significant gate fails only when the whole interval of the change is
// past the allowance: a small, noisy drop passes it and fails the point
// gate; a large drop fails both.
func TestSignificantGates(t *testing.T) {
	point, _ := compare.ParseGate("auc max-drop 0.01%")
	sig, _ := compare.ParseGate("auc max-drop 0.01% significant")
	for _, c := range []struct {
		name          string
		noise         float64
		wantPoint     bool
		wantSignifant bool
	}{
		// The candidate adds noise to the champion's scores: a little
		// noise lowers AUC slightly (within the interval), much noise
		// lowers it far past the allowance.
		{"small drop", 0.02, false, true},
		{"large drop", 3, false, false},
	} {
		s := binaryScores(1000, 1)
		s.Champion = append([]float64{}, s.Candidate...)
		rng := rand.New(rand.NewPCG(7, 7))
		for i := range s.Candidate {
			s.Candidate[i] += c.noise * rng.NormFloat64()
		}
		res, err := compare.Compare(s, compare.Options{Resamples: 300, Confidence: 0.95, Seed: 1, Gates: []compare.Gate{point, sig}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Gates[0].Pass != c.wantPoint || res.Gates[1].Pass != c.wantSignifant {
			t.Errorf("%s: point gate %v (%s), significant gate %v (%s); want %v and %v", c.name,
				res.Gates[0].Pass, res.Gates[0].Message, res.Gates[1].Pass, res.Gates[1].Message, c.wantPoint, c.wantSignifant)
		}
	}
}

func TestSlices(t *testing.T) {
	// Two segments: the candidate is better on mobile, the same on desktop.
	var s compare.Scores
	var seg []string
	for i := 0; i < 400; i++ {
		y := float64(i % 2)
		s.Labels = append(s.Labels, y)
		s.Champion = append(s.Champion, 0.5)
		if i < 300 {
			seg = append(seg, "mobile")
			s.Candidate = append(s.Candidate, 0.25+0.5*y)
		} else {
			seg = append(seg, "desktop")
			s.Candidate = append(s.Candidate, 0.5)
		}
	}
	got := compare.Slices(s, seg, []string{"auc", "accuracy"}, compare.Options{})
	if len(got) != 2 || got[0].Value != "mobile" || got[0].Rows != 300 || got[1].Value != "desktop" {
		t.Fatalf("slices %+v", got)
	}
	if m := got[0].Metrics[0]; m.Name != "auc" || m.Candidate != 1 || m.Champion != 0.5 || m.Delta != 0.5 {
		t.Errorf("mobile auc %+v", m)
	}
	if m := got[1].Metrics[0]; m.Delta != 0 {
		t.Errorf("desktop auc %+v", m)
	}
}

// Intervals within each segment: the candidate ranks mobile rows as the
// champion does and reverses the desktop ones, so desktop is significantly
// worse and mobile is not, and the report flags desktop alone.
func TestSliceIntervals(t *testing.T) {
	var s compare.Scores
	var seg []string
	for i := 0; i < 600; i++ {
		y := float64(i % 2)
		noise := float64((i*7919)%100) / 400
		s.Labels = append(s.Labels, y)
		s.Champion = append(s.Champion, 0.3+0.4*y+noise)
		if i < 400 {
			seg = append(seg, "mobile")
			s.Candidate = append(s.Candidate, 0.3+0.4*y+noise)
		} else {
			seg = append(seg, "desktop")
			s.Candidate = append(s.Candidate, 0.7-0.4*y+noise)
		}
	}
	got := compare.Slices(s, seg, []string{"auc"}, compare.Options{Resamples: 300, Confidence: 0.95, Seed: 1})
	if len(got) != 2 || got[0].Value != "mobile" {
		t.Fatalf("slices %+v", got)
	}
	mobile, desktop := got[0].Metrics[0], got[1].Metrics[0]
	if mobile.Verdict != compare.NoSignificant || mobile.Delta != 0 {
		t.Errorf("mobile %+v", mobile)
	}
	if desktop.Verdict != compare.Worse || !(desktop.High < 0) || !(desktop.Low <= desktop.Delta && desktop.Delta <= desktop.High) {
		t.Errorf("desktop %+v", desktop)
	}
}

// On data with one class AUC does not exist: it is listed as undefined, not
// reported as a number, and a gate on it fails instead of passing unseen.
func TestSingleClassAUCIsUndefined(t *testing.T) {
	s := binaryScores(200, 1)
	for i := range s.Labels {
		s.Labels[i] = 1
	}
	gate, err := compare.ParseGate("auc >= 0.5")
	if err != nil {
		t.Fatal(err)
	}
	res, err := compare.Compare(s, compare.Options{Resamples: 50, Confidence: 0.95, Seed: 1, Gates: []compare.Gate{gate}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Metric("auc") != nil || len(res.Undefined) == 0 || res.Undefined[0] != "auc" {
		t.Errorf("auc %+v, undefined %v: want auc undefined", res.Metric("auc"), res.Undefined)
	}
	if res.Metric("logloss") == nil {
		t.Error("logloss is defined on one class and went missing")
	}
	if res.Pass {
		t.Error("a gate on an undefined metric passed")
	}
}
