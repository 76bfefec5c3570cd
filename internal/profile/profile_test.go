package profile

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
)

func column(name string, vals ...float64) data.Column {
	c := data.Column{Name: name}
	for _, v := range vals {
		c.Values = append(c.Values, float32(v))
	}
	return c
}

// TestComputeBins checks the edges and counts on columns whose quantiles
// are known: 1 to 100 in deciles, a 0/1 flag, a category with an unseen
// index, and missing values.
func TestComputeBins(t *testing.T) {
	var seq []float64
	for i := 1; i <= 100; i++ {
		seq = append(seq, float64(i))
	}
	flag := append(slices.Repeat([]float64{0}, 70), slices.Repeat([]float64{1}, 30)...)
	cat := append(slices.Repeat([]float64{0}, 50), slices.Repeat([]float64{1}, 49)...)
	cat = append(cat, math.NaN())
	seqNaN := slices.Clone(seq)
	seqNaN[0], seqNaN[1] = math.NaN(), math.NaN()
	d := &data.Dataset{Rows: 100, Columns: []data.Column{
		column("seq", seq...), column("flag", flag...),
		{Name: "device", Categorical: true, Categories: []string{"mobile", "desktop"}, Values: column("", cat...).Values},
		column("gaps", seqNaN...),
	}}
	p := Compute(d, seq, "train", 10)
	s := p.Features[0]
	if want := []float64{11, 21, 31, 41, 51, 61, 71, 81, 91, 100}; !slices.Equal(s.Edges, want) {
		t.Errorf("seq edges %v, want %v", s.Edges, want)
	}
	if want := []int64{11, 10, 10, 10, 10, 10, 10, 10, 10, 9, 0}; !slices.Equal(s.Counts, want) || s.Missing != 0 {
		t.Errorf("seq counts %v missing %d, want %v", s.Counts, s.Missing, want)
	}
	f := p.Features[1]
	if !slices.Equal(f.Edges, []float64{0, 1}) || !slices.Equal(f.Counts, []int64{70, 30, 0}) {
		t.Errorf("flag: edges %v counts %v", f.Edges, f.Counts)
	}
	c := p.Features[2]
	if c.Kind != Categorical || !slices.Equal(c.Counts, []int64{50, 49, 0}) || c.Missing != 1 || c.BinLabel(2) != "other" || c.Bin(7) != 2 {
		t.Errorf("device: %+v", c)
	}
	if g := p.Features[3]; g.Missing != 2 || g.Bin(math.NaN()) != g.Bins() {
		t.Errorf("gaps: missing %d", g.Missing)
	}
	if p.Score == nil || p.ScoreRows != 100 || p.ScoreOn != "train" {
		t.Errorf("score: %+v", p.Score)
	}
	if err := p.check(); err != nil {
		t.Error(err)
	}
}

// TestCounterMatchesCompute checks that the server's counting bins every
// value as Compute did: counting the training rows again gives the
// training counts, whether the rows come one by one or together.
func TestCounterMatchesCompute(t *testing.T) {
	vals := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, math.NaN(), 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4}
	cats := []float64{0, 1, 2, 0, 0, 1, math.NaN(), 0, 1, 0, 2, 2, 0, 1, 0, 0, 1, 2, 0, 0, 1, 5, 0, 1, 0}
	scores := make([]float64, len(vals))
	for i := range scores {
		scores[i] = float64(i) / 25
	}
	d := &data.Dataset{Rows: len(vals), Columns: []data.Column{
		column("x", vals...),
		{Name: "c", Categorical: true, Categories: []string{"a", "b", "c"}, Values: column("", cats...).Values},
	}}
	p := Compute(d, scores, "valid", 4)
	together, single := NewCounter(p), NewCounter(p)
	together.Observe(d.Columns, scores)
	for i := range d.Rows {
		row := []data.Column{{Values: d.Columns[0].Values[i : i+1]}, {Values: d.Columns[1].Values[i : i+1]}}
		single.Observe(row, scores[i:i+1])
	}
	want := [][]int64{p.Features[0].WithMissing(), p.Features[1].WithMissing(), p.Score.WithMissing()}
	for name, c := range map[string]*Counter{"together": together, "one by one": single} {
		if got := c.Snapshot(); !slices.EqualFunc(got, want, slices.Equal) || c.Rows() != uint64(d.Rows) {
			t.Errorf("%s: %v (%d rows), want %v", name, got, c.Rows(), want)
		}
	}
}

// Compute's counts, taken in one walk over the sorted values, are those of
// binning each value with Bin: on columns with many ties (values on the
// edges themselves) and missing values.
func TestCountsAreBin(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, distinct := range []int{1, 3, 40, 5000} {
		vals := make([]float64, 3000)
		for i := range vals {
			vals[i] = float64(rng.IntN(distinct))
			if rng.IntN(7) == 0 {
				vals[i] = math.NaN()
			}
		}
		d := numeric("x", vals, 10)
		want, missing := make([]int64, d.Bins()), int64(0)
		for _, v := range vals {
			if b := d.Bin(v); b == d.Bins() {
				missing++
			} else {
				want[b]++
			}
		}
		if !slices.Equal(d.Counts, want) || d.Missing != missing {
			t.Errorf("%d distinct values: counts %v missing %d, Bin gives %v and %d", distinct, d.Counts, d.Missing, want, missing)
		}
	}
}

// A float32 column (a feature, sorted as float32) gets the profile of the
// same values as float64, edges and counts, whole or sampled.
func TestFloat32ProfileIsFloat64s(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 1000, 3*edgeSample + 17} {
		v32, v64 := make([]float32, n), make([]float64, n)
		for i := range v32 {
			v32[i] = float32(rng.NormFloat64() * 100)
			if i%97 == 0 {
				v32[i] = float32(math.NaN())
			}
			if i%89 == 0 {
				v32[i] = float32(math.Copysign(0, float64(rng.IntN(2)-1)))
			}
			v64[i] = float64(v32[i])
		}
		a, b := numeric("x", v32, 10), numeric("x", v64, 10)
		if !slices.Equal(a.Edges, b.Edges) || !slices.Equal(a.Counts, b.Counts) || a.Missing != b.Missing {
			t.Errorf("%d values: as float32 edges %v counts %v missing %d; as float64 %v, %v, %d", n, a.Edges, a.Counts, a.Missing, b.Edges, b.Counts, b.Missing)
		}
	}
}

// TestCompare checks the statistics against values worked by hand:
// training 50/50 and live 70/30 over 100 rows give chi-square 16 on one
// degree of freedom (p = 6.3e-5, scipy.stats.chisquare([70, 30])) and
// PSI 0.2 ln 1.4 + 0.2 ln(5/3) = 0.16946.
func TestCompare(t *testing.T) {
	d := &Dist{Name: "x", Kind: Numeric, Edges: []float64{0}, Counts: []int64{500, 500}}
	got, err := Compare(d, []int64{70, 30, 0})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.ChiSquare-16) > 1e-9 || got.DF != 1 || math.Abs(got.PValue-6.334e-5) > 1e-7 || math.Abs(got.PSI-0.169459) > 1e-6 {
		t.Errorf("got chi-square %v df %d p %v PSI %v", got.ChiSquare, got.DF, got.PValue, got.PSI)
	}
	same, _ := Compare(d, []int64{50, 50, 0})
	if same.PSI != 0 || same.ChiSquare != 0 || same.PValue != 1 {
		t.Errorf("same shares: %+v", same)
	}
	none, _ := Compare(d, []int64{0, 0, 0})
	if none.PSI != 0 || none.PValue != 1 || none.Rows != 0 {
		t.Errorf("no rows: %+v", none)
	}
	if _, err := Compare(d, []int64{1, 2}); err == nil {
		t.Error("a bin count that differs: no error")
	}
}

// BenchmarkObserve is what counting costs a request on top of decoding and
// scoring: 1 and 100 rows of 15 numeric features and a score, into 10 bins
// each, the shape bench/servebench -drift serves.
func BenchmarkObserve(b *testing.B) {
	d := &data.Dataset{Rows: 1000}
	for j := range 15 {
		c := data.Column{Name: string(rune('a' + j))}
		for i := range d.Rows {
			c.Values = append(c.Values, float32((i*7919+j*104729)%1000))
		}
		d.Columns = append(d.Columns, c)
	}
	scores := make([]float64, d.Rows)
	for i := range scores {
		scores[i] = float64(i%97) / 97
	}
	c := NewCounter(Compute(d, scores, "train", 0))
	for _, rows := range []int{1, 100} {
		cols := make([]data.Column, len(d.Columns))
		for j := range cols {
			cols[j] = data.Column{Values: d.Columns[j].Values[:rows]}
		}
		b.Run(fmt.Sprintf("%drows", rows), func(b *testing.B) {
			for b.Loop() {
				c.Observe(cols, scores[:rows])
			}
		})
	}
}

// TestShift checks the training-data shift: a distribution against itself
// is 0, re-binning into the same edges is exact, and a sample shifted by
// half its range shifts clearly (PSI over 0.5) while a fresh sample of the
// same range does not (under 0.05).
func TestShift(t *testing.T) {
	sample := func(lo float64, seed int) []float64 {
		var v []float64
		for i := range 5000 {
			v = append(v, lo+float64((i*7919+seed*104729)%1000)/10)
		}
		return v
	}
	a := numeric("x", sample(0, 1), 10)
	if got := a.Shift(&a); got != 0 {
		t.Errorf("a distribution against itself: %v", got)
	}
	var own []float64
	for _, n := range a.WithMissing() {
		own = append(own, float64(n))
	}
	if got := a.Rebin(&a); !slices.Equal(got, own) {
		t.Errorf("rebinning into the same edges: %v, want the counts %v", got, own)
	}
	same, moved := numeric("x", sample(0, 2), 10), numeric("x", sample(50, 1), 10)
	if got := a.Shift(&same); got > 0.05 {
		t.Errorf("a fresh sample of the same range shifted by %v", got)
	}
	if got := a.Shift(&moved); got < 0.5 {
		t.Errorf("a sample moved by half its range shifted only %v", got)
	}
	c1 := categorical("d", []string{"mobile", "desktop"}, []float32{0, 0, 0, 1})
	c2 := categorical("d", []string{"desktop", "mobile", "tv"}, []float32{1, 1, 1, 0})
	if got := c2.Rebin(&c1); !slices.Equal(got, []float64{3, 1, 0, 0}) {
		t.Errorf("categories by name: %v", got)
	}
}

// A column of a million values gets its edges from a sample: each within
// 0.5 % of rank of the exact quantile, the last at the largest value of all
// (no training value falls above everything seen), and every value counted.
func TestLargeColumnEdgesFromASample(t *testing.T) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(3, 4))
	vals := make([]float64, n)
	for i, k := range rng.Perm(n) {
		vals[i] = float64(k)
	}
	d := numeric("x", vals, 10)
	if len(d.Edges) != 10 {
		t.Fatalf("edges %v, want 10", d.Edges)
	}
	for k, e := range d.Edges[:9] {
		if want := float64((k + 1) * n / 10); math.Abs(e-want) > 0.005*n {
			t.Errorf("edge %d = %v, want %v within %v", k, e, want, 0.005*n)
		}
	}
	if last := d.Edges[9]; last != n-1 {
		t.Errorf("last edge %v, want the largest value %v", last, n-1)
	}
	var total int64
	for _, c := range d.Counts {
		total += c
	}
	if above := d.Counts[len(d.Edges)]; above != 0 || total != n || d.Missing != 0 {
		t.Errorf("%d above the last edge, %d counted, %d missing; want 0, %d, 0", above, total, d.Missing, n)
	}
}
