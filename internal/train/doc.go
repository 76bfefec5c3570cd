// Package train is the train stage with ferry's own trainers: it reads the
// data, fits the chosen algorithm, reports progress, computes the final
// metrics and writes the model directory. Package cli maps flags and action
// inputs onto its Config; running the user's own command is package
// external's job.
package train
