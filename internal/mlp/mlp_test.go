package mlp

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/prep"
)

func smallData(n int) *data.Dataset {
	rng := rand.New(rand.NewPCG(3, 4))
	d := &data.Dataset{Rows: n}
	for j := 0; j < 3; j++ {
		c := data.Column{Name: string(rune('a' + j))}
		for i := 0; i < n; i++ {
			c.Values = append(c.Values, float32(rng.NormFloat64()))
		}
		d.Columns = append(d.Columns, c)
	}
	for i := 0; i < n; i++ {
		y := 0.0
		if d.Columns[0].Values[i]*d.Columns[1].Values[i] > 0 {
			y = 1
		}
		d.Label = append(d.Label, y)
	}
	return d
}

// The analytic gradient matches central finite differences of the batch
// loss, for every weight and bias, to 1e-6 relative (dropout off; L2 on, with
// ½λ‖W‖² added to the loss).
func TestGradientCheck(t *testing.T) {
	for _, objective := range []string{"binary", "regression"} {
		t.Run(objective, func(t *testing.T) {
			d := smallData(16)
			p := DefaultParams(objective)
			p.Hidden, p.L2 = []int{5, 4}, 0.01
			rng := rand.New(rand.NewPCG(1, 2))
			m := &Model{Objective: objective, Prep: prep.Fit(d)}
			in := 3
			for _, h := range []int{5, 4, 1} {
				l := Layer{In: in, Out: h, W: make([]float64, in*h), B: make([]float64, h)}
				for k := range l.W {
					l.W[k] = rng.NormFloat64() * 0.7
				}
				for k := range l.B {
					l.B[k] = rng.NormFloat64() * 0.1
				}
				m.Layers = append(m.Layers, l)
				in = h
			}
			x := m.Prep.Transform(d)
			tr := newTrainer(m, p)
			tr.backward(x, d.Label, rng, 0)
			objectiveAt := func() float64 {
				var reg float64
				for _, l := range m.Layers {
					for _, w := range l.W {
						reg += w * w
					}
				}
				return tr.lossOnly(x, d.Label) + 0.5*p.L2*reg
			}
			const h = 1e-6
			check := func(name string, params, grad []float64) {
				for k := range params {
					orig := params[k]
					params[k] = orig + h
					up := objectiveAt()
					params[k] = orig - h
					down := objectiveAt()
					params[k] = orig
					fd := (up - down) / (2 * h)
					if math.Abs(fd-grad[k]) > 1e-6*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d]: gradient %.9f, finite difference %.9f", name, k, grad[k], fd)
					}
				}
			}
			for i := range m.Layers {
				check("W", m.Layers[i].W, tr.gW[i])
				check("B", m.Layers[i].B, tr.gB[i])
			}
		})
	}
}

// lossOnly is the mean batch loss without dropout, as backward computes it.
func (t *trainer) lossOnly(x *mat.Dense, y []float64) float64 {
	z := t.m.forward(x, nil)
	var loss float64
	for r := range y {
		zr := z.At(r, 0)
		if t.m.Objective == "binary" {
			loss += math.Max(zr, 0) + math.Log1p(math.Exp(-math.Abs(zr))) - y[r]*zr
		} else {
			loss += 0.5 * (zr - y[r]) * (zr - y[r])
		}
	}
	return loss / float64(len(y))
}

func TestLearnsAndIsDeterministic(t *testing.T) {
	d := smallData(2000)
	p := DefaultParams("binary")
	p.Epochs = 30
	var first []byte
	for run := 0; run < 2; run++ {
		res, err := Train(context.Background(), p, d, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res.Model)
		if first == nil {
			first = b
			// XOR of signs: linear models cannot beat 0.5 AUC; the network must.
			scores := res.Model.PredictDataset(d)
			var correct int
			for i, s := range scores {
				if (s > 0.5) == (d.Label[i] == 1) {
					correct++
				}
			}
			if acc := float64(correct) / float64(d.Rows); acc < 0.9 {
				t.Errorf("accuracy %.3f on the XOR-like data, want >= 0.9", acc)
			}
		} else if string(b) != string(first) {
			t.Error("the same seed gave another network")
		}
	}
}

func TestCheck(t *testing.T) {
	d := smallData(50)
	p := DefaultParams("binary")
	p.Epochs = 1
	res, err := Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Model.Check(d.Schema()); err != nil {
		t.Errorf("a trained model fails its own schema: %v", err)
	}
	res.Model.Layers[1].W = res.Model.Layers[1].W[1:]
	if err := res.Model.Check(d.Schema()); err == nil {
		t.Error("a cut layer passed the check")
	}
}

// A packed network (float32, the product kernel) scores as the float64
// forward pass does, to 1e-5 in probability: the float32 sums carry about
// 2^-24 relative rounding per term over layers of at most 64 inputs here,
// far below that, and a wrong weight or bias would be far above it. The
// data has a categorical feature (one-hot columns, which the reused scratch
// must not carry from one chunk of rows to the next), missing values, and
// more rows than one chunk.
func TestPackedScoresMatchFloat64(t *testing.T) {
	d := smallData(5000)
	cat := data.Column{Name: "shop", Categorical: true, Categories: []string{"a", "b", "c", "d"}}
	for i := 0; i < d.Rows; i++ {
		v := float32(i % 5) // 4 is a category the model never saw
		if i%7 == 0 {
			v = float32(math.NaN())
		}
		cat.Values = append(cat.Values, v)
		if i%11 == 0 {
			d.Columns[2].Values[i] = float32(math.NaN())
		}
	}
	d.Columns = append(d.Columns, cat)
	p := DefaultParams("binary")
	p.Epochs = 10
	res, err := Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := res.Model.PredictDataset(d)
	res.Model.Pack()
	got := res.Model.PredictDataset(d)
	worst := 0.0
	for i := range want {
		worst = max(worst, math.Abs(got[i]-want[i]))
	}
	if worst > 1e-5 {
		t.Fatalf("packed scores differ from float64 by up to %g, want <= 1e-5", worst)
	}
	if worst == 0 {
		t.Fatal("the packed path gave the float64 scores bit for bit: it did not run")
	}
	t.Logf("largest difference %.2g", worst)
}

// BenchmarkPredict scores 1 and 100 rows with a 28-64-32-1 network, in
// float64 (gonum) and packed (float32, the product kernel).
func BenchmarkPredict(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	d := &data.Dataset{Rows: 100}
	for j := 0; j < 28; j++ {
		c := data.Column{Name: "f" + string(rune('a'+j))}
		for i := 0; i < d.Rows; i++ {
			c.Values = append(c.Values, float32(rng.NormFloat64()))
		}
		d.Columns = append(d.Columns, c)
	}
	p := DefaultParams("binary")
	p.Hidden = []int{64, 32}
	m := newModel(p, prep.Fit(d), 28, 0.5, rng)
	for _, packed := range []bool{false, true} {
		if packed {
			m.Pack()
		}
		for _, rows := range []int{1, 100} {
			idx := make([]int, rows)
			for i := range idx {
				idx[i] = i
			}
			sub := d.Subset(idx)
			b.Run(fmt.Sprintf("packed=%v/rows=%d", packed, rows), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					m.PredictDataset(sub)
				}
			})
		}
	}
}
