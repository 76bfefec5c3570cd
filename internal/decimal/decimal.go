package decimal

// exactPow10 holds the powers of ten a float64 represents exactly.
var exactPow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
}

// Parse converts s when it is a decimal, [+-]?d*[.d*]([eE][+-]?d+)? with at
// least one digit before the exponent, that Clinger's fast path converts
// exactly: at most 19 significant digits, a mantissa under 2^53 and a power
// of ten of at most 22, both exact doubles, so that one multiplication or
// division rounds once, correctly. ok is false for anything else (more
// digits, a larger exponent, inf, nan, hexadecimal, spaces, no number at
// all): the caller asks strconv.ParseFloat, which converts it or says why
// it cannot.
func Parse[T string | []byte](s T) (f float64, ok bool) {
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		i, neg = 1, s[0] == '-'
	}
	var (
		mant   uint64
		digits int  // significant digits in mant
		seen   bool // a digit, significant or not
		exp10  int  // the value is mant × 10^exp10
		dot    bool
	)
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			seen = true
			if digits > 0 || c != '0' {
				if digits == 19 {
					return 0, false
				}
				mant = mant*10 + uint64(c-'0')
				digits++
			}
			if dot {
				exp10--
			}
			continue
		case c == '.' && !dot:
			dot = true
			continue
		}
		break
	}
	if !seen {
		return 0, false
	}
	if i < len(s) { // an exponent: e or E, a sign, digits
		if s[i] != 'e' && s[i] != 'E' {
			return 0, false
		}
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return 0, false
		}
		e := 0
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' || e > 10000 {
				return 0, false
			}
			e = e*10 + int(c-'0')
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
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}
