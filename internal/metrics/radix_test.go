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
	scores := []float64{math.Inf(1), -0.0, 0.0, math.Inf(-1), -1e-300, 1e-300, math.MaxFloat64, -math.MaxFloat64}
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
