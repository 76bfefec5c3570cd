package linear

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/internal/prep"
)

// Params are the training parameters.
type Params struct {
	Objective string  // binary or regression
	C         float64 // inverse regularisation strength (scikit-learn's C)
	MaxIter   int     // L-BFGS iterations
	Tol       float64 // stop when the gradient's norm is under this
}

// DefaultParams matches scikit-learn's LogisticRegression defaults (C = 1),
// with more iterations than its 100 so that it converges on unscaled data.
func DefaultParams(objective string) Params {
	return Params{Objective: objective, C: 1, MaxIter: 500, Tol: 1e-6}
}

// Set sets one parameter by name: c, max-iter or tol.
func (p *Params) Set(name, value string) error {
	switch name {
	case "c":
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("logistic parameter c=%q: want a number above 0", value)
		}
		p.C = v
	case "max-iter":
		v, err := strconv.Atoi(value)
		if err != nil || v < 1 {
			return fmt.Errorf("logistic parameter max-iter=%q: want a whole number from 1", value)
		}
		p.MaxIter = v
	case "tol":
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || !(v > 0) {
			return fmt.Errorf("logistic parameter tol=%q: want a number above 0", value)
		}
		p.Tol = v
	default:
		return fmt.Errorf("unknown logistic parameter %q: known are c, max-iter, tol", name)
	}
	return nil
}

// Map returns the parameters as text, for model.json.
func (p Params) Map() map[string]string {
	return map[string]string{
		"objective": p.Objective, "c": strconv.FormatFloat(p.C, 'g', -1, 64),
		"max-iter": strconv.Itoa(p.MaxIter), "tol": strconv.FormatFloat(p.Tol, 'g', -1, 64),
	}
}

// Model is a trained linear model.
type Model struct {
	Objective string     `json:"objective"`
	Prep      *prep.Prep `json:"preprocessing"`
	Weights   []float64  `json:"weights"`
	Bias      float64    `json:"bias"`
}

// Check verifies that the model fits a feature schema.
func (m *Model) Check(features []data.Feature) error {
	if m.Prep == nil {
		return fmt.Errorf("the model has no preprocessing")
	}
	if err := m.Prep.Check(features); err != nil {
		return err
	}
	if len(m.Weights) != m.Prep.Dim() {
		return fmt.Errorf("%d weights for %d inputs", len(m.Weights), m.Prep.Dim())
	}
	return nil
}

// PredictDataset scores every row: a probability for binary models.
func (m *Model) PredictDataset(d *data.Dataset) []float64 {
	x := m.Prep.Transform(d)
	out := make([]float64, d.Rows)
	if d.Rows == 0 {
		return out
	}
	z := mat.NewVecDense(d.Rows, out)
	z.MulVec(x, mat.NewVecDense(len(m.Weights), m.Weights))
	for i := range out {
		out[i] += m.Bias
		if m.Objective == "binary" {
			out[i] = 1 / (1 + math.Exp(-out[i]))
		}
	}
	return out
}

// Progress reports one L-BFGS iteration.
type Progress struct {
	Iter    int
	MaxIter int
	Loss    float64 // the regularised training objective
	Valid   float64 // log-loss or RMSE on validation data; NaN without
	Elapsed time.Duration
}

// Result is a trained model and its training curve.
type Result struct {
	Model *Model
	Curve []Progress
}

// Train fits a model.
func Train(ctx context.Context, p Params, train, valid *data.Dataset, progress func(Progress)) (*Result, error) {
	if p.Objective != "binary" && p.Objective != "regression" {
		return nil, fmt.Errorf("linear: objective %q: want binary or regression", p.Objective)
	}
	start := time.Now()
	pr := prep.Fit(train)
	x := pr.Transform(train)
	n, dim := x.Dims()
	y := train.Label
	var xv *mat.Dense
	if valid != nil {
		xv = pr.Transform(valid)
	}
	obj := newLoss(x, y, p.Objective == "binary", 1/(p.C*float64(n)))
	res := &Result{}
	current := &Model{Objective: p.Objective, Prep: pr}
	rec := &recorder{ctx: ctx, fn: func(iter int, loc *optimize.Location) {
		current.Weights, current.Bias = loc.X[:dim], loc.X[dim]
		pg := Progress{Iter: iter, MaxIter: p.MaxIter, Loss: loc.F, Valid: math.NaN(), Elapsed: time.Since(start)}
		if xv != nil {
			pg.Valid = validLoss(current, xv, valid.Label)
		}
		res.Curve = append(res.Curve, pg)
		if progress != nil {
			progress(pg)
		}
	}}
	problem := optimize.Problem{
		Func: func(params []float64) float64 { return obj.eval(params, nil) },
		Grad: func(grad, params []float64) { obj.eval(params, grad) },
	}
	settings := &optimize.Settings{
		GradientThreshold: p.Tol,
		MajorIterations:   p.MaxIter,
		Recorder:          rec,
	}
	init := make([]float64, dim+1)
	if p.Objective == "binary" {
		init[dim] = logit(mean(y))
	} else {
		init[dim] = mean(y)
	}
	result, err := optimize.Minimize(problem, init, settings, &optimize.LBFGS{})
	if err != nil && (result == nil || ctx.Err() != nil) {
		return nil, fmt.Errorf("linear: %w", err)
	}
	res.Model = &Model{Objective: p.Objective, Prep: pr, Weights: append([]float64(nil), result.X[:dim]...), Bias: result.X[dim]}
	return res, nil
}

// loss is the regularized mean loss of a linear model on x and y, the
// log loss when binary, else half the squared error, with the buffers its
// evaluations reuse.
type loss struct {
	x      *mat.Dense
	y      []float64
	binary bool
	reg    float64 // L2 strength: 1 / (C n)
	z      []float64
	resid  []float64
	zv, rv *mat.VecDense
}

func newLoss(x *mat.Dense, y []float64, binary bool, reg float64) *loss {
	n, _ := x.Dims()
	l := &loss{x: x, y: y, binary: binary, reg: reg, z: make([]float64, n), resid: make([]float64, n)}
	l.zv, l.rv = mat.NewVecDense(n, l.z), mat.NewVecDense(n, l.resid)
	return l
}

// eval returns the loss at params (the weights, then the bias) and, when
// grad is not nil, writes its gradient there.
func (l *loss) eval(params []float64, grad []float64) float64 {
	n, dim := l.x.Dims()
	w := mat.NewVecDense(dim, params[:dim])
	b := params[dim]
	l.zv.MulVec(l.x, w)
	var sum float64
	for i, zi := range l.z {
		m := zi + b
		if l.binary {
			// log(1 + e^m) - y m, computed without overflow.
			sum += math.Max(m, 0) + math.Log1p(math.Exp(-math.Abs(m))) - l.y[i]*m
			l.resid[i] = 1/(1+math.Exp(-m)) - l.y[i]
		} else {
			d := m - l.y[i]
			sum += 0.5 * d * d
			l.resid[i] = d
		}
	}
	sum /= float64(n)
	var wsq float64
	for _, v := range params[:dim] {
		wsq += v * v
	}
	sum += 0.5 * l.reg * wsq
	if grad != nil {
		gw := mat.NewVecDense(dim, grad[:dim])
		gw.MulVec(l.x.T(), l.rv)
		var gb float64
		for _, r := range l.resid {
			gb += r
		}
		for j := range grad[:dim] {
			grad[j] = grad[j]/float64(n) + l.reg*params[j]
		}
		grad[dim] = gb / float64(n)
	}
	return sum
}

func validLoss(m *Model, x *mat.Dense, y []float64) float64 {
	n, dim := x.Dims()
	z := mat.NewVecDense(n, nil)
	z.MulVec(x, mat.NewVecDense(dim, m.Weights))
	preds := make([]float64, n)
	for i := range preds {
		preds[i] = z.AtVec(i) + m.Bias
		if m.Objective == "binary" {
			preds[i] = 1 / (1 + math.Exp(-preds[i]))
		}
	}
	if m.Objective == "binary" {
		return metrics.LogLoss(y, preds)
	}
	return metrics.RMSE(y, preds)
}

func mean(s []float64) float64 {
	var t float64
	for _, v := range s {
		t += v
	}
	return t / float64(len(s))
}

func logit(p float64) float64 {
	p = min(max(p, 1e-6), 1-1e-6)
	return math.Log(p / (1 - p))
}

// recorder reports major iterations and stops the optimiser when ctx ends.
type recorder struct {
	ctx  context.Context
	fn   func(iter int, loc *optimize.Location)
	iter int
}

func (r *recorder) Init() error { return nil }

func (r *recorder) Record(loc *optimize.Location, op optimize.Operation, _ *optimize.Stats) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if op == optimize.MajorIteration {
		r.iter++
		r.fn(r.iter, loc)
	}
	return nil
}
