package input

import (
	"strings"

	"github.com/spf13/pflag"
)

// AddFlags registers a flag for every spec that appears on the command line.
// Every flag holds text; the Reader gives it its type, so a wrong value gets
// the same message as a wrong action input. A List becomes a repeatable flag
// and a Bool may be given without a value (--force).
func AddFlags(fs *pflag.FlagSet, specs []Spec) {
	for _, s := range specs {
		if !s.Flag() {
			continue
		}
		usage := s.Description()
		if s.Required {
			usage += " (required)"
		}
		if s.Kind == List {
			v := &listValue{}
			if s.Default != "" {
				usage += " (default " + s.Default + ")"
			}
			fs.Var(v, s.Name, usage+" Repeat the flag for more.")
			continue
		}
		f := fs.VarPF(&textValue{kind: s.Kind, text: s.Default}, s.Name, "", usage)
		f.DefValue = s.Default
		if s.Kind == Bool {
			f.NoOptDefVal = "true"
		}
	}
}

// textValue holds a flag's text unparsed; Type names its kind for --help.
type textValue struct {
	kind Kind
	text string
}

func (v *textValue) String() string     { return v.text }
func (v *textValue) Set(s string) error { v.text = s; return nil }
func (v *textValue) Type() string {
	if v.kind == String || v.kind == Enum {
		return "string"
	}
	return v.kind.String()
}

// listValue collects a repeatable flag's values.
type listValue struct{ items []string }

func (v *listValue) String() string               { return strings.Join(v.items, ",") }
func (v *listValue) Set(s string) error           { v.items = append(v.items, s); return nil }
func (v *listValue) Type() string                 { return "list" }
func (v *listValue) Append(s string) error        { return v.Set(s) }
func (v *listValue) Replace(items []string) error { v.items = items; return nil }
func (v *listValue) GetSlice() []string           { return v.items }

// FlagSource reads parameters from a parsed flag set. Flags the user did not
// set count as not given, so the spec's default applies.
type FlagSource struct{ FlagSet *pflag.FlagSet }

// Lookup implements Source. A repeated flag's values are joined by newlines,
// the way a multi-line action input arrives.
func (s FlagSource) Lookup(name string) (string, bool) {
	f := s.FlagSet.Lookup(name)
	if f == nil || !f.Changed {
		return "", false
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return strings.Join(sv.GetSlice(), "\n"), true
	}
	return f.Value.String(), true
}

// Describe implements Source: "--name".
func (s FlagSource) Describe(name string) string { return "--" + name }

// MapSource reads parameters from a map; Describe names them as flags. It is
// for tests and for values that come from a file.
type MapSource map[string]string

// Lookup implements Source.
func (m MapSource) Lookup(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}

// Describe implements Source.
func (m MapSource) Describe(name string) string { return "--" + name }
