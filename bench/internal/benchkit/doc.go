// Package benchkit holds what ferry's benchmark commands share: building
// ferry's binaries, taking the median of repeated timings, and starting the
// servers they compare.
package benchkit
