//go:build !amd64

package gemm

// haveAVX2 is false off amd64: dot2x4 runs in Go.
var haveAVX2 = false

func dot2x4AVX2(a0, a1, b0, b1, b2, b3 *float32, n int, out *[8]float32) {
	panic("dot2x4AVX2 on a CPU without AVX2")
}
