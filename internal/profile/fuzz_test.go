package profile

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
)

// FuzzProfile feeds profile.json contents to the checks Load makes, then
// counts rows into any profile they accept and compares the counts: a
// profile that passes the checks never makes the server or monitor panic.
func FuzzProfile(f *testing.F) {
	f.Add([]byte(`{"rows": 4, "features": [{"name": "x", "kind": "numeric", "edges": [1, 2], "counts": [1, 2, 1], "missing": 0}, {"name": "c", "kind": "categorical", "categories": ["a"], "counts": [3, 1], "missing": 0}], "score": {"name": "score", "kind": "numeric", "edges": [0.5], "counts": [2, 2], "missing": 0}}`), 2.5, -1.0)
	f.Add([]byte(`{"features": [{"name": "x", "kind": "numeric", "counts": [0]}]}`), math.NaN(), 1e300)
	f.Fuzz(func(t *testing.T, b []byte, v, w float64) {
		var p Profile
		if json.Unmarshal(b, &p) != nil || p.check() != nil {
			return
		}
		c := NewCounter(&p)
		cols := make([]data.Column, len(p.Features))
		for i := range cols {
			cols[i] = data.Column{Values: []float32{float32(v), float32(w), float32(math.NaN())}}
		}
		c.Observe(cols, []float64{v, w, math.NaN()})
		more := make([]data.Column, len(cols))
		for i := range more {
			more[i] = data.Column{Values: make([]float32, 20)}
		}
		c.Observe(more, make([]float64, 20))
		for i, counts := range c.Snapshot() {
			if _, err := Compare(c.Dists()[i], counts); err != nil {
				t.Fatal(err)
			}
		}
	})
}
