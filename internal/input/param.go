package input

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ParamError is a problem found below the front ends, in a stage or a
// library, that the user fixes with a parameter, which code there knows only
// by its declared name. Format holds one %s for the parameter: its message
// names it as a flag ("--group"); Rename names it as the user met it, a
// flag on the command line or an input in an action.
type ParamError struct {
	Name   string // the parameter's declared name, such as "group"
	Format string // the message, with %s where the parameter goes
	// Usage marks a mistake in how ferry was called, whatever the data
	// (exit code 2, as a bad flag); without it the parameter is the fix
	// for a problem met in the data or the world.
	Usage bool
}

// Paramf returns a ParamError for the parameter name; format has one %s
// for it, such as "lambdarank needs query groups: name their column with %s".
func Paramf(name, format string) *ParamError { return &ParamError{Name: name, Format: format} }

func (e *ParamError) Error() string { return e.Named("--" + e.Name) }

// Named is the message with the parameter called param.
func (e *ParamError) Named(param string) string { return fmt.Sprintf(e.Format, param) }

// Rename rewrites the messages of the ParamErrors in err, and of the
// Errors that name their parameter by Name, wrapped or joined, with each parameter as describe names it (Reader.Describe). The
// result unwraps to err, so errors.As and errors.Is see what they saw.
func Rename(err error, describe func(name string) string) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		// Joined problems stay apart, each on a line of its own.
		parts := j.Unwrap()
		out := make([]error, len(parts))
		for i, p := range parts {
			out[i] = Rename(p, describe)
		}
		if slices.Equal(out, parts) {
			return err
		}
		return errors.Join(out...)
	}
	msg := err.Error()
	changed := false
	var walk func(error)
	walk = func(e error) {
		var was, as string
		switch pe := e.(type) {
		case *ParamError:
			was, as = pe.Error(), pe.Named(describe(pe.Name))
		case *Error:
			if pe.Param == "" && pe.Name != "" {
				was, as = pe.Error(), pe.named(describe(pe.Name))
			}
		}
		if as != was {
			msg, changed = strings.Replace(msg, was, as, 1), true
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				walk(inner)
			}
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		}
	}
	walk(err)
	if !changed {
		return err
	}
	return &renamed{msg: msg, err: err}
}

// renamed is an error whose message names parameters as the user met them.
type renamed struct {
	msg string
	err error
}

func (r *renamed) Error() string { return r.msg }
func (r *renamed) Unwrap() error { return r.err }
