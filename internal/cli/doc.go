// Package cli wires ferry's commands (declared in package stage) to cobra for
// the command line and to package actionio for GitHub Actions. It is the only
// package that knows about either front end; the stages themselves live in
// their own packages and never import this one.
package cli
