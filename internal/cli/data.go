package cli

import (
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
		Drop:        in.List("drop"),
	}
	if h := in.Enum("header"); h != "auto" {
		o.Header = h
	}
	switch d := in.String("delimiter"); {
	case d == "":
	case d == "tab" || d == `\t`:
		o.Delimiter = '\t'
	case utf8.RuneCountInString(d) == 1 && d != "\"" && d != "\n" && d != "\r":
		o.Delimiter, _ = utf8.DecodeRuneInString(d)
	default:
		return o, &input.Error{Param: in.Describe("delimiter"), Value: d, Want: "one character such as ; or |, or tab"}
	}
	return o, nil
}

// notYet is a feature of a command that this build does not have.
func notYet(what string) error { return &NotAvailableError{Command: what} }
