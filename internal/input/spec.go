package input

import (
	"fmt"
	"regexp"
	"strings"
)

// Kind is the type of a parameter's value.
type Kind int

// The kinds of values a parameter can hold.
const (
	String   Kind = iota // any text
	Bool                 // true or false (YAML 1.2 core spellings)
	Int                  // a whole number
	Float                // a decimal number
	Duration             // a Go duration such as 90s or 10m
	Enum                 // one of Spec.Values
	List                 // one item per line (a repeated flag on the command line)
)

var kindNames = map[Kind]string{
	String: "string", Bool: "bool", Int: "int", Float: "float",
	Duration: "duration", Enum: "enum", List: "list",
}

// String returns the kind's name as documentation shows it.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Surface says where a parameter can be given.
type Surface int

// Where a parameter appears.
const (
	Everywhere Surface = iota // a flag and an action input
	FlagOnly                  // only on the command line
	InputOnly                 // only as an action input (a token, say)
)

// Spec declares one parameter. Name is kebab-case and is both the flag name
// (--name) and the action input name. Default is written as a user would type
// it and must itself be valid for Kind.
type Spec struct {
	Name     string
	Kind     Kind
	Default  string
	Required bool
	// Secret values are masked in the Actions log as soon as they are read.
	Secret bool
	// Values lists the valid values of an Enum.
	Values []string
	// Comma lets a List also be written as comma-separated items on one line.
	Comma bool
	// Usage is one sentence that says what the parameter does.
	Usage   string
	Surface Surface
}

// Flag reports whether the spec appears on the command line.
func (s Spec) Flag() bool { return s.Surface != InputOnly }

// Input reports whether the spec appears as an action input.
func (s Spec) Input() bool { return s.Surface != FlagOnly }

// Description is the usage sentence followed by what is valid, as --help and
// action.yml show it.
func (s Spec) Description() string {
	d := s.Usage
	switch s.Kind {
	case Enum:
		d += " One of: " + strings.Join(s.Values, ", ") + "."
	case List:
		if s.Comma {
			d += " One item per line, or comma-separated."
		} else {
			d += " One item per line."
		}
	case Duration:
		d += " A duration such as 90s or 10m."
	}
	return d
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Validate checks a set of specs for mistakes a developer could make: bad or
// repeated names, an enum without values, a default that its own kind rejects.
func Validate(specs []Spec) error {
	seen := map[string]bool{}
	for _, s := range specs {
		if !nameRE.MatchString(s.Name) {
			return fmt.Errorf("parameter %q: name must be kebab-case", s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("parameter %q: declared twice", s.Name)
		}
		seen[s.Name] = true
		if s.Usage == "" {
			return fmt.Errorf("parameter %q: usage is empty", s.Name)
		}
		if s.Kind == Enum && len(s.Values) == 0 {
			return fmt.Errorf("parameter %q: enum without values", s.Name)
		}
		if s.Required && s.Default != "" {
			return fmt.Errorf("parameter %q: required parameters take no default", s.Name)
		}
		if s.Default != "" {
			if _, err := parse(s, s.Default); err != nil {
				return fmt.Errorf("parameter %q: default %q: %s", s.Name, s.Default, err.Want)
			}
		}
	}
	return nil
}
