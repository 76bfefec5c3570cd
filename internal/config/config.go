// Package config reads ferry.yaml, the part of a model repository's setup
// that stays the same between runs: the model's name, how to read its data,
// and how to train it. Flags and action inputs override what it says.
//
// Decoding is strict: an unknown key, a wrong type or a second document is an
// error that names the file and line and says what is valid.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultPath is where stages look for the file when not told.
const DefaultPath = "ferry.yaml"

// File is ferry.yaml.
type File struct {
	// Name is the model's name, used for images and reports.
	Name     string   `yaml:"name"`
	Data     Data     `yaml:"data"`
	Train    Train    `yaml:"train"`
	Evaluate Evaluate `yaml:"evaluate"`
}

// Evaluate says how candidates are judged.
type Evaluate struct {
	// Gates, such as "auc >= 0.8" or "ndcg@10 max-drop 1%".
	Gates      []string `yaml:"gates"`
	Bootstrap  *int     `yaml:"bootstrap"`
	Confidence *float64 `yaml:"confidence"`
	Slice      string   `yaml:"slice"`
}

// Data says where the data is and how to read it.
type Data struct {
	Train       string   `yaml:"train"`
	Valid       string   `yaml:"valid"`
	Test        string   `yaml:"test"`
	Format      string   `yaml:"format"`
	Delimiter   string   `yaml:"delimiter"`
	Header      string   `yaml:"header"`
	Label       string   `yaml:"label"`
	Group       string   `yaml:"group"`
	Categorical []string `yaml:"categorical"`
	Drop        []string `yaml:"drop"`
}

// Train says how to train.
type Train struct {
	Trainer   string `yaml:"trainer"`
	Algorithm string `yaml:"algorithm"`
	Objective string `yaml:"objective"`
	// Params are trainer parameters; values may be written as numbers.
	Params map[string]Scalar `yaml:"params"`
	Seed   *int              `yaml:"seed"`
	Out    string            `yaml:"out"`
}

// Scalar is a YAML scalar kept as the text it was written as.
type Scalar string

// UnmarshalYAML accepts any scalar (a number, a word, true) and refuses lists
// and maps.
func (s *Scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a parameter's value is a single number or word, not a list or map", n.Line)
	}
	*s = Scalar(n.Value)
	return nil
}

// ParamList returns the parameters as key=value, sorted by key.
func (t Train) ParamList() []string {
	var out []string
	for k, v := range t.Params {
		out = append(out, k+"="+string(v))
	}
	slices.Sort(out)
	return out
}

// Load reads and checks a ferry.yaml.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse decodes ferry.yaml's content strictly and validates it.
func Parse(b []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return &f, nil // an empty file sets nothing
		}
		return nil, cleanError(err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("a second YAML document: ferry.yaml holds one")
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

var fieldNotFound = regexp.MustCompile(`field (\S+) not found in type config\.(\w+)`)

// cleanError rewords yaml.v3's messages for people: "line 3: field lable
// not found in type config.Data" becomes "line 3: unknown key "lable" in
// data: valid keys are ...".
func cleanError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var lines []string
	for _, e := range te.Errors {
		if m := fieldNotFound.FindStringSubmatch(e); m != nil {
			section, keys := sectionKeys(m[2])
			e = strings.Replace(e, m[0], fmt.Sprintf("unknown key %q in %s: valid keys are %s", m[1], section, keys), 1)
		}
		e = strings.ReplaceAll(e, "!!str", "text")
		e = strings.ReplaceAll(e, "!!int", "a number")
		e = strings.ReplaceAll(e, "!!seq", "a list")
		e = strings.ReplaceAll(e, "!!map", "a map")
		lines = append(lines, e)
	}
	return errors.New(strings.Join(lines, "; "))
}

func sectionKeys(typ string) (string, string) {
	switch typ {
	case "Data":
		return "data", "train, valid, test, format, delimiter, header, label, group, categorical, drop"
	case "Train":
		return "train", "trainer, algorithm, objective, params, seed, out"
	case "Evaluate":
		return "evaluate", "gates, bootstrap, confidence, slice"
	}
	return "the top level", "name, data, train, evaluate"
}

// Validate checks values that YAML's types cannot.
func (f *File) Validate() error {
	check := func(key, value string, valid ...string) error {
		if value == "" {
			return nil
		}
		for _, v := range valid {
			if value == v {
				return nil
			}
		}
		return fmt.Errorf("%s: %q is not valid: want one of %s", key, value, strings.Join(valid, ", "))
	}
	return errors.Join(
		check("data.format", f.Data.Format, "csv", "tsv", "libsvm"),
		check("data.header", f.Data.Header, "auto", "true", "false"),
		check("train.trainer", f.Train.Trainer, "builtin", "command"),
		check("train.algorithm", f.Train.Algorithm, "gbdt", "mlp", "logistic"),
		check("train.objective", f.Train.Objective, "binary", "regression", "lambdarank"),
	)
}
