package input_test

import (
	"testing"

	"github.com/ferry-ml/ferry/internal/input"
)

// Any text for any kind either parses or gives an *input.Error naming the
// parameter; never a panic, never both a value and an error.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"", "3", "-1", "1e400", "true", "TRUE", "90s", "-5s", "gbdt", "a,b\n#c\n d ", "\x00", "1h1m1s1ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, s := range specs {
			r := input.NewReader(input.MapSource{s.Name: raw}, []input.Spec{s}, func(string) {})
			switch s.Kind {
			case input.Int:
				if v := r.Int(s.Name); r.Err() != nil && v != 0 {
					t.Fatalf("%s: value %d with error %v", s.Name, v, r.Err())
				}
			case input.Duration:
				if v := r.Duration(s.Name); v < 0 {
					t.Fatalf("%s: negative duration %v from %q", s.Name, v, raw)
				}
			case input.List:
				for _, item := range r.List(s.Name) {
					if item == "" {
						t.Fatalf("%s: empty item from %q", s.Name, raw)
					}
				}
			case input.Enum:
				v := r.Enum(s.Name)
				if r.Err() == nil && v != "gbdt" && v != "mlp" {
					t.Fatalf("%s: %q accepted", s.Name, v)
				}
			default:
				r.String(s.Name)
			}
		}
	})
}
