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
	if len(opts.Keep) > 0 {
		return nil, &Error{Path: path, Msg: "LibSVM rows have no named columns to slice by: slices need CSV or TSV data"}
	}
	lr := &libsvmReader{path: path, opts: opts, d: &Dataset{}, qids: map[string]int32{}, maxID: -1}
	if opts.Schema != nil {
		var err error
		if lr.index, err = libsvmIndex(path, opts.Schema); err != nil {
			return nil, err
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	for sc.Scan() {
		lr.line++
		if err := lr.row(sc.Text()); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	d := lr.columns()
	if !lr.hasQID {
		if err := readQuerySidecar(path, d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// libsvmReader holds a LibSVM read in progress: the non-absent entries as
// they are met, then laid into dense columns once the width is known.
type libsvmReader struct {
	path    string
	opts    Options
	d       *Dataset
	index   map[int]int // with a schema: id -> column
	entries entryChunks
	exact   []float64 // with opts.Exact: entries' values as parsed
	qids    map[string]int32
	hasQID  bool
	maxID   int
	line    int
}

type libsvmEntry struct {
	row, col int32
	val      float32
}

// entryChunks holds the entries read so far in chunks that never move: a
// chunk is as large as everything before it (256 to 65,536 entries), so
// a large file's entries are written once, not copied each time one slice
// grows (copying was a third of reading LightGBM's ranking example).
type entryChunks [][]libsvmEntry

func (c *entryChunks) add(e libsvmEntry) {
	n := len(*c)
	if n == 0 || len((*c)[n-1]) == cap((*c)[n-1]) {
		size := 256
		if n > 0 {
			size = min(1<<16, max(size, n*cap((*c)[n-1])))
		}
		*c = append(*c, make([]libsvmEntry, 0, size))
		n++
	}
	(*c)[n-1] = append((*c)[n-1], e)
}

// row reads one line: a label, then INDEX:VALUE pairs and perhaps a qid.
func (lr *libsvmReader) row(text string) error {
	if i := strings.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	first, text := nextField(text)
	if first == "" {
		return nil
	}
	d := lr.d
	label, err := ParseLabel(first)
	if err == nil && lr.opts.CheckLabel != nil {
		err = lr.opts.CheckLabel(label)
	}
	if err != nil {
		return &Error{Path: lr.path, Line: lr.line, Column: "label", Msg: err.Error()}
	}
	d.Label = append(d.Label, label)
	row := int32(d.Rows)
	for {
		var f string
		if f, text = nextField(text); f == "" {
			break
		}
		key, val, ok := strings.Cut(f, ":")
		if !ok {
			return &Error{Path: lr.path, Line: lr.line, Msg: fmt.Sprintf("%q is not INDEX:VALUE", f)}
		}
		if key == "qid" {
			err = lr.qid(row, val)
		} else {
			err = lr.entry(row, key, val)
		}
		if err != nil {
			return err
		}
	}
	if lr.hasQID && len(d.Group) != int(row)+1 {
		return &Error{Path: lr.path, Line: lr.line, Msg: "this row has no qid, and earlier rows do: give every row one"}
	}
	d.Rows++
	return nil
}

func (lr *libsvmReader) qid(row int32, val string) error {
	d := lr.d
	g, seen := lr.qids[val]
	if !seen {
		g = int32(len(d.GroupKeys))
		lr.qids[val] = g
		d.GroupKeys = append(d.GroupKeys, val)
	}
	if len(d.Group) != int(row) {
		return &Error{Path: lr.path, Line: lr.line, Msg: "qid given twice, or only on some rows"}
	}
	d.Group = append(d.Group, g)
	lr.hasQID = true
	return nil
}

func (lr *libsvmReader) entry(row int32, key, val string) error {
	id, err := strconv.Atoi(key)
	if err != nil || id < 0 || id > 1<<24 {
		return &Error{Path: lr.path, Line: lr.line, Column: key, Msg: fmt.Sprintf("%q is not a feature id: ids are whole numbers from 0 (or 1) to 16777216", key)}
	}
	v, err := parseFloat(val)
	if err != nil {
		return &Error{Path: lr.path, Line: lr.line, Column: LibSVMName(id), Msg: fmt.Sprintf("%q is not a number", val)}
	}
	col := id
	if lr.index != nil {
		k, ok := lr.index[id]
		if !ok {
			schema := lr.opts.Schema
			return &Error{Path: lr.path, Line: lr.line, Column: LibSVMName(id),
				Msg: fmt.Sprintf("the model has no feature %s: its %d features are %s to %s, by LibSVM id (was it trained on other data?)",
					LibSVMName(id), len(schema), schema[0].Name, schema[len(schema)-1].Name)}
		}
		col = k
	}
	lr.maxID = max(lr.maxID, id)
	lr.entries.add(libsvmEntry{row, int32(col), float32(v)})
	if lr.opts.Exact {
		lr.exact = append(lr.exact, v)
	}
	return nil
}

// columns lays the entries into dense columns, absent entries missing (or
// zero with opts.AbsentIsZero).
func (lr *libsvmReader) columns() *Dataset {
	d := lr.d
	names := lr.opts.Schema
	if names == nil {
		names = PadLibSVM(nil, lr.maxID+1)
	}
	absent := math.NaN()
	if lr.opts.AbsentIsZero {
		absent = 0
	}
	for _, f := range names {
		c := Column{Name: f.Name, Values: filled(d.Rows, float32(absent))}
		if lr.opts.Exact {
			c.Exact = filled(d.Rows, absent)
		}
		d.Columns = append(d.Columns, c)
	}
	k := 0
	for _, chunk := range lr.entries {
		for _, e := range chunk {
			c := &d.Columns[e.col]
			c.Values[e.row] = e.val
			if lr.exact != nil {
				c.Exact[e.row] = lr.exact[k]
			}
			k++
		}
	}
	return d
}

// nextField returns the first field of s, split at ASCII white space as a
// LibSVM line is, and what follows it; field is empty when s has no more.
func nextField(s string) (field, rest string) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !isSpace(s[j]) {
		j++
	}
	return s[i:j], s[j:]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

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
