package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-ml/ferry/internal/data"
)

// requestError is a request the server cannot score: code (400 unless set)
// with its message.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// numeric reports whether a datatype carries numbers.
func numeric(dt string) bool {
	switch dt {
	case "FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BOOL":
		return true
	}
	return false
}

// schema is the model's features as decoding looks them up: built once with
// the server, not for every request.
type schema struct {
	features   []data.Feature
	byName     map[string]int
	categories []map[string]int // by feature: category -> index; nil for numeric ones
	exact      bool             // keep float64 values too (data.Column.Exact): the model compares doubles
}

func newSchema(features []data.Feature, exact bool) *schema {
	s := &schema{features: features, byName: map[string]int{}, categories: make([]map[string]int, len(features)), exact: exact}
	for i, f := range features {
		s.byName[f.Name] = i
		if f.Categorical {
			s.categories[i] = map[string]int{}
			for k, c := range f.Categories {
				s.categories[i][c] = k
			}
		}
	}
	return s
}

// limits bound what one request may make the server allocate.
type limits struct {
	maxRows int
	// maxValues is the most values the body can carry: a value takes at
	// least two bytes (a digit and a separator), so a shape that claims more
	// than half the body's bytes is refused before anything is allocated.
	maxValues int64
}

// decodeRequest reads one infer request from body and builds the data set,
// in the model's feature order, as it reads. It never holds the request's
// JSON: each tensor's name, datatype and shape are checked against the model
// and the limits, and its columns allocated at their final size, before the
// first value of its data is read; the values then go straight into the
// columns. So a request costs the server its float32 columns and a few
// kilobytes of read buffer, not a tree of parsed JSON values. (A tensor that
// puts "data" before "shape" is the one exception: its data is held as
// text until the shape arrives.)
//
// Two layouts are accepted:
//   - one input of shape [rows, features] with every feature, numeric, in
//     schema order (categorical features as their category index);
//   - one input per feature, named after it, of shape [rows] or [rows, 1]:
//     numbers for numeric features, strings (BYTES) or indexes for
//     categorical ones; a category the model never saw is missing.
//
// null is a missing value. Unknown fields are skipped, as the protocol's
// parameters and outputs are. Errors are *requestError, or the reader's
// error (such as *http.MaxBytesError) wrapped.
func decodeRequest(dec *jsontext.Decoder, sch *schema, lim limits) (id string, d *data.Dataset, err error) {
	r := &requestDecoder{dec: dec, sch: sch, lim: lim, seen: make([]bool, len(sch.features))}
	r.d = &data.Dataset{Rows: -1, Columns: make([]data.Column, len(sch.features))}
	for i, f := range sch.features {
		r.d.Columns[i] = data.Column{Name: f.Name, Categorical: f.Categorical, Categories: f.Categories}
	}
	id, err = r.request()
	if err != nil {
		return "", nil, jsonError(err)
	}
	if err := r.complete(); err != nil {
		return "", nil, err
	}
	return id, r.d, nil
}

// jsonError turns a decoder's error into the request's: a syntax error is
// a 400 that says where; a body over the limit stays what it is (a 413).
func jsonError(err error) error {
	var (
		re     *requestError
		tooBig *http.MaxBytesError
		syn    *jsontext.SyntacticError
	)
	switch {
	case errors.As(err, &re), errors.As(err, &tooBig):
		return err
	case errors.As(err, &syn):
		return badRequest("the request is not JSON: %s", strings.TrimPrefix(syn.Error(), "jsontext: "))
	case err == io.EOF:
		return badRequest("the request is empty: want a JSON object with \"inputs\"")
	}
	return fmt.Errorf("read the request: %w", err)
}

type requestDecoder struct {
	dec    *jsontext.Decoder
	sch    *schema
	lim    limits
	d      *data.Dataset
	seen   []bool // by feature: an input gave it
	inputs int    // tensors read so far
	matrix string // the [rows, features] input, once one is read
}

// request reads the top-level object and returns its id.
func (r *requestDecoder) request() (string, error) {
	tok, err := r.dec.ReadToken()
	if err != nil {
		return "", err
	}
	if tok.Kind() != '{' {
		return "", badRequest("the request is a JSON %s; want an object with \"inputs\"", kindName(tok.Kind()))
	}
	var id string
	for {
		key, err := r.dec.ReadToken()
		if err != nil {
			return "", err
		}
		if key.Kind() == '}' {
			break
		}
		switch key.String() {
		case "id":
			v, err := r.dec.ReadToken()
			if err != nil {
				return "", err
			}
			if v.Kind() != '"' {
				return "", badRequest("id: want a string, got %s", kindName(v.Kind()))
			}
			id = v.String()
		case "inputs":
			if err := r.inputList(); err != nil {
				return "", err
			}
		default:
			if err := r.dec.SkipValue(); err != nil {
				return "", err
			}
		}
	}
	if _, err := r.dec.ReadToken(); err != io.EOF {
		if err == nil {
			return "", badRequest("the request holds more than one JSON value")
		}
		return "", err
	}
	return id, nil
}

func (r *requestDecoder) inputList() error {
	tok, err := r.dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		return nil
	case '[':
	default:
		return badRequest("inputs: want an array of tensors, got %s", kindName(tok.Kind()))
	}
	for i := 0; ; i++ {
		if r.dec.PeekKind() == ']' {
			_, err := r.dec.ReadToken()
			return err
		}
		if err := r.tensor(i); err != nil {
			return err
		}
		r.inputs++
	}
}

// head is what a tensor says about itself before its data.
type head struct {
	index                      int // in inputs
	name, datatype             string
	shape                      []int64
	hasName, hasType, hasShape bool
}

// label names the tensor in errors: by its name once known.
func (h *head) label() string {
	if h.hasName {
		return fmt.Sprintf("input %q", h.name)
	}
	return fmt.Sprintf("inputs[%d]", h.index)
}

// tensor reads one input tensor into the data set.
func (r *requestDecoder) tensor(index int) error {
	tok, err := r.dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '{' {
		return badRequest("inputs[%d]: want an object with name, shape, datatype and data, got %s", index, kindName(tok.Kind()))
	}
	h := &head{index: index}
	var (
		done    bool           // the data went into the data set
		pending jsontext.Value // data that came before the shape
	)
	for {
		key, err := r.dec.ReadToken()
		if err != nil {
			return err
		}
		if key.Kind() == '}' {
			break
		}
		switch k := key.String(); k {
		case "name", "datatype":
			v, err := r.dec.ReadToken()
			if err != nil {
				return err
			}
			if v.Kind() != '"' {
				return badRequest("%s: %s: want a string, got %s", h.label(), k, kindName(v.Kind()))
			}
			if k == "name" {
				h.name, h.hasName = v.String(), true
			} else {
				h.datatype, h.hasType = v.String(), true
			}
		case "shape":
			if err := r.shape(h); err != nil {
				return err
			}
		case "data":
			if !h.hasName || !h.hasType || !h.hasShape {
				v, err := r.dec.ReadValue()
				if err != nil {
					return err
				}
				pending = v.Clone()
				continue
			}
			if err := r.data(h, r.dec); err != nil {
				return err
			}
			done = true
		default:
			if err := r.dec.SkipValue(); err != nil {
				return err
			}
		}
	}
	if done {
		return nil
	}
	if pending == nil {
		if err := h.check(); err != nil {
			return err
		}
		return badRequest("%s: no data", h.label())
	}
	return r.data(h, jsontext.NewDecoder(bytes.NewReader(pending)))
}

func (r *requestDecoder) shape(h *head) error {
	tok, err := r.dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '[' {
		return badRequest("%s: shape: want an array of integers", h.label())
	}
	h.shape, h.hasShape = h.shape[:0], true
	for {
		tok, err := r.dec.ReadToken()
		if err != nil {
			return err
		}
		switch tok.Kind() {
		case ']':
			return nil
		case '0':
			n, err := tok.Int()
			if err != nil {
				return badRequest("%s: shape: %s is not an integer", h.label(), tok.String())
			}
			h.shape = append(h.shape, n)
		default:
			return badRequest("%s: shape: want an array of integers, got %s", h.label(), kindName(tok.Kind()))
		}
	}
}

// check reports the first of a tensor's name, datatype and shape that is
// missing or that ferry cannot take.
func (h *head) check() error {
	switch {
	case !h.hasName:
		return badRequest("inputs[%d]: name: want a string", h.index)
	case !h.hasType:
		return badRequest("%s: datatype: want a string", h.label())
	case !h.hasShape:
		return badRequest("%s: shape: want an array of integers", h.label())
	case h.datatype != "BYTES" && !numeric(h.datatype):
		return badRequest("%s: unknown datatype %q: want FP32, FP64, INT64, BOOL, BYTES...", h.label(), h.datatype)
	case len(h.shape) == 0 || len(h.shape) > 2:
		return badRequest("%s: shape %v: want [rows] or [rows, columns]", h.label(), h.shape)
	}
	for _, d := range h.shape {
		if d < 0 || d > 1<<31 {
			return badRequest("%s: shape %v has a bad dimension", h.label(), h.shape)
		}
	}
	return nil
}

// target is where a tensor's values go: cols columns of the data set, the
// value at flat index i into column i%cols, row i/cols (and into exact's
// columns too, for a model that compares doubles).
type target struct {
	cols    [][]float32
	exact   [][]float64
	feature int            // a one-feature input: the feature's index; -1 for a matrix
	index   map[string]int // a categorical feature's categories, for strings
}

// plan checks a tensor's head against the model and the limits, and
// allocates the columns its data fills. Nothing is allocated for a tensor
// that cannot be taken.
func (r *requestDecoder) plan(h *head) (target, error) {
	if err := h.check(); err != nil {
		return target{}, err
	}
	features := r.sch.features
	rows, cols := h.shape[0], int64(1)
	if len(h.shape) == 2 {
		cols = h.shape[1]
	}
	j, named := r.sch.byName[h.name]
	matrix := cols == int64(len(features)) && (len(features) > 1 || !named)
	switch {
	case r.matrix != "":
		return target{}, badRequest("%s: the input %q already holds every feature: a [rows, features] input comes alone", h.label(), r.matrix)
	case matrix && r.inputs > 0:
		return target{}, badRequest("%s: a [rows, %d] input holds every feature and comes alone; this request has other inputs before it", h.label(), len(features))
	case matrix && !numeric(h.datatype):
		return target{}, badRequest("%s: datatype %q: a [rows, features] input is numeric (FP32, FP64, INT64...)", h.label(), h.datatype)
	case !matrix && !named && (len(h.shape) == 1 || cols == 1) && len(features) > 1:
		return target{}, badRequest("%s is not a feature of the model: the features are %s (or send one input of shape [rows, %d])", h.label(), featureList(features), len(features))
	case !matrix && !named:
		return target{}, badRequest("%s: %d columns, want %d", h.label(), cols, len(features))
	case !matrix && cols != 1:
		return target{}, badRequest("%s: shape %v: an input named after a feature is [rows] or [rows, 1]; all %d features go in one input of shape [rows, %d]", h.label(), h.shape, len(features), len(features))
	case !matrix && r.seen[j]:
		return target{}, badRequest("%s is given twice", h.label())
	}
	if rows > int64(r.lim.maxRows) {
		return target{}, badRequest("%d rows: this server scores at most %d per request", rows, r.lim.maxRows)
	}
	if r.d.Rows >= 0 && int(rows) != r.d.Rows {
		return target{}, badRequest("%s has %d rows and an earlier input %d: every input has one value per row", h.label(), rows, r.d.Rows)
	}
	if rows*cols > r.lim.maxValues {
		return target{}, badRequest("%s: shape %v holds %d values, more than the request's body can carry", h.label(), h.shape, rows*cols)
	}
	r.d.Rows = int(rows)
	t := target{feature: -1}
	if matrix {
		r.matrix = h.name
		t.addAll(r.d.Columns, rows, r.sch.exact)
		for c := range r.d.Columns {
			r.seen[c] = true
		}
		return t, nil
	}
	if h.datatype == "BYTES" && !features[j].Categorical {
		return target{}, badRequest("%s: the feature is numeric, got datatype BYTES", h.label())
	}
	r.seen[j] = true
	t.add(&r.d.Columns[j], rows, r.sch.exact)
	t.feature, t.index = j, r.sch.categories[j]
	return t, nil
}

// add allocates a column of rows values as a destination.
func (t *target) add(c *data.Column, rows int64, exact bool) {
	c.Values = make([]float32, rows)
	t.cols = append(t.cols, c.Values)
	if exact {
		c.Exact = make([]float64, rows)
		t.exact = append(t.exact, c.Exact)
	}
}

// addAll allocates every column, rows values each, as the destinations of
// one [rows, features] tensor: in one array (and one more for exact), so
// that a small request makes two allocations, not one per feature. Each
// column's capacity ends at its length.
func (t *target) addAll(cs []data.Column, rows int64, exact bool) {
	n := int(rows)
	values := make([]float32, n*len(cs))
	t.cols = make([][]float32, len(cs))
	var exacts []float64
	if exact {
		exacts = make([]float64, n*len(cs))
		t.exact = make([][]float64, len(cs))
	}
	for c := range cs {
		cs[c].Values = values[c*n : (c+1)*n : (c+1)*n]
		t.cols[c] = cs[c].Values
		if exact {
			cs[c].Exact = exacts[c*n : (c+1)*n : (c+1)*n]
			t.exact[c] = cs[c].Exact
		}
	}
}

// data reads a tensor's data, flat or nested, from dec into the columns
// plan allocated, checking each value against the datatype.
func (r *requestDecoder) data(h *head, dec *jsontext.Decoder) error {
	t, err := r.plan(h)
	if err != nil {
		return err
	}
	var (
		f     = filler{target: t, size: int64(len(t.cols)) * int64(r.d.Rows)}
		depth int
		strs  = h.datatype == "BYTES"
	)
	for {
		if dec.PeekKind() == '0' && !strs {
			// A number, read as its text and converted here: the
			// common case, and the fastest way through.
			raw, err := dec.ReadValue()
			if err != nil {
				return err
			}
			v, ok := parseNumber(raw)
			if !ok {
				return badRequest("%s: %s is not a finite number", h.label(), raw)
			}
			f.put(v)
			if depth == 0 {
				break
			}
			continue
		}
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch tok.Kind() {
		case '[':
			depth++
		case ']':
			depth--
		case '0':
			return badRequest("%s: datatype BYTES wants strings, got the number %s", h.label(), tok.String())
		case 't', 'f':
			if h.datatype != "BOOL" {
				return badRequest("%s: datatype %s wants numbers, got a boolean", h.label(), h.datatype)
			}
			if tok.Bool() {
				f.put(1)
			} else {
				f.put(0)
			}
		case '"':
			if !strs {
				return badRequest("%s: datatype %s wants numbers, got the string %q", h.label(), h.datatype, tok.String())
			}
			if k, ok := t.index[tok.String()]; ok {
				f.put(float64(k))
			} else {
				f.put(math.NaN()) // a category the model never saw, or ""
			}
		case 'n':
			f.put(math.NaN()) // null: a missing value
		default:
			return badRequest("%s: data holds an object; want numbers, strings or nested lists of them", h.label())
		}
		if depth == 0 {
			break
		}
	}
	if f.n != f.size {
		return badRequest("%s: shape %v holds %d values, data has %d", h.label(), h.shape, f.size, f.n)
	}
	return nil
}

// filler puts a tensor's values, in order, into its target's columns,
// counting them: past size it only counts, so that a request with more
// values than its shape is refused with how many it had.
type filler struct {
	target
	size, n  int64 // values the shape holds; values read
	row, col int
}

func (f *filler) put(v float64) {
	if f.n < f.size {
		f.cols[f.col][f.row] = float32(v)
		if f.exact != nil {
			f.exact[f.col][f.row] = v
		}
		if f.col++; f.col == len(f.cols) {
			f.col, f.row = 0, f.row+1
		}
	}
	f.n++
}

// complete checks, once the request is read, that every feature has values.
func (r *requestDecoder) complete() error {
	features := r.sch.features
	if r.inputs == 0 {
		return badRequest("no inputs: want one input of shape [rows, %d] or one input per feature (%s)", len(features), featureList(features))
	}
	var missing []string
	for j, ok := range r.seen {
		if !ok {
			missing = append(missing, features[j].Name)
		}
	}
	if len(missing) > 0 {
		return badRequest("inputs missing for the features %s: give every feature, with null for a missing value", strings.Join(missing, ", "))
	}
	return nil
}

// kindName names a JSON token's kind for errors.
func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "nothing"
}

func featureList(fs []data.Feature) string {
	var names []string
	for i, f := range fs {
		if i == 12 {
			names = append(names, fmt.Sprintf("... (%d in all)", len(fs)))
			break
		}
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}
