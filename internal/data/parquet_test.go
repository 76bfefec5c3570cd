package data

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// sameDataset reports how two reads of the same rows differ, "" when they
// do not: columns, kinds, categories, every value (NaN equal to NaN),
// labels and groups.
func sameDataset(a, b *Dataset) string {
	if a.Rows != b.Rows || len(a.Columns) != len(b.Columns) {
		return "shape differs"
	}
	for j := range a.Columns {
		ca, cb := a.Columns[j], b.Columns[j]
		if ca.Name != cb.Name || ca.Categorical != cb.Categorical || !slices.Equal(ca.Categories, cb.Categories) {
			return "column " + ca.Name + " differs from " + cb.Name
		}
		for i := range ca.Values {
			x, y := ca.Values[i], cb.Values[i]
			if x != y && !(math.IsNaN(float64(x)) && math.IsNaN(float64(y))) {
				return "column " + ca.Name + ": a value differs"
			}
		}
	}
	if !slices.Equal(a.Label, b.Label) || !slices.Equal(a.Group, b.Group) || !slices.Equal(a.GroupKeys, b.GroupKeys) {
		return "labels or groups differ"
	}
	return ""
}

// Parquet written by DuckDB (hack/testdata/parquet.mjs: Zstd and Snappy,
// three row groups, nulls, dictionary-encoded strings, booleans, a decimal)
// reads as the same rows DuckDB wrote as CSV: every value, category,
// label and group; and against a model's schema as the CSV does.
func TestParquetReadsAsDuckDBsCSV(t *testing.T) {
	opts := Options{Label: "clicked", Group: "query"}
	csv, err := Read(context.Background(), "testdata/clicks.csv", opts)
	if err != nil {
		t.Fatal(err)
	}
	if csv.Rows != 5000 || !csv.Columns[2].Categorical {
		t.Fatalf("the CSV: %d rows, columns %+v", csv.Rows, csv.Schema())
	}
	for _, codec := range []string{"zstd", "snappy", "zstd, general path"} {
		t.Run(codec, func(t *testing.T) {
			if general := strings.TrimSuffix(codec, ", general path"); general != codec {
				pqFastPath, codec = false, general
				defer func() { pqFastPath = true }()
			}
			path := "testdata/clicks-" + codec + ".parquet"
			if n := rowGroups(t, path); n != 3 {
				t.Fatalf("%s has %d row groups: the fixture no longer checks reading across them", path, n)
			}
			pq, err := Read(context.Background(), path, opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := sameDataset(pq, csv); diff != "" {
				t.Fatalf("%s and the CSV: %s", path, diff)
			}
			if pq.Format != Parquet || len(pq.SHA256) != 64 {
				t.Errorf("format %q, sha256 %q", pq.Format, pq.SHA256)
			}
			// Against the CSV's schema, reordered and without a column.
			schema := csv.Schema()
			slices.Reverse(schema)
			o := opts
			o.Schema = schema[1:]
			a, err := Read(context.Background(), path, o)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Read(context.Background(), "testdata/clicks.csv", o)
			if err != nil {
				t.Fatal(err)
			}
			if diff := sameDataset(a, b); diff != "" {
				t.Errorf("against a schema: %s", diff)
			}
		})
	}
}

// What a Parquet file cannot give is an error naming the file and the
// column, and what to do; a dropped column is not read at all.
func TestParquetRefusals(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/clicks-zstd.parquet")
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.parquet")
	os.WriteFile(truncated, good[:len(good)-100], 0o644)
	notParquet := filepath.Join(dir, "clicks.parquet")
	os.WriteFile(notParquet, []byte("query,price\nq1,2\n"), 0o644)
	for _, tc := range []struct {
		path string
		opts Options
		want string
	}{
		{"testdata/nested.parquet", Options{Label: "y"}, `testdata/nested.parquet: column "nested": a nested column`},
		{"testdata/dates.parquet", Options{Label: "y"}, `testdata/dates.parquet: column "day": a date or time column`},
		{truncated, Options{Label: "clicked"}, "truncated.parquet: not a Parquet file, or a truncated one"},
		{notParquet, Options{}, "clicks.parquet: not a Parquet file"},
		{"testdata/clicks-zstd.parquet", Options{Label: "missing"}, `no label column "missing"`},
		{"testdata/clicks-zstd.parquet", Options{Label: "device"}, `row 1: column "device": the label is null`},
	} {
		if _, err := Read(context.Background(), tc.path, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.path, err, tc.want)
		}
	}
	for path, drop := range map[string]string{"testdata/nested.parquet": "nested", "testdata/dates.parquet": "day"} {
		d, err := Read(context.Background(), path, Options{Label: "y", Drop: []string{drop}})
		if err != nil || d.Rows != 10 || len(d.Columns) != 1 {
			t.Errorf("%s without %s: %v", path, drop, err)
		}
	}
}

func rowGroups(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return len(pf.RowGroups())
}

// A Hive-partitioned set DuckDB wrote (clicks-by-day/dt=.../data_0.parquet)
// reads, as a directory and as a glob, into the rows DuckDB wrote as one
// CSV with the day as a column: with partitions the key is a column (a
// category here), without it is not; the set's sha256 is that of its
// files' sums and names.
func TestParquetSets(t *testing.T) {
	opts := Options{Label: "clicked", Group: "query", Partitions: true}
	csv, err := Read(context.Background(), "testdata/clicks-by-day.csv", opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"testdata/clicks-by-day", "testdata/clicks-by-day/dt=*/*.parquet", "testdata/**/dt=2026-12-0?/data_0.parquet"} {
		pq, err := Read(context.Background(), path, opts)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if diff := sameDataset(pq, csv); diff != "" {
			t.Errorf("%s and the CSV: %s", path, diff)
		}
		if dt := pq.Columns[len(pq.Columns)-1]; dt.Name != "dt" || !dt.Categorical || len(dt.Categories) != 3 {
			t.Errorf("%s: the partition column is %+v", path, dt.Name)
		}
	}
	flat, err := Read(context.Background(), "testdata/clicks-by-day", Options{Label: "clicked", Group: "query"})
	if err != nil || len(flat.Columns) != len(csv.Columns)-1 || flat.Rows != 5000 {
		t.Fatalf("without partitions: %v, %d columns", err, len(flat.Columns))
	}
	want := sha256.New()
	for _, day := range []string{"01", "02", "03"} {
		sum, _ := HashFile("testdata/clicks-by-day/dt=2026-12-" + day + "/data_0.parquet")
		fmt.Fprintf(want, "%s  dt=2026-12-%s/data_0.parquet\n", sum, day)
	}
	if got := hex.EncodeToString(want.Sum(nil)); flat.SHA256 != got {
		t.Errorf("the set's sha256 %s, want %s (sha256sum's lines of its files)", flat.SHA256, got)
	}
}

// A set whose files disagree, a glob that matches nothing, partitions
// asked of files that have none: errors naming the file and the column.
func TestParquetSetRefusals(t *testing.T) {
	for _, tc := range []struct {
		path string
		opts Options
		want string
	}{
		{"testdata/changing-type", Options{Label: "y"}, `testdata/changing-type/b.parquet: column "x": of another type here than in testdata/changing-type/a.parquet`},
		{"testdata/missing-column", Options{Label: "y"}, `testdata/missing-column/b.parquet: column "x": missing here, and testdata/missing-column/a.parquet has it`},
		{"testdata/nothing/*.parquet", Options{}, "testdata/nothing/*.parquet: no file matches the glob"},
		{"testdata/changing-type", Options{Label: "y", Partitions: true}, "no Hive partition (key=value directory) above the files"},
		{"testdata/clicks-by-day/dt=[/*.parquet", Options{}, "not a valid glob"},
	} {
		if _, err := Read(context.Background(), tc.path, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.path, err, tc.want)
		}
	}
}
