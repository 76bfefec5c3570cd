package gbdt

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"github.com/ferry-ml/ferry/internal/metrics"
)

// baseScore is the margin every row starts from: the log-odds of the positive
// rate for binary, the mean label for regression, 0 for ranking.
func baseScore(obj Objective, labels []float64) float64 {
	if obj == LambdaRank {
		return 0
	}
	var mean float64
	for _, y := range labels {
		mean += y
	}
	mean /= float64(len(labels))
	if obj == Binary {
		p := min(max(mean, 1e-6), 1-1e-6)
		return math.Log(p / (1 - p))
	}
	return mean
}

// gradients fills grad with the first and second derivatives of the loss with
// respect to each row's margin.
func gradients(p Params, labels, margin []float64, groups [][]int, grad []gradPair) {
	switch p.Objective {
	case Binary:
		// log-loss: g = σ(m) - y, h = σ(m)(1 - σ(m)).
		parallelRows(len(labels), p.ThreadCount(), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				q := gradSigmoid(margin[i])
				grad[i] = gradPair{q - labels[i], max(q*(1-q), 1e-16)}
			}
		})
	case Regression:
		// squared error / 2: g = m - y, h = 1.
		for i, y := range labels {
			grad[i] = gradPair{margin[i] - y, 1}
		}
	case LambdaRank:
		var wg sync.WaitGroup
		next := make(chan []int, len(groups))
		for _, q := range groups {
			next <- q
		}
		close(next)
		for w := 0; w < p.ThreadCount(); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var scratch rankScratch
				for q := range next {
					lambdas(p, labels, margin, q, grad, &scratch)
				}
			}()
		}
		wg.Wait()
	}
}

type rankScratch struct {
	order  []int     // the query's rows' positions in q, best margin first
	labels []float64 // labels, sorted for the ideal DCG
	disc   []float64 // disc[i]: the discount of rank i+1
	// By rank in the current order: each row's label, gain, margin and
	// the gradient and hessian summed for it. The pair loop reads these
	// in sequence instead of through q and order.
	rl, rg, rm, pg, ph []float64
}

// lambdas computes one query's LambdaMART gradients (LightGBM's lambdarank):
// for each pair (hi, lo) with rel_hi > rel_lo, at least one within the top
// TruncationLevel of the current ranking,
//
//	ρ = 1 / (1 + exp(s_hi - s_lo))
//	Δ = |gain_hi - gain_lo| · |disc(rank_hi) - disc(rank_lo)| / maxDCG
//	g_hi -= ρΔ, g_lo += ρΔ, h_hi and h_lo += ρ(1-ρ)Δ
//
// then every gradient and hessian is scaled by log2(1+Σ)/Σ, Σ the sum of the
// pairs' 2ρΔ, so queries with many pairs do not dominate. ρ is gradSigmoid's
// (2e-7 relative), as the log-loss gradients are.
func lambdas(p Params, labels, margin []float64, q []int, grad []gradPair, s *rankScratch) {
	for _, r := range q {
		grad[r] = gradPair{}
	}
	n := len(q)
	if n < 2 {
		return
	}
	s.labels = s.labels[:0]
	for _, r := range q {
		s.labels = append(s.labels, labels[r])
	}
	slices.Sort(s.labels)
	var maxDCG float64
	for i := 0; i < min(n, p.TruncationLevel); i++ {
		maxDCG += metrics.Gain(s.labels[n-1-i]) * metrics.Discount(i+1)
	}
	if maxDCG == 0 {
		return
	}
	inv := 1 / maxDCG
	s.order = s.order[:0]
	for i := range q {
		s.order = append(s.order, i)
	}
	for i := len(s.disc); i < n; i++ { // kept across queries: the pair loop's logarithms
		s.disc = append(s.disc, metrics.Discount(i+1))
	}
	slices.SortStableFunc(s.order, func(a, b int) int { return cmp.Compare(margin[q[b]], margin[q[a]]) })
	s.rl, s.rg, s.rm = s.rl[:0], s.rg[:0], s.rm[:0]
	for _, k := range s.order {
		r := q[k]
		s.rl = append(s.rl, labels[r])
		s.rg = append(s.rg, metrics.Gain(labels[r]))
		s.rm = append(s.rm, margin[r])
	}
	s.pg, s.ph = slices.Grow(s.pg[:0], n)[:n], slices.Grow(s.ph[:0], n)[:n]
	clear(s.pg)
	clear(s.ph)
	rl, rg, rm, pg, ph, disc := s.rl[:n], s.rg[:n], s.rm[:n], s.pg[:n], s.ph[:n], s.disc[:n]
	var sum float64
	for i := 0; i < min(n-1, p.TruncationLevel); i++ {
		for j := i + 1; j < n; j++ {
			if rl[i] == rl[j] {
				continue
			}
			hi, lo := i, j
			if rl[j] > rl[i] {
				hi, lo = j, i
			}
			delta := math.Abs(rg[i]-rg[j]) * (disc[i] - disc[j]) * inv
			rho := gradSigmoid(rm[lo] - rm[hi])
			lambda := rho * delta
			hess := rho * (1 - rho) * delta
			pg[hi] -= lambda
			pg[lo] += lambda
			ph[hi] += hess
			ph[lo] += hess
			sum += 2 * lambda
		}
	}
	norm := 1.0
	if sum > 0 {
		norm = math.Log2(1+sum) / sum
	}
	for i, k := range s.order {
		grad[q[k]] = gradPair{pg[i] * norm, ph[i] * norm}
	}
}

// gradSigmoid is σ(x) to about 1e-7 relative error, for the log-loss
// gradients only: they feed histograms of sums, where XGBoost keeps them in
// float32 anyway, and math.Exp was a sixth of a round's time. Predictions
// and metrics use the exact sigmoid.
func gradSigmoid(x float64) float64 {
	// e^-x = 2^k e^r with r = -x - k ln2 in [-ln2/2, ln2/2], e^r from its
	// Taylor series to r^6 (error below 1.3e-7 relative).
	// Plain comparisons, not min and max, which order NaNs and signed
	// zeros at a cost of a third of this function's time; adding and taking
	// away 1.5·2^52 rounds to the nearest integer without math.Floor's call.
	t := -x
	if t < -700 {
		t = -700
	} else if t > 700 {
		t = 700
	}
	const round = 0x1.8p52
	k := (t*math.Log2E + round) - round
	r := t - k*math.Ln2
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return 1 / (1 + p*math.Float64frombits(uint64(int64(k)+1023)<<52))
}
