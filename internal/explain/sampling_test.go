package explain

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomRows(n, f int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, f)
		for j := range out[i] {
			out[i][j] = float32(rng.NormFloat64())
		}
	}
	return out
}

func scoreEach(f func(x []float32) float64) Score {
	return func(rows [][]float32) []float64 {
		out := make([]float64, len(rows))
		for i, r := range rows {
			out[i] = f(r)
		}
		return out
	}
}

// For an additive model the sampled values are exact, whatever the
// permutations: w_j (x_j - z_j) against one background row z.
func TestSampledIsExactForAdditiveModels(t *testing.T) {
	w := []float64{2, -1, 0.5, 0}
	f := scoreEach(func(x []float32) float64 {
		s := 0.3
		for j, v := range x {
			s += w[j] * float64(v)
		}
		return s
	})
	rows, z := randomRows(50, 4, 1), randomRows(1, 4, 2)
	for i, phi := range Sampled(f, rows, z, 4, 7) {
		for j := range phi {
			if want := w[j] * (float64(rows[i][j]) - float64(z[0][j])); math.Abs(phi[j]-want) > 1e-9 {
				t.Fatalf("row %d feature %d: %v, want %v", i, j, phi[j], want)
			}
		}
	}
}

// An interaction is split evenly between its two features (the antithetic
// pairs see both orders), and per row the values add up to the score minus
// the background's (efficiency), to rounding.
func TestSampledSplitsInteractionsAndAddsUp(t *testing.T) {
	f := scoreEach(func(x []float32) float64 {
		return float64(x[0]*x[1]) + math.Sin(float64(x[2])) + math.Exp(float64(x[3])/4)*float64(x[2])
	})
	zero := [][]float32{{0, 0, 0, 0}}
	rows := randomRows(40, 4, 3)
	for i, phi := range Sampled(f, rows, zero, 8, 11) {
		x := rows[i]
		if half := float64(x[0]*x[1]) / 2; math.Abs(phi[0]-half) > 1e-9 || math.Abs(phi[1]-half) > 1e-9 {
			t.Errorf("row %d: x0*x1 = %v credited %v and %v, want half each", i, 2*half, phi[0], phi[1])
		}
		sum := 0.0
		for _, v := range phi {
			sum += v
		}
		if want := f([][]float32{x})[0] - f(zero)[0]; math.Abs(sum-want) > 1e-9 {
			t.Errorf("row %d: the values sum to %v, want f(x) - f(z) = %v", i, sum, want)
		}
	}
	a := SampledMeanAbs(f, rows, randomRows(20, 4, 4), 8, 5)
	b := SampledMeanAbs(f, rows, randomRows(20, 4, 4), 8, 5)
	for j := range a {
		if a[j] != b[j] {
			t.Fatalf("not deterministic for a seed: %v and %v", a, b)
		}
	}
}
