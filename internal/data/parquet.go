package data

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet is a Parquet file with a flat schema.
const Parquet Format = "parquet"

// How a Parquet column's values are read.
const (
	pqNumber = iota // booleans, integers, floats (and decimals on integers, scaled)
	pqString        // UTF-8 or plain binary: categories
)

// pqColumn is one leaf of the file's schema as it is read.
type pqColumn struct {
	kind      int
	scale     float64 // a decimal's divisor; 1 otherwise
	partition bool    // a Hive partition key's value: text whose kind its values decide
}

// readParquet reads Parquet files with parquet-go, a column chunk at a
// time, so that memory stays near the decoded matrix: columns become
// features, the label or the group as the options say, as a CSV's do;
// strings are categories, nulls are missing. A schema that is not flat
// (a struct, list or map column) or has a type with no numeric reading
// (dates, timestamps, INT96, fixed-length binary) is an error naming the
// column, unless the column is dropped. Several files (a directory or a
// glob: partitions) are read in order into one data set; each must have
// the first one's columns and types, and with parts their Hive partition
// keys (dt=2026-12-01/) become columns of text.
func readParquet(files []setFile, parts []map[string]string, partKeys []string, opts Options) (*Dataset, error) {
	d := &Dataset{}
	var cols []*column
	var names []string
	var kinds []pqColumn
	groups := map[string]int32{}
	for fi, file := range files {
		path := file.name
		pf, closeFile, err := openParquet(file)
		if err != nil {
			return nil, err
		}
		fnames, fkinds, leafOf, err := pqSchema(path, pf.Schema(), opts)
		if err == nil && fi == 0 {
			names, kinds = append(fnames, partKeys...), fkinds
			for range partKeys {
				kinds = append(kinds, pqColumn{kind: pqString, scale: 1, partition: true})
			}
			cols, err = planParquet(path, names, kinds, opts)
		} else if err == nil {
			err = sameSchema(files[0].name, path, names[:len(names)-len(partKeys)], kinds, fnames, fkinds)
		}
		if err == nil {
			start := d.Rows
			err = readParquetRows(path, pf, cols, kinds, leafOf, d, groups, opts)
			if err == nil && len(partKeys) > 0 {
				err = addPartitions(path, start, parts[fi], partKeys, cols[len(fnames):], d, groups, opts)
			}
		}
		closeFile()
		if err != nil {
			return nil, err
		}
	}
	return finish(d, cols, opts), nil
}

// openParquet opens a Parquet file: its footer is read first.
func openParquet(file setFile) (*parquet.File, func(), error) {
	path := file.name
	f, err := os.Open(file.local)
	if err != nil {
		return nil, nil, fmt.Errorf("read data: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read data: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, &Error{Path: path, Msg: "not a Parquet file, or a truncated one: " + err.Error()}
	}
	return pf, func() { f.Close() }, nil
}

// planParquet plans the columns as a CSV's; the file's strings are
// categories (a partition's values decide its kind, as a CSV field's do).
func planParquet(path string, names []string, kinds []pqColumn, opts Options) ([]*column, error) {
	cols, err := planColumns(path, names, opts)
	if err != nil {
		return nil, err
	}
	for i, c := range cols {
		if kinds[i].kind == pqString && !kinds[i].partition && c.kind == kindUnknown {
			c.kind, c.categories = kindCategorical, map[string]int{}
		}
	}
	return cols, nil
}

// sameSchema checks that a later file of a set has the first one's
// columns, in order, with the same types.
func sameSchema(first, path string, names []string, kinds []pqColumn, fnames []string, fkinds []pqColumn) error {
	for i, n := range names {
		switch {
		case !slices.Contains(fnames, n):
			return &Error{Path: path, Column: n, Msg: "missing here, and " + first + " has it: every file of a set needs the same columns"}
		case fnames[i] != n:
			return &Error{Path: path, Column: fnames[i], Msg: fmt.Sprintf("here in place of %q, which %s has there: every file of a set needs the same columns in the same order", n, first)}
		case fkinds[i] != kinds[i]:
			return &Error{Path: path, Column: n, Msg: "of another type here than in " + first + ": every file of a set needs the same types"}
		}
	}
	if len(fnames) > len(names) {
		return &Error{Path: path, Column: fnames[len(names)], Msg: "not in " + first + ": every file of a set needs the same columns"}
	}
	return nil
}

// addPartitions adds a file's partition values to its rows, from start.
func addPartitions(path string, start int, values map[string]string, keys []string, cols []*column, d *Dataset, groups map[string]int32, opts Options) error {
	for j, key := range keys {
		v := parquet.ByteArrayValue([]byte(values[key]))
		for r := start; r < d.Rows; r++ {
			if err := addParquetValue(path, r-start+1, v, cols[j], pqColumn{kind: pqString, scale: 1, partition: true}, d, groups, opts); err != nil {
				return err
			}
		}
	}
	return nil
}

// readParquetSet is Read for Parquet: one file, a directory of them or a
// glob, read in name order; with Options.Partitions, the Hive partition
// keys in the files' directories become columns. The data set's sha256 is
// the file's, or for a set the sha256 of its files' sums and names, one
// line each as sha256sum prints them.
func readParquetSet(path string, files []setFile, opts Options) (*Dataset, error) {
	var parts []map[string]string
	var keys []string
	if opts.Partitions {
		var err error
		if parts, keys, err = partitionsOf(path, files); err != nil {
			return nil, err
		}
	}
	// Parquet is read from its footer, not in one pass that a hash could
	// ride along: the files are hashed beside the decoding instead.
	type sum struct {
		hex     string
		sources []Source
		err     error
	}
	sums := make(chan sum, 1)
	go func() {
		h, sources, err := setSHA256(files)
		sums <- sum{h, sources, err}
	}()
	d, err := readParquet(files, parts, keys, opts)
	if err != nil {
		return nil, err
	}
	s := <-sums
	if s.err != nil {
		return nil, fmt.Errorf("read data: %w", s.err)
	}
	d.SHA256, d.Sources = s.hex, s.sources
	d.Path, d.Format = path, Parquet
	if d.Rows == 0 {
		return nil, &Error{Path: path, Msg: "no data rows: the file has none"}
	}
	return d, nil
}

// pqSchema names the file's top-level columns, says how each is read,
// and maps each leaf column of the file (a nested column has several) to
// its top-level column.
func pqSchema(path string, s *parquet.Schema, opts Options) ([]string, []pqColumn, []int, error) {
	dropped := map[string]bool{}
	for _, n := range opts.Drop {
		dropped[n] = true
	}
	var names []string
	var kinds []pqColumn
	var leafOf []int
	for i, field := range s.Fields() {
		name := field.Name()
		k, why := pqKind(field)
		if why != "" && !dropped[name] {
			return nil, nil, nil, &Error{Path: path, Column: name, Msg: why + ": ferry reads flat columns of numbers, booleans and strings; drop it (drop) or cast it where the file is written"}
		}
		names, kinds = append(names, name), append(kinds, k)
		for range leaves(field) {
			leafOf = append(leafOf, i)
		}
	}
	return names, kinds, leafOf, nil
}

// leaves counts a field's leaf columns.
func leaves(n parquet.Node) int {
	if n.Leaf() {
		return 1
	}
	total := 0
	for _, f := range n.Fields() {
		total += leaves(f)
	}
	return total
}

// pqKind says how a top-level field is read, or why it cannot be.
func pqKind(field parquet.Field) (pqColumn, string) {
	switch {
	case !field.Leaf():
		return pqColumn{}, "a nested column (a struct, list or map)"
	case field.Repeated():
		return pqColumn{}, "a repeated column (a list)"
	}
	t := field.Type()
	var logical any
	if lt := t.LogicalType(); lt != nil {
		logical = lt.Value
	}
	switch lt := logical.(type) {
	case *format.DateType, *format.TimeType, *format.TimestampType:
		return pqColumn{}, "a date or time column (" + t.String() + ")"
	case *format.JsonType, *format.BsonType, *format.UUIDType:
		return pqColumn{}, "a " + t.String() + " column"
	case *format.DecimalType:
		if k := t.Kind(); k == parquet.Int32 || k == parquet.Int64 {
			return pqColumn{kind: pqNumber, scale: math.Pow10(int(lt.Scale))}, ""
		}
		return pqColumn{}, "a decimal stored as bytes (" + t.String() + ")"
	}
	switch t.Kind() {
	case parquet.Boolean, parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
		return pqColumn{kind: pqNumber, scale: 1}, ""
	case parquet.ByteArray:
		return pqColumn{kind: pqString, scale: 1}, ""
	}
	return pqColumn{}, "a " + t.String() + " column"
}

// readParquetRows reads every row group a column chunk at a time, a page
// at a time, straight into the columns (no row is assembled): the values
// of each column come in row order, so categories and group keys are
// numbered as a CSV's are. The library's panics on a corrupt page become
// an error naming the file.
func readParquetRows(path string, pf *parquet.File, cols []*column, kinds []pqColumn, leafOf []int, d *Dataset, groups map[string]int32, opts Options) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Path: path, Msg: fmt.Sprintf("a corrupt page: %v", p)}
		}
	}()
	total := int(pf.NumRows())
	for _, c := range cols {
		switch c.role {
		case roleFeature:
			c.values = slices.Grow(c.values, total)
		case roleLabel:
			d.Label = slices.Grow(d.Label, total)
		case roleGroup:
			d.Group = slices.Grow(d.Group, total)
		}
	}
	buf := make([]parquet.Value, 4096)
	fileStart := d.Rows
	for _, rg := range pf.RowGroups() {
		for leaf, chunk := range rg.ColumnChunks() {
			c, k := cols[leafOf[leaf]], kinds[leafOf[leaf]]
			if c.role == roleDrop && !c.keep {
				continue // a dropped column, nested ones included, is not decoded
			}
			fast := func(p parquet.Page) (bool, error) {
				if c.role != roleFeature || c.keep || !pqFastPath {
					return false, nil
				}
				return pqFastPage(c, k, p, opts.Exact)
			}
			read, err := readChunk(chunk, buf, fast, func(v parquet.Value, row int) error {
				return addParquetValue(path, d.Rows-fileStart+row+1, v, c, k, d, groups, opts)
			})
			if err != nil {
				var de *Error
				if errors.As(err, &de) {
					return err
				}
				return &Error{Path: path, Column: c.name, Msg: fmt.Sprintf("rows %d to %d: %v", d.Rows-fileStart+1, d.Rows-fileStart+int(rg.NumRows()), err)}
			}
			if read != int(rg.NumRows()) {
				return &Error{Path: path, Column: c.name, Msg: fmt.Sprintf("%d values in a row group of %d rows: the file is corrupt", read, rg.NumRows())}
			}
		}
		d.Rows += int(rg.NumRows())
	}
	return nil
}

// readChunk reads a column chunk a page at a time: fast takes a whole page
// when it can, else add gets each value with its row within the chunk. It
// returns how many rows it read.
func readChunk(chunk parquet.ColumnChunk, buf []parquet.Value, fast func(parquet.Page) (bool, error), add func(v parquet.Value, row int) error) (int, error) {
	pages := chunk.Pages()
	defer pages.Close()
	row := 0
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return row, nil
		}
		if err != nil {
			return row, err
		}
		done, err := fast(p)
		if err != nil {
			parquet.Release(p)
			return row, err
		}
		if done {
			row += int(p.NumRows())
			parquet.Release(p)
			continue
		}
		values := p.Values()
		for {
			n, err := values.ReadValues(buf)
			for _, v := range buf[:n] {
				if err := add(v, row); err != nil {
					parquet.Release(p)
					return row, err
				}
				row++
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(p)
				return row, err
			}
		}
		parquet.Release(p)
	}
}

// pqFastPath turns pqFastPage on; the tests turn it off to check the
// general path against the same files.
var pqFastPath = true

// pqFastPage appends a page of a plain numeric feature column straight
// from its decoded values and definition levels, without a parquet.Value
// per value; false when the page needs the general path (a dictionary
// page, a column read as categories, booleans).
func pqFastPage(c *column, k pqColumn, p parquet.Page, exact bool) (bool, error) {
	if p.Dictionary() != nil || c.kind == kindCategorical || k.kind != pqNumber || len(p.RepetitionLevels()) > 0 {
		return false, nil
	}
	data, def, rows := p.Data(), p.DefinitionLevels(), int(p.NumRows())
	switch p.Type().Kind() {
	case parquet.Double:
		return appendPage(c, data.Double(), def, rows, 1, exact)
	case parquet.Float:
		return appendPage(c, data.Float(), def, rows, 1, exact)
	case parquet.Int32:
		return appendPage(c, data.Int32(), def, rows, k.scale, exact)
	case parquet.Int64:
		return appendPage(c, data.Int64(), def, rows, k.scale, exact)
	}
	return false, nil
}

// appendPage appends rows values to c: xs are the non-null ones, def says
// which rows have one (none: every row does).
func appendPage[T float32 | float64 | int32 | int64](c *column, xs []T, def []byte, rows int, scale float64, exact bool) (bool, error) {
	if (len(def) == 0 && len(xs) != rows) || (len(def) != 0 && len(def) != rows) {
		return false, nil // not a shape this path knows: the general path decides
	}
	j := 0
	for i := range rows {
		x := math.NaN()
		if len(def) == 0 || def[i] > 0 {
			if j >= len(xs) {
				return false, fmt.Errorf("a page with fewer values than its definition levels: the file is corrupt")
			}
			x = float64(xs[j]) / scale
			j++
			if math.IsInf(x, 0) {
				return false, fmt.Errorf("row %d of a page: %v is infinite", i+1, x)
			}
		}
		c.values = append(c.values, float32(x))
		if exact {
			c.exact = append(c.exact, x)
		}
	}
	return true, nil
}

// addParquetValue adds one value of a column, as addRecord adds a CSV
// field; rowNo is its 1-based row in the file.
func addParquetValue(path string, rowNo int, v parquet.Value, c *column, k pqColumn, d *Dataset, groups map[string]int32, opts Options) error {
	if c.keep {
		c.kept = append(c.kept, pqText(v))
	}
	switch c.role {
	case roleLabel:
		l, err := pqLabel(v, k)
		if err == nil && opts.CheckLabel != nil {
			err = opts.CheckLabel(l)
		}
		if err != nil {
			return &Error{Path: path, Msg: fmt.Sprintf("row %d: column %q: %v", rowNo, c.name, err)}
		}
		d.Label = append(d.Label, l)
	case roleGroup:
		d.addGroup(groups, pqText(v))
	case roleFeature:
		x, err := pqFeature(c, v, k, opts.Schema != nil)
		if err != nil {
			return &Error{Path: path, Msg: fmt.Sprintf("row %d: column %q: %v", rowNo, c.name, err)}
		}
		c.values = append(c.values, float32(x))
		if opts.Exact {
			c.exact = append(c.exact, x)
		}
	}
	return nil
}

// pqNumberOf is a numeric value as a float64; NaN for null.
func pqNumberOf(v parquet.Value, k pqColumn) float64 {
	if v.IsNull() {
		return math.NaN()
	}
	switch v.Kind() {
	case parquet.Boolean:
		if v.Boolean() {
			return 1
		}
		return 0
	case parquet.Int32:
		return float64(v.Int32()) / k.scale
	case parquet.Int64:
		return float64(v.Int64()) / k.scale
	case parquet.Float:
		return float64(v.Float())
	}
	return v.Double()
}

// pqFeature reads a feature value: a number, or a category's index (a
// category the model never saw is missing, as in a CSV).
func pqFeature(c *column, v parquet.Value, k pqColumn, frozen bool) (float64, error) {
	if k.kind == pqString {
		if v.IsNull() {
			return math.NaN(), nil
		}
		return c.parse(string(v.ByteArray()), frozen)
	}
	x := pqNumberOf(v, k)
	if math.IsInf(x, 0) {
		return 0, fmt.Errorf("%v is infinite", x)
	}
	if c.kind == kindCategorical && !math.IsNaN(x) {
		// A numeric column read as categories (categorical, or the
		// model's schema): its text is the category.
		return c.parse(strconv.FormatFloat(x, 'g', -1, 64), frozen)
	}
	return x, nil
}

// pqLabel reads a label: a number, a boolean, or text as ParseLabel reads it.
func pqLabel(v parquet.Value, k pqColumn) (float64, error) {
	if v.IsNull() {
		return 0, fmt.Errorf("the label is null: every row needs one")
	}
	if k.kind == pqString {
		return ParseLabel(string(v.ByteArray()))
	}
	x := pqNumberOf(v, k)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("the label %v is not a finite number", x)
	}
	return x, nil
}

// pqText is a value as text: a group key, or a kept segment.
func pqText(v parquet.Value) string {
	switch {
	case v.IsNull():
		return ""
	case v.Kind() == parquet.ByteArray:
		return string(v.ByteArray())
	}
	return strconv.FormatFloat(pqNumberOf(v, pqColumn{scale: 1}), 'g', -1, 64)
}
