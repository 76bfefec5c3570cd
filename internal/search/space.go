package search

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Dim is one searched parameter: a list of values, or a range of numbers.
type Dim struct {
	Name   string
	Values []string // the choices of a list; nil for a range
	// A range: from Min to Max, on a log scale when Log, whole numbers
	// when Int.
	Min, Max float64
	Log, Int bool
}

// Space is the searched parameters, sorted by name.
type Space []Dim

// Names lists the parameters.
func (s Space) Names() []string {
	out := make([]string, len(s))
	for i, d := range s {
		out[i] = d.Name
	}
	return out
}

// String is the dimension as ferry.yaml would write it.
func (d Dim) String() string {
	if d.Values != nil {
		return "[" + strings.Join(d.Values, ", ") + "]"
	}
	s := fmt.Sprintf("%s to %s", num(d.Min), num(d.Max))
	if d.Log {
		s += ", log"
	}
	return s
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// format writes a range's value the way the trainer reads it.
func (d Dim) format(x float64) string {
	if d.Int {
		return strconv.FormatInt(int64(math.Round(x)), 10)
	}
	return strconv.FormatFloat(x, 'g', 6, 64)
}

// DimSpec is one parameter of ferry.yaml's train.search.space: a list of
// values, or a map {min, max, scale, type}.
type DimSpec struct {
	Values []string
	Min    *float64 `yaml:"min"`
	Max    *float64 `yaml:"max"`
	Scale  string   `yaml:"scale"` // linear (default) or log
	Type   string   `yaml:"type"`  // int or float; default: what the trainer takes
	Line   int      `yaml:"-"`
}

// UnmarshalYAML takes a list of scalars or a map of min, max, scale, type.
func (d *DimSpec) UnmarshalYAML(n *yaml.Node) error {
	d.Line = n.Line
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a searched value is a number or a word, not a list or map", c.Line)
			}
			d.Values = append(d.Values, c.Value)
		}
		if d.Values == nil {
			d.Values = []string{}
		}
		return nil
	case yaml.MappingNode:
		type plain DimSpec // without this method
		var p plain
		dec := n.Decode
		if err := dec(&p); err != nil {
			return err
		}
		p.Line = n.Line
		*d = DimSpec(p)
		return nil
	}
	return fmt.Errorf("line %d: a searched parameter is a list of values, such as [4, 6, 8], or a range, such as {min: 0.01, max: 0.3, scale: log}", n.Line)
}

// SpecError is a search space or budget that cannot be searched; Key is
// the ferry.yaml key or the flag, as the user wrote it.
type SpecError struct {
	Key  string
	Line int // in ferry.yaml; 0 when not from the file
	Msg  string
}

func (e *SpecError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Key, e.Line, e.Msg)
	}
	return e.Key + ": " + e.Msg
}

// BadInput marks the error as the caller's mistake (exit code 2).
func (e *SpecError) BadInput() {}

// ParseSpace checks ferry.yaml's space and turns it into a Space. key is
// the space's own key ("ferry.yaml train.search.space"); set tries a value
// on the trainer, so that a parameter it does not know, or a value it
// refuses, is an error here, and so that a range of a parameter the
// trainer takes only in whole numbers is searched in whole numbers.
func ParseSpace(key string, specs map[string]DimSpec, set func(name, value string) error) (Space, error) {
	var s Space
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		d, err := parseDim(name, specs[name], set)
		if err != nil {
			return nil, &SpecError{Key: key + "." + name, Line: specs[name].Line, Msg: err.Error()}
		}
		s = append(s, d)
	}
	if len(s) == 0 {
		return nil, &SpecError{Key: key, Msg: "no parameter to search: name at least one, such as learning-rate: {min: 0.01, max: 0.3, scale: log}"}
	}
	return s, nil
}

func parseDim(name string, sp DimSpec, set func(name, value string) error) (Dim, error) {
	d := Dim{Name: name}
	if sp.Values != nil {
		if sp.Min != nil || sp.Max != nil || sp.Scale != "" || sp.Type != "" {
			return d, fmt.Errorf("a list or a range, not both")
		}
		if len(sp.Values) == 0 {
			return d, fmt.Errorf("an empty list: give at least one value")
		}
		seen := map[string]bool{}
		for _, v := range sp.Values {
			if seen[v] {
				return d, fmt.Errorf("%s is listed twice", v)
			}
			seen[v] = true
			if err := set(name, v); err != nil {
				return d, err
			}
		}
		d.Values = sp.Values
		return d, nil
	}
	if sp.Min == nil || sp.Max == nil {
		return d, fmt.Errorf("a range needs min and max, such as {min: 0.01, max: 0.3}; or give a list of values")
	}
	d.Min, d.Max = *sp.Min, *sp.Max
	switch {
	case math.IsNaN(d.Min) || math.IsNaN(d.Max) || math.IsInf(d.Min, 0) || math.IsInf(d.Max, 0):
		return d, fmt.Errorf("min and max are finite numbers")
	case d.Min > d.Max:
		return d, fmt.Errorf("min %s is above max %s", num(d.Min), num(d.Max))
	}
	switch sp.Scale {
	case "", "linear":
	case "log":
		if d.Min <= 0 {
			return d, fmt.Errorf("a log scale needs min above 0, not %s", num(d.Min))
		}
		d.Log = true
	default:
		return d, fmt.Errorf("scale %q: want linear or log", sp.Scale)
	}
	switch sp.Type {
	case "int":
		d.Int = true
	case "float":
	case "":
		d.Int = wholeOnly(name, d, set)
	default:
		return d, fmt.Errorf("type %q: want int or float", sp.Type)
	}
	if d.Int && (d.Min != math.Trunc(d.Min) || d.Max != math.Trunc(d.Max)) {
		return d, fmt.Errorf("whole numbers from %s to %s: min and max are whole numbers too", num(d.Min), num(d.Max))
	}
	for _, x := range []float64{d.Min, d.Max} {
		if err := set(name, d.format(x)); err != nil {
			return d, err
		}
	}
	return d, nil
}

// wholeOnly reports whether the trainer takes the parameter in whole
// numbers only: the range's ends are whole numbers, and the trainer refuses
// a fraction between them while it takes the whole number next to it.
func wholeOnly(name string, d Dim, set func(name, value string) error) bool {
	if d.Min != math.Trunc(d.Min) || d.Max != math.Trunc(d.Max) || d.Max-d.Min < 1 {
		return false
	}
	w := math.Floor((d.Min + d.Max) / 2)
	if w+0.5 > d.Max {
		w--
	}
	whole := strconv.FormatFloat(w, 'f', -1, 64)
	frac := strconv.FormatFloat(w+0.5, 'f', -1, 64)
	return set(name, frac) != nil && set(name, whole) == nil
}
