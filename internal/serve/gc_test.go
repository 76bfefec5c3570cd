package serve

import "testing"

// A small model keeps Go's default pace; a large one grows by the
// headroom; a huge one by at least a tenth of itself.
func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{{0, 100}, {10 << 20, 100}, {64 << 20, 100}, {128 << 20, 50}, {307 << 20, 20}, {10 << 30, 10}} {
		if got := gcPercent(c.live); got != c.want {
			t.Errorf("live %d MiB: GOGC %d, want %d", c.live>>20, got, c.want)
		}
	}
}
