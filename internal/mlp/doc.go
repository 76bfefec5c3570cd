// Package mlp trains and scores multilayer perceptrons for click and purchase
// prediction (the seed article's model) and for regression: dense ReLU
// layers with dropout, a sigmoid (binary) or linear (regression) head, Adam,
// mini-batches and early stopping on validation data. Inputs are standardised
// and one-hot encoded by package prep.
//
// Losses, averaged over a batch: binary, log-loss of σ(z); regression,
// ½ (z - y)². Both give the output gradient (ŷ - y)/batch. Weights and
// biases start as scikit-learn's do, Glorot-uniform draws U(-b, b) with b =
// sqrt(6/(fan_in+fan_out)), except the head's bias, at the logit of the
// positive rate (or the mean label). L2 adds λ·w to every weight's
// gradient. Dropout is inverted: kept units are scaled by 1/(1-p) in
// training, so scoring uses the weights as they are.
//
// Training is deterministic for a given seed: the initial weights, the
// order of the rows in every epoch and the dropout masks all come from it.
package mlp
