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
// row is read once per two rows and each row once per four weight rows;
// an odd last row four outputs at a time.
func (p *Packed) Product(a []float32, m int, out []float32) {
	k, n, w := p.K, p.N, p.W
	r := 0
	for ; r+2 <= m; r += 2 {
		a0, a1 := a[r*k:(r+1)*k], a[(r+1)*k:(r+2)*k]
		o0, o1 := out[r*n:(r+1)*n], out[(r+1)*n:(r+2)*n]
		j := 0
		for ; j+4 <= n; j += 4 {
			s := dot2x4(a0, a1, w[j*k:(j+1)*k], w[(j+1)*k:(j+2)*k], w[(j+2)*k:(j+3)*k], w[(j+3)*k:(j+4)*k])
			copy(o0[j:j+4], s[:4])
			copy(o1[j:j+4], s[4:])
		}
		for ; j < n; j++ {
			o0[j], o1[j] = dot(a0, w[j*k:(j+1)*k]), dot(a1, w[j*k:(j+1)*k])
		}
	}
	for ; r < m; r++ {
		row := a[r*k : (r+1)*k]
		o := out[r*n : (r+1)*n]
		j := 0
		for ; j+4 <= n; j += 4 {
			o[j], o[j+1], o[j+2], o[j+3] = dot4(row, w[j*k:(j+1)*k], w[(j+1)*k:(j+2)*k], w[(j+2)*k:(j+3)*k], w[(j+3)*k:(j+4)*k])
		}
		for ; j < n; j++ {
			o[j] = dot(row, w[j*k:(j+1)*k])
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

// dot4 is four dot products of a with b0..b3 (each at least as long as
// a): with AVX2 and FMA, the longest multiple of 8 in assembly
// (dot_amd64.s), the rest in Go. The slicing bounds what the assembly
// reads.
func dot4(a, b0, b1, b2, b3 []float32) (float32, float32, float32, float32) {
	n := len(a)
	b0, b1, b2, b3 = b0[:n], b1[:n], b2[:n], b3[:n]
	var s0, s1, s2, s3 float32
	i := 0
	if haveAVX2 && n >= 8 {
		i = n &^ 7
		s0, s1, s2, s3 = dot4AVX2(&a[0], &b0[0], &b1[0], &b2[0], &b3[0], i)
	}
	for ; i < n; i++ {
		x := a[i]
		s0 += x * b0[i]
		s1 += x * b1[i]
		s2 += x * b2[i]
		s3 += x * b3[i]
	}
	return s0, s1, s2, s3
}
