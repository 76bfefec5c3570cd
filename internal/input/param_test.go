package input_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ferry-ml/ferry/internal/input"
)

// A ParamError names its parameter as a flag until a front end renames it
// as the user met it: wrapped, joined, or alone; what errors.As finds is
// the same before and after.
func TestRename(t *testing.T) {
	asInput := func(name string) string { return fmt.Sprintf("input %q", name) }
	group := input.Paramf("group", "lambdarank needs query groups: name their column with %s")
	wrapped := fmt.Errorf("train.csv: %w", group)
	if got, want := wrapped.Error(), "train.csv: lambdarank needs query groups: name their column with --group"; got != want {
		t.Errorf("as a flag: %q, want %q", got, want)
	}
	renamed := input.Rename(wrapped, asInput)
	if got, want := renamed.Error(), `train.csv: lambdarank needs query groups: name their column with input "group"`; got != want {
		t.Errorf("as an input: %q, want %q", got, want)
	}
	var pe *input.ParamError
	if !errors.As(renamed, &pe) || pe != group {
		t.Error("the renamed error does not unwrap to the ParamError")
	}
	joined := input.Rename(errors.Join(errors.New("other"), input.Paramf("out", "no output directory: give one with %s")), asInput)
	j, ok := joined.(interface{ Unwrap() []error })
	if !ok || len(j.Unwrap()) != 2 || j.Unwrap()[1].Error() != `no output directory: give one with input "out"` {
		t.Errorf("joined: %v", joined)
	}
	plain := errors.New("no parameter here")
	if input.Rename(plain, asInput) != plain || input.Rename(nil, asInput) != nil {
		t.Error("an error without a ParamError changed")
	}
	// A value with a % in it stays as written.
	if got := input.Paramf("data", "the file 100%% done.csv: give another with %s").Error(); got != "the file 100% done.csv: give another with --data" {
		t.Errorf("escaped: %q", got)
	}
}

// An Error made by a stage names its parameter by declared name: a flag
// until renamed.
func TestRenameError(t *testing.T) {
	e := &input.Error{Name: "bootstrap", Value: "-1", Want: "a number of resamples from 0 to 100000"}
	if got := e.Error(); got != `--bootstrap: "-1" is not valid: want a number of resamples from 0 to 100000` {
		t.Errorf("as a flag: %q", got)
	}
	got := input.Rename(fmt.Errorf("evaluate: %w", e), func(n string) string { return fmt.Sprintf("input %q", n) })
	if want := `evaluate: input "bootstrap": "-1" is not valid: want a number of resamples from 0 to 100000`; got.Error() != want {
		t.Errorf("as an input: %q, want %q", got, want)
	}
	var ie *input.Error
	if !errors.As(got, &ie) || ie != e {
		t.Error("the renamed error does not unwrap to the Error")
	}
}
