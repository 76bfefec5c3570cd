package gbdt

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
)

func column(name string, vals ...float32) data.Column { return data.Column{Name: name, Values: vals} }

// A hand-computed split: labels 0,0,1,1 with x = 1,2,3,4, margins 0 so
// g = 0.5 - y = (.5,.5,-.5,-.5) and h = .25 each. With λ = 1 the best split is
// x <= 2: gain = ½[(1)²/(.5+1) + (-1)²/(.5+1) - 0²/(1+1)] = 2/3, and the
// leaves are -η·G/(H+λ) = ∓1/1.5 for η = 1.
func TestHandComputedSplit(t *testing.T) {
	d := &data.Dataset{Rows: 4, Columns: []data.Column{column("x", 1, 2, 3, 4)}, Label: []float64{0, 0, 1, 1}}
	p := DefaultParams(Binary)
	p.LearningRate, p.MaxDepth, p.MinChildWeight = 1, 1, 0
	fbs := cutFeatures(d, p.MaxBin, 1)
	g := newGrower(p, fbs, binColumns(d, fbs, 1), d.Rows)
	g.grad = make([]gradPair, 4)
	gradients(p, d.Label, []float64{0, 0, 0, 0}, nil, g.grad)
	g.features = []int{0}
	tree := g.grow([]int32{0, 1, 2, 3}, func([]int32, float64) {})
	if tree.Feature[0] != 0 || tree.Threshold[0] != 2 {
		t.Fatalf("root splits feature %d at %v, want x <= 2", tree.Feature[0], tree.Threshold[0])
	}
	want := []float64{-1 / 1.5, 1 / 1.5}
	got := []float64{tree.Value[tree.Left[0]], tree.Value[tree.Right[0]]}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("leaf %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// Missing values go to the side that gains more: here they behave like the
// large values, so they must follow them right.
func TestMissingGoesToTheBetterSide(t *testing.T) {
	nan := float32(math.NaN())
	d := &data.Dataset{Rows: 6, Columns: []data.Column{column("x", 1, 2, 3, 4, nan, nan)}, Label: []float64{0, 0, 1, 1, 1, 1}}
	p := DefaultParams(Binary)
	p.Trees, p.MaxDepth, p.MinChildWeight = 1, 1, 0
	res, err := Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Model.Trees[0]
	if tr.DefaultLeft[0] || tr.Threshold[0] != 2 {
		t.Errorf("split x <= %v, missing left %v; want x <= 2 with missing right", tr.Threshold[0], tr.DefaultLeft[0])
	}
}

func TestCategoricalSplit(t *testing.T) {
	// Categories 0 and 2 are positive, 1 and 3 negative: one split separates them.
	vals := []float32{0, 1, 2, 3, 0, 1, 2, 3}
	d := &data.Dataset{Rows: 8, Columns: []data.Column{{Name: "c", Categorical: true, Categories: []string{"a", "b", "c", "d"}, Values: vals}},
		Label: []float64{1, 0, 1, 0, 1, 0, 1, 0}}
	p := DefaultParams(Binary)
	p.Trees, p.MaxDepth, p.MinChildWeight = 1, 1, 0
	res, err := Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cats := res.Model.Trees[0].Categories[0]
	if !(len(cats) == 2 && ((cats[0] == 0 && cats[1] == 2) || (cats[0] == 1 && cats[1] == 3))) {
		t.Errorf("left categories %v, want {a, c} or {b, d}", cats)
	}
	pos := res.Model.Predict([]float32{2})
	neg := res.Model.Predict([]float32{3})
	if pos <= neg {
		t.Errorf("P(c) = %v <= P(d) = %v", pos, neg)
	}
}

// The log-loss and LambdaMART gradients match finite differences of their
// losses (LambdaMART's against the pairwise logistic loss with its
// ΔNDCG weights held fixed, which is what the lambdas differentiate).
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	labels := []float64{1, 0, 1}
	margin := []float64{0.3, -1.2, 2}
	grad := make([]gradPair, 3)
	p := DefaultParams(Binary)
	gradients(p, labels, margin, nil, grad)
	loss := func(i int, m float64) float64 {
		q := sigmoid(m)
		return -(labels[i]*math.Log(q) + (1-labels[i])*math.Log(1-q))
	}
	const h = 1e-5
	for i := range labels {
		g := (loss(i, margin[i]+h) - loss(i, margin[i]-h)) / (2 * h)
		hh := (loss(i, margin[i]+h) - 2*loss(i, margin[i]) + loss(i, margin[i]-h)) / (h * h)
		if math.Abs(g-grad[i].g) > 1e-6 || math.Abs(hh-grad[i].h) > 1e-4 {
			t.Errorf("row %d: g %v h %v, finite differences %v %v", i, grad[i].g, grad[i].h, g, hh)
		}
	}

	rel := []float64{2, 0, 1, 0}
	m := []float64{0.1, 0.4, -0.3, 0.2}
	q := []int{0, 1, 2, 3}
	rp := DefaultParams(LambdaRank)
	rg := make([]gradPair, 4)
	lambdas(rp, rel, m, q, rg, &rankScratch{})
	// The weights Δ of the current ranking, as lambdas computes them.
	order := []int{1, 3, 0, 2} // by margin, descending
	rank := map[int]int{}
	for pos, r := range order {
		rank[r] = pos
	}
	var maxDCG float64
	for i, l := range []float64{2, 1, 0, 0} {
		maxDCG += (math.Exp2(l) - 1) / math.Log2(float64(i)+2)
	}
	pairLoss := func(mm []float64) float64 {
		var s float64
		for i := range rel {
			for j := range rel {
				if rel[i] <= rel[j] {
					continue
				}
				delta := (math.Exp2(rel[i]) - math.Exp2(rel[j])) * math.Abs(1/math.Log2(float64(rank[i])+2)-1/math.Log2(float64(rank[j])+2)) / maxDCG
				s += delta * math.Log1p(math.Exp(-(mm[i] - mm[j])))
			}
		}
		return s
	}
	// The per-query normalisation scales every lambda by one factor, so the
	// lambdas are the finite differences times that factor.
	fd := func(i int) float64 {
		up, down := append([]float64(nil), m...), append([]float64(nil), m...)
		up[i] += h
		down[i] -= h
		return (pairLoss(up) - pairLoss(down)) / (2 * h)
	}
	factor := rg[0].g / fd(0)
	for i := range rel {
		if want := factor * fd(i); math.Abs(rg[i].g-want) > 1e-6 {
			t.Errorf("row %d: lambda %v, finite difference × %v = %v", i, rg[i].g, factor, want)
		}
	}
	// log2(1+S)/S lies in (0, 1/ln 2] for S > 0.
	if factor <= 0 || factor > 1/math.Ln2 {
		t.Errorf("normalisation factor %v, want in (0, 1/ln 2]", factor)
	}
}

func randomData(n int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &data.Dataset{Rows: n}
	for j := 0; j < 5; j++ {
		c := data.Column{Name: string(rune('a' + j))}
		for i := 0; i < n; i++ {
			v := float32(rng.NormFloat64())
			if rng.Float64() < 0.05 {
				v = float32(math.NaN())
			}
			c.Values = append(c.Values, v)
		}
		d.Columns = append(d.Columns, c)
	}
	for i := 0; i < n; i++ {
		x := d.Columns[0].Values[i] + d.Columns[1].Values[i]*d.Columns[2].Values[i]
		y := 0.0
		if x > 0 || math.IsNaN(float64(x)) && rng.Float64() < 0.5 {
			y = 1
		}
		d.Label = append(d.Label, y)
	}
	return d
}

// The same data, parameters and seed give the same bytes, whatever the
// number of threads.
func TestDeterministic(t *testing.T) {
	d := randomData(3000, 7)
	var first []byte
	for _, threads := range []int{1, 2, 4} {
		p := DefaultParams(Binary)
		p.Trees, p.Subsample, p.Colsample, p.Threads = 20, 0.8, 0.8, threads
		res, err := Train(context.Background(), p, d, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(res.Model)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Errorf("%d threads gave another model", threads)
		}
	}
}

func TestEarlyStoppingKeepsTheBestRound(t *testing.T) {
	train, valid := randomData(2000, 1), randomData(1000, 2)
	p := DefaultParams(Binary)
	p.Trees, p.LearningRate, p.MaxDepth, p.EarlyStopping = 500, 0.5, 8, 5
	res, err := Train(context.Background(), p, train, valid, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := res.Curve[len(res.Curve)-1]
	if !last.Stopped || len(res.Model.Trees) != res.BestRound || last.Round != res.BestRound+5 {
		t.Errorf("stopped %v at round %d, best %d, %d trees kept", last.Stopped, last.Round, res.BestRound, len(res.Model.Trees))
	}
	for _, c := range res.Curve {
		if c.Valid < res.Curve[res.BestRound-1].Valid {
			t.Errorf("round %d has a better validation loss than the best round", c.Round)
		}
	}
}

func TestParams(t *testing.T) {
	p := DefaultParams(Binary)
	for _, bad := range [][2]string{{"trees", "0"}, {"learning-rate", "0"}, {"learning-rate", "x"}, {"max-bin", "256"}, {"subsample", "1.5"}, {"nope", "1"}} {
		if err := p.Set(bad[0], bad[1]); err == nil {
			t.Errorf("Set(%s=%s) accepted", bad[0], bad[1])
		}
	}
	if err := p.Set("trees", "7"); err != nil || p.Trees != 7 {
		t.Errorf("Set(trees=7): %v, %d", err, p.Trees)
	}
}

// Scoring through the packed trees gives exactly what the trees as trained
// give node by node, with missing values and categorical splits.
func TestPackedScoringMatchesTheTrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	d := &data.Dataset{Rows: 3000, Columns: []data.Column{{Name: "x"}, {Name: "y"},
		{Name: "c", Categorical: true, Categories: []string{"a", "b", "c", "d", "e"}}}}
	for i := 0; i < d.Rows; i++ {
		x, y, c := float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.IntN(5))
		label := 0.0
		if x+y > 0 != (c == 1 || c == 3) {
			label = 1
		}
		if rng.IntN(10) == 0 {
			x = float32(math.NaN())
		}
		if rng.IntN(10) == 0 {
			c = float32(math.NaN())
		}
		d.Columns[0].Values = append(d.Columns[0].Values, x)
		d.Columns[1].Values = append(d.Columns[1].Values, y)
		d.Columns[2].Values = append(d.Columns[2].Values, c)
		d.Label = append(d.Label, label)
	}
	p := DefaultParams(Binary)
	p.Trees = 30
	res, err := Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	cat := 0
	for _, tr := range m.Trees {
		for _, c := range tr.Categories {
			if c != nil {
				cat++
			}
		}
	}
	if cat == 0 {
		t.Fatal("no categorical split to check")
	}
	got := m.PredictDataset(d)
	for i := 0; i < d.Rows; i++ {
		margin := m.BaseScore
		for k := range m.Trees {
			margin += m.Trees[k].predictColumns(d.Columns, i)
		}
		if want := m.Transform(margin); got[i] != want {
			t.Fatalf("row %d: packed %v, trees %v", i, got[i], want)
		}
	}
}

// sparseData is rows of 20 features, each 0 in 85 % of the rows, missing in
// 5 %, and labels 0/1 from the first two.
func sparseData(rows int) *data.Dataset {
	rng := rand.New(rand.NewPCG(5, 6))
	d := &data.Dataset{Rows: rows}
	for j := 0; j < 20; j++ {
		c := data.Column{Name: "f" + string(rune('a'+j))}
		for i := 0; i < d.Rows; i++ {
			v := float32(0)
			switch u := rng.Float64(); {
			case u < 0.1:
				v = float32(rng.NormFloat64())
			case u < 0.15:
				v = float32(math.NaN())
			}
			c.Values = append(c.Values, v)
		}
		d.Columns = append(d.Columns, c)
	}
	for i := 0; i < d.Rows; i++ {
		y := 0.0
		if d.Columns[0].Values[i]+d.Columns[1].Values[i] > 0.1 || rng.IntN(10) == 0 {
			y = 1
		}
		d.Label = append(d.Label, y)
	}
	return d
}

// On sparse data the histograms built from the entries outside each
// feature's common bin give the trees the dense build gives: the same splits,
// and leaf values equal up to rounding (the common bin is a difference of
// sums, not a sum).
func TestSparseBuildMatchesDense(t *testing.T) {
	d := sparseData(6000) // rows x features above parallelWork: two blocks on two threads
	fbs := cutFeatures(d, 255, 2)
	if newSparseRows(binColumns(d, fbs, 1), fbs, newGrower(DefaultParams(Binary), fbs, nil, d.Rows).offsets) == nil {
		t.Fatal("the data is not sparse enough for the sparse build")
	}
	for _, threads := range []int{1, 2} {
		p := DefaultParams(Binary)
		p.Trees, p.Colsample, p.Threads = 20, 0.7, threads // column sampling: blocks that are not contiguous
		sparse, err := Train(context.Background(), p, d, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		sparseBuilds = false
		dense, err := Train(context.Background(), p, d, nil, nil)
		sparseBuilds = true
		if err != nil {
			t.Fatal(err)
		}
		for k := range dense.Model.Trees {
			st, dt := sparse.Model.Trees[k], dense.Model.Trees[k]
			if !slices.Equal(st.Feature, dt.Feature) || !slices.Equal(st.Threshold, dt.Threshold) || !slices.Equal(st.DefaultLeft, dt.DefaultLeft) {
				t.Fatalf("%d threads, tree %d: sparse splits %v at %v, dense %v at %v", threads, k, st.Feature, st.Threshold, dt.Feature, dt.Threshold)
			}
			for n := range dt.Value {
				if math.Abs(st.Value[n]-dt.Value[n]) > 1e-9 {
					t.Fatalf("%d threads, tree %d node %d: sparse %v, dense %v", threads, k, n, st.Value[n], dt.Value[n])
				}
			}
		}
	}
}

// A sparse build in two halves of the rows gives the histogram of the build
// in one pass, up to rounding (counts exactly), and the same trees on one
// thread as on two. (Trees are not compared with the one-pass build's:
// where two features split a node's rows alike, their gains tie, and
// rounding picks one.)
func TestSparseHalvesMatchOnePass(t *testing.T) {
	d := sparseData(6000)
	defer func(n int) { splitEntries = n }(splitEntries)
	for _, threads := range []int{1, 2} {
		p := DefaultParams(Binary)
		p.Threads = threads
		fbs := cutFeatures(d, 255, 1)
		g := newGrower(p, fbs, binColumns(d, fbs, 1), d.Rows)
		rng := rand.New(rand.NewPCG(7, 8))
		g.grad = make([]gradPair, d.Rows)
		var rows []int32
		var total histBin
		for i := range g.grad {
			g.grad[i] = gradPair{rng.NormFloat64(), rng.Float64()}
			if i%3 != 0 { // a node's rows: not all of them
				rows = append(rows, int32(i))
				total.add(histBin{g.grad[i].g, g.grad[i].h, 1})
			}
		}
		all := make([]int, len(fbs))
		for f := range all {
			all[f] = f
		}
		splitEntries = 1000
		halves := g.newHist()
		g.build(halves, rows, total, all)
		splitEntries = math.MaxInt
		onePass := g.newHist()
		g.build(onePass, rows, total, all)
		for i, w := range onePass {
			h := halves[i]
			if h.n != w.n || math.Abs(h.g-w.g) > 1e-9 || math.Abs(h.h-w.h) > 1e-9 {
				t.Fatalf("%d threads, histogram position %d: in halves %+v, in one pass %+v", threads, i, h, w)
			}
		}
	}
	splitEntries = 1000
	var trees [][]Tree
	for _, threads := range []int{1, 2} {
		p := DefaultParams(Binary)
		p.Trees, p.Colsample, p.Threads = 20, 0.7, threads
		res, err := Train(context.Background(), p, d, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		trees = append(trees, res.Model.Trees)
	}
	sameTrees(t, "halves on 1 thread and 2", trees[0], trees[1])
}

// The gradients' sigmoid is the exact one to 2e-7 relative, over margins
// from -50 to 50 and beyond.
func TestGradSigmoid(t *testing.T) {
	for x := -50.0; x <= 50; x += 0.0137 {
		exact := 1 / (1 + math.Exp(-x))
		if got := gradSigmoid(x); math.Abs(got-exact) > 2e-7*exact {
			t.Fatalf("gradSigmoid(%v) = %v, σ = %v", x, got, exact)
		}
	}
	for _, x := range []float64{-1e6, -800, 800, 1e6} {
		if got, exact := gradSigmoid(x), 1/(1+math.Exp(-x)); math.Abs(got-exact) > 1e-300 && math.Abs(got-exact) > 2e-7*exact {
			t.Errorf("gradSigmoid(%v) = %v, σ = %v", x, got, exact)
		}
	}
}
