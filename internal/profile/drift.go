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
