package gbdt

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLowerBoundIsBinarySearch checks the branch-free search against
// slices.BinarySearch (the first bound >= v) on bounds of every length a
// feature can have, for values on, between and beyond the bounds.
func TestLowerBoundIsBinarySearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inf := float32(math.Inf(1))
	for n := 1; n <= 256; n++ {
		bounds := make([]float32, n)
		for i := range bounds[:n-1] {
			bounds[i] = float32(rng.IntN(4*n)) - float32(2*n) // ties, negatives, zero
		}
		if n > 2 {
			bounds[0] = float32(math.Copysign(0, -1)) // -0 among the bounds
		}
		slices.Sort(bounds[:n-1])
		bounds = slices.Compact(bounds[:n-1])
		bounds = append(bounds, inf)
		values := []float32{-inf, inf, float32(math.Copysign(0, -1)), 0, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}
		for _, b := range bounds {
			values = append(values, b, math.Nextafter32(b, -inf), math.Nextafter32(b, inf))
		}
		for range 50 {
			values = append(values, float32(rng.NormFloat64())*float32(2*n))
		}
		keys := make([]int32, len(bounds))
		for i, b := range bounds {
			keys[i] = orderKey(b)
		}
		for _, v := range values {
			want, _ := slices.BinarySearch(bounds, v)
			if got := lowerBound(keys, v); got != want {
				t.Fatalf("%d bounds %v, value %v: lowerBound %d, slices.BinarySearch %d", len(bounds), bounds, v, got, want)
			}
		}
	}
}

// BenchmarkBinColumns bins five normal columns of 100,000 values into 255
// bins each.
func BenchmarkBinColumns(b *testing.B) {
	d := randomData(100_000, 3)
	fbs := cutFeatures(d, 255, 1)
	b.ResetTimer()
	for b.Loop() {
		binColumns(d, fbs, 1)
	}
}
