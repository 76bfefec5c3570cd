// Package search tunes a trainer's parameters the way Optuna and
// scikit-learn's searches do: a space of values per parameter, a strategy
// that proposes trials in it (grid, random, or the tree-structured Parzen
// estimator), k folds that score each trial, a median pruner that stops a
// trial whose first folds already lose, and a budget of trials and time.
//
// It knows nothing of trainers or data: the caller scores one fold of one
// trial. Trials are proposed in batches of Config.Parallel and each batch
// sees only the batches before it, so a seed gives the same trials however
// many cores run them.
package search
