package cli

import (
	"errors"
	"fmt"

	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/version"
)

// Exit codes, the same for every command and action (README.md, "Exit
// codes"), so a workflow can tell a worse model from a broken pipeline.
const (
	ExitOK    = 0 // done, gates passed
	ExitGate  = 1 // a gate failed: the model is worse; or monitor found drift
	ExitUsage = 2 // bad flags, inputs or ferry.yaml, or a command this build does not have
	ExitError = 3 // the pipeline failed: a registry, cluster, API, file or training command
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
		pe  *input.ParamError
		na  *NotAvailableError
		bad interface{ BadInput() }
	)
	var (
		gate  *compare.GateError
		drift *monitor.DriftError
	)
	switch {
	case errors.As(err, &ue) || errors.As(err, &ie) || errors.As(err, &na) || errors.As(err, &bad) || errors.As(err, &pe) && pe.Usage:
		return ExitUsage
	case errors.As(err, &gate) || errors.As(err, &drift):
		return ExitGate
	}
	return ExitError
}
