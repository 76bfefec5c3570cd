package gbdt

import "slices"

// Sparse histograms, as LightGBM builds them for sparse data: when most of a
// data set's values sit in their feature's most common bin (the zeros or the
// absent values of LibSVM ranking data), a histogram is built from each
// row's other entries only, and each feature's common bin is filled in as
// the leaf's total minus the feature's other bins.

// sparseRows holds each row's entries outside the common bins: row r's are
// entries[start[r]:start[r+1]], in feature order. An entry is the position of
// its bin in a histogram (the feature's offset plus the bin), so a build adds
// it without looking anything up.
type sparseRows struct {
	common  []uint8 // each feature's most common bin
	entries []uint32
	start   []int
}

// maxSparseDensity is the largest share of values outside the common bins
// for which the sparse build pays: above it, the entries (4 bytes each, on
// top of the dense bins partitioning reads) cost more memory and time than
// scanning every value.
const maxSparseDensity = 0.4

// sparseBuilds can turn the sparse build off, for the tests that compare it
// with the dense one.
var sparseBuilds = true

// newSparseRows returns the sparse form of column-major bins (binColumns),
// or nil when the data is too dense for it to pay; offsets are each
// feature's start in a histogram.
func newSparseRows(bins []uint8, fbs []featureBins, offsets []int) *sparseRows {
	nf := len(fbs)
	if !sparseBuilds || nf == 0 || len(bins) == 0 {
		return nil
	}
	rows := len(bins) / nf
	s := &sparseRows{common: make([]uint8, nf), start: make([]int, rows+1)}
	nonCommon := 0
	for f, fb := range fbs {
		counts := make([]int, fb.nBins+1)
		for _, b := range bins[f*rows : (f+1)*rows] {
			counts[b]++
		}
		s.common[f] = uint8(slices.Index(counts, slices.Max(counts))) // the first of the most common
		nonCommon += rows - counts[s.common[f]]
	}
	if float64(nonCommon) > maxSparseDensity*float64(len(bins)) {
		return nil
	}
	// Count each row's entries, then fill them feature by feature: each
	// column is read in order, and each row's entries come out in feature
	// order.
	for f := range fbs {
		for r, b := range bins[f*rows : (f+1)*rows] {
			if b != s.common[f] {
				s.start[r+1]++
			}
		}
	}
	for r := 0; r < rows; r++ {
		s.start[r+1] += s.start[r]
	}
	s.entries = make([]uint32, nonCommon)
	next := slices.Clone(s.start[:rows])
	for f := range fbs {
		for r, b := range bins[f*rows : (f+1)*rows] {
			if b != s.common[f] {
				s.entries[next[r]] = uint32(offsets[f] + int(b))
				next[r]++
			}
		}
	}
	return s
}

// splitEntries is the least entries a sparse build splits into two halves
// of its rows. Each half is added into a histogram of its own and the two
// are summed, on two threads when there are, else one after the other:
// whether a node splits depends on its entries only, so the sums and the
// trees are the same whatever the threads. Below it, clearing and adding
// a second histogram costs more than a second thread saves. (A variable
// for the tests, which split small nodes too.)
var splitEntries = 1 << 17

// buildSparse is build for sparse data: total is the sums of rows. Entries
// of features outside all are added too, to stale sums (a leaf's histogram
// is read for its features only, and skipping them would cost a test per
// entry).
func (g *grower) buildSparse(hist []histBin, rows []int32, total histBin, all []int) {
	sp := g.sparse
	entries := 0
	for _, r := range rows {
		entries += sp.start[r+1] - sp.start[r]
	}
	for _, f := range all {
		clear(g.featureHist(hist, f))
	}
	var half []histBin // the second half's sums, when the rows are split
	if entries < splitEntries {
		sp.add(hist, rows, g.grad)
	} else {
		half = g.newHist()
		defer g.release(half)
		for _, f := range all {
			clear(g.featureHist(half, f))
		}
		mid := len(rows) / 2
		parallelRange(2, g.threads, 2, func(lo, hi int) {
			for part := lo; part < hi; part++ {
				if part == 0 {
					sp.add(hist, rows[:mid], g.grad)
				} else {
					sp.add(half, rows[mid:], g.grad)
				}
			}
		})
	}
	for _, f := range all {
		h := g.featureHist(hist, f)
		if half != nil {
			for i, b := range g.featureHist(half, f) {
				h[i].add(b)
			}
		}
		// The common bin holds the rows counted nowhere else.
		rest := total
		for _, b := range h {
			rest.g -= b.g
			rest.h -= b.h
			rest.n -= b.n
		}
		if rest.n > 0 {
			h[sp.common[f]] = rest
		}
	}
}

// add adds each row's gradient pair to the histogram positions of its
// entries.
func (sp *sparseRows) add(hist []histBin, rows []int32, grad []gradPair) {
	for _, r := range rows {
		gp := grad[r]
		for _, e := range sp.entries[sp.start[r]:sp.start[r+1]] {
			b := &hist[e]
			b.g += gp.g
			b.h += gp.h
			b.n++
		}
	}
}
