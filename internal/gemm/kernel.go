package gemm

// Float is an element type the product runs in.
type Float interface{ float32 | float64 }

const block = 4 // rows per kernel call; panels per kernel1 call

// Matrix is a right-hand matrix B [K, N] laid out for the product: panel
// p holds columns p·w to p·w+w-1 of B (w = width[T]()), row by row (K
// rows of w), padded with zeros to a multiple of four panels (the one-row
// kernel's width). Constant weights are packed once at load, not per
// request.
type Matrix[T Float] struct {
	N, K   int
	panels []T
}

// Packed is a float32 right-hand matrix, what scoring uses.
type Packed = Matrix[float32]

// width is the outputs per panel: two AVX2 registers of T.
func width[T Float]() int {
	var z T
	if _, ok := any(z).(float64); ok {
		return 8
	}
	return 16
}

// Pack lays out b, row-major [k, n] (or [n, k] when transposed), for
// Product.
func Pack[T Float](b []T, k, n int, transposed bool) *Matrix[T] {
	p := &Matrix[T]{}
	p.Repack(b, k, n, transposed)
	return p
}

// Repack is Pack into p, reusing its storage when it is large enough: a
// network in training packs its changing weights at every step.
func (p *Matrix[T]) Repack(b []T, k, n int, transposed bool) {
	pw := width[T]()
	size := (n + block*pw - 1) / (block * pw) * block * k * pw
	if cap(p.panels) >= size {
		p.panels = p.panels[:size]
		clear(p.panels)
	} else {
		p.panels = make([]T, size)
	}
	p.N, p.K = n, k
	if transposed { // b's rows are B's columns: read them in order
		for j := 0; j < n; j++ {
			dst := p.panels[j/pw*k*pw+j%pw:]
			for i, v := range b[j*k : (j+1)*k] {
				dst[i*pw] = v
			}
		}
		return
	}
	for i := 0; i < k; i++ { // a row of b fills row i of each panel
		row := b[i*n : (i+1)*n]
		for j0 := 0; j0 < n; j0 += pw {
			copy(p.panels[j0/pw*k*pw+i*pw:], row[j0:min(n, j0+pw)])
		}
	}
}

// Transpose returns the [c, r] transpose of a row-major [r, c] matrix, in
// out when it has the room.
func Transpose[T Float](out, x []T, r, c int) []T {
	if cap(out) >= len(x) {
		out = out[:len(x)]
	} else {
		out = make([]T, len(x))
	}
	const tile = 8 // tiles of 8 x 8, so that the writes stay in cache lines
	for i0 := 0; i0 < r; i0 += tile {
		for j0 := 0; j0 < c; j0 += tile {
			for i := i0; i < min(r, i0+tile); i++ {
				for j := j0; j < min(c, j0+tile); j++ {
					out[j*r+i] = x[i*c+j]
				}
			}
		}
	}
	return out
}

// Product computes out[m, n] = Σ_k a[m, k] · B[k, n] for m rows of a
// (row-major, K wide): four rows by one panel at a time (by two with
// AVX-512), and the last rows (fewer than four) one by one over four
// panels. Every kernel computes each output as the same sequential sum,
// so a row's results are the same bits whatever rows share its call.
func (p *Matrix[T]) Product(a []T, m int, out []T) {
	k, n, pw := p.K, p.N, width[T]()
	if k == 0 {
		clear(out[:m*n])
		return
	}
	var c [64]T
	r := 0
	if a32, ok := any(a).([]float32); ok && haveAVX512 {
		r = p.product512(a32, m, any(out).([]float32))
	}
	for ; r+block <= m; r += block {
		rows := a[r*k : (r+block)*k]
		for j := 0; j < n; j += pw {
			kernel(rows, k, p.panels[j/pw*k*pw:(j/pw+1)*k*pw], &c)
			w := min(pw, n-j)
			for q := 0; q < block; q++ {
				copy(out[(r+q)*n+j:(r+q)*n+j+w], c[q*pw:q*pw+w])
			}
		}
	}
	for ; r < m; r++ {
		row := a[r*k : (r+1)*k]
		for j := 0; j < n; j += block * pw {
			kernel1(row, k, p.panels[j/pw*k*pw:(j/pw+block)*k*pw], &c)
			copy(out[r*n+j:r*n+min(n, j+block*pw)], c[:block*pw])
		}
	}
}

// product512 is Product's blocks of four rows in float32 on a CPU with
// AVX-512: two panels per kernel call (the panels come in fours, so a
// pair never runs past them). It returns the rows it did; the rest go
// through kernel1, whose sums are the same.
func (p *Matrix[T]) product512(a []float32, m int, out []float32) int {
	k, n := p.K, p.N
	panels := any(p.panels).([]float32)
	const pw = 16
	var c [2 * block * pw]float32
	r := 0
	for ; r+block <= m; r += block {
		rows := a[r*k : (r+block)*k]
		for j := 0; j < n; j += 2 * pw {
			w := panels[j/pw*k*pw : (j/pw+2)*k*pw]
			kernel2AVX512(&rows[0], k, &w[0], &c)
			cols := min(2*pw, n-j)
			for q := 0; q < block; q++ {
				copy(out[(r+q)*n+j:(r+q)*n+j+cols], c[q*2*pw:q*2*pw+cols])
			}
		}
	}
	return r
}

// kernel computes c[q·w + j] = Σ_i a[q·k + i] · w[i·w + j] for the four
// rows of a and the w outputs of one panel: in AVX2 and FMA where the
// CPU has them, else the same sums in the same order in Go.
func kernel[T Float](a []T, k int, w []T, c *[64]T) {
	pw := width[T]()
	a, w = a[:block*k], w[:k*pw]
	if haveAVX2 {
		switch c := any(c).(type) {
		case *[64]float32:
			kernelAVX2(any(&a[0]).(*float32), k, any(&w[0]).(*float32), c)
		case *[64]float64:
			kernel64AVX2(any(&a[0]).(*float64), k, any(&w[0]).(*float64), c)
		}
		return
	}
	for q := 0; q < block; q++ {
		sumPanel(a[q*k:(q+1)*k], w, c[q*pw:(q+1)*pw])
	}
}

// kernel1 computes the outputs of one row a and four consecutive panels
// w: the same sums in the same order as kernel's.
func kernel1[T Float](a []T, k int, w []T, c *[64]T) {
	pw := width[T]()
	a, w = a[:k], w[:block*k*pw]
	if haveAVX2 {
		switch c := any(c).(type) {
		case *[64]float32:
			kernel1AVX2(any(&a[0]).(*float32), k, any(&w[0]).(*float32), c)
		case *[64]float64:
			kernel1x64AVX2(any(&a[0]).(*float64), k, any(&w[0]).(*float64), c)
		}
		return
	}
	for q := 0; q < block; q++ {
		sumPanel(a, w[q*k*pw:(q+1)*k*pw], c[q*pw:(q+1)*pw])
	}
}

// sumPanel is the Go kernels' step: c[j] = Σ_i a[i] · w[i·len(c) + j] for
// the outputs of one panel, each a sequential sum over i.
func sumPanel[T Float](a, w, c []T) {
	var s [16]T
	pw := len(c)
	for i, x := range a {
		ws := w[i*pw : (i+1)*pw]
		for j := range ws {
			s[j] += x * ws[j]
		}
	}
	copy(c, s[:pw])
}
