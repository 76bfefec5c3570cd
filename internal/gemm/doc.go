// Package gemm holds the matrix product that neural networks rest on: in
// float32 for scoring (ONNX's MatMul and Gemm, a loaded MLP) and in
// float64 for the MLP's training. The right-hand matrix is packed into
// panels of two AVX2 registers' width (16 float32 or 8 float64 outputs);
// the product runs four rows by one panel at a time, each step
// broadcasting one input value of each row against the panel's row and
// accumulating with FMA in AVX2 where the CPU has them (kernel_amd64.s;
// the same loop in Go elsewhere), and in float32 on a CPU with AVX-512
// four rows by two panels at once, a panel's row one 512-bit register.
// There are no horizontal sums, and each output is one sequential sum over
// k whatever rows share the call. The assembly reads only within slices
// its Go caller bounds and writes only the block it is given. Tests state
// the tolerance against a float64 product.
package gemm
