package onnx

import "fmt"

// packed is a right-hand matrix B [K, N] laid out for the product kernel:
// row n holds column n of B (the weights of output n), contiguous, so each
// output is a dot product of two contiguous float32 slices. Constant
// weights are packed once at load, not per request.
type packed struct {
	n, k int
	w    []float32 // n rows of k
}

// pack lays out b ([K, N], or [N, K] when transposed) for the kernel.
func pack(b *tensor, transposed bool) (*packed, error) {
	if b.dt != f32 || len(b.shape) != 2 {
		return nil, fmt.Errorf("the right-hand matrix %s must be 2-D float", b)
	}
	if transposed {
		return &packed{n: b.shape[0], k: b.shape[1], w: b.f}, nil
	}
	k, n := b.shape[0], b.shape[1]
	return &packed{n: n, k: k, w: transpose2(b.f, k, n)}, nil
}

// transpose2 returns the [c, r] transpose of a row-major [r, c] matrix.
func transpose2(x []float32, r, c int) []float32 {
	out := make([]float32, len(x))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = x[i*c+j]
		}
	}
	return out
}

// product computes out[m, n] = Σ_k a[m, k] · B[k, n] for m rows of a
// (row-major, k wide), four outputs at a time so each row is read once per
// four weight rows.
func (p *packed) product(a []float32, m int, out []float32) {
	k, n, w := p.k, p.n, p.w
	for r := 0; r < m; r++ {
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

// Gemm: Y = alpha · A' · B' + beta · C, where A' and B' are A and B, each
// transposed when transA or transB is set, and C broadcasts to [M, N].
func buildGemm(n *node) (kernel, error) {
	alpha, beta := n.float("alpha", 1), n.float("beta", 1)
	transA, transB := n.int("transA", 0) != 0, n.int("transB", 0) != 0
	var weights *packed
	if b := n.consts[1]; b != nil {
		var err error
		if weights, err = pack(b, transB); err != nil {
			return nil, err
		}
	}
	return func(in []*tensor) ([]*tensor, error) {
		a := in[0]
		if a.dt != f32 || len(a.shape) != 2 {
			return nil, fmt.Errorf("input A, %s, must be 2-D float", a)
		}
		m, k := a.shape[0], a.shape[1]
		rows := a.f
		if transA {
			m, k = k, m
			rows = transpose2(a.f, a.shape[0], a.shape[1])
		}
		p := weights
		if p == nil {
			var err error
			if p, err = pack(in[1], transB); err != nil {
				return nil, err
			}
		}
		if p.k != k {
			return nil, fmt.Errorf("input A' is [%d, %d] and B' has %d rows", m, k, p.k)
		}
		out := newFloat([]int{m, p.n})
		p.product(rows, m, out.f)
		if alpha != 1 {
			for i := range out.f {
				out.f[i] *= alpha
			}
		}
		if len(in) > 2 && in[2] != nil && beta != 0 {
			c := in[2]
			if c.dt != f32 {
				return nil, fmt.Errorf("input C, %s, must be float", c)
			}
			if _, err := broadcast(out.shape, c.shape); err != nil {
				return nil, fmt.Errorf("input C: %w", err)
			}
			at := indexer(out.shape, c.shape)
			for i := range out.f {
				out.f[i] += beta * c.f[at(i)]
			}
		}
		return one(out), nil
	}, nil
}

// MatMul as numpy.matmul: the last two axes multiply, the ones before
// broadcast; a 1-D operand is a row (left) or a column (right) whose axis
// is dropped from the result. A constant 2-D right-hand side is packed
// once at load.
func buildMatMul(n *node) (kernel, error) {
	var weights *packed
	if b := n.consts[1]; b != nil && len(b.shape) == 2 {
		var err error
		if weights, err = pack(b, false); err != nil {
			return nil, err
		}
	}
	return func(in []*tensor) ([]*tensor, error) {
		a, b := in[0], in[1]
		if a.dt != f32 || b.dt != f32 || len(a.shape) == 0 || len(b.shape) == 0 {
			return nil, fmt.Errorf("operands %s and %s must be float and at least 1-D", a, b)
		}
		aShape, bShape := a.shape, b.shape
		if len(aShape) == 1 {
			aShape = []int{1, aShape[0]}
		}
		if len(bShape) == 1 {
			bShape = []int{bShape[0], 1}
		}
		m, k := aShape[len(aShape)-2], aShape[len(aShape)-1]
		kb, nn := bShape[len(bShape)-2], bShape[len(bShape)-1]
		if k != kb {
			return nil, fmt.Errorf("operands %s and %s do not multiply", a, b)
		}
		batchA, batchB := aShape[:len(aShape)-2], bShape[:len(bShape)-2]
		batch, err := broadcast(batchA, batchB)
		if err != nil {
			return nil, err
		}
		shape := append(append([]int{}, batch...), m, nn)
		if len(a.shape) == 1 {
			shape = append(shape[:len(shape)-2], nn)
		}
		if len(b.shape) == 1 {
			shape = shape[:len(shape)-1]
		}
		out := newFloat(shape)
		if weights != nil || (len(batchB) == 0 && len(b.shape) == 2) {
			// One right-hand matrix for every row of every batch.
			p := weights
			if p == nil {
				if p, err = pack(b, false); err != nil {
					return nil, err
				}
			}
			p.product(a.f, size(batchA)*m, out.f)
			return one(out), nil
		}
		nb := size(batch)
		ia, ib := indexer(batch, batchA), indexer(batch, batchB)
		for e := 0; e < nb; e++ {
			bm := &tensor{dt: f32, shape: []int{k, nn}, f: b.f[ib(e)*k*nn : (ib(e)+1)*k*nn]}
			p, err := pack(bm, false)
			if err != nil {
				return nil, err
			}
			p.product(a.f[ia(e)*m*k:(ia(e)+1)*m*k], m, out.f[e*m*nn:(e+1)*m*nn])
		}
		return one(out), nil
	}, nil
}
