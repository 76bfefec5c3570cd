package data

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/decimal"
	"github.com/ferry-ml/ferry/internal/input"
)

// Format names a data file format.
type Format string

// The formats Read understands.
const (
	CSV    Format = "csv"
	TSV    Format = "tsv"
	LibSVM Format = "libsvm"
)

// Options say how to read a file.
type Options struct {
	// Format is the file's format; empty means from the extension (.tsv,
	// .libsvm/.svm/.txt/.train/.test are LibSVM... see FormatOf).
	Format Format
	// Delimiter of CSV fields; 0 means detected from the header line.
	Delimiter rune
	// Header says whether a CSV/TSV file starts with column names: "true",
	// "false" (columns are then named 0, 1, 2...), or "" to detect (a first
	// line of numbers only is data).
	Header string
	// Label is the label column; "" when the file has none to read.
	Label string
	// Group is the query column of ranking data; "" for none.
	Group string
	// Categorical lists columns read as categories even when they look
	// numeric. String columns are categorical anyway.
	Categorical []string
	// Drop lists columns to ignore.
	Drop []string
	// Schema, when set, is the training data's features: the file must have
	// them all (by name), they come out in schema order, categories use the
	// schema's indexes (an unseen category reads as missing), and other
	// columns are ignored.
	Schema []Feature
	// CheckLabel, when set, vets every label (a binary task wants 0 or 1).
	CheckLabel func(float64) error
	// Optional makes the label and group columns optional: when the file
	// lacks one, it is read without it (scoring data may have no labels).
	Optional bool
	// Keep lists columns whose raw text is kept in Dataset.Kept, whatever
	// else they are (a segment column for slices, say). CSV, TSV and
	// Parquet.
	Keep []string
	// Exact keeps every feature value in float64 too (Column.Exact), for a
	// model that compares doubles (LightGBM). It costs 8 more bytes a value.
	Exact bool
	// AbsentIsZero reads a feature a LibSVM row leaves out as 0, as
	// LightGBM does, instead of missing (XGBoost, ferry).
	AbsentIsZero bool
	// Partitions makes the Hive partition keys of a Parquet set's
	// directories (dt=2026-12-01/) columns, named by their keys.
	Partitions bool
}

// FormatOf guesses a file's format from its name: .csv is CSV, .tsv and .tab
// are TSV, .libsvm, .svm, .svmlight, .train, .test and .txt are LibSVM, and
// .parquet and .pq are Parquet.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".tsv", ".tab":
		return TSV, nil
	case ".libsvm", ".svm", ".svmlight", ".train", ".test", ".txt":
		return LibSVM, nil
	case ".parquet", ".pq":
		return Parquet, nil
	}
	return "", fmt.Errorf("%s: %w", path, input.Paramf("format", "cannot tell the format from the name: give it with %s (csv, tsv, libsvm or parquet)"))
}

// Read reads a data file or set: a local path, or an s3://, gs:// or az://
// URL (with package objstore linked), whose objects are fetched into the
// local cache, pinned, first. The data set records each file or object it was
// read from in Sources.
func Read(ctx context.Context, path string, opts Options) (*Dataset, error) {
	objs, err := fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	var files []setFile
	for _, o := range objs {
		files = append(files, setFile{name: o.URL, local: o.Local, rel: o.Rel, source: o.Source})
	}
	format, err := formatOf(path, files, opts)
	if err != nil {
		return nil, err
	}
	if format == Parquet {
		if files == nil {
			if files, err = parquetFiles(path); err != nil {
				return nil, err
			}
		}
		return readParquetSet(path, files, opts)
	}
	if files == nil {
		files = localFiles(filepath.Dir(path), []string{path})
	}
	return readText(path, files[0], format, opts)
}

// formatOf is the format to read path with: the one given, Parquet for a
// directory or several objects, or the one its name says.
func formatOf(path string, objects []setFile, opts Options) (Format, error) {
	switch {
	case opts.Format != "":
		if len(objects) > 1 && opts.Format != Parquet {
			return "", &Error{Path: path, Msg: fmt.Sprintf("%d objects, read as %s: a set of several files must be Parquet", len(objects), opts.Format)}
		}
		return opts.Format, nil
	case len(objects) > 1:
		for _, o := range objects {
			if f, _ := FormatOf(o.name); f != Parquet {
				return "", &Error{Path: o.name, Msg: "not a .parquet or .pq object, in a set of " + strconv.Itoa(len(objects)) + ": a set of several files must be Parquet"}
			}
		}
		return Parquet, nil
	case len(objects) == 1:
		return FormatOf(objects[0].name)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return Parquet, nil // a directory of files is a Parquet set
	}
	return FormatOf(path)
}

// readText reads one CSV, TSV or LibSVM file in one pass, hashing it as
// it goes.
func readText(path string, file setFile, format Format, opts Options) (*Dataset, error) {
	f, err := os.Open(file.local)
	if err != nil {
		return nil, fmt.Errorf("read data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read data: %w", err)
	}
	h := sha256.New()
	r := bufio.NewReaderSize(io.TeeReader(f, h), 1<<20)
	var d *Dataset
	switch format {
	case CSV, TSV:
		if format == TSV && opts.Delimiter == 0 {
			opts.Delimiter = '\t'
		}
		d, err = readCSV(path, r, st.Size(), opts)
	case LibSVM:
		d, err = readLibSVM(path, r, opts)
	default:
		return nil, fmt.Errorf("%s: unknown format %q: want csv, tsv, libsvm or parquet", path, format)
	}
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("read data: %w", err)
	}
	d.Path, d.SHA256, d.Format = path, hex.EncodeToString(h.Sum(nil)), format
	file.source.SHA256, file.source.Size = d.SHA256, st.Size()
	d.Sources = []Source{file.source}
	if d.Rows == 0 {
		return nil, &Error{Path: path, Msg: "no data rows: the file is empty or has only a header"}
	}
	return d, nil
}

// HashFile returns the sha256 of a file's bytes, as Read records it.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// column is a column being read.
type column struct {
	name        string
	role        int // feature, label, group or dropped
	kind        int // unknown until the first non-empty value, then numeric or categorical
	forced      bool
	categories  map[string]int
	names       []string
	values      []float32
	exact       []float64 // with Options.Exact
	schemaIndex int       // position in Options.Schema; -1 when not a schema column
	keep        bool
	kept        []string
}

const (
	roleFeature = iota
	roleLabel
	roleGroup
	roleDrop
)

const (
	kindUnknown = iota
	kindNumeric
	kindCategorical
)

func readCSV(path string, r *bufio.Reader, size int64, opts Options) (*Dataset, error) {
	first, err := r.Peek(64 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read data: %w", err)
	}
	if len(first) == 0 {
		return nil, &Error{Path: path, Msg: "the file is empty"}
	}
	line := string(first)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSuffix(line, "\r")
	delim := opts.Delimiter
	if delim == 0 {
		delim = detectDelimiter(line)
	}
	cr := csv.NewReader(r)
	cr.Comma = delim
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, csvError(path, err)
	}
	hasHeader := opts.Header == "true" || (opts.Header == "" && !allNumeric(header))
	var names []string
	if hasHeader {
		names = slices.Clone(header)
	} else {
		for i := range header {
			names = append(names, strconv.Itoa(i))
		}
	}
	cols, err := planColumns(path, names, opts)
	if err != nil {
		return nil, err
	}
	d := &Dataset{}
	reserve(d, cols, estimateRows(first, size, len(names)), opts)
	groups := map[string]int32{}
	cr.FieldsPerRecord = len(names)
	lineNo := 1
	record := header
	if hasHeader {
		record, err = cr.Read()
	} else {
		err = nil
		lineNo = 0
	}
	for ; err == nil; record, err = cr.Read() {
		lineNo, _ = cr.FieldPos(0)
		if err := addRecord(path, lineNo, record, cols, d, groups, opts); err != nil {
			return nil, err
		}
		d.Rows++
	}
	if !errors.Is(err, io.EOF) {
		return nil, csvError(path, err)
	}
	d.Delimiter = delim
	return finish(d, cols, opts), nil
}

// estimateRows guesses a text file's lines from its size and the lines of
// its first bytes (sample), and at most size / fields (a line holds a
// delimiter or a newline per field): 0 when it cannot tell.
func estimateRows(sample []byte, size int64, fields int) int {
	lines := bytes.Count(sample, []byte{'\n'})
	if size <= 0 || lines == 0 || len(sample) == 0 {
		return 0
	}
	est := float64(size) * float64(lines) / float64(len(sample))
	return int(min(est+est/32, float64(size)/float64(max(fields, 1))))
}

// reserve gives the columns read into d room for rows values each. Grown
// one append at a time, a column of millions of values was copied about
// ten times over (a third of reading 2 million HIGGS rows went to
// runtime.growslice), and held twice at its last growth; a guess a little
// short costs one more growth, one a little long the slack append leaves
// anyway.
func reserve(d *Dataset, cols []*column, rows int, opts Options) {
	if rows <= 0 {
		return
	}
	for _, c := range cols {
		switch c.role {
		case roleLabel:
			d.Label = make([]float64, 0, rows)
		case roleGroup:
			d.Group = make([]int32, 0, rows)
		case roleFeature:
			c.values = make([]float32, 0, rows)
			if opts.Exact {
				c.exact = make([]float64, 0, rows)
			}
		}
	}
}

func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return &Error{Path: path, Line: pe.Line, Msg: "this row has a different number of fields than the header (a ragged row)"}
		}
		return &Error{Path: path, Line: pe.Line, Msg: fmt.Sprintf("column %d: %v", pe.Column, pe.Err)}
	}
	return fmt.Errorf("read %s: %w", path, err)
}

// detectDelimiter picks the most frequent of , ; tab and | in the header line.
func detectDelimiter(line string) rune {
	best, n := ',', 0
	for _, c := range []rune{',', ';', '\t', '|'} {
		if k := strings.Count(line, string(c)); k > n {
			best, n = c, k
		}
	}
	return best
}

func allNumeric(fields []string) bool {
	for _, f := range fields {
		if _, err := parseFloat(f); err != nil {
			return false
		}
	}
	return true
}

// planColumns decides each column's role and checks that the named columns
// exist.
func planColumns(path string, names []string, opts Options) ([]*column, error) {
	index := map[string]int{}
	cols := make([]*column, len(names))
	for i, n := range names {
		if _, dup := index[n]; dup {
			return nil, &Error{Path: path, Line: 1, Column: n, Msg: "the header names this column twice"}
		}
		index[n] = i
		cols[i] = &column{name: n, role: roleFeature, schemaIndex: -1}
	}
	if opts.Optional {
		if _, ok := index[opts.Label]; !ok {
			opts.Label = ""
		}
		if _, ok := index[opts.Group]; !ok {
			opts.Group = ""
		}
	}
	need := func(name, what, param string) error {
		if name == "" {
			return nil
		}
		if _, ok := index[name]; !ok {
			pe := input.Paramf(param, strings.ReplaceAll(fmt.Sprintf("no %s column %q (", what, name), "%", "%%")+"%s"+
				strings.ReplaceAll("); the columns are: "+strings.Join(names, ", "), "%", "%%"))
			return &Error{Path: path, Line: 1, Err: pe}
		}
		return nil
	}
	if err := need(opts.Label, "label", "label"); err != nil {
		return nil, err
	}
	if err := need(opts.Group, "group", "group"); err != nil {
		return nil, err
	}
	for _, c := range opts.Categorical {
		if err := need(c, "categorical", "categorical"); err != nil {
			return nil, err
		}
		cols[index[c]].forced = true
	}
	for _, c := range opts.Drop {
		if err := need(c, "dropped", "drop"); err != nil {
			return nil, err
		}
		cols[index[c]].role = roleDrop
	}
	for _, c := range opts.Keep {
		if err := need(c, "segment", "slice"); err != nil {
			return nil, err
		}
		cols[index[c]].keep = true
	}
	if opts.Label != "" {
		cols[index[opts.Label]].role = roleLabel
	}
	if opts.Group != "" {
		cols[index[opts.Group]].role = roleGroup
	}
	if opts.Schema != nil {
		if err := applySchema(path, cols, index, opts.Schema); err != nil {
			return nil, err
		}
	}
	for _, c := range cols {
		if c.role == roleFeature && c.forced && c.kind == kindUnknown {
			c.kind = kindCategorical
			c.categories = map[string]int{}
		}
	}
	return cols, nil
}

// applySchema fixes the columns to a model's schema: its features, by name,
// with their kinds and categories; every other column is dropped, except
// the label and group.
func applySchema(path string, cols []*column, index map[string]int, schema []Feature) error {
	for _, c := range cols {
		if c.role == roleFeature {
			c.role = roleDrop
		}
	}
	for si, f := range schema {
		i, ok := index[f.Name]
		if !ok {
			return &Error{Path: path, Line: 1, Column: f.Name, Msg: "the model was trained with this column and the file lacks it"}
		}
		c := cols[i]
		if c.role == roleLabel || c.role == roleGroup {
			return &Error{Path: path, Line: 1, Column: f.Name, Msg: "is a feature of the model, not a label or group column"}
		}
		c.role, c.schemaIndex = roleFeature, si
		if f.Categorical {
			c.kind = kindCategorical
			c.categories = map[string]int{}
			for k, v := range f.Categories {
				c.categories[v] = k
			}
			c.names = f.Categories
		} else {
			c.kind = kindNumeric
		}
	}
	return nil
}

func addRecord(path string, line int, record []string, cols []*column, d *Dataset, groups map[string]int32, opts Options) error {
	for i, field := range record {
		c := cols[i]
		if c.keep {
			c.kept = append(c.kept, field)
		}
		switch c.role {
		case roleDrop:
		case roleLabel:
			v, err := ParseLabel(field)
			if err == nil && opts.CheckLabel != nil {
				err = opts.CheckLabel(v)
			}
			if err != nil {
				return &Error{Path: path, Line: line, Column: c.name, Err: err}
			}
			d.Label = append(d.Label, v)
		case roleGroup:
			d.addGroup(groups, field)
		case roleFeature:
			v, err := c.parse(field, opts.Schema != nil)
			if err != nil {
				return &Error{Path: path, Line: line, Column: c.name, Err: err}
			}
			c.values = append(c.values, float32(v))
			if opts.Exact {
				c.exact = append(c.exact, v)
			}
		}
	}
	return nil
}

// addGroup appends a row's group: the index of its key, numbered in the
// order keys first appear.
func (d *Dataset) addGroup(groups map[string]int32, key string) {
	g, ok := groups[key]
	if !ok {
		g = int32(len(d.GroupKeys))
		groups[key] = g
		d.GroupKeys = append(d.GroupKeys, key)
	}
	d.Group = append(d.Group, g)
}

var nan32 = float32(math.NaN())

// parse reads one field of a feature column, as parsed (a category as its
// index). The first non-empty value of a column decides its kind when
// nothing else did: a number (or TRUE/FALSE) makes it numeric, anything
// else categorical.
func (c *column) parse(field string, frozen bool) (float64, error) {
	if field == "" {
		return math.NaN(), nil
	}
	if c.kind == kindUnknown {
		if _, err := parseNumber(field); err == nil {
			c.kind = kindNumeric
		} else {
			c.kind = kindCategorical
			c.categories = map[string]int{}
		}
	}
	if c.kind == kindCategorical {
		k, ok := c.categories[field]
		if !ok {
			if frozen {
				return math.NaN(), nil // a category the model never saw reads as missing
			}
			k = len(c.names)
			c.categories[field] = k
			c.names = append(c.names, field)
		}
		return float64(k), nil
	}
	v, err := parseNumber(field)
	if err != nil {
		return 0, input.Paramf("categorical", strings.ReplaceAll(fmt.Sprintf("%q is not a number, and this column is numeric (its first value was); to read it as categories, name %s in ", field, c.name), "%", "%%")+"%s")
	}
	return v, nil
}

// parseNumber reads a numeric feature: a number, or TRUE/FALSE as 1/0.
func parseNumber(s string) (float64, error) {
	switch s {
	case "TRUE", "True", "true":
		return 1, nil
	case "FALSE", "False", "false":
		return 0, nil
	}
	return parseFloat(s)
}

func parseFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if v, ok := decimal.Parse(s); ok { // most fields: a third of strconv's time
		return v, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is infinite", s)
	}
	return v, nil
}

// filled is n copies of v: a column with no value read yet.
func filled[T float32 | float64](n int, v T) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// finish moves the columns that were read into d.
func finish(d *Dataset, cols []*column, opts Options) *Dataset {
	var feats []*column
	for _, c := range cols {
		if c.role == roleFeature {
			feats = append(feats, c)
		}
		if c.keep {
			if d.Kept == nil {
				d.Kept = map[string][]string{}
			}
			d.Kept[c.name] = c.kept
		}
	}
	if opts.Schema != nil {
		slices.SortFunc(feats, func(a, b *column) int { return a.schemaIndex - b.schemaIndex })
	}
	for _, c := range feats {
		col := Column{Name: c.name, Categorical: c.kind == kindCategorical, Values: c.values, Exact: c.exact}
		if col.Categorical {
			col.Categories = c.names
		}
		if col.Values == nil {
			col.Values = filled(d.Rows, nan32)
		}
		if opts.Exact && col.Exact == nil {
			col.Exact = filled(d.Rows, math.NaN())
		}
		d.Columns = append(d.Columns, col)
	}
	return d
}
