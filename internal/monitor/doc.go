// Package monitor is the monitor stage: a deployed model's live bin counts
// (from ferry-serve's /metrics) against the training profile kept in its
// model directory, per feature and for the score, judged by the population
// stability index and a chi-square test against thresholds from flags or
// ferry.yaml. A drift is a failed check (exit 1), so a scheduled workflow
// can act on it.
package monitor
