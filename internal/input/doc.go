// Package input declares the parameters of a ferry stage once and reads them,
// typed, from either side a user meets them: command-line flags (`--replicas 3`)
// or GitHub Action inputs (`with: replicas: 3`, seen by the container as
// INPUT_REPLICAS).
//
// A Spec names a parameter, its kind, default and usage. A Reader parses values
// from a Source against the specs and collects every problem as an *Error that
// names the flag or input at fault and says what would be valid, so a user sees
// all mistakes at once instead of one per run. The same specs generate the
// action.yml files and the flags' --help text, which keeps the two in step.
package input
