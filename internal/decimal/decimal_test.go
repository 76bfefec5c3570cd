package decimal

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// check compares Parse with strconv.ParseFloat bit for bit where Parse
// converts s, and reports whether it did.
func check(t *testing.T, s string) bool {
	t.Helper()
	got, ok := Parse(s)
	if gotB, okB := Parse([]byte(s)); okB != ok || math.Float64bits(gotB) != math.Float64bits(got) {
		t.Fatalf("Parse(%q): %v %v as a string, %v %v as bytes", s, got, ok, gotB, okB)
	}
	if !ok {
		return false
	}
	want, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("Parse(%q) = %v, but strconv.ParseFloat refuses it: %v", s, got, err)
	}
	if math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("Parse(%q) = %v (%#x), strconv.ParseFloat %v (%#x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
	}
	return true
}

// The fast path's edges give strconv's bits or go to strconv: signed zeros,
// the largest exact mantissa and power of ten and one past each, 19 and 20
// digits, leading zeros, overflow and underflow; and the values data files
// and clients send (float32 values printed as float64, short decimals).
func TestParse(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "+0", "0.0", "-0.0", "0e5", "-0E-5", "1", "-1", "+1", "12.5", "-0.25", ".5", "5.", "-.5e1", "007",
		"9007199254740991", "1e22", "1e-22", "9007199254740991e22", "0.1428571492433548", "100E+2", "7e-0", "0.869", "-1.092",
	} {
		if !check(t, s) {
			t.Errorf("Parse(%q) left a short decimal to strconv", s)
		}
	}
	for _, s := range []string{
		"9007199254740992", "1234567890123456789", "0.20000000298023224", "9007199254740993", "1e23", "1e-23", "9007199254740993e-22", "12345678901234567890",
		"0.000000000000000000000000001", "3.4028234663852886e38", "1e308", "1.8e308", "1e309", "-1e400", "5e-324",
		"1e-400", "1e0000000000000000000003",
		"", "-", "+", ".", "-.", "e5", ".e1", "1e", "1e+", "1e-", "1.2.3", "1..2", "--1", "+-1", "1e5.5", "1e1e1",
		" 1", "1 ", "1,5", "0x10", "0x1p-2", "1_000", "inf", "-Inf", "NaN", "infinity", "1ee2", "1e++2", "١",
	} {
		check(t, s)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		f32 := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-6)))
		check(t, strconv.FormatFloat(float64(f32), 'g', -1, 32))
		check(t, strconv.FormatFloat(float64(f32), 'g', -1, 64))
		if s := strconv.FormatFloat(rng.Float64()*1e6, 'f', rng.IntN(8), 64); !check(t, s) {
			t.Fatalf("Parse(%q) left a short decimal to strconv", s)
		}
	}
}

// Whatever the text, a number Parse converts is strconv.ParseFloat's, to
// the bit.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "-12.5e3", "+.5", "0.1428571492433548", "9007199254740993", "1e-400", "1e999", "1.e5", "nan"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check(t, s)
	})
}

func BenchmarkParse(b *testing.B) {
	fields := []string{"0.869", "-0.635", "0.226", "1.375", "-1.092", "3.102", "0.000", "12.5", "-0.0001234"}
	b.Run("decimal", func(b *testing.B) {
		for b.Loop() {
			for _, s := range fields {
				Parse(s)
			}
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for b.Loop() {
			for _, s := range fields {
				strconv.ParseFloat(s, 64)
			}
		}
	})
}
