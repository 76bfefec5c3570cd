// Package profile is what a model saw in training, kept with the model so
// that what it sees in production can be compared with it: per feature, the
// share of missing values and the counts in quantile bins (numeric) or per
// category (categorical), and the same for the model's score on the
// validation rows.
//
// The bins are fixed at training, so production counts stay bounded (bins,
// not values) and a drift statistic compares like with like: the population
// stability index and a chi-square test of the live counts against the
// training shares.
package profile
