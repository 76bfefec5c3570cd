// Package report renders the Markdown that ferry writes for people: the
// pull request comment, the check run's text and the job summaries, with
// their Mermaid charts, from templates embedded here and parsed once.
// Everything that comes from a model, data or a user is escaped.
package report
