// Package decimal converts the short decimal numbers that data files and
// inference requests are made of to float64, to the bits
// strconv.ParseFloat gives, in a fraction of its time.
package decimal
