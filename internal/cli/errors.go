package cli

import (
	"errors"
	"fmt"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/version"
)

// Exit codes.
const (
	ExitOK      = 0 // done, gates passed
	ExitFailure = 1 // the work failed, or a gate did
	ExitUsage   = 2 // bad flags or inputs, or a command this build does not have
)

// UsageError is a mistake in how ferry was called.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// NotAvailableError says a stage is declared but not implemented in this build.
type NotAvailableError struct{ Command string }

func (e *NotAvailableError) Error() string {
	return fmt.Sprintf("%s is not available in ferry %s yet: its flags and inputs were checked, nothing was run", e.Command, version.Version)
}

// ExitCode maps an error to the process's exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		ue  *UsageError
		ie  *input.Error
		na  *NotAvailableError
		bad interface{ BadInput() }
	)
	if errors.As(err, &ue) || errors.As(err, &ie) || errors.As(err, &na) || errors.As(err, &bad) {
		return ExitUsage
	}
	return ExitFailure
}
