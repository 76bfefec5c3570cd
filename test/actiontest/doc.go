// Package actiontest fakes the GitHub Actions runner for tests: a strict
// environment that fails the test when code reads a variable the runner would
// not set, and the runner's output files, read back the way the runner reads
// them.
package actiontest
