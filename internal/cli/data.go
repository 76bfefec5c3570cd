package cli

import (
	"errors"
	"unicode/utf8"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
)

// readOptions reads the data flags that train, predict and evaluate share.
func readOptions(in *input.Reader) (data.Options, error) {
	o := data.Options{
		Format:      data.Format(in.Enum("format")),
		Label:       in.String("label"),
		Group:       in.String("group"),
		Categorical: in.List("categorical"),
		Drop:        in.List("drop"), Partitions: in.Bool("partitions"),
	}
	if h := in.Enum("header"); h != "auto" {
		o.Header = h
	}
	d, err := parseDelimiter(in.String("delimiter"))
	if err != nil {
		return o, &input.Error{Param: in.Describe("delimiter"), Value: in.String("delimiter"), Want: err.Error()}
	}
	o.Delimiter = d
	return o, nil
}

// parseDelimiter reads a delimiter: one character, or "tab"; "" is none.
func parseDelimiter(d string) (rune, error) {
	switch {
	case d == "":
		return 0, nil
	case d == "tab" || d == `\t`:
		return '\t', nil
	case utf8.RuneCountInString(d) == 1 && d != "\"" && d != "\n" && d != "\r":
		r, _ := utf8.DecodeRuneInString(d)
		return r, nil
	}
	return 0, errors.New("one character such as ; or |, or tab")
}

// notYet is a feature of a command that this build does not have.
func notYet(what string) error { return &NotAvailableError{Command: what} }
