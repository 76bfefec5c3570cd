package metrics

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// The radix sort orders as a stable sort by score does, on random scores with
// ties, negatives, zeros of both signs and infinities.
func TestOrderByScore(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	scores := []float64{math.Inf(1), math.Copysign(0, -1), 0, math.Inf(-1), -1e-300, 1e-300, math.MaxFloat64, -math.MaxFloat64}
	for range 5000 {
		scores = append(scores, math.Round(r.NormFloat64()*50)/10)
	}
	rows := make([]scored, len(scores))
	for i, s := range scores {
		rows[i] = scored{sortKey(s), float64(i)}
	}
	got := radixSort(rows)
	want := make([]int, len(scores))
	for i := range want {
		want[i] = i
	}
	sort.SliceStable(want, func(a, b int) bool { return scores[want[a]] < scores[want[b]] })
	for i := range want {
		if g := scores[int(got[i].val)]; g != scores[want[i]] {
			t.Fatalf("position %d: score %v, want %v", i, g, scores[want[i]])
		}
	}
}

// NDCGs gives, at every cut-off, the mean of QueryNDCG over the queries it
// is defined for, on random queries with ties and queries without a
// relevant row.
func TestNDCGsEqualsQueryNDCG(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var labels, scores []float64
	var groups [][]int
	for q := range 300 {
		var g []int
		for range 1 + r.IntN(25) {
			g = append(g, len(labels))
			rel := float64(r.IntN(4))
			if q%7 == 0 {
				rel = 0
			}
			labels, scores = append(labels, rel), append(scores, math.Round(r.NormFloat64()*5)/5)
		}
		groups = append(groups, g)
	}
	ks := []int{1, 3, 5, 10, 0}
	got := NDCGs(labels, scores, groups, ks)
	for j, k := range ks {
		var sum float64
		n := 0
		for _, g := range groups {
			if v, ok := QueryNDCG(labels, scores, g, k); ok {
				sum, n = sum+v, n+1
			}
		}
		if want := sum / float64(n); got[j] != want {
			t.Errorf("ndcg@%d: NDCGs %v, mean QueryNDCG %v", k, got[j], want)
		}
	}
}
