package metrics

import "math"

// scored is a row reduced to what a sort by score needs: its score as an
// order-preserving key, and a value carried along.
type scored struct {
	key uint64
	val float64
}

// sortKey maps a score to an unsigned key with the same order (NaN excluded).
func sortKey(s float64) uint64 {
	k := math.Float64bits(s)
	if k>>63 == 1 {
		return ^k // negative: reverse the order
	}
	return k | 1<<63
}

// radixSort sorts rows by key with an LSD radix sort (11-bit digits, up to
// six passes, a pass skipped where every key has the same digit): linear in
// the number of rows, several times faster than a comparison sort on the
// millions of rows `ferry metrics` reads, and reading and writing the rows
// in sequence rather than chasing indexes. Equal keys keep their order.
func radixSort(a []scored) []scored {
	b := make([]scored, len(a))
	const bits, buckets = 11, 1 << 11
	var count [buckets]int
	for shift := uint(0); shift < 64; shift += bits {
		count = [buckets]int{}
		for _, p := range a {
			count[(p.key>>shift)&(buckets-1)]++
		}
		if len(a) == 0 || count[(a[0].key>>shift)&(buckets-1)] == len(a) {
			continue
		}
		sum := 0
		for d := range count {
			sum, count[d] = sum+count[d], sum
		}
		for _, p := range a {
			d := (p.key >> shift) & (buckets - 1)
			b[count[d]] = p
			count[d]++
		}
		a, b = b, a
	}
	return a
}
