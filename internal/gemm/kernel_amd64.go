package gemm

import "golang.org/x/sys/cpu"

// haveAVX2 says the CPU has AVX2 and FMA, which kernelAVX2 needs.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernelAVX2 is kernel's product of four rows of k floats (a, one after
// another) and one panel (w, k rows of 16) into c (kernel_amd64.s).
//
//go:noescape
func kernelAVX2(a *float32, k int, w *float32, c *[block * panel]float32)

// kernel1AVX2 is kernel1's product of one row of k floats and four
// consecutive panels (w, each k rows of 16) into c (kernel_amd64.s).
//
//go:noescape
func kernel1AVX2(a *float32, k int, w *float32, c *[block * panel]float32)
