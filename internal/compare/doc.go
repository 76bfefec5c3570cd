// Package compare compares a candidate model with the champion (the model
// in production) on the same rows: every metric that applies, for both, the
// change, and a paired bootstrap confidence interval of the change that says
// whether it is real or noise; then the gates.
//
// The paired bootstrap resamples units with replacement, rows for binary and
// regression data and whole queries for ranking data, and recomputes both
// models' metric on each resample; the interval is the percentile interval of
// the differences (candidate - champion) at the chosen confidence. A change
// whose interval excludes 0 is "better" or "worse" by the metric's direction,
// otherwise "no significant change". Each resample draws from its own seeded
// stream, so results do not depend on the number of threads.
package compare
