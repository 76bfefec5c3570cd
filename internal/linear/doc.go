// Package linear trains and scores L2-regularised linear models on features
// standardised by package prep: logistic regression (binary) and ridge
// regression.
//
// The objective is scikit-learn's, scaled by 1/(C n) so that it does not grow
// with the data:
//
//	binary:     (1/n) Σ logloss(y_i, σ(x_i·w + b)) + ‖w‖² / (2 C n)
//	regression: (1/n) Σ ½ (x_i·w + b - y_i)²       + ‖w‖² / (2 C n)
//
// with the intercept b not penalised. It is convex and smooth and is
// minimised with gonum's L-BFGS until the gradient's norm falls under Tol.
// Training is deterministic: it has no randomness.
package linear
