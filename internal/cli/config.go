package cli

import (
	"errors"
	"os"

	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
)

// loadConfig reads the ferry.yaml named by --config, or ./ferry.yaml when it
// exists and none is named. It returns nil when there is none.
func loadConfig(path string) (*config.File, error) {
	if path == "" {
		if _, err := os.Stat(config.DefaultPath); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		path = config.DefaultPath
	}
	f, err := config.Load(path)
	if err != nil {
		return nil, &UsageError{Err: err} // a mistake in ferry.yaml is the caller's, like a bad flag
	}
	return f, nil
}

// overlay picks, for each parameter, the flag or input when the user gave
// one, else ferry.yaml's value when it has one, else the flag's default.
type overlay struct{ in *input.Reader }

func (o overlay) str(name, given, file string) string {
	if o.in.Given(name) || file == "" {
		return given
	}
	return file
}

func (o overlay) list(name string, given, file []string) []string {
	if o.in.Given(name) || len(file) == 0 {
		return given
	}
	return file
}

// dataOptions lays ferry.yaml's data section under the data flags.
func (o overlay) dataOptions(opts data.Options, f config.Data) (data.Options, error) {
	opts.Format = data.Format(o.str("format", string(opts.Format), f.Format))
	opts.Label = o.str("label", opts.Label, f.Label)
	opts.Group = o.str("group", opts.Group, f.Group)
	opts.Categorical = o.list("categorical", opts.Categorical, f.Categorical)
	opts.Drop = o.list("drop", opts.Drop, f.Drop)
	if h := o.str("header", opts.Header, f.Header); h != "auto" {
		opts.Header = h
	}
	if !o.in.Given("delimiter") && f.Delimiter != "" {
		d, err := parseDelimiter(f.Delimiter)
		if err != nil {
			return opts, &input.Error{Param: "ferry.yaml data.delimiter", Value: f.Delimiter, Want: err.Error()}
		}
		opts.Delimiter = d
	}
	return opts, nil
}
