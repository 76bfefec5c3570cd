// Package gemm holds the float32 matrix product that scoring neural
// networks rests on (ONNX's MatMul and Gemm, the MLP's layers): the
// right-hand matrix packed once, output by output, and each output a dot
// product of two contiguous slices, four outputs at a time, in AVX2 and
// FMA where the CPU has them (dot_amd64.s; the Go loop elsewhere, and for
// the tail). The assembly reads only within slices its Go caller bounds,
// and writes no memory. Sums are float32: tests state the tolerance
// against a float64 product.
package gemm

// Packed is a right-hand matrix B [K, N] laid out for the product: row n
// holds column n of B (the weights of output n), contiguous. Constant
// weights are packed once at load, not per request.
type Packed struct {
	N, K int
	W    []float32 // N rows of K
}

// Pack lays out b, row-major [k, n] (or [n, k] when transposed, which is
// already the layout and is kept, not copied), for Product.
func Pack(b []float32, k, n int, transposed bool) *Packed {
	if transposed {
		return &Packed{N: n, K: k, W: b}
	}
	return &Packed{N: n, K: k, W: Transpose(b, k, n)}
}

// Transpose returns the [c, r] transpose of a row-major [r, c] matrix.
func Transpose(x []float32, r, c int) []float32 {
	out := make([]float32, len(x))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = x[i*c+j]
		}
	}
	return out
}

// Product computes out[m, n] = Σ_k a[m, k] · B[k, n] for m rows of a
// (row-major, K wide): two rows by four outputs at a time, so each weight
// row is read once per two rows and each row once per four weight rows.
// An odd last row goes through the same code paired with itself, so that
// a row's scores are the same bits whatever rows share its call (the
// order of a float32 sum changes its rounding).
func (p *Packed) Product(a []float32, m int, out []float32) {
	k, n, w := p.K, p.N, p.W
	for r := 0; r < m; r += 2 {
		r1 := min(r+1, m-1)
		a0, a1 := a[r*k:(r+1)*k], a[r1*k:(r1+1)*k]
		o0 := out[r*n : (r+1)*n]
		var o1 []float32
		if r1 != r {
			o1 = out[r1*n : (r1+1)*n]
		}
		j := 0
		for ; j+4 <= n; j += 4 {
			s := dot2x4(a0, a1, w[j*k:(j+1)*k], w[(j+1)*k:(j+2)*k], w[(j+2)*k:(j+3)*k], w[(j+3)*k:(j+4)*k])
			copy(o0[j:j+4], s[:4])
			if o1 != nil {
				copy(o1[j:j+4], s[4:])
			}
		}
		for ; j < n; j++ {
			o0[j] = dot(a0, w[j*k:(j+1)*k])
			if o1 != nil {
				o1[j] = dot(a1, w[j*k:(j+1)*k])
			}
		}
	}
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot2x4 is the eight dot products of rows a0 and a1 (of one length) with
// b0..b3 (each at least as long): a0's four, then a1's. With AVX2 and FMA
// the longest multiple of 8 runs in assembly, the rest in Go; the slicing
// bounds what the assembly reads.
func dot2x4(a0, a1, b0, b1, b2, b3 []float32) [8]float32 {
	n := len(a0)
	a1, b0, b1, b2, b3 = a1[:n], b0[:n], b1[:n], b2[:n], b3[:n]
	var s [8]float32
	i := 0
	if haveAVX2 && n >= 8 {
		i = n &^ 7
		dot2x4AVX2(&a0[0], &a1[0], &b0[0], &b1[0], &b2[0], &b3[0], i, &s)
	}
	for ; i < n; i++ {
		x, y := a0[i], a1[i]
		s[0] += x * b0[i]
		s[1] += x * b1[i]
		s[2] += x * b2[i]
		s[3] += x * b3[i]
		s[4] += y * b0[i]
		s[5] += y * b1[i]
		s[6] += y * b2[i]
		s[7] += y * b3[i]
	}
	return s
}
