// Package xgboost scores XGBoost models saved in XGBoost's JSON format
// (Booster.save_model("model.json")), natively, without XGBoost.
//
// Supported: the gbtree booster with numeric and categorical splits, one
// output, and the objectives binary:logistic, binary:logitraw, reg:logistic,
// reg:squarederror, rank:pairwise, rank:ndcg and rank:map. Anything else
// (dart, gblinear, multi-class) fails at load time with its name.
//
// Scoring follows XGBoost's CPU predictor, in float32 as it computes: a row
// goes left when its value is below the split condition (fvalue < cond);
// at a categorical split the listed categories go right and the others left
// (the value truncated to an integer; a negative one, or one of 2^24 or
// more, goes left);
// missing (NaN) values follow the node's default direction; a leaf's value
// is its split condition; the margin is the base margin plus every tree's
// leaf, summed in float32 in tree order. The base margin is base_score
// passed through the objective's link: logit for the logistic objectives,
// identity for the others.
package xgboost
