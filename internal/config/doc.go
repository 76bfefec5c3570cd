// Package config reads ferry.yaml, the part of a model repository's setup
// that stays the same between runs: the model's name, how to read its data,
// and how to train it. Flags and action inputs override what it says.
//
// Decoding is strict: an unknown key, a wrong type or a second document is an
// error that names the file and line and says what is valid.
package config
