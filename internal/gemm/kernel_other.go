//go:build !amd64

package gemm

// haveAVX2 is false off amd64: kernel runs in Go.
var haveAVX2 = false

func kernelAVX2(a *float32, k int, w *float32, c *[block * panel]float32) {
	panic("kernelAVX2 on a CPU without AVX2")
}

func kernel1AVX2(a *float32, k int, w *float32, c *[block * panel]float32) {
	panic("kernel1AVX2 on a CPU without AVX2")
}
