package serve

import (
	"fmt"
	"math"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/ferry-ml/ferry/internal/data"
)

// request is a parsed Open Inference Protocol infer request: its id and its
// input tensors, their data already flattened row-major.
type request struct {
	id     string
	inputs []tensor
}

// tensor is one input tensor. nums holds a numeric tensor's values (null as
// NaN, booleans as 0 and 1), strs a BYTES tensor's (null as "").
type tensor struct {
	name, datatype string
	shape          []int64
	nums           []float64
	strs           []string
}

// InferResponse is the protocol's response body.
type InferResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id,omitempty"`
	Outputs      []OutputTensor `json:"outputs"`
}

// OutputTensor is a response tensor.
type OutputTensor struct {
	Name     string    `json:"name"`
	Shape    []int64   `json:"shape"`
	Datatype string    `json:"datatype"`
	Data     []float64 `json:"data"`
}

// requestError is a request the server cannot score: a 400 with its message.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error { return &requestError{fmt.Sprintf(format, args...)} }

// numeric reports whether a datatype carries numbers.
func numeric(dt string) bool {
	switch dt {
	case "FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BOOL":
		return true
	}
	return false
}

// parseRequest reads an infer request body in one pass over its JSON: the
// common request is mostly numbers, and decoding it through encoding/json
// (a validation scan, a RawMessage copy, a second decode of the data) cost
// several times the prediction. Unknown fields are ignored, as the protocol's
// parameters and outputs are.
func parseRequest(p *fastjson.Parser, body []byte) (*request, error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, badRequest("the request is not JSON: %v", err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, badRequest("the request is a JSON %s; want an object with \"inputs\"", v.Type())
	}
	req := &request{}
	if id := v.Get("id"); id != nil {
		if id.Type() != fastjson.TypeString {
			return nil, badRequest("id: want a string, got %s", id.Type())
		}
		req.id = string(id.GetStringBytes())
	}
	in := v.Get("inputs")
	if in == nil || in.Type() == fastjson.TypeNull {
		return req, nil
	}
	if in.Type() != fastjson.TypeArray {
		return nil, badRequest("inputs: want an array of tensors, got %s", in.Type())
	}
	for i, tv := range in.GetArray() {
		t, err := parseTensor(tv)
		if err != nil {
			return nil, fmt.Errorf("inputs[%d]: %w", i, err)
		}
		req.inputs = append(req.inputs, t)
	}
	return req, nil
}

func parseTensor(v *fastjson.Value) (tensor, error) {
	var t tensor
	if v.Type() != fastjson.TypeObject {
		return t, badRequest("want an object with name, shape, datatype and data, got %s", v.Type())
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &t.name}, {"datatype", &t.datatype}} {
		s := v.Get(f.key)
		if s == nil || s.Type() != fastjson.TypeString {
			return t, badRequest("%s: want a string", f.key)
		}
		*f.dst = string(s.GetStringBytes())
	}
	shape := v.Get("shape")
	if shape == nil || shape.Type() != fastjson.TypeArray {
		return t, badRequest("input %q: shape: want an array of integers", t.name)
	}
	for _, d := range shape.GetArray() {
		n, err := d.Int64()
		if err != nil {
			return t, badRequest("input %q: shape: %s is not an integer", t.name, d)
		}
		t.shape = append(t.shape, n)
	}
	if t.datatype != "BYTES" && !numeric(t.datatype) {
		return t, badRequest("input %q: unknown datatype %q: want FP32, FP64, INT64, BOOL, BYTES...", t.name, t.datatype)
	}
	data := v.Get("data")
	if data == nil {
		return t, badRequest("input %q: no data", t.name)
	}
	return t, t.flatten(data)
}

// flatten appends a tensor's data, flat or nested, to nums or strs, checking
// each leaf against the datatype.
func (t *tensor) flatten(v *fastjson.Value) error {
	switch v.Type() {
	case fastjson.TypeArray:
		for _, e := range v.GetArray() {
			if err := t.flatten(e); err != nil {
				return err
			}
		}
	case fastjson.TypeNumber:
		if t.datatype == "BYTES" {
			return badRequest("input %q: datatype BYTES wants strings, got the number %s", t.name, v)
		}
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return badRequest("input %q: %s is not a finite number", t.name, v)
		}
		t.nums = append(t.nums, f)
	case fastjson.TypeTrue, fastjson.TypeFalse:
		if t.datatype != "BOOL" {
			return badRequest("input %q: datatype %s wants numbers, got a boolean", t.name, t.datatype)
		}
		if v.Type() == fastjson.TypeTrue {
			t.nums = append(t.nums, 1)
		} else {
			t.nums = append(t.nums, 0)
		}
	case fastjson.TypeString:
		if t.datatype != "BYTES" {
			return badRequest("input %q: datatype %s wants numbers, got the string %s", t.name, t.datatype, v)
		}
		t.strs = append(t.strs, string(v.GetStringBytes()))
	case fastjson.TypeNull:
		if t.datatype == "BYTES" {
			t.strs = append(t.strs, "")
		} else {
			t.nums = append(t.nums, math.NaN()) // null: a missing value
		}
	default:
		return badRequest("input %q: data holds an %s; want numbers, strings or nested lists of them", t.name, v.Type())
	}
	return nil
}

// rows is the number of rows a tensor's shape says it holds, after checking
// that its data has the shape's size.
func rowsOf(t tensor, want int, leaves int) (int, error) {
	if len(t.shape) == 0 || len(t.shape) > 2 {
		return 0, badRequest("input %q: shape %v: want [rows] or [rows, columns]", t.name, t.shape)
	}
	size := int64(1)
	for _, d := range t.shape {
		if d < 0 || d > 1<<31 {
			return 0, badRequest("input %q: shape %v has a bad dimension", t.name, t.shape)
		}
		size *= d
	}
	if size != int64(leaves) {
		return 0, badRequest("input %q: shape %v holds %d values, data has %d", t.name, t.shape, size, leaves)
	}
	cols := int64(1)
	if len(t.shape) == 2 {
		cols = t.shape[1]
	}
	if cols != int64(want) {
		return 0, badRequest("input %q: %d columns, want %d", t.name, cols, want)
	}
	return int(t.shape[0]), nil
}

// schema is the model's features as decode looks them up: built once with
// the server, not for every request.
type schema struct {
	features   []data.Feature
	byName     map[string]int
	categories []map[string]int // by feature: category -> index; nil for numeric ones
}

func newSchema(features []data.Feature) *schema {
	s := &schema{features: features, byName: map[string]int{}, categories: make([]map[string]int, len(features))}
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

// decode turns a request into a data set in the model's feature order. Two
// layouts are accepted:
//   - one input of shape [rows, features] with every feature, numeric, in
//     schema order (categorical features as their category index);
//   - one input per feature, named after it, of shape [rows] or [rows, 1]:
//     numbers for numeric features, strings (BYTES) or indexes for
//     categorical ones; a category the model never saw is missing.
//
// null is a missing value. Rows above maxRows are refused.
func decode(req *request, sch *schema, maxRows int) (*data.Dataset, error) {
	features, byName := sch.features, sch.byName
	if len(req.inputs) == 0 {
		return nil, badRequest("no inputs: want one input of shape [rows, %d] or one input per feature (%s)", len(features), featureList(features))
	}
	d := &data.Dataset{Columns: make([]data.Column, len(features))}
	for i, f := range features {
		d.Columns[i] = data.Column{Name: f.Name, Categorical: f.Categorical, Categories: f.Categories}
	}
	if _, named := byName[req.inputs[0].name]; len(req.inputs) == 1 && (len(features) > 1 || !named) {
		t := req.inputs[0]
		if !numeric(t.datatype) {
			return nil, badRequest("input %q: datatype %q: a [rows, features] input is numeric (FP32, FP64, INT64...)", t.name, t.datatype)
		}
		nums := t.nums
		if len(t.shape) == 1 && len(features) > 1 {
			return nil, badRequest("input %q: shape %v: the model takes %d features, want [rows, %d] or one input per feature", t.name, t.shape, len(features), len(features))
		}
		n, err := rowsOf(t, len(features), len(nums))
		if err != nil {
			return nil, err
		}
		if n > maxRows {
			return nil, badRequest("%d rows: this server scores at most %d per request", n, maxRows)
		}
		d.Rows = n
		for j := range features {
			vals := make([]float32, n)
			for r := 0; r < n; r++ {
				vals[r] = float32(nums[r*len(features)+j])
			}
			d.Columns[j].Values = vals
		}
		return d, nil
	}
	seen := make([]bool, len(features))
	d.Rows = -1
	for _, t := range req.inputs {
		j, ok := byName[t.name]
		if !ok {
			return nil, badRequest("input %q is not a feature of the model: the features are %s", t.name, featureList(features))
		}
		if seen[j] {
			return nil, badRequest("input %q is given twice", t.name)
		}
		seen[j] = true
		nums, strs := t.nums, t.strs
		leaves := len(nums) + len(strs)
		n, err := rowsOf(t, 1, leaves)
		if err != nil {
			return nil, err
		}
		if n > maxRows {
			return nil, badRequest("%d rows: this server scores at most %d per request", n, maxRows)
		}
		if d.Rows >= 0 && n != d.Rows {
			return nil, badRequest("input %q has %d rows and an earlier input %d: every input has one value per row", t.name, n, d.Rows)
		}
		d.Rows = n
		vals := make([]float32, n)
		f := features[j]
		switch {
		case strs != nil && !f.Categorical:
			return nil, badRequest("input %q: the feature is numeric, got strings", t.name)
		case strs != nil:
			index := sch.categories[j]
			for r, s := range strs {
				if k, ok := index[s]; ok && s != "" {
					vals[r] = float32(k)
				} else {
					vals[r] = float32(math.NaN())
				}
			}
		default:
			for r, x := range nums {
				vals[r] = float32(x)
			}
		}
		d.Columns[j].Values = vals
	}
	var missing []string
	for j, ok := range seen {
		if !ok {
			missing = append(missing, features[j].Name)
		}
	}
	if len(missing) > 0 {
		return nil, badRequest("inputs missing for the features %s: give every feature, with null for a missing value", strings.Join(missing, ", "))
	}
	return d, nil
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
