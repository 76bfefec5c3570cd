package gbdt

import (
	"context"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
)

// expectation is E[tree(x) | x_S] as path-dependent TreeSHAP defines it:
// at a node on a feature in S, follow the row; else average both children
// by their cover.
func expectation(t *Tree, n int32, row []float32, s uint) float64 {
	if t.Left[n] < 0 {
		return t.Value[n]
	}
	if s&(1<<uint(t.Feature[n])) != 0 {
		if t.goesLeft(n, row[t.Feature[n]]) {
			return expectation(t, t.Left[n], row, s)
		}
		return expectation(t, t.Right[n], row, s)
	}
	l, r := t.Left[n], t.Right[n]
	return (t.Cover[l]*expectation(t, l, row, s) + t.Cover[r]*expectation(t, r, row, s)) / (t.Cover[l] + t.Cover[r])
}

// bruteShapley is Shapley's formula over every subset of the features.
func bruteShapley(m *Model, row []float32) []float64 {
	f := m.NumFeatures
	v := func(s uint) float64 {
		sum := m.BaseScore
		for i := range m.Trees {
			sum += expectation(&m.Trees[i], 0, row, s)
		}
		return sum
	}
	fact := func(n int) float64 { return math.Gamma(float64(n + 1)) }
	phi := make([]float64, f+1)
	for i := range f {
		for s := uint(0); s < 1<<uint(f); s++ {
			if s&(1<<uint(i)) != 0 {
				continue
			}
			k := bits.OnesCount(s)
			phi[i] += fact(k) * fact(f-k-1) / fact(f) * (v(s|1<<uint(i)) - v(s))
		}
	}
	phi[f] = v(0)
	return phi
}

// TestContributionsAreShapley checks TreeSHAP against Shapley's formula
// computed by brute force over all 2^5 subsets, on a model with a
// categorical feature and missing values, and that they add up to the
// margin (to 1e-9).
func TestContributionsAreShapley(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	d := &data.Dataset{Rows: 600}
	for j := range 5 {
		c := data.Column{Name: string(rune('a' + j))}
		if j == 4 {
			c.Categorical, c.Categories = true, []string{"x", "y", "z", "w"}
		}
		for range d.Rows {
			v := float32(rng.NormFloat64())
			if j == 4 {
				v = float32(rng.IntN(4))
			}
			if rng.Float64() < 0.1 {
				v = float32(math.NaN())
			}
			c.Values = append(c.Values, v)
		}
		d.Columns = append(d.Columns, c)
	}
	for i := range d.Rows {
		a, b, cat := d.Columns[0].Values[i], d.Columns[1].Values[i], d.Columns[4].Values[i]
		y := 0.0
		if (a > 0) != (b > 0.5) || cat == 2 {
			y = 1
		}
		d.Label = append(d.Label, y)
	}
	p := DefaultParams(Binary)
	p.Trees, p.MaxDepth = 20, 4
	res, err := Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	for i := range 40 {
		row := make([]float32, 5)
		for j := range row {
			row[j] = d.Columns[j].Values[i]
		}
		got, want := m.Contributions(row), bruteShapley(m, row)
		sum := 0.0
		for j := range got {
			sum += got[j]
			if math.Abs(got[j]-want[j]) > 1e-9 {
				t.Fatalf("row %d feature %d: TreeSHAP %v, Shapley %v", i, j, got[j], want[j])
			}
		}
		if math.Abs(sum-m.Margin(row)) > 1e-9 {
			t.Fatalf("row %d: contributions add to %v, the margin is %v", i, sum, m.Margin(row))
		}
	}
}
