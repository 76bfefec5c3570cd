package search

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
)

// Strategies are the ways trials are proposed.
var Strategies = []string{"tpe", "random", "grid"}

// gridSteps is how many points of a range a grid takes: its ends and its
// middle, on its scale.
const gridSteps = 3

// grid lists every point of the space's grid in a shuffled order (the seed
// picks it), so that a budget smaller than the grid samples it evenly, as
// Optuna's grid sampler does.
func grid(s Space, seed int64) []map[string]string {
	points := []map[string]string{{}}
	for _, d := range s {
		values := d.Values
		if values == nil {
			values = d.gridValues()
		}
		var next []map[string]string
		for _, p := range points {
			for _, v := range values {
				q := make(map[string]string, len(p)+1)
				for k, x := range p {
					q[k] = x
				}
				q[d.Name] = v
				next = append(next, q)
			}
		}
		points = next
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	r.Shuffle(len(points), func(i, j int) { points[i], points[j] = points[j], points[i] })
	return points
}

func (d Dim) gridValues() []string {
	var out []string
	for i := range gridSteps {
		u := float64(i) / float64(gridSteps-1)
		v := d.format(d.fromUnit(u))
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// The unit scale: a range's values mapped onto [0, 1], linearly or by
// their logarithm. Whole-number ranges widen by half a step at each end so
// that the ends are as likely as the middle, as in Optuna.
func (d Dim) bounds() (lo, hi float64) {
	lo, hi = d.Min, d.Max
	if d.Int {
		lo, hi = lo-0.5, hi+0.5
		if d.Log {
			lo = math.Max(lo, d.Min*0.5+0.25) // stay above zero
		}
	}
	if d.Log {
		return math.Log(lo), math.Log(hi)
	}
	return lo, hi
}

func (d Dim) fromUnit(u float64) float64 {
	lo, hi := d.bounds()
	x := lo + u*(hi-lo)
	if d.Log {
		x = math.Exp(x)
	}
	return math.Min(math.Max(x, d.Min), d.Max)
}

func (d Dim) toUnit(v string) float64 {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0.5
	}
	lo, hi := d.bounds()
	if d.Log {
		x = math.Log(x)
	}
	if hi == lo {
		return 0.5
	}
	return math.Min(math.Max((x-lo)/(hi-lo), 0), 1)
}

// randomPoint draws every parameter independently: a list's values alike,
// a range uniformly on its scale.
func randomPoint(s Space, r *rand.Rand) map[string]string {
	p := make(map[string]string, len(s))
	for _, d := range s {
		if d.Values != nil {
			p[d.Name] = d.Values[r.IntN(len(d.Values))]
		} else {
			p[d.Name] = d.format(d.fromUnit(r.Float64()))
		}
	}
	return p
}

// TPE's settings, Optuna's and hyperopt's: the first startup trials are
// random; then the best quarter of the finished trials (at most 25) make
// the "good" density l, the rest the "bad" density g, and each parameter
// takes the best of candidates drawn from l by l/g.
const (
	tpeStartup    = 10
	tpeGamma      = 0.25
	tpeCandidates = 24
)

// tpePoint proposes the next trial from the trials finished so far (best
// first); with fewer than tpeStartup of them it is randomPoint.
func tpePoint(s Space, done []Trial, higher bool, r *rand.Rand) map[string]string {
	var scored []Trial
	for _, t := range done {
		if t.State == StateComplete || t.State == StatePruned {
			scored = append(scored, t)
		}
	}
	if len(scored) < tpeStartup {
		return randomPoint(s, r)
	}
	sort.SliceStable(scored, func(i, j int) bool { return better(scored[i], scored[j], higher) })
	nGood := min(25, int(math.Ceil(tpeGamma*float64(len(scored)))))
	good, bad := scored[:nGood], scored[nGood:]
	p := make(map[string]string, len(s))
	for _, d := range s {
		if d.Values != nil {
			p[d.Name] = pickCategory(d, good, bad, r)
		} else {
			p[d.Name] = d.format(d.fromUnit(pickNumber(d, good, bad, r)))
		}
	}
	return p
}

// better orders trials for TPE: complete before pruned (a pruned trial's
// folds stopped because they were losing), then by score.
func better(a, b Trial, higher bool) bool {
	if (a.State == StateComplete) != (b.State == StateComplete) {
		return a.State == StateComplete
	}
	if higher {
		return a.Score > b.Score
	}
	return a.Score < b.Score
}

func pickCategory(d Dim, good, bad []Trial, r *rand.Rand) string {
	weights := func(ts []Trial) []float64 {
		w := make([]float64, len(d.Values))
		for i := range w {
			w[i] = 1 // the prior: every value once
		}
		for _, t := range ts {
			if i := slices.Index(d.Values, t.Params[d.Name]); i >= 0 {
				w[i]++
			}
		}
		return w
	}
	l, g := weights(good), weights(bad)
	sl, sg := sum(l), sum(g)
	best, bestRatio := d.Values[0], math.Inf(-1)
	for range tpeCandidates {
		i := draw(l, sl, r)
		if ratio := (l[i] / sl) / (g[i] / sg); ratio > bestRatio {
			best, bestRatio = d.Values[i], ratio
		}
	}
	return best
}

func sum(w []float64) float64 {
	s := 0.0
	for _, x := range w {
		s += x
	}
	return s
}

func draw(w []float64, total float64, r *rand.Rand) int {
	u := r.Float64() * total
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// parzen is a mixture of Gaussians truncated to [0, 1], one at each
// observation and a wide one in the middle as the prior, each with a width
// from the gaps to its neighbours (hyperopt's rule).
type parzen struct{ mu, sigma []float64 }

func newParzen(xs []float64) parzen {
	mu := append(slices.Clone(xs), 0.5)
	slices.Sort(mu)
	n := float64(len(mu))
	lo := 1 / math.Min(100, n+1)
	p := parzen{mu: mu, sigma: make([]float64, len(mu))}
	for i, m := range mu {
		left, right := m, 1-m
		if i > 0 {
			left = m - mu[i-1]
		}
		if i < len(mu)-1 {
			right = mu[i+1] - m
		}
		p.sigma[i] = math.Min(math.Max(math.Max(left, right), lo), 1)
	}
	for i, m := range mu {
		if m == 0.5 && len(xs) > 0 { // the prior stays wide
			p.sigma[i] = 1
			break
		}
	}
	return p
}

func (p parzen) sample(r *rand.Rand) float64 {
	i := r.IntN(len(p.mu))
	for range 100 {
		if x := p.mu[i] + p.sigma[i]*r.NormFloat64(); x >= 0 && x <= 1 {
			return x
		}
	}
	return math.Min(math.Max(p.mu[i], 0), 1)
}

func (p parzen) logDensity(x float64) float64 {
	total := 0.0
	for i, m := range p.mu {
		s := p.sigma[i]
		mass := normCDF((1-m)/s) - normCDF((0-m)/s)
		z := (x - m) / s
		total += math.Exp(-z*z/2) / (s * math.Sqrt(2*math.Pi) * math.Max(mass, 1e-12))
	}
	return math.Log(total / float64(len(p.mu)))
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

func pickNumber(d Dim, good, bad []Trial, r *rand.Rand) float64 {
	units := func(ts []Trial) []float64 {
		out := make([]float64, 0, len(ts))
		for _, t := range ts {
			if v, ok := t.Params[d.Name]; ok {
				out = append(out, d.toUnit(v))
			}
		}
		return out
	}
	l, g := newParzen(units(good)), newParzen(units(bad))
	best, bestScore := 0.5, math.Inf(-1)
	for range tpeCandidates {
		x := l.sample(r)
		if s := l.logDensity(x) - g.logDensity(x); s > bestScore {
			best, bestScore = x, s
		}
	}
	return best
}
