// Package bench holds ferry's benchmarks against reference tools, run side by
// side in one process so that the ratio, not the absolute time, is the result
// (the machines are shared and noisy). BENCHMARKS.md has the numbers and the
// command that reproduces each.
package bench
