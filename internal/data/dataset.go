package data

import (
	"fmt"
	"math"
	"strings"
)

// Column is one feature column.
type Column struct {
	Name        string
	Categorical bool
	// Categories maps a categorical column's stored index to its text.
	Categories []string
	// Values holds one value per row; NaN is missing.
	Values []float32
	// Exact holds the same values as parsed, in float64, when the file was
	// read with Options.Exact; nil otherwise. A LightGBM model compares
	// doubles: a value one float32 rounding away from a threshold would go
	// the other way.
	Exact []float64
}

// Dataset is a data file read into columns.
type Dataset struct {
	Path   string
	SHA256 string // of the file's bytes, or of a set's sums and names
	// Sources are the files or objects the data was read from, in order.
	Sources []Source
	// Format and Delimiter are how the file was read, detected or given.
	Format    Format
	Delimiter rune
	Rows      int
	// Columns are the features, in file order (or schema order when read
	// against a schema).
	Columns []Column
	// Label holds one label per row; nil when the file has none.
	Label []float64
	// Group holds each row's query index into GroupKeys; nil without groups.
	Group     []int32
	GroupKeys []string
	// Kept holds the raw text of the columns Options.Keep named, by name.
	Kept map[string][]string
}

// Source is one file or object a data set was read from, pinned: enough
// to tell later whether the bytes behind its URL are still the same.
type Source struct {
	URL     string `json:"url"`               // the path or object URL
	Version string `json:"version,omitempty"` // the object's version, in a versioned bucket
	ETag    string `json:"etag,omitempty"`    // the object's ETag
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
}

// Feature describes a column the way a model remembers it.
type Feature struct {
	Name        string   `json:"name"`
	Categorical bool     `json:"categorical,omitempty"`
	Categories  []string `json:"categories,omitempty"`
}

// Schema returns the features of d, to be stored with a model and used to
// read later data the same way.
func (d *Dataset) Schema() []Feature {
	out := make([]Feature, len(d.Columns))
	for i, c := range d.Columns {
		out[i] = Feature{Name: c.Name, Categorical: c.Categorical, Categories: append([]string(nil), c.Categories...)}
	}
	return out
}

// Row copies row i's feature values into dst (allocated when nil).
func (d *Dataset) Row(i int, dst []float32) []float32 {
	if dst == nil {
		dst = make([]float32, len(d.Columns))
	}
	for j := range d.Columns {
		dst[j] = d.Columns[j].Values[i]
	}
	return dst
}

// Groups returns the rows of each query, in order of first appearance.
func (d *Dataset) Groups() [][]int {
	if d.Group == nil {
		return nil
	}
	out := make([][]int, len(d.GroupKeys))
	for i, g := range d.Group {
		out[g] = append(out[g], i)
	}
	return out
}

// Error is a problem at a place in a data file.
type Error struct {
	Path   string
	Line   int    // 1-based; 0 when the problem is the whole file
	Column string // column name or LibSVM feature id; "" when none
	Msg    string // what is wrong; when empty, Err's message
	Err    error  // the cause, when there is one
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, ": column %q", e.Column)
	}
	b.WriteString(": ")
	if e.Msg == "" && e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString(e.Msg)
	}
	return b.String()
}

// ParseLabel reads a label: a finite number, or TRUE/FALSE in any of the
// usual spellings.
func ParseLabel(s string) (float64, error) {
	switch s {
	case "TRUE", "True", "true":
		return 1, nil
	case "FALSE", "False", "false":
		return 0, nil
	case "":
		return 0, fmt.Errorf("the label is empty: every row needs one")
	}
	v, err := parseFloat(s)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("label %q is not a finite number or TRUE/FALSE", s)
	}
	return v, nil
}

// Subset returns the given rows of d, in the order given, as a new data set
// sharing d's schema. Group keys are kept; groups stay whole only if rows
// holds whole groups.
func (d *Dataset) Subset(rows []int) *Dataset {
	out := &Dataset{Path: d.Path, SHA256: d.SHA256, Sources: d.Sources, Format: d.Format, Delimiter: d.Delimiter, Rows: len(rows), GroupKeys: d.GroupKeys}
	out.Columns = make([]Column, len(d.Columns))
	for j, c := range d.Columns {
		vals := make([]float32, len(rows))
		for i, r := range rows {
			vals[i] = c.Values[r]
		}
		out.Columns[j] = Column{Name: c.Name, Categorical: c.Categorical, Categories: c.Categories, Values: vals}
	}
	if d.Label != nil {
		out.Label = make([]float64, len(rows))
		for i, r := range rows {
			out.Label[i] = d.Label[r]
		}
	}
	if d.Group != nil {
		out.Group = make([]int32, len(rows))
		for i, r := range rows {
			out.Group[i] = d.Group[r]
		}
	}
	return out
}
