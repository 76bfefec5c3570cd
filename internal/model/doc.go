// Package model reads and writes ferry's model directory: model.json, the
// manifest every stage reads (format, task, feature schema, parameters,
// metrics, loss curve and lineage), beside the payload file with the weights.
//
// Loading checks the format version (a model from a newer ferry is refused
// with a clear error) and returns a Predictor that applies the preprocessing
// learned at training time, so `ferry predict`, evaluation and serving all
// score the same way. Saving is atomic: a failed save leaves no directory
// that looks like a model.
package model
