package serve

import (
	"math"
	"strconv"
)

// exactPow10 holds the powers of ten a float64 represents exactly.
var exactPow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
}

// parseNumber reads a JSON number that the decoder has already checked
// against JSON's grammar (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?) as
// strconv.ParseFloat does, to the same bits, and ok false where that is an
// infinity (an exponent too large).
//
// The numbers a client sends are mostly short decimals, which Clinger's
// fast path converts exactly: a mantissa under 2^53 and a power of ten of
// at most 22 are both exact doubles, so one multiplication or division
// rounds once, correctly. Anything else (more than 15 significant digits in
// most cases, or a larger exponent) goes to strconv.ParseFloat. Request
// decoding spends about half its time in number conversion, which this
// halves.
func parseNumber(b []byte) (f float64, ok bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	var (
		mant   uint64
		digits int // significant digits in mant
		exp10  int // the value is mant × 10^exp10
		dot    bool
	)
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 || c != '0' {
				if digits == 19 {
					return parseSlow(b)
				}
				mant = mant*10 + uint64(c-'0')
				digits++
			}
			if dot {
				exp10--
			}
			continue
		case c == '.':
			dot = true
			continue
		}
		break
	}
	if i < len(b) { // an exponent: e or E, a sign, digits
		i++
		eneg := false
		if b[i] == '+' || b[i] == '-' {
			eneg = b[i] == '-'
			i++
		}
		e := 0
		for ; i < len(b); i++ {
			if e > 10000 {
				return parseSlow(b)
			}
			e = e*10 + int(b[i]-'0')
		}
		if eneg {
			e = -e
		}
		exp10 += e
	}
	switch {
	case mant == 0:
		f = 0
	case mant < 1<<53 && exp10 >= 0 && exp10 < len(exactPow10):
		f = float64(mant) * exactPow10[exp10]
	case mant < 1<<53 && exp10 < 0 && -exp10 < len(exactPow10):
		f = float64(mant) / exactPow10[-exp10]
	default:
		return parseSlow(b)
	}
	if neg {
		f = -f
	}
	return f, true
}

// parseSlow is strconv.ParseFloat's answer, ok false for an infinity.
func parseSlow(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil && !math.IsInf(f, 0)
}
