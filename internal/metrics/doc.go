// Package metrics computes evaluation metrics of scores against labels. Each
// function states its convention; inputs are never modified. Scores are
// margins or probabilities; only log-loss and Brier need probabilities.
//
// Ranking metrics follow the convention of ../shared/datasets/README.md and
// of XGBoost's ndcg: gain 2^rel - 1, discount log2(rank + 1) with ranks from
// 1, the ideal DCG from the same query's labels sorted in descending order,
// ties in score kept in input order, and queries whose ideal DCG is 0 left out
// of the mean.
package metrics
