// Package actionio is ferry's side of the GitHub Actions runner protocol, built
// on github.com/sethvargo/go-githubactions: typed inputs (through package
// input), outputs, the job summary, log masks, groups, annotations, and the
// event a stage runs for (pull request, push, workflow_run...).
//
// Outputs and the job summary are written here rather than through
// go-githubactions for two reasons: that library writes every multi-line value
// between one fixed, public delimiter, so a value that contains it can forge
// further outputs; and it panics when a file cannot be written. Action writes
// each output between a fresh random delimiter, refuses values that contain it,
// and returns errors.
package actionio
