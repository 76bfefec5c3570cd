package serve

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// checkNumber compares parseNumber with strconv.ParseFloat bit for bit.
func checkNumber(t *testing.T, s string) {
	t.Helper()
	want, err := strconv.ParseFloat(s, 64)
	got, ok := parseNumber([]byte(s))
	if wantOK := err == nil && !math.IsInf(want, 0); ok != wantOK {
		t.Fatalf("parseNumber(%q): ok %v, strconv says %v (%v)", s, ok, want, err)
	}
	if ok && math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("parseNumber(%q) = %v (%#x), strconv.ParseFloat %v (%#x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
	}
}

// The fast path and its edges give strconv's bits: signed zeros, the
// largest exact mantissa and power of ten and one past each, 19 and 20
// digits, leading zeros, subnormals, overflow to infinity (refused), and
// the values clients actually send (float32 values printed as float64,
// as numpy's tolist() and json.dumps write them, and short decimals).
func TestParseNumber(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "0.0", "-0.0", "0e5", "-0E-5", "1", "-1", "12.5", "-0.25",
		"9007199254740991", "9007199254740992", "9007199254740993", "1e22", "1e23", "1e-22", "1e-23",
		"9007199254740991e22", "9007199254740993e-22", "1234567890123456789", "12345678901234567890",
		"0.000000000000000000000000001", "0.1428571492433548", "0.20000000298023224", "3.4028234663852886e38",
		"1e308", "1.7976931348623157e308", "1.8e308", "1e309", "-1e400", "5e-324", "2e-324", "1e-400",
		"4.9406564584124654e-324", "2.2250738585072011e-308", "1e0000000000000000000003", "100E+2", "7e-0",
	} {
		checkNumber(t, s)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 200000; i++ {
		f32 := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-6)))
		checkNumber(t, strconv.FormatFloat(float64(f32), 'g', -1, 32))
		checkNumber(t, strconv.FormatFloat(float64(f32), 'g', -1, 64))
		checkNumber(t, strconv.FormatFloat(rng.Float64()*1e6, 'f', rng.IntN(8), 64))
	}
}

// For any text jsontext accepts as a number, parseNumber agrees with
// strconv.ParseFloat bit for bit.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "-12.5e3", "0.1428571492433548", "9007199254740993", "1e-400", "1e999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := jsontext.NewDecoder(strings.NewReader(s)).ReadToken()
		if err != nil || tok.Kind() != '0' || tok.String() != s {
			return // not one JSON number: the decoder refuses it first
		}
		checkNumber(t, s)
	})
}
