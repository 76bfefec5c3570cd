// Package deploy rolls a model image out: to Kubernetes (server-side apply,
// rollout watch, rollback, canary) or as a local process, and moves the
// registry's champion tag once a rollout succeeded.
package deploy
