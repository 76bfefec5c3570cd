package onnx

import (
	"errors"
	"fmt"
	"math"
)

// operators maps each ONNX operator the executor implements to its
// builder. Semantics follow the ONNX operator documentation for opsets
// MinOpset to MaxOpset; where an operator changed in between (the axes of
// the Reduce operators moved from an attribute to an input in opset 18,
// Split gained num_outputs in 18, Shape start and end in 15, Reshape
// allowzero in 14), the builder reads the model's opset.
var operators map[string]builder

// buffered are the operators whose kernels can write into a buffer a run
// keeps, and have a variant with Relu fused after them; operators lists
// them too, as plain kernels.
var buffered = map[string]func(*node) (func(relu bool) bufKernel, error){"Gemm": buildGemm}

func init() {
	operators = map[string]builder{}
	for op, b := range buffered {
		operators[op] = func(n *node) (kernel, error) {
			variant, err := b(n)
			if err != nil {
				return nil, err
			}
			return variant(false).alloc, nil
		}
	}
	for _, group := range []map[string]builder{unaryOps(), binaryOps(), shapeOps()} {
		for op, b := range group {
			operators[op] = b
		}
	}
}

// unaryOps are the element-wise operators of one input.
func unaryOps() map[string]builder {
	return map[string]builder{
		// Element-wise, float.
		"Relu":        floatMap(rectify),
		"Sigmoid":     floatUnary(sigmoid),
		"Tanh":        floatUnary(func(x float32) float32 { return float32(math.Tanh(float64(x))) }),
		"Exp":         floatUnary(func(x float32) float32 { return float32(math.Exp(float64(x))) }),
		"Log":         floatUnary(func(x float32) float32 { return float32(math.Log(float64(x))) }),
		"Sqrt":        floatUnary(func(x float32) float32 { return float32(math.Sqrt(float64(x))) }),
		"Erf":         floatUnary(func(x float32) float32 { return float32(math.Erf(float64(x))) }),
		"Reciprocal":  floatUnary(func(x float32) float32 { return 1 / x }),
		"Floor":       floatUnary(func(x float32) float32 { return float32(math.Floor(float64(x))) }),
		"Ceil":        floatUnary(func(x float32) float32 { return float32(math.Ceil(float64(x))) }),
		"Softplus":    floatUnary(func(x float32) float32 { return float32(math.Log1p(math.Exp(float64(x)))) }),
		"Softsign":    floatUnary(func(x float32) float32 { return x / (1 + float32(math.Abs(float64(x)))) }),
		"HardSwish":   floatUnary(func(x float32) float32 { return x * max(0, min(1, x/6+0.5)) }),
		"LeakyRelu":   buildLeakyRelu,
		"Elu":         buildElu,
		"HardSigmoid": buildHardSigmoid,
		"Clip":        buildClip,
		"Neg":         numericUnary(func(x float32) float32 { return -x }, func(x int64) int64 { return -x }),
		"Abs": numericUnary(func(x float32) float32 { return float32(math.Abs(float64(x))) }, func(x int64) int64 {
			if x < 0 {
				return -x
			}
			return x
		}),
		"Identity": passThrough,
		"Dropout":  buildDropout,
	}
}

// binaryOps are the products and the element-wise operators of two or more
// inputs, which broadcast.
func binaryOps() map[string]builder {
	return map[string]builder{
		// Products.
		"MatMul": buildMatMul,
		// Element-wise, broadcasting.
		"Add":   arith(func(a, b float32) float32 { return a + b }, func(a, b int64) (int64, error) { return a + b, nil }),
		"Sub":   arith(func(a, b float32) float32 { return a - b }, func(a, b int64) (int64, error) { return a - b, nil }),
		"Mul":   arith(func(a, b float32) float32 { return a * b }, func(a, b int64) (int64, error) { return a * b, nil }),
		"Div":   arith(func(a, b float32) float32 { return a / b }, intDiv),
		"Pow":   arith(pow, nil),
		"PRelu": arith(func(x, slope float32) float32 { return cond(x < 0, slope*x, x) }, nil),
		"Max":   variadic(func(a, b float32) float32 { return max(a, b) }, func(a, b int64) (int64, error) { return max(a, b), nil }),
		"Min":   variadic(func(a, b float32) float32 { return min(a, b) }, func(a, b int64) (int64, error) { return min(a, b), nil }),
		"Sum":   variadic(func(a, b float32) float32 { return a + b }, func(a, b int64) (int64, error) { return a + b, nil }),
		"Mean":  buildMean,
		"Equal": compare(func(a, b float64) bool { return a == b }),
		"Less":  compare(func(a, b float64) bool { return a < b }),
		"LessOrEqual": compare(func(a, b float64) bool {
			return a <= b
		}),
		"Greater":        compare(func(a, b float64) bool { return a > b }),
		"GreaterOrEqual": compare(func(a, b float64) bool { return a >= b }),
		"And":            logic(func(a, b bool) bool { return a && b }),
		"Or":             logic(func(a, b bool) bool { return a || b }),
		"Xor":            logic(func(a, b bool) bool { return a != b }),
		"Not":            buildNot,
		"Where":          buildWhere,
	}
}

// shapeOps normalize or reduce over an axis, or move data and shapes.
func shapeOps() map[string]builder {
	return map[string]builder{
		// Normalization and activations over an axis.
		"Softmax":            buildSoftmax(false),
		"LogSoftmax":         buildSoftmax(true),
		"LayerNormalization": buildLayerNorm,
		"BatchNormalization": buildBatchNorm,
		"ReduceSum":          buildReduce(reduceSum, 13),
		"ReduceMean":         buildReduce(reduceMean, 18),
		"ReduceMax":          buildReduce(reduceMax, 18),
		"ReduceMin":          buildReduce(reduceMin, 18),
		"ReduceProd":         buildReduce(reduceProd, 18),
		"ReduceSumSquare":    buildReduce(reduceSumSquare, 18),
		"ReduceL2":           buildReduce(reduceL2, 18),
		// Shapes and data movement.
		"Gather":          buildGather,
		"Concat":          buildConcat,
		"Split":           buildSplit,
		"Flatten":         buildFlatten,
		"Reshape":         buildReshape,
		"Squeeze":         buildSqueeze,
		"Unsqueeze":       buildUnsqueeze,
		"Transpose":       buildTranspose,
		"Shape":           buildShape,
		"Slice":           buildSlice,
		"Expand":          buildExpand,
		"Cast":            buildCast,
		"Constant":        buildConstant,
		"ConstantOfShape": buildConstantOfShape,
	}
}

func one(t *tensor) []*tensor { return []*tensor{t} }

func cond[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

func sigmoid(x float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(x))))
}

func pow(a, b float32) float32 {
	switch b {
	case 2:
		return a * a
	case 1:
		return a
	case 0.5:
		return float32(math.Sqrt(float64(a)))
	}
	return float32(math.Pow(float64(a), float64(b)))
}

var errDivZero = errors.New("integer division by zero")

func intDiv(a, b int64) (int64, error) {
	if b == 0 {
		return 0, errDivZero
	}
	return a / b, nil
}

func wantFloat(t *tensor) error {
	if t.dt != f32 {
		return fmt.Errorf("input is %s, want float", t)
	}
	return nil
}

func passThrough(*node) (kernel, error) {
	return func(in []*tensor) ([]*tensor, error) { return one(in[0]), nil }, nil
}

func floatUnary(f func(float32) float32) builder {
	return floatMap(func(dst, src []float32) {
		for k, v := range src {
			dst[k] = f(v)
		}
	})
}

// floatMap is an element-wise float operator whose loop is apply.
func floatMap(apply func(dst, src []float32)) builder {
	return func(*node) (kernel, error) {
		return func(in []*tensor) ([]*tensor, error) {
			x := in[0]
			if err := wantFloat(x); err != nil {
				return nil, err
			}
			out := newFloat(x.shape)
			apply(out.f, x.f)
			return one(out), nil
		}, nil
	}
}

// rectify is Relu, the most common activation, in a loop of its own rather
// than a function call per element.
func rectify(dst, src []float32) {
	for k, v := range src {
		dst[k] = max(v, 0)
	}
}

func numericUnary(f func(float32) float32, g func(int64) int64) builder {
	return func(*node) (kernel, error) {
		return func(in []*tensor) ([]*tensor, error) {
			x := in[0]
			out := like(x, x.shape)
			if x.dt == f32 {
				for k, v := range x.f {
					out.f[k] = f(v)
				}
			} else {
				for k, v := range x.i {
					out.i[k] = g(v)
				}
			}
			return one(out), nil
		}, nil
	}
}

func buildLeakyRelu(n *node) (kernel, error) {
	alpha := n.float("alpha", 0.01)
	return floatUnary(func(x float32) float32 { return cond(x < 0, alpha*x, x) })(n)
}

func buildElu(n *node) (kernel, error) {
	alpha := float64(n.float("alpha", 1))
	return floatUnary(func(x float32) float32 {
		if x >= 0 {
			return x
		}
		return float32(alpha * math.Expm1(float64(x)))
	})(n)
}

func buildHardSigmoid(n *node) (kernel, error) {
	alpha, beta := n.float("alpha", 0.2), n.float("beta", 0.5)
	return floatUnary(func(x float32) float32 { return max(0, min(1, alpha*x+beta)) })(n)
}

// Clip (opset 11 on): min and max are optional scalar inputs.
func buildClip(*node) (kernel, error) {
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		if err := wantFloat(x); err != nil {
			return nil, err
		}
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		for k, bound := range []*float32{&lo, &hi} {
			if len(in) > k+1 && in[k+1] != nil {
				t := in[k+1]
				if t.dt != f32 || t.len() != 1 {
					return nil, fmt.Errorf("the bounds must be float scalars, got %s", t)
				}
				*bound = t.f[0]
			}
		}
		out := newFloat(x.shape)
		for k, v := range x.f {
			out.f[k] = max(lo, min(hi, v))
		}
		return one(out), nil
	}, nil
}

// Dropout scores as the identity (inference); its optional mask is all true.
func buildDropout(n *node) (kernel, error) {
	return func(in []*tensor) ([]*tensor, error) {
		if len(in) > 2 && in[2] != nil && in[2].len() == 1 && in[2].i[0] != 0 {
			return nil, fmt.Errorf("training_mode is true: export the model in eval mode")
		}
		mask := newInt(boolean, in[0].shape)
		for k := range mask.i {
			mask.i[k] = 1
		}
		return []*tensor{in[0], mask}, nil
	}, nil
}

// elementwise applies f to each pair of elements of a and b broadcast to
// their common shape; f receives the flat indexes into a and b.
func elementwise(a, b *tensor, dt dtype, f func(out *tensor, e, ia, ib int) error) (*tensor, error) {
	shape, err := broadcast(a.shape, b.shape)
	if err != nil {
		return nil, err
	}
	out := like(&tensor{dt: dt}, shape)
	n := size(shape)
	ma, mb := indexer(shape, a.shape), indexer(shape, b.shape)
	for e := 0; e < n; e++ {
		if err := f(out, e, ma(e), mb(e)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// indexer maps an index of a tensor of shape out to the element of a
// tensor of shape in that broadcasts to it, with direct paths for the
// common cases (same shape, a scalar, a trailing block such as a bias).
func indexer(out, in []int) func(int) int {
	n := size(in)
	switch {
	case n == 1:
		return func(int) int { return 0 }
	case equalShape(out, in):
		return func(e int) int { return e }
	case isSuffix(out, in):
		return func(e int) int { return e % n }
	}
	m := indexMap(out, in)
	return func(e int) int { return m[e] }
}

// isSuffix reports whether in, less leading 1s, is the tail of out.
func isSuffix(out, in []int) bool {
	for len(in) > 0 && in[0] == 1 {
		in = in[1:]
	}
	return len(in) <= len(out) && equalShape(out[len(out)-len(in):], in)
}

func arith(f func(a, b float32) float32, g func(a, b int64) (int64, error)) builder {
	return func(*node) (kernel, error) {
		return func(in []*tensor) ([]*tensor, error) {
			return arithApply(in[0], in[1], f, g)
		}, nil
	}
}

func arithApply(a, b *tensor, f func(a, b float32) float32, g func(a, b int64) (int64, error)) ([]*tensor, error) {
	if (a.dt == f32) != (b.dt == f32) {
		return nil, fmt.Errorf("inputs %s and %s differ in type", a, b)
	}
	if a.dt == f32 {
		if equalShape(a.shape, b.shape) {
			out := newFloat(a.shape)
			for k := range out.f {
				out.f[k] = f(a.f[k], b.f[k])
			}
			return one(out), nil
		}
		out, err := elementwise(a, b, f32, func(out *tensor, e, ia, ib int) error {
			out.f[e] = f(a.f[ia], b.f[ib])
			return nil
		})
		if err != nil {
			return nil, err
		}
		return one(out), nil
	}
	if g == nil {
		return nil, fmt.Errorf("inputs are %s, want float", a)
	}
	out, err := elementwise(a, b, i64, func(out *tensor, e, ia, ib int) error {
		v, err := g(a.i[ia], b.i[ib])
		out.i[e] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return one(out), nil
}

func variadic(f func(a, b float32) float32, g func(a, b int64) (int64, error)) builder {
	return func(*node) (kernel, error) {
		return func(in []*tensor) ([]*tensor, error) {
			acc := in[0]
			for _, t := range in[1:] {
				r, err := arithApply(acc, t, f, g)
				if err != nil {
					return nil, err
				}
				acc = r[0]
			}
			return one(acc), nil
		}, nil
	}
}

func buildMean(n *node) (kernel, error) {
	sum, _ := variadic(func(a, b float32) float32 { return a + b }, nil)(n)
	return func(in []*tensor) ([]*tensor, error) {
		s, err := sum(in)
		if err != nil {
			return nil, err
		}
		out := newFloat(s[0].shape)
		for k, v := range s[0].f {
			out.f[k] = v / float32(len(in))
		}
		return one(out), nil
	}, nil
}

func value(t *tensor, k int) float64 {
	if t.dt == f32 {
		return float64(t.f[k])
	}
	return float64(t.i[k])
}

func compare(f func(a, b float64) bool) builder {
	return func(*node) (kernel, error) {
		return func(in []*tensor) ([]*tensor, error) {
			a, b := in[0], in[1]
			out, err := elementwise(a, b, boolean, func(out *tensor, e, ia, ib int) error {
				out.i[e] = cond[int64](f(value(a, ia), value(b, ib)), 1, 0)
				return nil
			})
			if err != nil {
				return nil, err
			}
			return one(out), nil
		}, nil
	}
}

func logic(f func(a, b bool) bool) builder {
	return func(*node) (kernel, error) {
		return func(in []*tensor) ([]*tensor, error) {
			a, b := in[0], in[1]
			if a.dt != boolean || b.dt != boolean {
				return nil, fmt.Errorf("inputs %s and %s must be bool", a, b)
			}
			out, err := elementwise(a, b, boolean, func(out *tensor, e, ia, ib int) error {
				out.i[e] = cond[int64](f(a.i[ia] != 0, b.i[ib] != 0), 1, 0)
				return nil
			})
			if err != nil {
				return nil, err
			}
			return one(out), nil
		}, nil
	}
}

func buildNot(*node) (kernel, error) {
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		if x.dt != boolean {
			return nil, fmt.Errorf("input %s must be bool", x)
		}
		out := newInt(boolean, x.shape)
		for k, v := range x.i {
			out.i[k] = 1 - v
		}
		return one(out), nil
	}, nil
}

func buildWhere(*node) (kernel, error) {
	return func(in []*tensor) ([]*tensor, error) {
		c, x, y := in[0], in[1], in[2]
		if c.dt != boolean {
			return nil, fmt.Errorf("condition %s must be bool", c)
		}
		if (x.dt == f32) != (y.dt == f32) {
			return nil, fmt.Errorf("inputs %s and %s differ in type", x, y)
		}
		shape, err := broadcast(c.shape, x.shape)
		if err == nil {
			shape, err = broadcast(shape, y.shape)
		}
		if err != nil {
			return nil, err
		}
		out := like(x, shape)
		mc, mx, my := indexer(shape, c.shape), indexer(shape, x.shape), indexer(shape, y.shape)
		for e := range size(shape) {
			if out.dt == f32 {
				out.f[e] = cond(c.i[mc(e)] != 0, x.f[mx(e)], y.f[my(e)])
			} else {
				out.i[e] = cond(c.i[mc(e)] != 0, x.i[mx(e)], y.i[my(e)])
			}
		}
		return one(out), nil
	}, nil
}

// Softmax and LogSoftmax (opset 13 on) along one axis, default the last:
// exp(x - max) / Σ exp(x - max), summed in float64.
func buildSoftmax(logOf bool) builder {
	return func(n *node) (kernel, error) {
		ax := int(n.int("axis", -1))
		return func(in []*tensor) ([]*tensor, error) {
			x := in[0]
			if err := wantFloat(x); err != nil {
				return nil, err
			}
			a, err := axis(ax, len(x.shape))
			if err != nil {
				return nil, err
			}
			outer, mid, inner := split3(x.shape, a)
			out := newFloat(x.shape)
			for o := 0; o < outer; o++ {
				for i := 0; i < inner; i++ {
					base := o*mid*inner + i
					m := float32(math.Inf(-1))
					for j := 0; j < mid; j++ {
						m = max(m, x.f[base+j*inner])
					}
					var s float64
					for j := 0; j < mid; j++ {
						s += math.Exp(float64(x.f[base+j*inner] - m))
					}
					for j := 0; j < mid; j++ {
						v := float64(x.f[base+j*inner] - m)
						if logOf {
							out.f[base+j*inner] = float32(v - math.Log(s))
						} else {
							out.f[base+j*inner] = float32(math.Exp(v) / s)
						}
					}
				}
			}
			return one(out), nil
		}, nil
	}
}

// LayerNormalization (opset 17): over the axes from axis to the last,
// y = (x - mean) / sqrt(var + epsilon) * scale + bias, with the population
// variance, in float64.
func buildLayerNorm(n *node) (kernel, error) {
	ax := int(n.int("axis", -1))
	eps := float64(n.float("epsilon", 1e-5))
	return func(in []*tensor) ([]*tensor, error) {
		x, scale := in[0], in[1]
		if err := wantFloat(x); err != nil {
			return nil, err
		}
		a, err := axis(ax, len(x.shape))
		if err != nil {
			return nil, err
		}
		outer, width := size(x.shape[:a]), size(x.shape[a:])
		var bias *tensor
		if len(in) > 2 {
			bias = in[2]
		}
		if scale.dt != f32 || (scale.len() != width && scale.len() != 1) || (bias != nil && bias.len() != width && bias.len() != 1) {
			return nil, fmt.Errorf("scale and bias must have the %d values of the normalized axes", width)
		}
		out := newFloat(x.shape)
		for o := 0; o < outer; o++ {
			row := x.f[o*width : (o+1)*width]
			var mean, sq float64
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(width)
			for _, v := range row {
				d := float64(v) - mean
				sq += d * d
			}
			inv := 1 / math.Sqrt(sq/float64(width)+eps)
			for k, v := range row {
				y := (float64(v) - mean) * inv * float64(scale.f[k%scale.len()])
				if bias != nil {
					y += float64(bias.f[k%bias.len()])
				}
				out.f[o*width+k] = float32(y)
			}
		}
		return one(out), nil
	}, nil
}

// BatchNormalization in inference mode: per channel (axis 1),
// y = (x - mean) / sqrt(var + epsilon) * scale + bias.
func buildBatchNorm(n *node) (kernel, error) {
	if n.int("training_mode", 0) != 0 {
		return nil, fmt.Errorf("training_mode is 1: export the model in eval mode")
	}
	eps := float64(n.float("epsilon", 1e-5))
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		if err := wantFloat(x); err != nil {
			return nil, err
		}
		if len(x.shape) < 2 {
			return nil, fmt.Errorf("input %s needs a channel axis", x)
		}
		outer, c, inner := split3(x.shape, 1)
		for _, p := range in[1:5] {
			if p == nil || p.dt != f32 || p.len() != c {
				return nil, fmt.Errorf("scale, bias, mean and variance must each have %d values", c)
			}
		}
		scale, bias, mean, variance := in[1].f, in[2].f, in[3].f, in[4].f
		out := newFloat(x.shape)
		for o := 0; o < outer; o++ {
			for ch := 0; ch < c; ch++ {
				mul := float64(scale[ch]) / math.Sqrt(float64(variance[ch])+eps)
				for i := 0; i < inner; i++ {
					k := (o*c+ch)*inner + i
					out.f[k] = float32((float64(x.f[k])-float64(mean[ch]))*mul + float64(bias[ch]))
				}
			}
		}
		return one(out), nil
	}, nil
}

// A reduction: acc folds each value into the accumulator, starting from
// init; fin turns the accumulator and the count into the result.
type reduction struct {
	init float64
	acc  func(a, v float64) float64
	fin  func(a float64, n int) float64
}

var (
	same            = func(a float64, _ int) float64 { return a }
	reduceSum       = reduction{0, func(a, v float64) float64 { return a + v }, same}
	reduceMean      = reduction{0, func(a, v float64) float64 { return a + v }, func(a float64, n int) float64 { return a / float64(n) }}
	reduceMax       = reduction{math.Inf(-1), math.Max, same}
	reduceMin       = reduction{math.Inf(1), math.Min, same}
	reduceProd      = reduction{1, func(a, v float64) float64 { return a * v }, same}
	reduceSumSquare = reduction{0, func(a, v float64) float64 { return a + v*v }, same}
	reduceL2        = reduction{0, func(a, v float64) float64 { return a + v*v }, func(a float64, _ int) float64 { return math.Sqrt(a) }}
)

// buildReduce builds a Reduce operator whose axes are an input from opset
// axesInput on and an attribute before it.
func buildReduce(r reduction, axesInput int64) builder {
	return func(n *node) (kernel, error) {
		keep := n.int("keepdims", 1) != 0
		noop := n.int("noop_with_empty_axes", 0) != 0
		attrAxes, _ := n.ints("axes")
		fromInput := n.opset >= axesInput
		return func(in []*tensor) ([]*tensor, error) {
			x := in[0]
			if err := wantFloat(x); err != nil {
				return nil, err
			}
			axes := attrAxes
			if fromInput && len(in) > 1 && in[1] != nil {
				var err error
				if axes, err = in[1].ints(); err != nil {
					return nil, fmt.Errorf("axes: %w", err)
				}
			}
			if len(axes) == 0 && noop && fromInput {
				return one(x), nil
			}
			reduced := make([]bool, len(x.shape))
			if len(axes) == 0 {
				for k := range reduced {
					reduced[k] = true
				}
			}
			for _, a := range axes {
				a, err := axis(a, len(x.shape))
				if err != nil {
					return nil, err
				}
				reduced[a] = true
			}
			kept := make([]int, len(x.shape))
			var shape []int
			for k, d := range x.shape {
				kept[k] = cond(reduced[k], 1, d)
				if !reduced[k] {
					shape = append(shape, d)
				} else if keep {
					shape = append(shape, 1)
				}
			}
			m := size(kept)
			acc := make([]float64, m)
			for k := range acc {
				acc[k] = r.init
			}
			// Index of each input element in the kept shape.
			idx := indexMap(x.shape, kept)
			for e, v := range x.f {
				j := e
				if idx != nil {
					j = idx[e]
				}
				acc[j] = r.acc(acc[j], float64(v))
			}
			count := x.len() / max(m, 1)
			out := newFloat(shape)
			for k := range out.f {
				out.f[k] = float32(r.fin(acc[k], count))
			}
			return one(out), nil
		}, nil
	}
}
