package mlp

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/ferry-ml/ferry/internal/gemm"
)

// Adam's constants (Kingma and Ba's defaults).
const (
	beta1   = 0.9
	beta2   = 0.999
	epsilon = 1e-8
)

// trainer holds the gradients and Adam's moment estimates of a model.
type trainer struct {
	m      *Model
	p      Params
	steps  int
	gW, gB [][]float64
	mW, vW [][]float64
	mB, vB [][]float64
	work   []layerWork // per layer, reused from step to step
}

// layerWork is one layer's packed matrices and transpose buffer, kept
// between steps so that a step allocates no product storage.
type layerWork struct {
	w, wt, grad gemm.Matrix[float64] // W for the forward pass, W' and dz for the backward one
	hT          []float64            // the layer's input, transposed
	z, dh       []float64            // the layer's output, and the gradient at its input
}

// reuse returns (*buf)[:n], growing *buf when it is shorter; the caller
// overwrites every value.
func reuse(buf *[]float64, n int) []float64 {
	if cap(*buf) < n {
		*buf = make([]float64, n)
	}
	return (*buf)[:n]
}

func newTrainer(m *Model, p Params) *trainer {
	t := &trainer{m: m, p: p, work: make([]layerWork, len(m.Layers))}
	for _, l := range m.Layers {
		for _, s := range []*[][]float64{&t.gW, &t.mW, &t.vW} {
			*s = append(*s, make([]float64, len(l.W)))
		}
		for _, s := range []*[][]float64{&t.gB, &t.mB, &t.vB} {
			*s = append(*s, make([]float64, len(l.B)))
		}
	}
	return t
}

// step trains on one mini-batch and returns its mean loss before the update.
func (t *trainer) step(x *mat.Dense, y []float64, batch []int, rng *rand.Rand) float64 {
	loss := t.backward(gatherRows(x, batch), gather(y, batch), rng, t.p.Dropout)
	t.adam()
	return loss
}

// backward computes the batch's mean loss and fills t.gW and t.gB with its
// gradient (plus L2), with dropout rate p on the hidden layers.
func (t *trainer) backward(xb *mat.Dense, yb []float64, rng *rand.Rand, dropout float64) float64 {
	layers := t.m.Layers
	nl := len(layers)
	b, _ := xb.Dims()
	keep := 1 - dropout
	acts := t.forwardTrain(xb, rng, dropout)
	// Output gradient: (ŷ - y) / b for both heads.
	dz := mat.NewDense(b, 1, nil)
	var loss float64
	for r := 0; r < b; r++ {
		zr := acts[nl-1].At(r, 0)
		yr := yb[r]
		if t.m.Objective == "binary" {
			loss += math.Max(zr, 0) + math.Log1p(math.Exp(-math.Abs(zr))) - yr*zr
			dz.Set(r, 0, (1/(1+math.Exp(-zr))-yr)/float64(b))
		} else {
			d := zr - yr
			loss += 0.5 * d * d
			dz.Set(r, 0, d/float64(b))
		}
	}
	for i := nl - 1; i >= 0; i-- {
		l := layers[i]
		hin := xb
		if i > 0 {
			hin = acts[i-1]
		}
		// gW = hin' · dz, with hin transposed to rows of inputs.
		w := &t.work[i]
		w.hT = gemm.Transpose(w.hT, contiguous(hin), b, l.In)
		w.grad.Repack(contiguous(dz), b, l.Out, false)
		w.grad.Product(w.hT, l.In, t.gW[i])
		for k := range t.gW[i] {
			t.gW[i][k] += t.p.L2 * l.W[k]
		}
		gb := t.gB[i]
		clear(gb)
		raw := dz.RawMatrix()
		for r := 0; r < b; r++ {
			for j := 0; j < l.Out; j++ {
				gb[j] += raw.Data[r*raw.Stride+j]
			}
		}
		if i == 0 {
			break
		}
		dh := mat.NewDense(b, l.In, reuse(&w.dh, b*l.In))
		mulInto(dh, dz, l.W, l.Out, l.In, true, &w.wt) // dz · W', W [in, out] being W' transposed
		// Through ReLU and dropout: a unit passed its gradient, scaled by
		// 1/keep, only when it was active and kept (its activation > 0).
		throughReLU(contiguous(dh), contiguous(acts[i-1]), 1/keep)
		dz = dh
	}
	return loss / float64(b)
}

// forwardTrain returns each layer's output on the batch xb: ReLU on the
// hidden layers, with inverted dropout at rate dropout drawn from rng.
func (t *trainer) forwardTrain(xb *mat.Dense, rng *rand.Rand, dropout float64) []*mat.Dense {
	layers := t.m.Layers
	nl := len(layers)
	b, _ := xb.Dims()
	acts := make([]*mat.Dense, nl)
	keep := 1 - dropout
	h := xb
	for i, l := range layers {
		z := mat.NewDense(b, l.Out, reuse(&t.work[i].z, b*l.Out))
		mulInto(z, h, l.W, l.In, l.Out, false, &t.work[i].w)
		out := contiguous(z)
		for r := 0; r < b; r++ {
			row := out[r*l.Out : (r+1)*l.Out]
			switch {
			case i == nl-1: // the head: no activation
				for j, bj := range l.B {
					row[j] += bj
				}
			case dropout == 0:
				for j, bj := range l.B {
					row[j] = max(row[j]+bj, 0)
				}
			default:
				for j, bj := range l.B {
					v := row[j] + bj
					if v < 0 || rng.Float64() >= keep {
						v = 0
					}
					row[j] = v / keep
				}
			}
		}
		acts[i] = z
		h = z
	}
	return acts
}

// adam applies one Adam update from the gradients.
func (t *trainer) adam() {
	t.steps++
	c1 := 1 - math.Pow(beta1, float64(t.steps))
	c2 := 1 - math.Pow(beta2, float64(t.steps))
	lr := t.p.LearningRate
	update := func(w, g, m, v []float64) {
		for k := range w {
			m[k] = beta1*m[k] + (1-beta1)*g[k]
			v[k] = beta2*v[k] + (1-beta2)*g[k]*g[k]
			w[k] -= lr * (m[k] / c1) / (math.Sqrt(v[k]/c2) + epsilon)
		}
	}
	for i := range t.m.Layers {
		update(t.m.Layers[i].W, t.gW[i], t.mW[i], t.vW[i])
		update(t.m.Layers[i].B, t.gB[i], t.mB[i], t.vB[i])
	}
}

// mulInto sets out = a · B with the float64 product kernel, for a [rows, k]
// and B [k, n] given row-major by w (or its transpose, [n, k], when
// transposed), packed into pk. The kernel sums each output in one
// sequential chain, not in gonum's blocked order, so a network's weights
// differ from gonum's in the last bits; the same seed still trains the
// same network.
func mulInto(out, a *mat.Dense, w []float64, k, n int, transposed bool, pk *gemm.Matrix[float64]) {
	rows, _ := a.Dims()
	dst := contiguous(out)
	pk.Repack(w, k, n, transposed)
	pk.Product(contiguous(a), rows, dst)
	if raw := out.RawMatrix(); raw.Stride != n {
		for i := 0; i < rows; i++ {
			copy(raw.Data[i*raw.Stride:i*raw.Stride+n], dst[i*n:(i+1)*n])
		}
	}
}

// contiguous is m's values, row-major with no gaps: its own backing array
// when its stride is its width (as mat.NewDense makes it), else a copy.
func contiguous(m *mat.Dense) []float64 {
	r, c := m.Dims()
	raw := m.RawMatrix()
	if raw.Stride == c {
		return raw.Data[:r*c]
	}
	out := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		out = append(out, raw.Data[i*raw.Stride:i*raw.Stride+c]...)
	}
	return out
}

// throughReLU passes the gradient dh back through ReLU and inverted
// dropout: a unit keeps its gradient, times scale (1/keep), only when it was
// active and kept, its activation act above 0. Without branches: whether a
// unit was active is random, and a mispredicted branch per value cost more
// than the rest of the loop.
func throughReLU(dh, act []float64, scale float64) {
	act = act[:len(dh)]
	for k, a := range act {
		var mask uint64
		if a > 0 {
			mask = math.MaxUint64
		}
		dh[k] = math.Float64frombits(math.Float64bits(dh[k]*scale) & mask)
	}
}
