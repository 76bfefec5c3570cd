#include "textflag.h"

// func kernelAVX2(a *float32, k int, w *float32, c *[64]float32)
//
// c[q][j] = Σ_i a[q*k+i] · w[i*16+j] for four rows q and 16 outputs j:
// per step i, the panel's row (two registers of eight) is loaded once and
// each row's value broadcast against it, into eight accumulators (Y0-Y7:
// two per row). Each output is one sequential FMA chain over i.
TEXT ·kernelAVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ k+8(FP), CX
	MOVQ w+16(FP), R8
	MOVQ c+24(FP), DX
	LEAQ (SI)(CX*4), DI
	LEAQ (DI)(CX*4), R9
	LEAQ (R9)(CX*4), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX

loop:
	CMPQ AX, CX
	JGE  done
	VMOVUPS      (R8), Y8
	VMOVUPS      32(R8), Y9
	VBROADCASTSS (SI)(AX*4), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VBROADCASTSS (DI)(AX*4), Y11
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VBROADCASTSS (R9)(AX*4), Y12
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VBROADCASTSS (R10)(AX*4), Y13
	VFMADD231PS  Y8, Y13, Y6
	VFMADD231PS  Y9, Y13, Y7
	ADDQ         $64, R8
	INCQ         AX
	JMP          loop

done:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	VZEROUPPER
	RET

// func kernel1AVX2(a *float32, k int, w *float32, c *[64]float32)
//
// c[16p+j] = Σ_i a[i] · w[p*k*16 + i*16 + j] for one row and four panels
// p: per step i, the row's value is broadcast against each panel's row,
// into eight accumulators (two per panel). Each output is the same
// sequential FMA chain over i as kernelAVX2 computes.
TEXT ·kernel1AVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ k+8(FP), CX
	MOVQ w+16(FP), R8
	MOVQ c+24(FP), DX
	MOVQ CX, BX
	SHLQ $6, BX
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	LEAQ (R10)(BX*1), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX

loop1:
	CMPQ AX, CX
	JGE  done1
	VBROADCASTSS (SI)(AX*4), Y10
	VMOVUPS      (R8), Y8
	VMOVUPS      32(R8), Y9
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VMOVUPS      (R9), Y11
	VMOVUPS      32(R9), Y12
	VFMADD231PS  Y11, Y10, Y2
	VFMADD231PS  Y12, Y10, Y3
	VMOVUPS      (R10), Y8
	VMOVUPS      32(R10), Y9
	VFMADD231PS  Y8, Y10, Y4
	VFMADD231PS  Y9, Y10, Y5
	VMOVUPS      (R11), Y11
	VMOVUPS      32(R11), Y12
	VFMADD231PS  Y11, Y10, Y6
	VFMADD231PS  Y12, Y10, Y7
	ADDQ         $64, R8
	ADDQ         $64, R9
	ADDQ         $64, R10
	ADDQ         $64, R11
	INCQ         AX
	JMP          loop1

done1:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	VZEROUPPER
	RET

// func kernel64AVX2(a *float64, k int, w *float64, c *[64]float64)
//
// kernelAVX2 in float64: four rows by a panel of 8 (two registers of
// four), 32 outputs. A panel's row is 64 bytes, as in float32.
TEXT ·kernel64AVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ k+8(FP), CX
	MOVQ w+16(FP), R8
	MOVQ c+24(FP), DX
	LEAQ (SI)(CX*8), DI
	LEAQ (DI)(CX*8), R9
	LEAQ (R9)(CX*8), R10
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	XORQ AX, AX

loop64:
	CMPQ AX, CX
	JGE  done64
	VMOVUPD      (R8), Y8
	VMOVUPD      32(R8), Y9
	VBROADCASTSD (SI)(AX*8), Y10
	VFMADD231PD  Y8, Y10, Y0
	VFMADD231PD  Y9, Y10, Y1
	VBROADCASTSD (DI)(AX*8), Y11
	VFMADD231PD  Y8, Y11, Y2
	VFMADD231PD  Y9, Y11, Y3
	VBROADCASTSD (R9)(AX*8), Y12
	VFMADD231PD  Y8, Y12, Y4
	VFMADD231PD  Y9, Y12, Y5
	VBROADCASTSD (R10)(AX*8), Y13
	VFMADD231PD  Y8, Y13, Y6
	VFMADD231PD  Y9, Y13, Y7
	ADDQ         $64, R8
	INCQ         AX
	JMP          loop64

done64:
	VMOVUPD Y0, (DX)
	VMOVUPD Y1, 32(DX)
	VMOVUPD Y2, 64(DX)
	VMOVUPD Y3, 96(DX)
	VMOVUPD Y4, 128(DX)
	VMOVUPD Y5, 160(DX)
	VMOVUPD Y6, 192(DX)
	VMOVUPD Y7, 224(DX)
	VZEROUPPER
	RET


// func kernel1x64AVX2(a *float64, k int, w *float64, c *[64]float64)
//
// kernel1AVX2 in float64: one row by four panels of 8, 32 outputs; a
// panel is k·64 bytes, as in float32.
TEXT ·kernel1x64AVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ k+8(FP), CX
	MOVQ w+16(FP), R8
	MOVQ c+24(FP), DX
	MOVQ CX, BX
	SHLQ $6, BX
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	LEAQ (R10)(BX*1), R11
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	XORQ AX, AX

loop1x64:
	CMPQ AX, CX
	JGE  done1x64
	VBROADCASTSD (SI)(AX*8), Y10
	VMOVUPD      (R8), Y8
	VMOVUPD      32(R8), Y9
	VFMADD231PD  Y8, Y10, Y0
	VFMADD231PD  Y9, Y10, Y1
	VMOVUPD      (R9), Y11
	VMOVUPD      32(R9), Y12
	VFMADD231PD  Y11, Y10, Y2
	VFMADD231PD  Y12, Y10, Y3
	VMOVUPD      (R10), Y8
	VMOVUPD      32(R10), Y9
	VFMADD231PD  Y8, Y10, Y4
	VFMADD231PD  Y9, Y10, Y5
	VMOVUPD      (R11), Y11
	VMOVUPD      32(R11), Y12
	VFMADD231PD  Y11, Y10, Y6
	VFMADD231PD  Y12, Y10, Y7
	ADDQ         $64, R8
	ADDQ         $64, R9
	ADDQ         $64, R10
	ADDQ         $64, R11
	INCQ         AX
	JMP          loop1x64

done1x64:
	VMOVUPD Y0, (DX)
	VMOVUPD Y1, 32(DX)
	VMOVUPD Y2, 64(DX)
	VMOVUPD Y3, 96(DX)
	VMOVUPD Y4, 128(DX)
	VMOVUPD Y5, 160(DX)
	VMOVUPD Y6, 192(DX)
	VMOVUPD Y7, 224(DX)
	VZEROUPPER
	RET

// func kernel2AVX512(a *float32, k int, w *float32, c *[128]float32)
//
// c[q*32 + p*16 + j] = Σ_i a[q*k+i] · w[p*k*16 + i*16 + j] for four rows
// q and two consecutive panels p: kernelAVX2 over two panels at once, a
// panel's row being one 512-bit register. Per step i the two panels' rows
// are loaded once and each row's value broadcast against them, into
// eight accumulators (Z0-Z7: two per row). Each output is the same
// sequential FMA chain over i as kernelAVX2's and kernel1AVX2's, so the
// three kernels give the same bits.
TEXT ·kernel2AVX512(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ k+8(FP), CX
	MOVQ w+16(FP), R8
	MOVQ c+24(FP), DX
	LEAQ (SI)(CX*4), DI
	LEAQ (DI)(CX*4), R9
	LEAQ (R9)(CX*4), R10
	MOVQ CX, BX
	SHLQ $6, BX
	LEAQ (R8)(BX*1), R11
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	XORQ AX, AX

loop512:
	CMPQ AX, CX
	JGE  done512
	VMOVUPS      (R8), Z8
	VMOVUPS      (R11), Z9
	VBROADCASTSS (SI)(AX*4), Z10
	VFMADD231PS  Z8, Z10, Z0
	VFMADD231PS  Z9, Z10, Z1
	VBROADCASTSS (DI)(AX*4), Z11
	VFMADD231PS  Z8, Z11, Z2
	VFMADD231PS  Z9, Z11, Z3
	VBROADCASTSS (R9)(AX*4), Z12
	VFMADD231PS  Z8, Z12, Z4
	VFMADD231PS  Z9, Z12, Z5
	VBROADCASTSS (R10)(AX*4), Z13
	VFMADD231PS  Z8, Z13, Z6
	VFMADD231PS  Z9, Z13, Z7
	ADDQ         $64, R8
	ADDQ         $64, R11
	INCQ         AX
	JMP          loop512

done512:
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, 128(DX)
	VMOVUPS Z3, 192(DX)
	VMOVUPS Z4, 256(DX)
	VMOVUPS Z5, 320(DX)
	VMOVUPS Z6, 384(DX)
	VMOVUPS Z7, 448(DX)
	VZEROUPPER
	RET
