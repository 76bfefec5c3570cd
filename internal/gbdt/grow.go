package gbdt

import (
	"cmp"
	"math"
	"slices"
	"sync"
)

// gradPair is one row's gradient and hessian.
type gradPair struct{ g, h float64 }

// histBin sums the gradients, hessians and rows that fall in one bin.
type histBin struct {
	g, h float64
	n    int64
}

func (b *histBin) add(o histBin) { b.g += o.g; b.h += o.h; b.n += o.n }

// split is a candidate split of a leaf.
type split struct {
	ok          bool
	gain        float64
	feature     int
	bin         int    // numeric: bins <= bin go left
	leftBins    []bool // categorical: the bins that go left
	defaultLeft bool
	left        histBin // sums of the left side, missing values included when they go left
}

// leaf is a leaf of the tree being grown: its rows are idx[start:end].
type leaf struct {
	node       int32
	start, end int
	depth      int
	sum        histBin
	hist       []histBin // filled for feats
	best       split
	// feats are the features this leaf's histogram and search cover: the
	// tree's features at the root, and in a child those that had a split
	// within the limits in its parent. A feature with none (every
	// threshold leaves one side with too few rows or too little hessian)
	// has none in any descendant either, whose sides are subsets of the
	// parent's: LightGBM's is_splittable, without its gain part. findBest
	// narrows it to the features with such a split.
	feats []int
}

// featurePruning can turn off the narrowing of leaf.feats, for the tests that
// compare it with the search over every feature.
var featurePruning = true

// lastLeavesAsIs can turn off leaving the last split's children without
// histograms and searches, for the tests that compare the trees.
var lastLeavesAsIs = true

// noMissingLoop can turn off bestNumeric's loop for features without
// missing values, for the test that compares it with the general one.
var noMissingLoop = true

// poisonStale fills every reused histogram with NaN sums and a negative
// count, for the tests: a tree that reads a sum build did not clear would
// change.
var poisonStale = false

// Categorical splits, as LightGBM: the smoothing added to a category's hessian
// when categories are ordered, and the most categories on the smaller side.
const (
	catSmooth       = 10.0
	maxCatThreshold = 32
)

// grower grows one tree at a time over binned columns.
type grower struct {
	p       Params
	fbs     []featureBins
	bins    []uint8     // column-major: the bins of feature f are bins[f*rows : (f+1)*rows]
	rows    int         // rows of the data set
	sparse  *sparseRows // the same without the common bins; nil for dense data
	nf      int
	offsets []int // start of each feature's bins in a histogram
	histLen int
	threads int

	grad     []gradPair
	ordered  []gradPair // build's gradients of a node's rows, in its order
	features []int      // the features this tree may split on
	idx      []int32    // row indexes, grouped by leaf
	buf      []int32
	pool     [][]histBin
	results  []split // findBest's per-feature candidates, reused
	feasible []bool  // findBest's per-feature: a split within the limits exists
	cats     [][]int // bestCategorical's per-feature scratch, reused
}

func newGrower(p Params, fbs []featureBins, bins []uint8, rows int) *grower {
	g := &grower{p: p, fbs: fbs, bins: bins, rows: rows, nf: len(fbs), threads: p.ThreadCount(),
		results: make([]split, len(fbs)), feasible: make([]bool, len(fbs)), cats: make([][]int, len(fbs))}
	g.offsets = make([]int, len(fbs))
	for j, fb := range fbs {
		g.offsets[j] = g.histLen
		g.histLen += fb.nBins + 1
	}
	g.sparse = newSparseRows(bins, fbs, g.offsets)
	return g
}

// newHist returns a histogram whose sums are stale: build clears the
// features it fills, each just before filling it (clearing every feature
// of every new histogram was 2 % of a HIGGS run), and a histogram is read
// only for the features it was built for.
func (g *grower) newHist() []histBin {
	if n := len(g.pool); n > 0 {
		h := g.pool[n-1]
		g.pool = g.pool[:n-1]
		if poisonStale {
			for i := range h {
				h[i] = histBin{math.NaN(), math.NaN(), math.MinInt32}
			}
		}
		return h
	}
	// 256 bins to spare: a feature's bins seen as a [256]histBin array
	// (buildColumn) stay inside the slice whatever its bin count.
	return make([]histBin, g.histLen, g.histLen+256)
}

func (g *grower) release(h []histBin) {
	if h != nil {
		g.pool = append(g.pool, h)
	}
}

// parallelWork is the least rows × features worth spreading over threads;
// below it, starting goroutines costs more than it saves.
const parallelWork = 1 << 16

// forFeatureBlocks splits features into one contiguous block per
// thread (or one block when the work is small) and runs fn on each. Each
// feature belongs to one block, so results do not depend on the number of
// threads.
func (g *grower) forFeatureBlocks(rows int, features []int, fn func(features []int)) {
	n := len(features)
	blocks := g.threads
	if blocks <= 1 || n < 2 || rows*n < parallelWork {
		fn(features)
		return
	}
	blocks = min(blocks, n)
	var wg sync.WaitGroup
	for b := 0; b < blocks; b++ {
		lo, hi := b*n/blocks, (b+1)*n/blocks
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(features[lo:hi])
		}()
	}
	wg.Wait()
}

// forFeatures runs fn for every feature of features, in blocks as above.
func (g *grower) forFeatures(rows int, features []int, fn func(f int)) {
	g.forFeatureBlocks(rows, features, func(features []int) {
		for _, f := range features {
			fn(f)
		}
	})
}

// build fills hist with the sums of rows for features, one feature at a time
// over its column of bins, the features in blocks over the threads; total is
// the sums of rows.
func (g *grower) build(hist []histBin, rows []int32, total histBin, features []int) {
	if g.sparse != nil {
		g.buildSparse(hist, rows, total, features)
		return
	}
	// A root without row sampling holds every row, in order: the gradients
	// and the columns are read as they lie. Otherwise the rows' gradients
	// are gathered in row order once here instead of once per feature
	// (LightGBM's ordered gradients).
	all := len(rows) == g.rows
	var ordered []gradPair
	if !all {
		if cap(g.ordered) < len(rows) {
			g.ordered = make([]gradPair, len(rows), g.rows)
		}
		ordered = g.ordered[:len(rows)]
		parallelRange(len(rows), g.threads, 1<<16, func(lo, hi int) {
			for i, r := range rows[lo:hi] {
				ordered[lo+i] = g.grad[r]
			}
		})
	}
	g.forFeatureBlocks(len(rows), features, func(features []int) {
		for _, f := range features {
			clear(g.featureHist(hist, f))
			h := (*[256]histBin)(hist[g.offsets[f] : g.offsets[f]+256])
			col := g.bins[f*g.rows : (f+1)*g.rows]
			if all {
				buildAll(h, col, g.grad)
			} else {
				buildColumn(h, col, rows, ordered)
			}
		}
	})
}

// buildAll adds every row's gradient pair to the bin of its value in col.
func buildAll(h *[256]histBin, col []uint8, grad []gradPair) {
	grad = grad[:len(col)]
	for i, b := range col {
		hb := &h[b]
		hb.g += grad[i].g
		hb.h += grad[i].h
		hb.n++
	}
}

// buildColumn adds each row's gradient pair to the bin of its value in col.
func buildColumn(h *[256]histBin, col []uint8, rows []int32, ordered []gradPair) {
	ordered = ordered[:len(rows)]
	for i, r := range rows {
		b := &h[col[r]]
		b.g += ordered[i].g
		b.h += ordered[i].h
		b.n++
	}
}

// featureHist is feature f's bins in hist, the missing values' last.
func (g *grower) featureHist(hist []histBin, f int) []histBin {
	return hist[g.offsets[f] : g.offsets[f]+g.fbs[f].nBins+1]
}

// subtract turns parent into parent minus child, for features. A bin left
// with no rows gets sums of exactly zero, not the rounding residue of two
// equal sums: bestNumeric adds empty bins as they are.
func (g *grower) subtract(parent, child []histBin, features []int) {
	for _, f := range features {
		subtractBins(g.featureHist(parent, f), g.featureHist(child, f))
	}
}

// subtractBins is subtract for one feature's bins, in a loop of its own
// (within subtract's, its values spilled to the stack: 1.7x the time).
func subtractBins(p, c []histBin) {
	c = c[:len(p)]
	for b := range p {
		pb, cb := &p[b], &c[b]
		n := pb.n - cb.n
		keep := float64(uint64(n|-n) >> 63) // 1, or 0 when n is 0: no branch
		pb.g = (pb.g - cb.g) * keep
		pb.h = (pb.h - cb.h) * keep
		pb.n = n
	}
}

func (g *grower) score(s histBin) float64 { return s.g * s.g / (s.h + g.p.Lambda) }

func (g *grower) leafValue(s histBin) float64 { return -g.p.LearningRate * s.g / (s.h + g.p.Lambda) }

func (g *grower) allowed(s histBin) bool {
	return s.h >= g.p.MinChildWeight && s.n >= int64(g.p.MinDataInLeaf)
}

// maySplit reports whether a leaf's depth and rows allow a split at all.
func (g *grower) maySplit(l *leaf) bool {
	return (g.p.MaxDepth == 0 || l.depth < g.p.MaxDepth) && l.sum.n >= 2*int64(g.p.MinDataInLeaf)
}

// findBest sets l.best to the best split of leaf l over l.feats, and narrows
// l.feats to the features that had a split within the limits, for the
// children.
func (g *grower) findBest(l *leaf) {
	l.best = split{}
	if !g.maySplit(l) {
		return
	}
	parent := g.score(l.sum)
	results, feasible := g.results, g.feasible
	// Split finding scans bins, not rows: weigh it as 256 rows per feature.
	g.forFeatures(256, l.feats, func(f int) {
		h := g.featureHist(l.hist, f)
		if g.fbs[f].categorical {
			// The candidates follow the leaf's order of categories, which
			// its children do not share: a categorical feature stays.
			results[f], feasible[f] = g.bestCategorical(f, h, l.sum, parent), true
		} else {
			results[f], feasible[f] = g.bestNumeric(f, h, l.sum, parent)
		}
	})
	for _, f := range l.feats { // in feature order: ties go to the lower index
		if r := results[f]; r.ok && (!l.best.ok || r.gain > l.best.gain) {
			l.best = r
		}
	}
	if featurePruning {
		kept := make([]int, 0, len(l.feats))
		for _, f := range l.feats {
			if feasible[f] {
				kept = append(kept, f)
			}
		}
		l.feats = kept
	}
}

// consider records a candidate when it is allowed and better than best, and
// reports whether it did.
func (g *grower) consider(best *split, left, total histBin, parent float64) bool {
	right := histBin{total.g - left.g, total.h - left.h, total.n - left.n}
	if !g.allowed(left) || !g.allowed(right) {
		return false
	}
	gain := 0.5*(g.score(left)+g.score(right)-parent) - g.p.Gamma
	if gain <= 1e-10 || (best.ok && gain <= best.gain) {
		return false
	}
	*best = split{ok: true, gain: gain, left: left}
	return true
}

// bestNumeric returns the best split of numeric feature f, and whether any
// threshold (best or not) kept both sides within the limits.
func (g *grower) bestNumeric(f int, h []histBin, total histBin, parent float64) (split, bool) {
	nb := g.fbs[f].nBins
	miss := h[nb]
	best := split{feature: f}
	lambda, minH, minN := g.p.Lambda, g.p.MinChildWeight, int64(g.p.MinDataInLeaf)
	// Candidates are ranked by the children's score alone,
	// G_l²/(H_l+λ) + G_r²/(H_r+λ): the gain is a monotone function of it,
	// computed once for the winner. This loop runs for every bin of every
	// feature of every leaf, and its two divisions were most of its time: a
	// candidate is first compared without them, as
	// G_l²·D_r + G_r²·D_l > best·D_l·D_r (D = H+λ), with a margin far above
	// the products' rounding, and only one that may win is scored exactly,
	// as before. The winner is the one the exact scores alone pick.
	bestScore, bar := math.Inf(-1), math.Inf(-1)
	feasible := false
	try := func(left histBin, b int, defaultLeft bool) {
		rn, rh := total.n-left.n, total.h-left.h
		if left.h < minH || rh < minH || left.n < minN || rn < minN {
			return
		}
		feasible = true
		rg := total.g - left.g
		dl, dr := left.h+lambda, rh+lambda
		if den := dl * dr; den > 0 && left.g*left.g*dr+rg*rg*dl <= bar*den {
			return
		}
		if sc := left.g*left.g/dl + rg*rg/dr; sc > bestScore {
			bestScore, best.left, best.bin, best.defaultLeft = sc, left, b, defaultLeft
			bar = sc * (1 - 1e-9)
		}
	}
	if miss.n == 0 && noMissingLoop {
		// No missing values: the loop below's candidates, sums in locals. An
		// empty bin (a third of them on dense data, in no order a processor
		// guesses) is not skipped: it repeats the candidate before it, which
		// ties and never wins, and costs less than a mispredicted skip
		// (HIGGS's training 7-11 % faster). Its sums are exact zeros (subtract).
		var lg, lh float64
		var ln int64
		for b, hb := range h[:nb-1] {
			lg, lh, ln = lg+hb.g, lh+hb.h, ln+hb.n
			rh, rn := total.h-lh, total.n-ln
			if rn < minN || rh < minH {
				break
			}
			if ln < minN || lh < minH {
				continue
			}
			feasible = true
			rg := total.g - lg
			dl, dr := lh+lambda, rh+lambda
			if den := dl * dr; den > 0 && lg*lg*dr+rg*rg*dl <= bar*den {
				continue
			}
			if sc := lg*lg/dl + rg*rg/dr; sc > bestScore {
				bestScore, best.left, best.bin, best.defaultLeft = sc, histBin{lg, lh, ln}, b, false
				bar = sc * (1 - 1e-9)
			}
		}
	} else {
		var left histBin
		for b, hb := range h[:nb-1] {
			if hb.n == 0 {
				continue // the same partition as the last non-empty bin
			}
			left.add(hb)
			if total.n-left.n < minN || total.h-left.h < minH {
				break // the right side only shrinks from here
			}
			try(left, b, false)
			withMiss := left
			withMiss.add(miss)
			try(withMiss, b, true)
		}
	}
	if gain := 0.5*(bestScore-parent) - g.p.Gamma; gain > 1e-10 {
		best.ok, best.gain = true, gain
	}
	return best, feasible
}

func (g *grower) bestCategorical(f int, h []histBin, total histBin, parent float64) split {
	fb := &g.fbs[f]
	miss := h[fb.nBins]
	// g.cats[f] is this feature's own: features run in parallel, each on
	// one goroutine.
	cats := g.cats[f][:0]
	for b := 0; b < fb.nBins; b++ {
		if h[b].n > 0 && b != fb.otherBin {
			cats = append(cats, b)
		}
	}
	g.cats[f] = cats
	if len(cats) == 0 {
		return split{}
	}
	ratio := func(b int) float64 { return h[b].g / (h[b].h + catSmooth) }
	slices.SortStableFunc(cats, func(a, b int) int { return cmp.Compare(ratio(a), ratio(b)) })
	// The categories go left as a prefix of that order or of its reverse;
	// only the winner's set is built.
	nth := func(k int, rev bool) int {
		if rev {
			return cats[len(cats)-1-k]
		}
		return cats[k]
	}
	var best split
	bestK, bestRev := 0, false
	limit := min(maxCatThreshold, len(cats))
	for _, rev := range []bool{false, true} {
		var left histBin
		for k := 0; k < limit; k++ {
			left.add(h[nth(k, rev)])
			if g.consider(&best, left, total, parent) {
				bestK, bestRev = k, rev
			}
			if miss.n > 0 {
				withMiss := left
				withMiss.add(miss)
				if g.consider(&best, withMiss, total, parent) {
					best.defaultLeft, bestK, bestRev = true, k, rev
				}
			}
		}
	}
	if best.ok {
		best.feature = f
		best.leftBins = make([]bool, fb.nBins)
		for k := 0; k <= bestK; k++ {
			best.leftBins[nth(k, bestRev)] = true
		}
	}
	return best
}

// goesLeft applies a split to a binned value.
func (s *split) goesLeft(b uint8, nBins int) bool {
	switch {
	case int(b) == nBins:
		return s.defaultLeft
	case s.leftBins != nil:
		return s.leftBins[b]
	default:
		return int(b) <= s.bin
	}
}

// grow fits one tree to g.grad over rows, and reports each leaf's rows and
// value through visit.
func (g *grower) grow(rows []int32, visit func(rows []int32, value float64)) Tree {
	g.idx = append(g.idx[:0], rows...)
	if cap(g.buf) < len(rows) {
		g.buf = make([]int32, len(rows))
	}
	var tree Tree
	root := &leaf{start: 0, end: len(rows), hist: g.newHist(), feats: g.features}
	for _, r := range rows {
		gp := g.grad[r]
		root.sum.add(histBin{gp.g, gp.h, 1})
	}
	root.node = tree.addNode(g.leafValue(root.sum), root.sum.h)
	g.build(root.hist, g.idx, root.sum, root.feats)
	g.findBest(root)
	leaves := []*leaf{root}
	for g.p.MaxLeaves == 0 || len(leaves) < g.p.MaxLeaves {
		bi := -1
		for i, l := range leaves {
			if l.best.ok && (bi < 0 || l.best.gain > leaves[bi].best.gain) {
				bi = i
			}
		}
		if bi < 0 {
			break
		}
		l := leaves[bi]
		// The split that makes the last leaf leaves its children as they
		// are: nothing will split them.
		last := lastLeavesAsIs && g.p.MaxLeaves != 0 && len(leaves)+1 == g.p.MaxLeaves
		left, right := g.splitLeaf(&tree, l, last)
		leaves[bi] = left
		leaves = append(leaves, right)
	}
	for _, l := range leaves {
		g.release(l.hist)
		visit(g.idx[l.start:l.end], tree.Value[l.node])
	}
	return tree
}

// partition moves the rows of idx whose bin in col is on the left side
// (side[bin] == 1) to its front, the others after them, each side in its
// order, and returns how many went left; buf is scratch as long as idx.
// Large nodes are split into one chunk per thread, each partitioned alone,
// and the chunks' sides joined in order.
func (g *grower) partition(idx, buf []int32, side *[256]uint8, col []uint8) int {
	chunks := 1
	if len(idx) >= 1<<16 {
		chunks = g.threads
	}
	var lefts [64]int
	chunks = min(chunks, len(lefts))
	bounds := func(c int) (int, int) { return c * len(idx) / chunks, (c + 1) * len(idx) / chunks }
	parallelRange(chunks, chunks, 2, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			a, b := bounds(c)
			lefts[c] = partitionChunk(idx[a:b], buf[a:b], side, col)
		}
	})
	// Each chunk's left rows sit at its front: move them together (each to
	// an earlier place, in order, so none is overwritten unread), then the
	// right rows from buf after them.
	nl := 0
	for c := 0; c < chunks; c++ {
		if a, _ := bounds(c); a != nl { // the first chunk's are in place
			copy(idx[nl:], idx[a:a+lefts[c]])
		}
		nl += lefts[c]
	}
	at := nl
	for c := 0; c < chunks; c++ {
		a, b := bounds(c)
		at += copy(idx[at:], buf[a:a+(b-a-lefts[c])])
	}
	return nl
}

// partitionChunk writes idx's left rows to its front and its right rows to
// buf's, and returns the left count. Without branches: every row is written
// to both sides and the side it belongs to advances, by the table of each
// bin's side (the missing bin included); half the rows going each way would
// otherwise mispredict half the branches. Writing idx[nl] is safe: nl never
// passes the row being read.
func partitionChunk(idx, buf []int32, side *[256]uint8, col []uint8) int {
	nl, nr := 0, 0
	for _, r := range idx {
		left := int(side[col[r]])
		idx[nl] = r
		buf[nr] = r
		nl += left
		nr += 1 - left
	}
	return nl
}

// splitLeaf applies l.best: it partitions l's rows (stably), adds the two
// children to the tree, builds their histograms and finds their best splits
// (unless the children are the tree's last leaves).
func (g *grower) splitLeaf(tree *Tree, l *leaf, last bool) (*leaf, *leaf) {
	s := &l.best
	f := s.feature
	fb := &g.fbs[f]
	var side [256]uint8
	for b := 0; b <= fb.nBins; b++ {
		if s.goesLeft(uint8(b), fb.nBins) {
			side[b] = 1
		}
	}
	nl := l.start + g.partition(g.idx[l.start:l.end], g.buf[l.start:l.end], &side, g.bins[f*g.rows:(f+1)*g.rows])

	rightSum := histBin{l.sum.g - s.left.g, l.sum.h - s.left.h, l.sum.n - s.left.n}
	left := &leaf{start: l.start, end: nl, depth: l.depth + 1, sum: s.left, feats: l.feats}
	right := &leaf{start: nl, end: l.end, depth: l.depth + 1, sum: rightSum, feats: l.feats}
	left.node = tree.addNode(g.leafValue(left.sum), left.sum.h)
	right.node = tree.addNode(g.leafValue(right.sum), right.sum.h)
	n := l.node
	tree.Left[n], tree.Right[n], tree.Feature[n], tree.DefaultLeft[n] = left.node, right.node, int32(f), s.defaultLeft
	if s.leftBins != nil {
		var cats []int32
		for b, in := range s.leftBins {
			if in {
				cats = append(cats, fb.binToCats[b]...)
			}
		}
		slices.Sort(cats)
		tree.Categories[n] = cats
	} else {
		tree.Threshold[n] = fb.bounds[s.bin]
	}

	// Children that cannot split (at the depth limit, or with too few rows,
	// or the last leaves) need no histogram: at depth d of a depth-d tree
	// that saves the level with the most builds.
	if last || !g.maySplit(left) && !g.maySplit(right) {
		g.release(l.hist)
		l.hist = nil
		return left, right
	}
	// The smaller child gets a fresh histogram; the larger takes the
	// parent's, minus the smaller's.
	small, large := left, right
	if right.end-right.start < left.end-left.start {
		small, large = right, left
	}
	small.hist = g.newHist()
	g.build(small.hist, g.idx[small.start:small.end], small.sum, l.feats)
	large.hist = l.hist
	g.subtract(large.hist, small.hist, l.feats)
	l.hist = nil
	for _, c := range []*leaf{left, right} {
		g.findBest(c)
		if !c.best.ok { // a leaf for good: its histogram is no longer needed
			g.release(c.hist)
			c.hist = nil
		}
	}
	return left, right
}
