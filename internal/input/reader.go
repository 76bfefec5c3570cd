package input

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Source yields the raw text a user gave for each parameter.
type Source interface {
	// Lookup returns the raw value given for the named parameter and whether
	// one was given at all.
	Lookup(name string) (value string, ok bool)
	// Describe names the parameter the way the user wrote it, for example
	// "--replicas" or `input "replicas"`.
	Describe(name string) string
}

// Error is a value a user gave that ferry cannot use, or a required parameter
// that is missing. Its message names the parameter and says what is valid.
type Error struct {
	Param string // as Source.Describe names it
	// Name is the parameter's declared name, for errors made where the
	// front end is not known (a stage's Validate): Param empty, the message
	// names it as a flag until Rename names it as the user met it.
	Name    string
	Value   string // the raw value, empty when Missing
	Want    string // what would be valid
	Missing bool
}

func (e *Error) Error() string { return e.named(cmp.Or(e.Param, "--"+e.Name)) }

func (e *Error) named(param string) string {
	if e.Missing {
		return fmt.Sprintf("%s is required: %s", param, e.Want)
	}
	return fmt.Sprintf("%s: %q is not valid: want %s", param, e.Value, e.Want)
}

// Reader reads typed values from a Source. Each accessor returns the zero value
// on a problem and records an *Error; Err returns them all. Secret values are
// handed to the mask function (if any) before they are returned.
//
// Reading a name that was not declared, or reading it as another kind, is a
// programming mistake; it is recorded as an error too rather than panicking.
type Reader struct {
	src   Source
	specs map[string]Spec
	mask  func(string)
	errs  []error
}

// NewReader returns a Reader of the given specs from src. mask may be nil.
func NewReader(src Source, specs []Spec, mask func(secret string)) *Reader {
	m := make(map[string]Spec, len(specs))
	for _, s := range specs {
		m[s.Name] = s
	}
	return &Reader{src: src, specs: m, mask: mask}
}

// Err returns every problem met so far, joined, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// Describe names a parameter the way the user gave it ("--x" or `input "x"`).
func (r *Reader) Describe(name string) string { return r.src.Describe(name) }

// Given reports whether the user gave the parameter a non-empty value.
func (r *Reader) Given(name string) bool {
	v, ok := r.src.Lookup(name)
	return ok && strings.TrimSpace(v) != ""
}

// String returns a String parameter.
func (r *Reader) String(name string) string {
	v, _ := r.read(name, String).(string)
	return v
}

// Enum returns an Enum parameter, always one of its declared values.
func (r *Reader) Enum(name string) string {
	v, _ := r.read(name, Enum).(string)
	return v
}

// Bool returns a Bool parameter.
func (r *Reader) Bool(name string) bool {
	v, _ := r.read(name, Bool).(bool)
	return v
}

// Int returns an Int parameter.
func (r *Reader) Int(name string) int {
	v, _ := r.read(name, Int).(int)
	return v
}

// Float returns a Float parameter.
func (r *Reader) Float(name string) float64 {
	v, _ := r.read(name, Float).(float64)
	return v
}

// Duration returns a Duration parameter.
func (r *Reader) Duration(name string) time.Duration {
	v, _ := r.read(name, Duration).(time.Duration)
	return v
}

// List returns a List parameter: its non-empty lines (and comma-separated
// items when the spec allows), trimmed, without lines that start with '#'.
func (r *Reader) List(name string) []string {
	v, _ := r.read(name, List).([]string)
	return v
}

func (r *Reader) read(name string, want Kind) any {
	spec, ok := r.specs[name]
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("internal error: parameter %q is read but not declared", name))
		return nil
	}
	if spec.Kind != want {
		r.errs = append(r.errs, fmt.Errorf("internal error: parameter %q is declared %s but read as %s", name, spec.Kind, want))
		return nil
	}
	raw, _ := r.src.Lookup(name)
	if spec.Secret && r.mask != nil && raw != "" {
		r.mask(raw)
		for _, line := range strings.Split(raw, "\n") {
			if line = strings.TrimSpace(line); line != "" && line != raw {
				r.mask(line)
			}
		}
	}
	if strings.TrimSpace(raw) == "" && !isExpression(spec.Default) {
		// A default such as ${{ github.token }} is the runner's to
		// evaluate: when the input arrives empty (github-token: '', a
		// missing secret), it is empty, never that text.
		raw = spec.Default
	}
	if strings.TrimSpace(raw) == "" {
		if spec.Required {
			r.errs = append(r.errs, &Error{Param: r.src.Describe(name), Missing: true, Want: spec.Description()})
			return nil
		}
		v, _ := parse(spec, "")
		return v
	}
	v, perr := parse(spec, raw)
	if perr != nil {
		shown := raw
		if spec.Secret {
			shown = "***"
		}
		r.errs = append(r.errs, &Error{Param: r.src.Describe(name), Value: shown, Want: perr.Want})
		return nil
	}
	return v
}

type parseError struct{ Want string }

// parse converts raw text to the spec's kind. Empty text parses to the kind's
// zero value.
func parse(spec Spec, raw string) (any, *parseError) {
	s := strings.TrimSpace(raw)
	switch spec.Kind {
	case String:
		return s, nil
	case Enum:
		if s == "" {
			return "", nil
		}
		if !slices.Contains(spec.Values, s) {
			return nil, &parseError{"one of " + strings.Join(spec.Values, ", ")}
		}
		return s, nil
	case Bool:
		switch s {
		case "", "false", "False", "FALSE":
			return false, nil
		case "true", "True", "TRUE":
			return true, nil
		}
		return nil, &parseError{"true or false"}
	case Int:
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, &parseError{"a whole number such as 3"}
		}
		return n, nil
	case Float:
		if s == "" {
			return 0.0, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != f {
			return nil, &parseError{"a number such as 0.5"}
		}
		return f, nil
	case Duration:
		if s == "" {
			return time.Duration(0), nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, &parseError{"a duration such as 90s, 10m or 1h30m"}
		}
		return d, nil
	case List:
		var items []string
		for _, line := range strings.Split(raw, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !spec.Comma {
				items = append(items, line)
				continue
			}
			for _, item := range strings.Split(line, ",") {
				if item = strings.TrimSpace(item); item != "" {
					items = append(items, item)
				}
			}
		}
		return items, nil
	}
	return nil, &parseError{"a known kind"}
}

// isExpression reports whether a default is a GitHub Actions expression,
// which only the runner evaluates.
func isExpression(def string) bool {
	return strings.HasPrefix(strings.TrimSpace(def), "${{")
}
