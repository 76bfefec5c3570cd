package gbdt

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
)

// mixedData is binary data with every kind of column the builds handle:
// dense numeric, numeric with missing values, mostly-zero (sparse) numeric,
// a feature with a few rare values (no split within min-data-in-leaf), a
// constant, and a categorical.
func mixedData(rows int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	d := &data.Dataset{Rows: rows}
	add := func(name string, draw func() float32) {
		c := data.Column{Name: name, Values: make([]float32, rows)}
		for i := range c.Values {
			c.Values[i] = draw()
		}
		d.Columns = append(d.Columns, c)
	}
	for j := 0; j < 4; j++ {
		add("dense"+strconv.Itoa(j), func() float32 { return float32(rng.NormFloat64()) })
	}
	add("missing", func() float32 {
		if rng.IntN(5) == 0 {
			return float32(math.NaN())
		}
		return float32(rng.NormFloat64())
	})
	for j := 0; j < 3; j++ {
		add("sparse"+strconv.Itoa(j), func() float32 {
			if rng.IntN(10) == 0 {
				return float32(rng.IntN(20) + 1)
			}
			return 0
		})
	}
	add("rare", func() float32 {
		if rng.IntN(rows) < 5 {
			return 1
		}
		return 0
	})
	add("constant", func() float32 { return 3 })
	add("cat", func() float32 { return float32(rng.IntN(6)) })
	d.Columns[len(d.Columns)-1].Categorical = true
	d.Columns[len(d.Columns)-1].Categories = []string{"a", "b", "c", "d", "e", "f"}
	for i := 0; i < rows; i++ {
		z := float64(d.Columns[0].Values[i]) - 0.5*float64(d.Columns[1].Values[i]) + 0.2*float64(d.Columns[5].Values[i])
		if c := d.Columns[len(d.Columns)-1].Values[i]; c == 1 || c == 4 {
			z += 1
		}
		y := 0.0
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y = 1
		}
		d.Label = append(d.Label, y)
	}
	return d
}

func sameTrees(t *testing.T, what string, got, want []Tree) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d trees, want %d", what, len(got), len(want))
	}
	for k := range want {
		g, w := got[k], want[k]
		if !slices.Equal(g.Feature, w.Feature) || !slices.Equal(g.Threshold, w.Threshold) ||
			!slices.Equal(g.DefaultLeft, w.DefaultLeft) || !slices.Equal(g.Value, w.Value) {
			t.Fatalf("%s: tree %d differs: splits %v at %v, want %v at %v", what, k, g.Feature, g.Threshold, w.Feature, w.Threshold)
		}
	}
}

// The scores training keeps are the model's own predictions, bit for bit,
// with row sampling (rows outside a tree's sample are scored by the tree),
// missing values and categories; with early stopping cutting rounds there
// are none.
func TestTrainScoresArePredictions(t *testing.T) {
	d := mixedData(3000, 1)
	p := DefaultParams(Binary)
	p.Trees, p.MaxDepth, p.MaxLeaves, p.Subsample = 30, 0, 15, 0.8
	res, err := Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := res.Model.PredictDataset(d); !slices.Equal(res.TrainScores, want) {
		t.Fatalf("TrainScores differ from PredictDataset")
	}
	p.EarlyStopping = 1
	res, err = Train(context.Background(), p, d, mixedData(500, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Model.Trees) < p.Trees && res.TrainScores != nil {
		t.Fatalf("early stopping kept %d of %d trees, and TrainScores are set", len(res.Model.Trees), p.Trees)
	}
}

// Searching only the features that had a split within the limits in the
// parent, and not searching the children of a tree's last split, give the
// trees the search over every feature of every leaf gives, exactly: binary
// and ranking, dense and sparse builds, one thread and two. The runs with
// the shortcuts get reused histograms poisoned (poisonStale): no stale sum
// is read.
func TestShortcutsKeepTheTrees(t *testing.T) {
	defaultSplit := splitEntries
	defer func() { splitEntries = defaultSplit }()
	d := mixedData(6000, 3)
	groups := make([]int32, d.Rows)
	for i := range groups {
		groups[i] = int32(i / 20)
	}
	rd := *d
	rd.Group, rd.GroupKeys = groups, make([]string, d.Rows/20)
	for _, tc := range []struct {
		name string
		obj  Objective
		d    *data.Dataset
	}{{"binary", Binary, d}, {"lambdarank", LambdaRank, &rd}, {"sparse data", Binary, sparseData(6000)}} {
		splitEntries = defaultSplit
		if tc.name == "sparse data" {
			splitEntries = 4000 // the roots' histograms in halves too
		}
		for _, sparse := range []bool{true, false} {
			for _, threads := range []int{1, 2} {
				p := DefaultParams(tc.obj)
				p.Trees, p.MaxDepth, p.MaxLeaves, p.MinDataInLeaf, p.MinChildWeight, p.Threads = 20, 0, 31, 40, 1, threads
				p.Colsample = 0.8 // a root built for some features only
				sparseBuilds, poisonStale = sparse, true
				pruned, err := Train(context.Background(), p, tc.d, nil, nil)
				poisonStale = false
				if err != nil {
					t.Fatal(err)
				}
				featurePruning, lastLeavesAsIs = false, false
				full, err := Train(context.Background(), p, tc.d, nil, nil)
				featurePruning, lastLeavesAsIs, sparseBuilds = true, true, true
				if err != nil {
					t.Fatal(err)
				}
				sameTrees(t, tc.name+" sparse="+strconv.FormatBool(sparse)+" threads="+strconv.Itoa(threads), pruned.Model.Trees, full.Model.Trees)
			}
		}
	}
}

// Nodes of 65,536 rows and more are partitioned in one chunk per thread and
// their gradients gathered in parallel: the trees are the one-thread trees.
func TestParallelPartitionKeepsTheTrees(t *testing.T) {
	d := mixedData(1<<17, 4)
	p := DefaultParams(Binary)
	p.Trees, p.MaxDepth, p.MaxLeaves, p.Subsample = 3, 0, 15, 0.9
	var trees [][]Tree
	for _, threads := range []int{1, 2, 3} {
		p.Threads = threads
		res, err := Train(context.Background(), p, d, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		trees = append(trees, res.Model.Trees)
	}
	sameTrees(t, "2 threads", trees[1], trees[0])
	sameTrees(t, "3 threads", trees[2], trees[0])
}

// bestNumeric's loop for a feature without missing values picks the split
// the general loop picks, to the bit: over random histograms with empty
// bins, and limits on rows and hessian that leave some features no split.
func TestNoMissingLoopMatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	defer func() { noMissingLoop = true }()
	for trial := range 2000 {
		nb := 2 + rng.IntN(60)
		fbs := []featureBins{{nBins: nb, otherBin: -1}}
		p := DefaultParams(Binary)
		p.MinDataInLeaf, p.MinChildWeight, p.Lambda = 1+rng.IntN(30), rng.Float64()*3, rng.Float64()
		g := newGrower(p, fbs, nil, 0)
		h := make([]histBin, nb+1)
		var total histBin
		for b := range h[:nb] {
			if rng.IntN(3) == 0 {
				continue // an empty bin
			}
			n := int64(1 + rng.IntN(20))
			h[b] = histBin{rng.NormFloat64() * float64(n), rng.Float64() * float64(n), n}
			total.add(h[b])
		}
		parent := g.score(total)
		noMissingLoop = true
		fast, fastOK := g.bestNumeric(0, h, total, parent)
		noMissingLoop = false
		general, generalOK := g.bestNumeric(0, h, total, parent)
		same := fast.ok == general.ok && fast.gain == general.gain && fast.bin == general.bin &&
			fast.defaultLeft == general.defaultLeft && fast.left == general.left
		if !same || fastOK != generalOK {
			t.Fatalf("trial %d: %+v (feasible %v), the general loop %+v (%v)", trial, fast, fastOK, general, generalOK)
		}
	}
	// Whole trees: the loop adds empty bins, which holds only while a
	// subtracted histogram's empty bins are exact zeros (subtract).
	for _, threads := range []int{1, 2} {
		p := DefaultParams(Binary)
		p.Trees, p.MaxDepth, p.MaxLeaves, p.MinDataInLeaf, p.MinChildWeight, p.Lambda, p.Threads = 30, 0, 31, 20, 0.001, 0, threads
		d := mixedData(7000, 5)
		noMissingLoop = true
		fast, err := Train(context.Background(), p, d, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		noMissingLoop = false
		general, err := Train(context.Background(), p, d, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		sameTrees(t, "threads="+strconv.Itoa(threads), fast.Model.Trees, general.Model.Trees)
	}
}
