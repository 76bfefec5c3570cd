// Package onnx scores ONNX models natively, in pure Go, with an executor of
// ferry's own: the graph is compiled once at load (initializers and every
// node with only constant inputs evaluated, attributes checked, constant
// weights laid out for the product kernel) and each request runs the
// remaining nodes over plain float32 and int64 slices. There is no unsafe
// code and no shared mutable state on the request path, so one model serves
// any number of concurrent requests; the one piece of assembly, the product
// kernel in AVX2 and FMA (package gemm), reads only within slices its Go
// caller bounds and writes only a block the caller owns. The file is
// decoded with protowire (proto.go); ParseFile reads it a field at a time,
// each initializer's raw data straight into its tensor (file.go), so a
// large network loads in about its weights' size. ferry used gonnx on gorgonia's tensors until a Go runtime
// fatal error inside its Gemm, from unsafe pointer use in the tensor
// package, crashed a server under load; neither is linked any more.
//
// Loading checks the opset (MinOpset to MaxOpset) and every node's operator
// (Operators lists them), so an unsupported operator is an error that names
// it at load time, never at request time.
//
// How features reach the network (Model.Check): an input named after a
// feature takes it, float32 for numeric features and int64 (the category
// index) for the int64 inputs that embeddings look up with Gather; one input
// named otherwise takes the remaining features, in schema order, as float32
// [rows, features] (for a one-input network, all of them). Values go in as
// the data holds them: the network carries its own preprocessing.
package onnx
