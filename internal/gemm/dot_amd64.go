package gemm

import "golang.org/x/sys/cpu"

// haveAVX2 says the CPU has AVX2 and FMA, which dot2x4AVX2 needs.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dot2x4AVX2 is the eight dot products of rows a0 and a1 with b0..b3, n
// floats each, n a multiple of 8, into out: a0's four, then a1's
// (dot_amd64.s).
//
//go:noescape
func dot2x4AVX2(a0, a1, b0, b1, b2, b3 *float32, n int, out *[8]float32)
