// Package forge is ferry's side of the GitHub API, on go-github: the sticky
// pull request comment (one per model, found again by a hidden marker and
// updated, only ever the bot's own) and the check run that carries the
// verdict. Requests that GitHub turns away for rate limits are retried as
// GitHub asks (see retryTransport).
package forge
