package mlp

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
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
}

func newTrainer(m *Model, p Params) *trainer {
	t := &trainer{m: m, p: p}
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
	acts := forwardTrain(layers, xb, rng, dropout)
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
		gw := mat.NewDense(l.In, l.Out, t.gW[i])
		gw.Mul(hin.T(), dz)
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
		dh := mat.NewDense(b, l.In, nil)
		dh.Mul(dz, mat.NewDense(l.In, l.Out, l.W).T())
		// Through ReLU and dropout: a unit passed its gradient, scaled by
		// 1/keep, only when it was active and kept (its activation > 0).
		prev := acts[i-1].RawMatrix()
		dhr := dh.RawMatrix()
		for r := 0; r < b; r++ {
			for j := 0; j < l.In; j++ {
				if prev.Data[r*prev.Stride+j] > 0 {
					dhr.Data[r*dhr.Stride+j] /= keep
				} else {
					dhr.Data[r*dhr.Stride+j] = 0
				}
			}
		}
		dz = dh
	}
	return loss / float64(b)
}

// forwardTrain returns each layer's output on the batch xb: ReLU on the
// hidden layers, with inverted dropout at rate dropout drawn from rng.
func forwardTrain(layers []Layer, xb *mat.Dense, rng *rand.Rand, dropout float64) []*mat.Dense {
	nl := len(layers)
	b, _ := xb.Dims()
	acts := make([]*mat.Dense, nl)
	keep := 1 - dropout
	h := xb
	for i, l := range layers {
		z := mat.NewDense(b, l.Out, nil)
		z.Mul(h, mat.NewDense(l.In, l.Out, l.W))
		raw := z.RawMatrix()
		for r := 0; r < b; r++ {
			row := raw.Data[r*raw.Stride : r*raw.Stride+l.Out]
			for j := range row {
				v := row[j] + l.B[j]
				if i < nl-1 {
					if v < 0 || (dropout > 0 && rng.Float64() >= keep) {
						v = 0
					} else if dropout > 0 {
						v /= keep
					}
				}
				row[j] = v
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
