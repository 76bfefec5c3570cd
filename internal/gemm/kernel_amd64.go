package gemm

import "golang.org/x/sys/cpu"

// haveAVX2 says the CPU has AVX2 and FMA, which the assembly needs.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// haveAVX512 says the CPU has AVX-512F as well, for kernel2AVX512.
var haveAVX512 = haveAVX2 && cpu.X86.HasAVX512F

// kernelAVX2 is kernel's product of four rows of k floats (a, one after
// another) and one panel (w, k rows of 16) into c (kernel_amd64.s).
//
//go:noescape
func kernelAVX2(a *float32, k int, w *float32, c *[64]float32)

// kernel1AVX2 is kernel1's product of one row of k floats and four
// consecutive panels (w, each k rows of 16) into c (kernel_amd64.s).
//
//go:noescape
func kernel1AVX2(a *float32, k int, w *float32, c *[64]float32)

// kernel64AVX2 is kernelAVX2 in float64: panels of 8, 32 outputs into c.
//
//go:noescape
func kernel64AVX2(a *float64, k int, w *float64, c *[64]float64)

// kernel1x64AVX2 is kernel1AVX2 in float64: four panels of 8 into c.
//
//go:noescape
func kernel1x64AVX2(a *float64, k int, w *float64, c *[64]float64)

// kernel2AVX512 is kernelAVX2 over two consecutive panels (w, each k rows
// of 16) in 512-bit registers: four rows by 32 outputs into c
// (kernel_amd64.s).
//
//go:noescape
func kernel2AVX512(a *float32, k int, w *float32, c *[128]float32)
