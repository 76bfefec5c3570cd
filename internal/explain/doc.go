// Package explain says why a tree ensemble scored a row as it did: exact
// SHAP values by TreeSHAP (Lundberg, Erion and Lee, "Consistent
// individualized feature attribution for tree ensembles", 2018, algorithm
// 2, path-dependent, with each node's cover as the data's weight), the
// same attribution XGBoost's pred_contribs and LightGBM's pred_contrib
// give, so that a reviewer can compare champion and candidate by what
// drives their scores.
package explain
