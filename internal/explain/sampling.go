package explain

import (
	"math/rand/v2"
)

// Score scores a batch of rows (each one value per feature, NaN for
// missing) in the model's margin units: log-odds for a binary model.
type Score func(rows [][]float32) []float64

// Sampled estimates each row's SHAP values for a model it can only score,
// not open (an MLP, an ONNX graph): interventional Shapley values by
// permutation sampling (Štrumbelj and Kononenko, "Explaining prediction
// models and individual predictions with feature contributions", 2014).
// For each of perms permutations, the features join in that order, a
// feature not yet joined keeping a background row's value, and each
// feature is credited with the change in score it brings. Permutations come
// in antithetic pairs (an order and its reverse), which halves the
// variance for nearly additive models. Per row and permutation the credits
// sum to the row's score minus the background row's, exactly, so the
// values add up to the score minus the background's mean in expectation.
// Deterministic for a seed.
func Sampled(score Score, rows, background [][]float32, perms int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 0x5a4b))
	pairs := max(1, (perms+1)/2)
	out := make([][]float64, len(rows))
	if len(rows) == 0 {
		return out
	}
	nf := len(rows[0])
	// One row's hybrids, built in the same buffer for every row: for each
	// permutation, the background row, then one more of x's features at a
	// time.
	flat := make([]float32, 2*pairs*(nf+1)*nf)
	batch := make([][]float32, 2*pairs*(nf+1))
	for b := range batch {
		batch[b] = flat[b*nf : (b+1)*nf : (b+1)*nf]
	}
	orders := make([][]int, 2*pairs)
	for i, x := range rows {
		for p := 0; p < 2*pairs; p += 2 {
			order := rng.Perm(nf)
			z := background[rng.IntN(len(background))]
			reverse := make([]int, nf)
			for k, j := range order {
				reverse[nf-1-k] = j
			}
			orders[p], orders[p+1] = order, reverse
			for q := p; q < p+2; q++ {
				h := batch[q*(nf+1):]
				copy(h[0], z)
				for k, j := range orders[q] {
					copy(h[k+1], h[k])
					h[k+1][j] = x[j]
				}
			}
		}
		scores := score(batch)
		phi := make([]float64, nf)
		for p, o := range orders {
			base := p * (nf + 1)
			for k, j := range o {
				phi[j] += scores[base+k+1] - scores[base+k]
			}
		}
		for j := range phi {
			phi[j] /= float64(len(orders))
		}
		out[i] = phi
	}
	return out
}

// SampledMeanAbs is each feature's mean |SHAP| value over rows, by Sampled.
func SampledMeanAbs(score Score, rows, background [][]float32, perms int, seed uint64) []float64 {
	if len(rows) == 0 {
		return nil
	}
	out := make([]float64, len(rows[0]))
	for _, phi := range Sampled(score, rows, background, perms, seed) {
		for j, v := range phi {
			out[j] += max(v, -v)
		}
	}
	for j := range out {
		out[j] /= float64(len(rows))
	}
	return out
}
