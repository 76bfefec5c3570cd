package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// libsvmName names LibSVM feature id k (1-based) as a column: "f1", "f2"...
func libsvmName(k int) string { return "f" + strconv.Itoa(k) }

func readLibSVM(path string, r *bufio.Reader, opts Options) (*Dataset, error) {
	type entry struct {
		row, col int32
		val      float32
	}
	var (
		entries []entry
		d       = &Dataset{}
		qids    = map[string]int32{}
		hasQID  bool
		maxID   int
	)
	if len(opts.Keep) > 0 {
		return nil, &Error{Path: path, Msg: "LibSVM rows have no named columns to slice by: slices need CSV or TSV data"}
	}
	limit := 0 // ids above limit are ignored when reading against a schema
	if opts.Schema != nil {
		limit = len(opts.Schema)
		for k, f := range opts.Schema {
			if f.Name != libsvmName(k+1) || f.Categorical {
				return nil, &Error{Path: path, Msg: fmt.Sprintf("the model's feature %d is %q, not LibSVM feature %s: was it trained on CSV data?", k+1, f.Name, libsvmName(k+1))}
			}
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
			if err != nil || id < 1 {
				return nil, &Error{Path: path, Line: line, Column: key, Msg: fmt.Sprintf("%q is not a feature id: ids are whole numbers from 1", key)}
			}
			v, err := parseFloat(val)
			if err != nil {
				return nil, &Error{Path: path, Line: line, Column: libsvmName(id), Msg: fmt.Sprintf("%q is not a number", val)}
			}
			if limit > 0 && id > limit {
				continue
			}
			maxID = max(maxID, id)
			entries = append(entries, entry{row, int32(id - 1), float32(v)})
		}
		if hasQID && len(d.Group) != int(row)+1 {
			return nil, &Error{Path: path, Line: line, Msg: "this row has no qid, and earlier rows do: give every row one"}
		}
		d.Rows++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	n := maxID
	if limit > 0 {
		n = limit
	}
	for k := 0; k < n; k++ {
		vals := make([]float32, d.Rows)
		for i := range vals {
			vals[i] = nan32
		}
		d.Columns = append(d.Columns, Column{Name: libsvmName(k + 1), Values: vals})
	}
	for _, e := range entries {
		d.Columns[e.col].Values[e.row] = e.val
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
