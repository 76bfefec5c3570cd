// Package gemm holds the float32 matrix product that scoring neural
// networks rests on (ONNX's MatMul and Gemm, the MLP's layers). The
// right-hand matrix is packed once into panels of 16 outputs; the product
// runs four rows by one panel at a time, each step broadcasting one input
// value of each row against 16 weights and accumulating with FMA in AVX2
// where the CPU has them (kernel_amd64.s; the same loop in Go elsewhere).
// There are no horizontal sums, and each output is one sequential sum
// over k whatever rows share the call. The assembly reads only within
// slices its Go caller bounds and writes only the 64-float block it is
// given. Sums are float32: tests state the tolerance against a float64
// product.
package gemm

const (
	panel = 16            // outputs per panel: two AVX2 registers of eight floats
	block = 4             // rows per kernel call; panels per kernel1 call
	wide  = block * panel // outputs per kernel1 call
)

// Packed is a right-hand matrix B [K, N] laid out for the product: panel
// p holds columns 16p..16p+15 of B, row by row (K rows of 16), padded with
// zeros to a multiple of four panels (the one-row kernel's width).
// Constant weights are packed once at load, not per request.
type Packed struct {
	N, K   int
	panels []float32
}

// Pack lays out b, row-major [k, n] (or [n, k] when transposed), for
// Product.
func Pack(b []float32, k, n int, transposed bool) *Packed {
	p := &Packed{N: n, K: k, panels: make([]float32, (n+wide-1)/wide*block*k*panel)}
	for j := 0; j < n; j++ {
		base := j/panel*k*panel + j%panel
		for i := 0; i < k; i++ {
			v := b[i*n+j]
			if transposed {
				v = b[j*k+i]
			}
			p.panels[base+i*panel] = v
		}
	}
	return p
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
// (row-major, K wide): four rows by 16 outputs at a time, and the last
// rows (fewer than four) one by one, 64 outputs at a time. Both kernels
// compute each output as the same sequential sum, so a row's scores are
// the same bits whatever rows share its call.
func (p *Packed) Product(a []float32, m int, out []float32) {
	k, n := p.K, p.N
	if k == 0 {
		clear(out[:m*n])
		return
	}
	var c [block * panel]float32
	r := 0
	for ; r+block <= m; r += block {
		rows := a[r*k : (r+block)*k]
		for j := 0; j < n; j += panel {
			kernel(rows, k, p.panels[j/panel*k*panel:(j/panel+1)*k*panel], &c)
			w := min(panel, n-j)
			for q := 0; q < block; q++ {
				copy(out[(r+q)*n+j:(r+q)*n+j+w], c[q*panel:q*panel+w])
			}
		}
	}
	for ; r < m; r++ {
		row := a[r*k : (r+1)*k]
		for j := 0; j < n; j += wide {
			kernel1(row, k, p.panels[j/panel*k*panel:(j/panel+block)*k*panel], &c)
			copy(out[r*n+j:r*n+min(n, j+wide)], c[:])
		}
	}
}

// kernel1 computes c[j] = Σ_i a[i] · w[i·16 + j%16 + (j/16)·k·16] for one
// row a and the 64 outputs of four panels w: the same sums in the same
// order as kernel's.
func kernel1(a []float32, k int, w []float32, c *[block * panel]float32) {
	a, w = a[:k], w[:block*k*panel]
	if haveAVX2 {
		kernel1AVX2(&a[0], k, &w[0], c)
		return
	}
	for q := 0; q < block; q++ {
		sumPanel(a, w[q*k*panel:(q+1)*k*panel], c[q*panel:(q+1)*panel])
	}
}

// kernel computes c[q, j] = Σ_i a[q·k + i] · w[i·16 + j] for the four rows
// of a and the 16 outputs of the panel w: in AVX2 and FMA where the CPU
// has them, else the same sums in the same order in Go.
func kernel(a []float32, k int, w []float32, c *[block * panel]float32) {
	a, w = a[:block*k], w[:k*panel]
	if haveAVX2 {
		kernelAVX2(&a[0], k, &w[0], c)
		return
	}
	for q := 0; q < block; q++ {
		sumPanel(a[q*k:(q+1)*k], w, c[q*panel:(q+1)*panel])
	}
}

// sumPanel is the Go kernels' step: c[j] = Σ_i a[i] · w[i·16 + j] for the
// 16 outputs of one panel, each a sequential sum over i.
func sumPanel(a, w, c []float32) {
	var s [panel]float32
	for i, x := range a {
		ws := w[i*panel : (i+1)*panel]
		for j := range s {
			s[j] += x * ws[j]
		}
	}
	copy(c, s[:])
}
