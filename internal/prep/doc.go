// Package prep turns a Dataset into the dense, standardised matrix that
// linear models and neural networks need, with the transformation learned on
// the training data and stored with the model:
//   - a numeric feature is imputed with its training mean when missing, then
//     standardised: (x - mean) / std (std 1 when the feature is constant);
//   - a categorical feature becomes one-hot columns for its MaxCategories
//     most frequent training categories; other, unseen and missing
//     categories are all zeros.
package prep
