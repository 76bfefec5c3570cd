// Package evaluate is the evaluate stage: it scores the evaluation rows
// with the candidate and the champion (model directories or images, or two
// predictions files), compares them (package compare: metrics, bootstrap
// intervals, gates), writes the report and the JSON, and in an action
// publishes the sticky pull request comment and the check run.
//
// A Config is read by a front end (internal/cli: flags, action inputs,
// ferry.yaml); its errors name parameters by their declared names, which
// the front end renames as the user met them. Run returns a Result whose
// outputs, summary and error the front end writes.
package evaluate
