package profile

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// minShare stands in for a bin's share when it is empty, in both the index
// and the test, as Evidently and most PSI tables do: an empty bin would
// otherwise make either infinite.
const minShare = 1e-4

// Drift is one column's live counts against its training distribution.
type Drift struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Rows is the live rows counted.
	Rows int64 `json:"rows"`
	// PSI is the population stability index, sum over bins of
	// (live - train) * ln(live / train) in shares: under 0.1 is commonly
	// read as stable, over 0.25 as a large shift.
	PSI float64 `json:"psi"`
	// ChiSquare is Pearson's statistic of the live counts against the
	// training shares, with DF degrees of freedom; PValue its upper tail.
	ChiSquare float64 `json:"chi_square"`
	DF        int     `json:"df"`
	PValue    float64 `json:"p_value"`
	// Bins names each bin, missing last; Train and Live are the shares in
	// them (Live from LiveCounts).
	Bins       []string  `json:"bins"`
	Train      []float64 `json:"train"`
	Live       []float64 `json:"live"`
	LiveCounts []int64   `json:"live_counts"`
}

// Compare computes the drift of live counts (missing last, as
// Counter.Snapshot gives them) against d.
func Compare(d *Dist, live []int64) (Drift, error) {
	train := d.WithMissing()
	if len(live) != len(train) {
		return Drift{}, fmt.Errorf("feature %q: %d live bins for %d profiled", d.Name, len(live), len(train))
	}
	out := Drift{Name: d.Name, Kind: d.Kind, LiveCounts: live}
	var trainN int64
	for i := range train {
		trainN += train[i]
		out.Rows += live[i]
		out.Bins = append(out.Bins, d.BinLabel(i))
	}
	out.Train, out.Live = shares(train, trainN), shares(live, out.Rows)
	if out.Rows == 0 || trainN == 0 {
		out.PValue = 1
		return out, nil
	}
	used := 0
	for i := range train {
		p, q := max(out.Train[i], minShare), max(out.Live[i], minShare)
		out.PSI += (q - p) * math.Log(q/p)
		if train[i] == 0 && live[i] == 0 {
			continue // a bin neither saw adds nothing and no freedom
		}
		used++
		e := p * float64(out.Rows)
		o := float64(live[i])
		out.ChiSquare += (o - e) * (o - e) / e
	}
	out.DF = max(used-1, 1)
	out.PValue = distuv.ChiSquared{K: float64(out.DF)}.Survival(out.ChiSquare)
	return out, nil
}

func shares(counts []int64, n int64) []float64 {
	out := make([]float64, len(counts))
	if n == 0 {
		return out
	}
	for i, c := range counts {
		out[i] = float64(c) / float64(n)
	}
	return out
}

// Shift is the population stability index between two training
// distributions of the same feature, each binned by its own profile: other
// is laid into d's bins first (Rebin). It says how far the data a model was
// trained on moved from the data another was.
func (d *Dist) Shift(other *Dist) float64 {
	if d.Kind != other.Kind {
		return math.NaN()
	}
	base := d.WithMissing()
	moved := other.Rebin(d)
	var n, m float64
	for i := range base {
		n += float64(base[i])
		m += moved[i]
	}
	if n == 0 || m == 0 {
		return math.NaN()
	}
	psi := 0.0
	for i := range base {
		p, q := max(float64(base[i])/n, minShare), max(moved[i]/m, minShare)
		psi += (q - p) * math.Log(q/p)
	}
	return psi
}

// Rebin lays d's counts into to's bins (missing last): categories by name;
// numeric bins by spreading each of d's bins evenly over its range (its
// open ends as a point at their edge). An approximation where the two
// profiles' edges differ; exact where they agree.
func (d *Dist) Rebin(to *Dist) []float64 {
	out := make([]float64, to.Bins()+1)
	out[to.Bins()] = float64(d.Missing)
	if d.Kind == Categorical {
		index := map[string]int{}
		for i, c := range to.Categories {
			index[c] = i
		}
		for i, n := range d.Counts {
			j := len(to.Categories) // other
			if i < len(d.Categories) {
				if k, ok := index[d.Categories[i]]; ok {
					j = k
				}
			}
			out[j] += float64(n)
		}
		return out
	}
	for i, n := range d.Counts {
		if n == 0 {
			continue
		}
		switch {
		case len(d.Edges) == 0:
			out[0] += float64(n)
		case i == 0:
			out[to.Bin(d.Edges[0])] += float64(n)
		case i == len(d.Edges):
			out[to.Bin(math.Nextafter(d.Edges[i-1], math.Inf(1)))] += float64(n)
		default:
			lo, hi := d.Edges[i-1], d.Edges[i]
			spread(out, to, lo, hi, float64(n))
		}
	}
	return out
}

// spread adds n evenly over (lo, hi] into to's numeric bins.
func spread(out []float64, to *Dist, lo, hi, n float64) {
	width := hi - lo
	for b := 0; b <= len(to.Edges); b++ {
		blo, bhi := math.Inf(-1), math.Inf(1)
		if b > 0 {
			blo = to.Edges[b-1]
		}
		if b < len(to.Edges) {
			bhi = to.Edges[b]
		}
		overlap := min(hi, bhi) - max(lo, blo)
		if overlap > 0 {
			out[b] += n * overlap / width
		}
	}
}
