package onnx

import (
	"fmt"

	"github.com/ferry-ml/ferry/internal/gemm"
)

// pack lays out b ([K, N], or [N, K] when transposed) for the kernel.
func pack(b *tensor, transposed bool) (*gemm.Packed, error) {
	if b.dt != f32 || len(b.shape) != 2 {
		return nil, fmt.Errorf("the right-hand matrix %s must be 2-D float", b)
	}
	if transposed {
		return gemm.Pack(b.f, b.shape[1], b.shape[0], true), nil
	}
	return gemm.Pack(b.f, b.shape[0], b.shape[1], false), nil
}

// Gemm: Y = alpha · A' · B' + beta · C, where A' and B' are A and B, each
// transposed when transA or transB is set, and C broadcasts to [M, N]. Its
// kernels write into a buffer a run keeps (see bufKernel), with Relu fused
// after it or not (see fuseRelu), all sharing the weights packed once.
func buildGemm(n *node) (func(relu bool) bufKernel, error) {
	alpha, beta := n.float("alpha", 1), n.float("beta", 1)
	transA, transB := n.int("transA", 0) != 0, n.int("transB", 0) != 0
	var weights *gemm.Packed
	if b := n.consts[1]; b != nil {
		var err error
		if weights, err = pack(b, transB); err != nil {
			return nil, err
		}
	}
	return func(relu bool) bufKernel {
		return gemmKernel(weights, alpha, beta, transA, transB, relu)
	}, nil
}

// gemmKernel is Gemm's kernel over weights (nil when B is computed per
// run), followed by Relu when relu is set: the bias and the rectifier in
// one pass over the output.
func gemmKernel(weights *gemm.Packed, alpha, beta float32, transA, transB, relu bool) bufKernel {
	return func(in []*tensor, buf *[]float32) ([]*tensor, error) {
		a := in[0]
		if a.dt != f32 || len(a.shape) != 2 {
			return nil, fmt.Errorf("input A, %s, must be 2-D float", a)
		}
		m, k := a.shape[0], a.shape[1]
		rows := a.f
		if transA {
			m, k = k, m
			rows = gemm.Transpose(nil, a.f, a.shape[0], a.shape[1])
		}
		p := weights
		if p == nil {
			var err error
			if p, err = pack(in[1], transB); err != nil {
				return nil, err
			}
		}
		if p.K != k {
			return nil, fmt.Errorf("input A' is [%d, %d] and B' has %d rows", m, k, p.K)
		}
		out := floatInto(buf, []int{m, p.N})
		p.Product(rows, m, out.f) // writes every value
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
			addBias(out, c, beta, relu)
			return one(out), nil
		}
		if relu {
			rectify(out.f, out.f)
		}
		return one(out), nil
	}
}

// addBias adds beta · c to out ([M, N]), c broadcasting to it, and then
// rectifies out when relu is set. A bias of one row ([N] or [1, N], what a
// Linear layer exports) is added a row at a time, without an index
// computation per element, and rectified in the same pass.
func addBias(out, c *tensor, beta float32, relu bool) {
	n := out.shape[1]
	if len(c.f) == n && n > 0 && (len(c.shape) == 1 || c.shape[0] == 1) {
		bias := c.f
		if beta != 1 {
			bias = make([]float32, n)
			for j, v := range c.f {
				bias[j] = beta * v
			}
		}
		for r := 0; r < len(out.f); r += n {
			row := out.f[r : r+n][:len(bias)]
			if relu {
				for j, v := range bias {
					row[j] = max(row[j]+v, 0)
				}
			} else {
				for j, v := range bias {
					row[j] += v
				}
			}
		}
		return
	}
	at := indexer(out.shape, c.shape)
	for i := range out.f {
		out.f[i] += beta * c.f[at(i)]
	}
	if relu {
		rectify(out.f, out.f)
	}
}

// MatMul as numpy.matmul: the last two axes multiply, the ones before
// broadcast; a 1-D operand is a row (left) or a column (right) whose axis
// is dropped from the result. A constant 2-D right-hand side is packed
// once at load.
func buildMatMul(n *node) (kernel, error) {
	var weights *gemm.Packed
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
			p.Product(a.f, size(batchA)*m, out.f)
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
			p.Product(a.f[ia(e)*m*k:(ia(e)+1)*m*k], m, out.f[e*m*nn:(e+1)*m*nn])
		}
		return one(out), nil
	}, nil
}
