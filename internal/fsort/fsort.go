package fsort

import (
	"math"
	"slices"
)

// small is the length under which a comparison sort is the faster.
const small = 256

// Float32s sorts s in increasing order (zeros of either sign in any order,
// as slices.Sort). s must hold no NaN.
func Float32s(s []float32) {
	if len(s) < small {
		slices.Sort(s)
		return
	}
	keys := make([]uint32, 2*len(s))
	for i, v := range s {
		keys[i] = key32(math.Float32bits(v))
	}
	radix(keys[:len(s)], keys[len(s):])
	for i, k := range keys[:len(s)] {
		s[i] = math.Float32frombits(unkey32(k))
	}
}

// Float64s sorts s in increasing order (zeros of either sign in any order,
// as slices.Sort). s must hold no NaN.
func Float64s(s []float64) {
	if len(s) < small {
		slices.Sort(s)
		return
	}
	keys := make([]uint64, 2*len(s))
	for i, v := range s {
		keys[i] = key64(math.Float64bits(v))
	}
	radix(keys[:len(s)], keys[len(s):])
	for i, k := range keys[:len(s)] {
		s[i] = math.Float64frombits(unkey64(k))
	}
}

// The key of a float's bits orders as the float: a negative number's bits
// are all flipped (a larger magnitude is smaller), a positive number's
// sign bit is set (above every negative).
func key32(b uint32) uint32 {
	if b>>31 != 0 {
		return ^b
	}
	return b | 1<<31
}

func unkey32(k uint32) uint32 {
	if k>>31 != 0 {
		return k &^ (1 << 31)
	}
	return ^k
}

func key64(b uint64) uint64 {
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}

func unkey64(k uint64) uint64 {
	if k>>63 != 0 {
		return k &^ (1 << 63)
	}
	return ^k
}

// radix sorts keys in increasing order, a byte at a time from the lowest
// (each pass stable), with buf as long as keys for scratch. A pass whose
// byte is the same in every key moves nothing and is skipped: the low
// bytes of float32 values held as float64, the high bytes of values of one
// sign and scale.
func radix[K uint32 | uint64](keys, buf []K) {
	bytes := keyBytes[K]()
	counts := make([][256]int, bytes)
	for _, k := range keys {
		for b := range bytes {
			counts[b][byte(k>>(8*b))]++
		}
	}
	src, dst := keys, buf
	for b := range bytes {
		c := &counts[b]
		if c[byte(src[0]>>(8*b))] == len(src) {
			continue
		}
		pos := 0
		for d := range c {
			c[d], pos = pos, pos+c[d]
		}
		shift := 8 * b
		for _, k := range src {
			d := byte(k >> shift)
			dst[c[d]] = k
			c[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// keyBytes is the size of a key in bytes.
func keyBytes[K uint32 | uint64]() int {
	var top K = 1 << 31
	if top<<1 == 0 {
		return 4
	}
	return 8
}
