// Package fsort sorts floating-point numbers by radix: the quantiles a
// tree's bins and a drift profile's edges are cut at come from sorting each
// feature's values, and a comparison sort of a column was a tenth of
// training a small data set (twice over: the bins and the profile).
// Ordering the bits of IEEE floats, as unsigned integers whose order is
// the numbers' order, takes a few passes over the values instead of
// n log n comparisons.
package fsort
