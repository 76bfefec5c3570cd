package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/ferry-ml/ferry/internal/data"
)

// InferRequest is the Open Inference Protocol's request body.
type InferRequest struct {
	ID         string          `json:"id,omitempty"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	Inputs     []InferTensor   `json:"inputs"`
	Outputs    []struct {
		Name string `json:"name"`
	} `json:"outputs,omitempty"`
}

// InferTensor is one input or output tensor. Data is row-major, flat or
// nested as the protocol allows.
type InferTensor struct {
	Name     string          `json:"name"`
	Shape    []int64         `json:"shape"`
	Datatype string          `json:"datatype"`
	Data     json.RawMessage `json:"data,omitempty"`
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

// flatten decodes a tensor's data, flat or nested, into leaves: numbers (and
// booleans, as 0 and 1) for numeric datatypes, strings for BYTES.
func flatten(t InferTensor) (nums []float64, strs []string, err error) {
	if nums, ok := fastNumbers(t); ok {
		return nums, nil, nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(t.Data)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, nil, badRequest("input %q: data is not JSON: %v", t.Name, err)
	}
	var walk func(any) error
	walk = func(x any) error {
		switch x := x.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case json.Number:
			if t.Datatype == "BYTES" {
				return badRequest("input %q: datatype BYTES wants strings, got the number %s", t.Name, x)
			}
			f, err := x.Float64()
			if err != nil || math.IsInf(f, 0) {
				return badRequest("input %q: %s is not a finite number", t.Name, x)
			}
			nums = append(nums, f)
		case bool:
			if t.Datatype != "BOOL" {
				return badRequest("input %q: datatype %s wants numbers, got a boolean", t.Name, t.Datatype)
			}
			if x {
				nums = append(nums, 1)
			} else {
				nums = append(nums, 0)
			}
		case string:
			if t.Datatype != "BYTES" {
				return badRequest("input %q: datatype %s wants numbers, got the string %q", t.Name, t.Datatype, x)
			}
			strs = append(strs, x)
		case nil:
			if t.Datatype == "BYTES" {
				strs = append(strs, "")
			} else {
				nums = append(nums, math.NaN()) // null: a missing value
			}
		default:
			return badRequest("input %q: data holds %T; want numbers, strings or nested lists of them", t.Name, x)
		}
		return nil
	}
	if err := walk(v); err != nil {
		return nil, nil, err
	}
	return nums, strs, nil
}

// fastNumbers decodes the common case, a numeric tensor without nulls,
// flat or one level nested, straight into float64s (the generic walk above
// costs several times more); ok is false when the data is anything else.
func fastNumbers(t InferTensor) ([]float64, bool) {
	if !numeric(t.Datatype) || t.Datatype == "BOOL" || strings.Contains(string(t.Data), "null") {
		return nil, false
	}
	var flat []float64
	if json.Unmarshal(t.Data, &flat) == nil {
		return flat, true
	}
	var nested [][]float64
	if json.Unmarshal(t.Data, &nested) != nil {
		return nil, false
	}
	flat = flat[:0] // the failed flat decode may have left values behind
	for _, r := range nested {
		flat = append(flat, r...)
	}
	return flat, true
}

// rows is the number of rows a tensor's shape says it holds, after checking
// that its data has the shape's size.
func rowsOf(t InferTensor, want int, leaves int) (int, error) {
	if len(t.Shape) == 0 || len(t.Shape) > 2 {
		return 0, badRequest("input %q: shape %v: want [rows] or [rows, columns]", t.Name, t.Shape)
	}
	size := int64(1)
	for _, d := range t.Shape {
		if d < 0 || d > 1<<31 {
			return 0, badRequest("input %q: shape %v has a bad dimension", t.Name, t.Shape)
		}
		size *= d
	}
	if size != int64(leaves) {
		return 0, badRequest("input %q: shape %v holds %d values, data has %d", t.Name, t.Shape, size, leaves)
	}
	cols := int64(1)
	if len(t.Shape) == 2 {
		cols = t.Shape[1]
	}
	if cols != int64(want) {
		return 0, badRequest("input %q: %d columns, want %d", t.Name, cols, want)
	}
	return int(t.Shape[0]), nil
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
func decode(req *InferRequest, features []data.Feature, maxRows int) (*data.Dataset, error) {
	if len(req.Inputs) == 0 {
		return nil, badRequest("no inputs: want one input of shape [rows, %d] or one input per feature (%s)", len(features), featureList(features))
	}
	d := &data.Dataset{Columns: make([]data.Column, len(features))}
	for i, f := range features {
		d.Columns[i] = data.Column{Name: f.Name, Categorical: f.Categorical, Categories: f.Categories}
	}
	byName := map[string]int{}
	for i, f := range features {
		byName[f.Name] = i
	}
	if _, named := byName[req.Inputs[0].Name]; len(req.Inputs) == 1 && (len(features) > 1 || !named) {
		t := req.Inputs[0]
		if !numeric(t.Datatype) {
			return nil, badRequest("input %q: datatype %q: a [rows, features] input is numeric (FP32, FP64, INT64...)", t.Name, t.Datatype)
		}
		nums, _, err := flatten(t)
		if err != nil {
			return nil, err
		}
		if len(t.Shape) == 1 && len(features) > 1 {
			return nil, badRequest("input %q: shape %v: the model takes %d features, want [rows, %d] or one input per feature", t.Name, t.Shape, len(features), len(features))
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
	for _, t := range req.Inputs {
		j, ok := byName[t.Name]
		if !ok {
			return nil, badRequest("input %q is not a feature of the model: the features are %s", t.Name, featureList(features))
		}
		if seen[j] {
			return nil, badRequest("input %q is given twice", t.Name)
		}
		seen[j] = true
		if t.Datatype != "BYTES" && !numeric(t.Datatype) {
			return nil, badRequest("input %q: unknown datatype %q", t.Name, t.Datatype)
		}
		nums, strs, err := flatten(t)
		if err != nil {
			return nil, err
		}
		leaves := len(nums) + len(strs)
		n, err := rowsOf(t, 1, leaves)
		if err != nil {
			return nil, err
		}
		if n > maxRows {
			return nil, badRequest("%d rows: this server scores at most %d per request", n, maxRows)
		}
		if d.Rows >= 0 && n != d.Rows {
			return nil, badRequest("input %q has %d rows and an earlier input %d: every input has one value per row", t.Name, n, d.Rows)
		}
		d.Rows = n
		vals := make([]float32, n)
		f := features[j]
		switch {
		case strs != nil && !f.Categorical:
			return nil, badRequest("input %q: the feature is numeric, got strings", t.Name)
		case strs != nil:
			index := map[string]int{}
			for k, c := range f.Categories {
				index[c] = k
			}
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
