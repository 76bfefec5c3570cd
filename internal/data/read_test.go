package data_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/test/testenv"
)

func file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func col(t *testing.T, d *data.Dataset, name string) data.Column {
	t.Helper()
	for _, c := range d.Columns {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no column %q", name)
	return data.Column{}
}

// Online shoppers: ';' separated, CRLF, TRUE/FALSE label and feature, string months.
func TestOnlineShoppers(t *testing.T) {
	d, err := data.Read(context.Background(), testenv.SharedData(t, "online-shoppers-intention/online_shoppers_intention.csv"), data.Options{Label: "Revenue"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != 12330 || len(d.Columns) != 17 {
		t.Fatalf("%d rows, %d columns; want 12330 and 17 (18 minus the label)", d.Rows, len(d.Columns))
	}
	var pos float64
	for _, y := range d.Label {
		pos += y
	}
	// The data set's README: 15.5 % TRUE (1,908 of 12,330).
	if pos != 1908 {
		t.Errorf("%v positive labels, want 1908", pos)
	}
	month := col(t, d, "Month")
	if !month.Categorical || month.Categories[0] != "Feb" {
		t.Errorf("Month: categorical %v, categories %v", month.Categorical, month.Categories)
	}
	if w := col(t, d, "Weekend"); w.Categorical || w.Values[0] != 0 {
		t.Errorf("Weekend (FALSE) read as %v, categorical %v", w.Values[0], w.Categorical)
	}
	if v := col(t, d, "ProductRelated_Duration").Values[1]; v != 64 {
		t.Errorf("row 2 ProductRelated_Duration = %v, want 64", v)
	}
	if last := d.Columns[len(d.Columns)-1].Name; strings.ContainsAny(last, "\r\n") {
		t.Errorf("CRLF leaked into a name: %q", last)
	}
}

// Criteo: empty fields are missing, hashed strings are categories.
func TestCriteoMissingAndCategories(t *testing.T) {
	d, err := data.Read(context.Background(), testenv.SharedData(t, "criteo-tiny/train.tiny.csv"), data.Options{Label: "Label", Drop: []string{"Id"}})
	if err != nil {
		t.Fatal(err)
	}
	// First row: I12 is empty.
	if v := col(t, d, "I12").Values[0]; !math.IsNaN(float64(v)) {
		t.Errorf("empty I12 read as %v, want missing", v)
	}
	if c := col(t, d, "C1"); !c.Categorical || c.Categories[0] != "68fd1e64" {
		t.Errorf("C1: %v %v", c.Categorical, c.Categories[:1])
	}
}

// LambdaRank: LibSVM, sparse, groups from the .query sidecar.
func TestLibSVMWithQuerySidecar(t *testing.T) {
	d, err := data.Read(context.Background(), testenv.SharedData(t, "lightgbm-lambdarank/rank.train"), data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != 3005 || len(d.GroupKeys) != 201 {
		t.Fatalf("%d rows in %d groups, want 3005 in 201", d.Rows, len(d.GroupKeys))
	}
	groups := d.Groups()
	if len(groups[0]) != 1 || len(groups[1]) != 13 {
		t.Errorf("first group sizes %d, %d; the .query file starts 1, 13", len(groups[0]), len(groups[1]))
	}
	// First line: "0 10:0.89 11:0.75 ..."; feature 1 is absent (missing).
	if v := col(t, d, "f10").Values[0]; v != 0.89 {
		t.Errorf("f10 = %v, want 0.89", v)
	}
	if v := col(t, d, "f1").Values[0]; !math.IsNaN(float64(v)) {
		t.Errorf("absent f1 = %v, want missing", v)
	}
}

// A LibSVM file of more entries than one chunk of the reader holds (and
// tabs, runs of spaces and a comment between them) reads every value into
// its place.
func TestLibSVMManyEntries(t *testing.T) {
	const rows, width = 3000, 60 // 180,000 entries
	var b strings.Builder
	for r := range rows {
		fmt.Fprintf(&b, "%d", r%2)
		for f := range width {
			sep := " "
			if (r+f)%7 == 0 {
				sep = " \t  "
			}
			fmt.Fprintf(&b, "%s%d:%d", sep, f, r*width+f)
		}
		b.WriteString(" # row comment\n")
	}
	d, err := data.Read(context.Background(), file(t, "many.libsvm", b.String()), data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != rows || len(d.Columns) != width {
		t.Fatalf("%d rows and %d columns, want %d and %d", d.Rows, len(d.Columns), rows, width)
	}
	for f, c := range d.Columns {
		for r, v := range c.Values {
			if v != float32(r*width+f) || d.Label[r] != float64(r%2) {
				t.Fatalf("row %d, %s: %v (label %v), want %d (label %d)", r, c.Name, v, d.Label[r], r*width+f, r%2)
			}
		}
	}
}

func TestHeaderlessTSV(t *testing.T) {
	d, err := data.Read(context.Background(), testenv.SharedData(t, "lightgbm-binary/binary.test"), data.Options{Format: data.TSV, Label: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != 500 || len(d.Columns) != 28 || d.Columns[0].Name != "1" {
		t.Errorf("%d rows, %d columns, first %q; want 500, 28, \"1\"", d.Rows, len(d.Columns), d.Columns[0].Name)
	}
}

func TestQuotedFieldsAndQIDs(t *testing.T) {
	p := file(t, "q.csv", "query,title,price,clicked\r\n\"q1\",\"red, shoes\",10.5,1\r\nq1,\"say \"\"hi\"\"\",,0\r\nq2,socks,3,true\r\n")
	d, err := data.Read(context.Background(), p, data.Options{Label: "clicked", Group: "query"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"red, shoes", `say "hi"`, "socks"}, col(t, d, "title").Categories); diff != "" {
		t.Errorf("categories (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float64{1, 0, 1}, d.Label); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{0, 0, 1}, d.Group); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	p = file(t, "q.libsvm", "2 qid:7 1:0.5 3:1\n0 qid:7 2:1 # comment\n1 qid:9 1:2\n")
	d, err = data.Read(context.Background(), p, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The id is the column index, as XGBoost and LightGBM use it: a 1-based
	// file leaves f0 empty.
	if diff := cmp.Diff([]string{"7", "9"}, d.GroupKeys); diff != "" || len(d.Columns) != 4 {
		t.Errorf("groups %v, %d columns", d.GroupKeys, len(d.Columns))
	}
	if c := d.Columns[0]; c.Name != "f0" || !math.IsNaN(float64(c.Values[0])) || d.Columns[1].Name != "f1" || d.Columns[1].Values[0] != 0.5 {
		t.Errorf("columns %+v", d.Columns)
	}
}

var nan = math.NaN()

// LibSVM ids against a model's schema: by name, whichever way the model
// names them (ferry's models from before the id rule have f1..fN at
// positions 0..N-1; LightGBM names features Column_K); an id the model
// lacks is an error, not a silent shift. Exact keeps the parsed doubles;
// AbsentIsZero reads a left-out feature as 0, as LightGBM does.
func TestLibSVMAgainstASchema(t *testing.T) {
	p := file(t, "s.libsvm", "1 1:0.5 3:1.2810000000000004\n0 2:1\n")
	for _, tc := range []struct {
		name   string
		schema []string
		want   [][]float64 // by schema column, by row; NaN missing
	}{
		{"ids as indexes", []string{"f0", "f1", "f2", "f3"}, [][]float64{{nan, nan}, {0.5, nan}, {nan, 1}, {1.2810000000000004, nan}}},
		{"ferry's older models", []string{"f1", "f2", "f3"}, [][]float64{{0.5, nan}, {nan, 1}, {1.2810000000000004, nan}}},
		{"LightGBM's names, wider", []string{"Column_0", "Column_1", "Column_2", "Column_3", "Column_4"}, [][]float64{{nan, nan}, {0.5, nan}, {nan, 1}, {1.2810000000000004, nan}, {nan, nan}}},
	} {
		var schema []data.Feature
		for _, n := range tc.schema {
			schema = append(schema, data.Feature{Name: n})
		}
		d, err := data.Read(context.Background(), p, data.Options{Schema: schema, Exact: true})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for j, col := range tc.want {
			for i, w := range col {
				got := d.Columns[j].Exact[i]
				if !(got == w || math.IsNaN(got) && math.IsNaN(w)) || d.Columns[j].Name != tc.schema[j] {
					t.Errorf("%s: %s row %d: %v, want %v", tc.name, d.Columns[j].Name, i, got, w)
				}
				if f := d.Columns[j].Values[i]; !(f == float32(w) || math.IsNaN(float64(f)) && math.IsNaN(w)) {
					t.Errorf("%s: %s row %d float32 %v, want %v", tc.name, d.Columns[j].Name, i, f, float32(w))
				}
			}
		}
	}
	d, err := data.Read(context.Background(), p, data.Options{AbsentIsZero: true})
	if err != nil || d.Columns[0].Values[0] != 0 || d.Columns[2].Values[0] != 0 || d.Columns[2].Values[1] != 1 {
		t.Errorf("absent as zero: %v %+v", err, d)
	}
	for _, tc := range []struct {
		schema []string
		want   string
	}{
		{[]string{"f1", "f2"}, `s.libsvm:1: column "f3": the model has no feature f3: its 2 features are f1 to f2, by LibSVM id`},
		{[]string{"price", "f1"}, `s.libsvm: the model's feature 0 is "price", not a LibSVM feature (f0, f1...): was it trained on CSV data?`},
		{[]string{"f1", "Column_1"}, `the model's features 0 and 1 are both LibSVM id 1`},
		{[]string{"f01"}, `the model's feature 0 is "f01", not a LibSVM feature`},
	} {
		var schema []data.Feature
		for _, n := range tc.schema {
			schema = append(schema, data.Feature{Name: n})
		}
		if _, err := data.Read(context.Background(), p, data.Options{Schema: schema}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("schema %v: %v, want %q", tc.schema, err, tc.want)
		}
	}
}

// Against a training schema: columns by name, in schema order, categories by
// the training indexes, unseen categories missing.
func TestReadWithSchema(t *testing.T) {
	schema := []data.Feature{{Name: "price"}, {Name: "color", Categorical: true, Categories: []string{"red", "blue"}}}
	p := file(t, "s.csv", "color,extra,price\nblue,x,1\ngreen,y,2\n")
	d, err := data.Read(context.Background(), p, data.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if d.Columns[0].Name != "price" || d.Columns[1].Values[0] != 1 || !math.IsNaN(float64(d.Columns[1].Values[1])) {
		t.Errorf("columns %+v", d.Columns)
	}
	_, err = data.Read(context.Background(), file(t, "m.csv", "color\nred\n"), data.Options{Schema: schema})
	if err == nil || !strings.Contains(err.Error(), `column "price": the model was trained with this column and the file lacks it`) {
		t.Errorf("missing schema column: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	binary := func(v float64) error {
		if v != 0 && v != 1 {
			return errorString("a binary label is 0 or 1")
		}
		return nil
	}
	for _, tc := range []struct {
		name, content string
		opts          data.Options
		want          string
	}{
		{"ragged.csv", "a,b,y\n1,2,0\n1,2\n", data.Options{Label: "y"}, "ragged.csv:3: this row has a different number of fields than the header (a ragged row)"},
		{"text.csv", "a,b,y\n1,2,0\n1,x,1\n", data.Options{Label: "y"}, `text.csv:3: column "b": "x" is not a number, and this column is numeric (its first value was); to read it as categories, name b in --categorical`},
		{"nan.csv", "a,y\n1,NaN\n", data.Options{Label: "y"}, `nan.csv:2: column "y": label "NaN" is not a finite number or TRUE/FALSE`},
		{"inf.csv", "a,y\n1,inf\n", data.Options{Label: "y"}, `inf.csv:2: column "y": label "inf" is not a finite number or TRUE/FALSE`},
		{"empty-label.csv", "a,y\n1,\n", data.Options{Label: "y"}, `empty-label.csv:2: column "y": the label is empty: every row needs one`},
		{"binary.csv", "a,y\n1,0\n2,2\n", data.Options{Label: "y", CheckLabel: binary}, `binary.csv:3: column "y": a binary label is 0 or 1`},
		{"nolabel.csv", "a,b\n1,2\n", data.Options{Label: "y"}, `nolabel.csv:1: no label column "y" (--label); the columns are: a, b`},
		{"nogroup.csv", "a,y\n1,0\n", data.Options{Label: "y", Group: "q"}, `nogroup.csv:1: no group column "q" (--group); the columns are: a, y`},
		{"empty.csv", "", data.Options{}, "empty.csv: the file is empty"},
		{"header.csv", "a,y\n", data.Options{Label: "y"}, "header.csv: no data rows: the file is empty or has only a header"},
		{"dup.csv", "a,a\n1,2\n", data.Options{}, `dup.csv:1: column "a": the header names this column twice`},
		{"bad.libsvm", "1 1:0.5\n0 x:1\n", data.Options{}, `bad.libsvm:2: column "x": "x" is not a feature id: ids are whole numbers from 0 (or 1) to 16777216`},
		{"bad2.libsvm", "1 1:0.5\n0 2:abc\n", data.Options{}, `bad2.libsvm:2: column "f2": "abc" is not a number`},
		{"bad3.libsvm", "1 1:0.5 7\n", data.Options{}, `bad3.libsvm:1: "7" is not INDEX:VALUE`},
		{"qid.libsvm", "1 qid:1 1:0.5\n0 1:1\n", data.Options{}, `qid.libsvm:2: this row has no qid, and earlier rows do: give every row one`},
		{"data.bin", "x", data.Options{}, "cannot tell the format from the name: give it with --format (csv, tsv, libsvm or parquet)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := data.Read(context.Background(), file(t, tc.name, tc.content), tc.opts)
			if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("error %v\nwant one ending %q", err, tc.want)
			}
		})
	}
}

func TestQuerySidecarMustAddUp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.train")
	os.WriteFile(p, []byte("1 1:1\n0 1:2\n0 1:3\n"), 0o644)
	os.WriteFile(p+".query", []byte("2\n2\n"), 0o644)
	_, err := data.Read(context.Background(), p, data.Options{})
	if err == nil || !strings.HasSuffix(err.Error(), "r.train.query: the group sizes add up to 4 rows, and "+p+" has 3") {
		t.Errorf("error %v", err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
