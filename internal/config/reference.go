package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Reference renders the ferry.yaml reference (docs/configuration.md) from
// the File type itself: every key, its type and its doc tag. A test fails
// when a key has no description or the file in docs/ drifts from this.
func Reference() string {
	var b strings.Builder
	b.WriteString("# ferry.yaml reference\n\n")
	b.WriteString("<!-- Generated from internal/config by `make generate`; a test fails when it drifts. -->\n\n")
	b.WriteString("`ferry.yaml` at the root of a model repository holds what stays the same between runs. Flags and action\n")
	b.WriteString("inputs override it (the flag each key corresponds to is in parentheses). Decoding is strict: an unknown key,\n")
	b.WriteString("a wrong type or a second YAML document is an error that names the line. `ferry init` writes a commented one.\n\n")
	t := reflect.TypeOf(File{})
	b.WriteString("| key | type | description |\n|---|---|---|\n")
	var sections []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct {
			sections = append(sections, f)
			continue
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", yamlKey(f), typeName(f.Type), f.Tag.Get("doc"))
	}
	for len(sections) > 0 {
		s := sections[0]
		sections = sections[1:]
		key := yamlKey(s)
		fmt.Fprintf(&b, "\n## `%s:`\n\n%s\n\n| key | type | description |\n|---|---|---|\n", key, s.Tag.Get("doc"))
		for i := range s.Type.NumField() {
			f := s.Type.Field(i)
			if f.Type.Kind() == reflect.Struct {
				f.Tag = reflect.StructTag(fmt.Sprintf(`yaml:"%s.%s" doc:%q`, key, yamlKey(f), f.Tag.Get("doc")))
				sections = append(sections, f)
				continue
			}
			fmt.Fprintf(&b, "| `%s.%s` | %s | %s |\n", key, yamlKey(f), typeName(f.Type), f.Tag.Get("doc"))
		}
	}
	return b.String()
}

// undocumented lists keys without a doc tag.
func undocumented() []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			key := prefix + yamlKey(f)
			if f.Tag.Get("doc") == "" {
				out = append(out, key)
			}
			if f.Type.Kind() == reflect.Struct {
				walk(key+".", f.Type)
			}
		}
	}
	walk("", reflect.TypeOf(File{}))
	return out
}

func yamlKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return k
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Int:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Struct:
		if t.Name() == "DimSpec" {
			return "list or range"
		}
	case reflect.String:
		if t.Name() == "Scalar" {
			return "scalar"
		}
		return "string"
	}
	return t.Kind().String()
}
