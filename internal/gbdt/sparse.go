package gbdt

// Sparse histograms, as LightGBM builds them for sparse data: when most of a
// data set's values sit in their feature's most common bin (the zeros or the
// absent values of LibSVM ranking data), a histogram is built from each
// row's other entries only, and each feature's common bin is filled in as
// the leaf's total minus the feature's other bins.

// sparseEntry is one value outside its feature's common bin.
type sparseEntry struct {
	f   uint16
	bin uint8
}

// sparseRows holds each row's entries outside the common bins: row r's are
// entries[start[r]:start[r+1]], in feature order.
type sparseRows struct {
	common  []uint8 // each feature's most common bin
	entries []sparseEntry
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

// newSparseRows returns the sparse form of row-major bins, or nil when the
// data is too dense for it to pay or has more features than an entry names.
func newSparseRows(bins []uint8, fbs []featureBins) *sparseRows {
	nf := len(fbs)
	if !sparseBuilds || nf == 0 || nf > 1<<16 || len(bins) == 0 {
		return nil
	}
	rows := len(bins) / nf
	counts := make([][]int, nf)
	for f, fb := range fbs {
		counts[f] = make([]int, fb.nBins+1)
	}
	for r := 0; r < rows; r++ {
		for f, b := range bins[r*nf : (r+1)*nf] {
			counts[f][b]++
		}
	}
	s := &sparseRows{common: make([]uint8, nf)}
	nonCommon := 0
	for f, c := range counts {
		best := 0
		for b, n := range c {
			if n > c[best] {
				best = b
			}
		}
		s.common[f] = uint8(best)
		nonCommon += rows - c[best]
	}
	if float64(nonCommon) > maxSparseDensity*float64(len(bins)) {
		return nil
	}
	s.entries = make([]sparseEntry, 0, nonCommon)
	s.start = make([]int, rows+1)
	for r := 0; r < rows; r++ {
		for f, b := range bins[r*nf : (r+1)*nf] {
			if b != s.common[f] {
				s.entries = append(s.entries, sparseEntry{uint16(f), b})
			}
		}
		s.start[r+1] = len(s.entries)
	}
	return s
}

// buildSparse is build for sparse data: total is the sums of rows.
func (g *grower) buildSparse(hist []histBin, rows []int32, total histBin) {
	sp := g.sparse
	g.forFeatureBlocks(len(rows), func(features []int) {
		lo, n := features[0], len(features)
		var member []bool // for a block that is not contiguous (column sampling)
		if features[n-1]-lo != n-1 {
			member = make([]bool, g.nf)
			for _, f := range features {
				member[f] = true
			}
		}
		offsets := g.offsets
		for _, r := range rows {
			gp := g.grad[r]
			for _, e := range sp.entries[sp.start[r]:sp.start[r+1]] {
				f := int(e.f)
				if member == nil {
					if uint(f-lo) >= uint(n) {
						continue
					}
				} else if !member[f] {
					continue
				}
				b := &hist[offsets[f]+int(e.bin)]
				b.g += gp.g
				b.h += gp.h
				b.n++
			}
		}
		// The common bin holds the rows counted nowhere else.
		for _, f := range features {
			h := hist[offsets[f] : offsets[f]+g.fbs[f].nBins+1]
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
	})
}
