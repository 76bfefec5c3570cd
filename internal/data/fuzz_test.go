package data_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
)

// No file content makes Read panic, and a data set it returns is consistent.
func FuzzRead(f *testing.F) {
	f.Add("a,b,y\n1,2,0\n", "csv")
	f.Add("a;b;y\r\n\"x\";2;TRUE\r\n", "csv")
	f.Add("1 qid:3 1:0.5 4:2 # c\n0 qid:3 2:1\n", "libsvm")
	f.Add("0\t1\t2\n1\t3\t4\n", "tsv")
	f.Fuzz(func(t *testing.T, content, format string) {
		if format != "csv" && format != "tsv" && format != "libsvm" {
			return
		}
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		opts := data.Options{Format: data.Format(format)}
		if format != "libsvm" {
			opts.Header = "false"
			opts.Label = "0"
		}
		d, err := data.Read(context.Background(), p, opts)
		if err != nil {
			return
		}
		if len(d.Label) != d.Rows {
			t.Fatalf("%d labels for %d rows", len(d.Label), d.Rows)
		}
		for _, c := range d.Columns {
			if len(c.Values) != d.Rows {
				t.Fatalf("column %s has %d values for %d rows", c.Name, len(c.Values), d.Rows)
			}
		}
		if d.Group != nil && len(d.Group) != d.Rows {
			t.Fatalf("%d groups for %d rows", len(d.Group), d.Rows)
		}
	})
}

// No Parquet bytes make Read panic (the reader's own panics on a corrupt
// page come back as errors), and what it returns is consistent. Seeded
// with DuckDB's files, whole and with bytes flipped.
func FuzzReadParquet(f *testing.F) {
	for _, name := range []string{"clicks-zstd.parquet", "clicks-snappy.parquet", "nested.parquet"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, at := range []int{len(b) / 3, len(b) / 2, len(b) - 40} {
			flipped := append([]byte(nil), b...)
			flipped[at] ^= 0xff
			f.Add(flipped)
		}
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		p := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := data.Read(context.Background(), p, data.Options{Drop: []string{"nested"}})
		if err != nil {
			return
		}
		for _, c := range d.Columns {
			if len(c.Values) != d.Rows {
				t.Fatalf("column %s has %d values for %d rows", c.Name, len(c.Values), d.Rows)
			}
		}
	})
}
