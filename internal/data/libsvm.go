package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// LibSVMName names the column of LibSVM feature id k: "f0", "f1"... The
// id is the feature's index, as XGBoost and LightGBM use it: a 1-based
// file leaves feature f0 empty (all missing), and a model trained on it has
// one feature more than the file's highest id.
func LibSVMName(k int) string { return "f" + strconv.Itoa(k) }

// PadLibSVM extends a schema read from a LibSVM file to width features
// f0...f(width-1): a producer's model may be wider than the ids one file
// uses.
func PadLibSVM(schema []Feature, width int) []Feature {
	for k := len(schema); k < width; k++ {
		schema = append(schema, Feature{Name: LibSVMName(k)})
	}
	return schema
}

// libsvmIndex maps each LibSVM id a schema has to its position, and
// refuses a schema that does not name LibSVM features (trained on CSV).
// Feature fK, or Column_K as LightGBM names the features of a file without
// names, is id K.
func libsvmIndex(path string, schema []Feature) (map[int]int, error) {
	index := make(map[int]int, len(schema))
	for k, f := range schema {
		id, ok := libsvmID(f.Name)
		if !ok || f.Categorical {
			return nil, &Error{Path: path, Msg: fmt.Sprintf("the model's feature %d is %q, not a LibSVM feature (f0, f1...): was it trained on CSV data?", k, f.Name)}
		}
		if prev, dup := index[id]; dup {
			return nil, &Error{Path: path, Msg: fmt.Sprintf("the model's features %d and %d are both LibSVM id %d", prev, k, id)}
		}
		index[id] = k
	}
	return index, nil
}

func libsvmID(name string) (int, bool) {
	for _, prefix := range []string{"f", "Column_"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			id, err := strconv.Atoi(rest)
			return id, err == nil && id >= 0 && strconv.Itoa(id) == rest
		}
	}
	return 0, false
}

func readLibSVM(path string, r *bufio.Reader, opts Options) (*Dataset, error) {
	type entry struct {
		row, col int32
		val      float32
	}
	var (
		entries []entry
		exact   []float64 // with opts.Exact: entries' values as parsed
		d       = &Dataset{}
		qids    = map[string]int32{}
		hasQID  bool
		maxID   = -1
	)
	if len(opts.Keep) > 0 {
		return nil, &Error{Path: path, Msg: "LibSVM rows have no named columns to slice by: slices need CSV or TSV data"}
	}
	var index map[int]int // with a schema: id -> column
	if opts.Schema != nil {
		var err error
		if index, err = libsvmIndex(path, opts.Schema); err != nil {
			return nil, err
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		label, err := ParseLabel(fields[0])
		if err == nil && opts.CheckLabel != nil {
			err = opts.CheckLabel(label)
		}
		if err != nil {
			return nil, &Error{Path: path, Line: line, Column: "label", Msg: err.Error()}
		}
		d.Label = append(d.Label, label)
		row := int32(d.Rows)
		for _, f := range fields[1:] {
			key, val, ok := strings.Cut(f, ":")
			if !ok {
				return nil, &Error{Path: path, Line: line, Msg: fmt.Sprintf("%q is not INDEX:VALUE", f)}
			}
			if key == "qid" {
				g, seen := qids[val]
				if !seen {
					g = int32(len(d.GroupKeys))
					qids[val] = g
					d.GroupKeys = append(d.GroupKeys, val)
				}
				if len(d.Group) != int(row) {
					return nil, &Error{Path: path, Line: line, Msg: "qid given twice, or only on some rows"}
				}
				d.Group = append(d.Group, g)
				hasQID = true
				continue
			}
			id, err := strconv.Atoi(key)
			if err != nil || id < 0 || id > 1<<24 {
				return nil, &Error{Path: path, Line: line, Column: key, Msg: fmt.Sprintf("%q is not a feature id: ids are whole numbers from 0 (or 1) to 16777216", key)}
			}
			v, err := parseFloat(val)
			if err != nil {
				return nil, &Error{Path: path, Line: line, Column: LibSVMName(id), Msg: fmt.Sprintf("%q is not a number", val)}
			}
			col := id
			if index != nil {
				k, ok := index[id]
				if !ok {
					return nil, &Error{Path: path, Line: line, Column: LibSVMName(id),
						Msg: fmt.Sprintf("the model has no feature %s: its %d features are %s to %s, by LibSVM id (was it trained on other data?)",
							LibSVMName(id), len(opts.Schema), opts.Schema[0].Name, opts.Schema[len(opts.Schema)-1].Name)}
				}
				col = k
			}
			maxID = max(maxID, id)
			entries = append(entries, entry{row, int32(col), float32(v)})
			if opts.Exact {
				exact = append(exact, v)
			}
		}
		if hasQID && len(d.Group) != int(row)+1 {
			return nil, &Error{Path: path, Line: line, Msg: "this row has no qid, and earlier rows do: give every row one"}
		}
		d.Rows++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	names := opts.Schema
	if names == nil {
		names = PadLibSVM(nil, maxID+1)
	}
	absent := math.NaN()
	if opts.AbsentIsZero {
		absent = 0
	}
	for _, f := range names {
		c := Column{Name: f.Name, Values: filled(d.Rows, float32(absent))}
		if opts.Exact {
			c.Exact = filled(d.Rows, absent)
		}
		d.Columns = append(d.Columns, c)
	}
	for k, e := range entries {
		c := &d.Columns[e.col]
		c.Values[e.row] = e.val
		if exact != nil {
			c.Exact[e.row] = exact[k]
		}
	}
	if !hasQID {
		if err := readQuerySidecar(path, d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// readQuerySidecar reads PATH.query, LightGBM's list of consecutive group
// sizes, when it exists.
func readQuerySidecar(path string, d *Dataset) error {
	qpath := path + ".query"
	f, err := os.Open(qpath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read query file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line, row := 0, 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		size, err := strconv.Atoi(s)
		if err != nil || size < 1 {
			return &Error{Path: qpath, Line: line, Msg: fmt.Sprintf("%q is not a group size (a whole number from 1)", s)}
		}
		g := int32(len(d.GroupKeys))
		d.GroupKeys = append(d.GroupKeys, strconv.Itoa(int(g)))
		for k := 0; k < size; k++ {
			d.Group = append(d.Group, g)
		}
		row += size
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", qpath, err)
	}
	if row != d.Rows {
		return &Error{Path: qpath, Msg: fmt.Sprintf("the group sizes add up to %d rows, and %s has %d", row, path, d.Rows)}
	}
	return nil
}
