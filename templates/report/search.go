package report

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/search"
)

// shownTrials is how many of the best trials the search table shows.
const shownTrials = 5

// SearchSection says how the candidate's parameters were chosen: the
// search, the best trials with their folds' mean and spread, and a Mermaid
// chart of each trial's score and the best so far, folded; with
// --algorithm auto, why the algorithm won. "" without a search.
func SearchSection(s *search.Result) string {
	if s == nil || len(s.Trials) == 0 || s.Best < 1 {
		return ""
	}
	var b strings.Builder
	counts := map[string]int{}
	for _, t := range s.Trials {
		counts[t.State]++
	}
	how := fmt.Sprintf("%d-fold cross-validation on the training rows", s.Folds)
	if s.Folds == 0 {
		how = "the validation file"
	}
	fmt.Fprintf(&b, "**How the parameters were chosen**: %s search, %d trials (%s) by %s", s.Strategy, len(s.Trials), stateCounts(counts), how)
	if s.Stopped == "time" {
		b.WriteString(", stopped by its time budget")
	}
	best := s.BestTrial()
	fmt.Fprintf(&b, "; the best, trial %d, scored %s %.4f ± %.4f.\n", best.Number, s.Metric, best.Score, best.SD)
	if s.Why != "" {
		fmt.Fprintf(&b, "\nChosen by `--algorithm auto`: %s.\n", s.Why)
	}
	b.WriteString("\n" + trialTable(s))
	if chart := trialChart(s); chart != "" {
		b.WriteString("\n<details><summary>Every trial</summary>\n\n```mermaid\n" + chart + "```\n\n</details>\n")
	}
	return b.String()
}

func stateCounts(c map[string]int) string {
	var parts []string
	for _, st := range []string{search.StateComplete, search.StatePruned, search.StateFailed} {
		if c[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[st], st))
		}
	}
	return strings.Join(parts, ", ")
}

// trialTable lists the best complete trials.
func trialTable(s *search.Result) string {
	var done []search.Trial
	for _, t := range s.Trials {
		if t.State == search.StateComplete {
			done = append(done, t)
		}
	}
	slices.SortStableFunc(done, func(a, b search.Trial) int {
		switch {
		case a.Score == b.Score:
			return a.Number - b.Number
		case (a.Score > b.Score) == s.HigherIsBetter:
			return -1
		}
		return 1
	})
	auto := len(s.Candidates) > 0
	var b strings.Builder
	b.WriteString("| trial |")
	if auto {
		b.WriteString(" algorithm |")
	}
	fmt.Fprintf(&b, " %s (mean ± sd) | parameters |\n|---:|", s.Metric)
	if auto {
		b.WriteString("---|")
	}
	b.WriteString("---:|---|\n")
	for _, t := range done[:min(shownTrials, len(done))] {
		fmt.Fprintf(&b, "| %d |", t.Number)
		if auto {
			fmt.Fprintf(&b, " %s |", t.Algorithm)
		}
		fmt.Fprintf(&b, " %.4f ± %.4f | %s |\n", t.Score, t.SD, paramCell(t.Params))
	}
	return b.String()
}

func paramCell(p map[string]string) string {
	if len(p) == 0 {
		return "defaults"
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		kv = append(kv, "`"+k+"="+p[k]+"`")
	}
	return strings.Join(kv, " ")
}

// trialChart is each scored trial's mean (bars) and the best so far (the
// line), against the trial's number; "" with fewer than two.
func trialChart(s *search.Result) string {
	var xs []string
	var scores, bests []float64
	for _, t := range s.Trials {
		if t.State == search.StateFailed {
			continue
		}
		xs = append(xs, fmt.Sprint(t.Number))
		scores = append(scores, t.Score)
		best := t.Score
		if len(bests) > 0 && (bests[len(bests)-1] > best) == s.HigherIsBetter && bests[len(bests)-1] != best {
			best = bests[len(bests)-1]
		}
		if t.State == search.StatePruned && len(bests) > 0 {
			best = bests[len(bests)-1] // a pruned trial's partial mean is not a result
		}
		bests = append(bests, best)
	}
	if len(xs) < 2 {
		return ""
	}
	return fmt.Sprintf("xychart-beta\n    title \"%s per trial (bars), best so far (line)\"\n    x-axis \"trial\" [%s]\n    y-axis \"%s\"\n    bar [%s]\n    line [%s]\n",
		s.Metric, strings.Join(xs, ", "), s.Metric, points(scores), points(bests))
}

// points writes every value, unlike Series, so that each stays under its
// trial's number on the x-axis.
func points(vs []float64) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strconv.FormatFloat(v, 'f', 4, 64)
	}
	return strings.Join(out, ", ")
}
