package serve

import (
	"math"
	"strconv"

	"github.com/ferry-ml/ferry/internal/decimal"
)

// parseNumber reads a JSON number that the decoder has already checked
// against JSON's grammar as strconv.ParseFloat does, to the same bits, and ok
// false where that is an infinity (an exponent too large). Request decoding
// spent about half its time in number conversion: the short decimals
// clients send go through decimal.Parse, the rest to strconv.
func parseNumber(b []byte) (float64, bool) {
	if f, ok := decimal.Parse(b); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil && !math.IsInf(f, 0)
}
