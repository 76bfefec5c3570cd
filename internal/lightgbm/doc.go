// Package lightgbm scores LightGBM models saved in LightGBM's text format
// (Booster.save_model("model.txt"), or the CLI's output_model), natively,
// without LightGBM.
//
// Supported: gbdt, dart and rf boosting (dart's trees are saved with their
// weights applied; rf's average_output is honoured) with numeric and
// categorical splits, one output, and the objectives binary, cross_entropy,
// the regression family (regression, regression_l1, huber, fair, quantile,
// mape), poisson, gamma, tweedie, lambdarank and rank_xendcg. Anything else
// (multi-class, linear trees, custom objectives) fails at load time with its
// name.
//
// Scoring follows LightGBM's Tree::Decision (include/LightGBM/tree.h):
//   - a numeric node's decision_type holds the default direction (bit 1) and
//     the missing type (bits 2-3: none, zero, NaN). Without the NaN missing
//     type a NaN is read as 0; a value that is missing for its type (|v| <=
//     1e-35 for zero, NaN for NaN) follows the default direction; otherwise
//     it goes left when v <= threshold;
//   - a categorical node (bit 0) sends NaN and negative values right, and
//     sends v left when int(v) is set in the node's bitset (cat_threshold,
//     delimited by cat_boundaries at the index threshold holds);
//   - the score is the sum of the leaves (divided by the number of trees for
//     average_output), passed through the objective's link: sigmoid(s·σ) for
//     binary, sigmoid for cross_entropy, exp for poisson, gamma and tweedie.
//
// Values are compared in float64, as LightGBM does; ferry's data sets hold
// float32, so a value within float32 rounding of a threshold can go the other
// way (thresholds lie between training values, so this needs a value that the
// training data nearly had).
package lightgbm
