package data

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEstimateRows(t *testing.T) {
	whole := []byte("a,b\n1,2\n3,4\n")
	for _, tc := range []struct {
		name   string
		sample []byte
		size   int64
		fields int
		want   int
	}{
		{"the sample is the file", whole, int64(len(whole)), 2, 3},
		{"a tenth of the file", whole, 32 * int64(len(whole)), 2, 96 + 3}, // 3 lines in 1/32 of the file, and 1/32 more
		{"size unknown", whole, 0, 2, 0},
		{"no newline in the sample", []byte("a,b"), 1000, 2, 0},
		{"at most a line per field's byte", []byte("\n\n\n\n"), 100, 5, 20},
	} {
		if got := estimateRows(tc.sample, tc.size, tc.fields); got != tc.want {
			t.Errorf("%s: %d rows, want %d", tc.name, got, tc.want)
		}
	}
}

// Columns sized from the first lines read right when the guess is short
// (short lines first, long ones after) and when it is long (the reverse).
func TestReadWithRowsMisjudged(t *testing.T) {
	for _, longFirst := range []bool{false, true} {
		var b strings.Builder
		b.WriteString("x,y,label\n")
		const rows = 20000
		for i := range rows {
			long := (i < rows/2) == longFirst
			if long {
				fmt.Fprintf(&b, "%d.000000000001,-%d.12345678901,1\n", i, i)
			} else {
				fmt.Fprintf(&b, "%d,%d,0\n", i, i%7)
			}
		}
		p := filepath.Join(t.TempDir(), "d.csv")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := Read(context.Background(), p, Options{Label: "label"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Rows != rows || len(d.Label) != rows || len(d.Columns[0].Values) != rows {
			t.Fatalf("long lines first %v: %d rows, %d labels, %d values; want %d", longFirst, d.Rows, len(d.Label), len(d.Columns[0].Values), rows)
		}
		for _, i := range []int{0, rows/2 - 1, rows / 2, rows - 1} {
			if got := d.Columns[0].Values[i]; int(got) != i {
				t.Errorf("long lines first %v: row %d reads x = %v", longFirst, i, got)
			}
		}
	}
}
