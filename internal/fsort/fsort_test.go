package fsort

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// values are n numbers of every kind but NaN: both zeros, infinities,
// subnormals, repeats, and values of one sign only (whose high bytes
// agree, a pass the sort skips).
func values(rng *rand.Rand, n int, kind int) []float64 {
	s := make([]float64, n)
	for i := range s {
		switch kind {
		case 0: // everything
			switch rng.IntN(8) {
			case 0:
				s[i] = math.Copysign(0, float64(rng.IntN(2)*2-1))
			case 1:
				s[i] = math.Inf(rng.IntN(2)*2 - 1)
			case 2:
				s[i] = float64(rng.IntN(5)) // repeats
			case 3:
				s[i] = math.SmallestNonzeroFloat64 * float64(rng.IntN(100)-50)
			default:
				s[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10))
			}
		case 1: // positive, one scale
			s[i] = 1 + rng.Float64()
		case 2: // float32 values held as float64: low bytes zero
			s[i] = float64(float32(rng.NormFloat64()))
		}
	}
	return s
}

// byBits orders by value, -0 before +0: sorted so, two lists hold the same
// values, zeros' signs included, when their bits are equal.
func byBits(a, b float64) int {
	if a == b {
		sign := func(v float64) int {
			if math.Signbit(v) {
				return 0
			}
			return 1
		}
		return cmp.Compare(sign(a), sign(b)) // -0 first
	}
	return cmp.Compare(a, b)
}

func TestFloat64s(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 10, small - 1, small, 1000, 20000} {
		for kind := range 3 {
			s := values(rng, n, kind)
			want := slices.Clone(s)
			slices.SortFunc(want, byBits)
			Float64s(s)
			got := slices.Clone(s)
			slices.SortFunc(got, byBits)
			if !slices.IsSorted(s) || !slices.EqualFunc(got, want, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }) {
				t.Fatalf("%d values of kind %d: not sorted, or not the same values (first %v)", n, kind, s[:min(n, 8)])
			}
		}
	}
}

func TestFloat32s(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 10, small - 1, small, 1000, 20000} {
		for kind := range 3 {
			s := make([]float32, n)
			for i, v := range values(rng, n, kind) {
				s[i] = float32(v)
			}
			bits := func(a, b float32) int { return byBits(float64(a), float64(b)) }
			want := slices.Clone(s)
			slices.SortFunc(want, bits)
			Float32s(s)
			got := slices.Clone(s)
			slices.SortFunc(got, bits)
			if !slices.IsSorted(s) || !slices.EqualFunc(got, want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
				t.Fatalf("%d values of kind %d: not sorted, or not the same values (first %v)", n, kind, s[:min(n, 8)])
			}
		}
	}
}

func BenchmarkSort(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	src := values(rng, 7000, 2)
	s := make([]float64, len(src))
	b.Run("radix", func(b *testing.B) {
		for b.Loop() {
			copy(s, src)
			Float64s(s)
		}
	})
	b.Run("pdqsort", func(b *testing.B) {
		for b.Loop() {
			copy(s, src)
			slices.Sort(s)
		}
	})
}
