//go:build !amd64

package gemm

// haveAVX2 is false off amd64: the kernels run in Go.
var haveAVX2 = false

// haveAVX512 is false off amd64.
var haveAVX512 = false

func kernelAVX2(a *float32, k int, w *float32, c *[64]float32) { panic("no AVX2") }

func kernel1AVX2(a *float32, k int, w *float32, c *[64]float32) { panic("no AVX2") }

func kernel64AVX2(a *float64, k int, w *float64, c *[64]float64) { panic("no AVX2") }

func kernel1x64AVX2(a *float64, k int, w *float64, c *[64]float64) { panic("no AVX2") }

func kernel2AVX512(a *float32, k int, w *float32, c *[128]float32) { panic("no AVX-512") }
