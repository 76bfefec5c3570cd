package onnx

import (
	"fmt"
	"math"
)

// Gather (axis default 0): out = data[..., indices, ...] with negative
// indices counted from the end; an index outside the axis is an error (a
// category the embedding table does not have).
func buildGather(n *node) (kernel, error) {
	ax := int(n.int("axis", 0))
	return func(in []*tensor) ([]*tensor, error) {
		d, idx := in[0], in[1]
		if idx.dt == f32 {
			return nil, fmt.Errorf("indices must be integers, got %s", idx)
		}
		a, err := axis(ax, len(d.shape))
		if err != nil {
			return nil, err
		}
		outer, dim, inner := split3(d.shape, a)
		shape := append(append(append([]int{}, d.shape[:a]...), idx.shape...), d.shape[a+1:]...)
		out := like(d, shape)
		for o := 0; o < outer; o++ {
			for j, v := range idx.i {
				k := int(v)
				if k < 0 {
					k += dim
				}
				if k < 0 || k >= dim {
					return nil, fmt.Errorf("index %d is out of range for an axis of %d", v, dim)
				}
				src := (o*dim + k) * inner
				dst := (o*len(idx.i) + j) * inner
				if d.dt == f32 {
					copy(out.f[dst:dst+inner], d.f[src:src+inner])
				} else {
					copy(out.i[dst:dst+inner], d.i[src:src+inner])
				}
			}
		}
		return one(out), nil
	}, nil
}

// Concat joins its inputs along axis; every other dimension must agree.
func buildConcat(n *node) (kernel, error) {
	attr := n.attr("axis")
	if attr == nil {
		return nil, fmt.Errorf("the axis attribute is required")
	}
	ax := int(attr.i)
	return func(in []*tensor) ([]*tensor, error) {
		first := in[0]
		a, err := axis(ax, len(first.shape))
		if err != nil {
			return nil, err
		}
		shape := append([]int{}, first.shape...)
		shape[a] = 0
		for _, t := range in {
			if len(t.shape) != len(shape) || (t.dt == f32) != (first.dt == f32) {
				return nil, fmt.Errorf("inputs %s and %s cannot be joined", first, t)
			}
			for k := range shape {
				if k != a && t.shape[k] != first.shape[k] {
					return nil, fmt.Errorf("inputs %s and %s differ outside axis %d", first, t, a)
				}
			}
			shape[a] += t.shape[a]
		}
		out := like(first, shape)
		outer := size(shape[:a])
		pos := 0
		for o := 0; o < outer; o++ {
			for _, t := range in {
				w := t.shape[a] * size(t.shape[a+1:])
				if t.dt == f32 {
					copy(out.f[pos:pos+w], t.f[o*w:(o+1)*w])
				} else {
					copy(out.i[pos:pos+w], t.i[o*w:(o+1)*w])
				}
				pos += w
			}
		}
		return one(out), nil
	}, nil
}

// Split (axis default 0): sizes from the second input (opset 13 on), from
// num_outputs (opset 18), or equal parts, one per output.
func buildSplit(n *node) (kernel, error) {
	ax := int(n.int("axis", 0))
	parts := len(n.proto.outputs)
	if n.opset >= 18 {
		if k := n.int("num_outputs", 0); k > 0 {
			parts = int(k)
		}
	}
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		a, err := axis(ax, len(x.shape))
		if err != nil {
			return nil, err
		}
		outer, dim, inner := split3(x.shape, a)
		var sizes []int
		if len(in) > 1 && in[1] != nil {
			if sizes, err = in[1].ints(); err != nil {
				return nil, fmt.Errorf("split: %w", err)
			}
		} else {
			chunk := (dim + parts - 1) / parts
			for left := dim; left > 0; left -= chunk {
				sizes = append(sizes, min(chunk, left))
			}
		}
		total := 0
		for _, s := range sizes {
			total += s
		}
		if total != dim {
			return nil, fmt.Errorf("split sizes %v do not add up to the axis's %d", sizes, dim)
		}
		var outs []*tensor
		start := 0
		for _, s := range sizes {
			shape := append([]int{}, x.shape...)
			shape[a] = s
			out := like(x, shape)
			for o := 0; o < outer; o++ {
				src := (o*dim + start) * inner
				dst := o * s * inner
				if x.dt == f32 {
					copy(out.f[dst:dst+s*inner], x.f[src:src+s*inner])
				} else {
					copy(out.i[dst:dst+s*inner], x.i[src:src+s*inner])
				}
			}
			outs = append(outs, out)
			start += s
		}
		return outs, nil
	}, nil
}

// Flatten (axis default 1) to [product of the dims before axis, the rest].
func buildFlatten(n *node) (kernel, error) {
	ax := int(n.int("axis", 1))
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		a := ax
		if a < 0 {
			a += len(x.shape)
		}
		if a < 0 || a > len(x.shape) {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", ax, len(x.shape))
		}
		return one(x.reshaped([]int{size(x.shape[:a]), size(x.shape[a:])})), nil
	}, nil
}

// Reshape: 0 keeps the input's dimension (unless allowzero, opset 14), -1
// is inferred.
func buildReshape(n *node) (kernel, error) {
	allowZero := n.int("allowzero", 0) != 0
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		want, err := in[1].ints()
		if err != nil {
			return nil, fmt.Errorf("shape: %w", err)
		}
		shape := make([]int, len(want))
		infer, known := -1, 1
		for k, d := range want {
			switch {
			case d == 0 && !allowZero:
				if k >= len(x.shape) {
					return nil, fmt.Errorf("shape %v copies dimension %d of %s, which it lacks", want, k, x)
				}
				d = x.shape[k]
			case d == -1:
				if infer >= 0 {
					return nil, fmt.Errorf("shape %v has two -1", want)
				}
				infer = k
				continue
			case d < 0:
				return nil, fmt.Errorf("shape %v has a negative dimension", want)
			}
			shape[k] = d
			known *= d
		}
		if infer >= 0 {
			if known == 0 || x.len()%known != 0 {
				return nil, fmt.Errorf("cannot reshape %s to %v", x, want)
			}
			shape[infer] = x.len() / known
		}
		if size(shape) != x.len() {
			return nil, fmt.Errorf("cannot reshape %s to %v", x, want)
		}
		return one(x.reshaped(shape)), nil
	}, nil
}

// axesOf reads Squeeze's and Unsqueeze's axes: the second input from opset
// 13 on.
func axesOf(in []*tensor) ([]int, error) {
	if len(in) < 2 || in[1] == nil {
		return nil, nil
	}
	return in[1].ints()
}

func buildSqueeze(*node) (kernel, error) {
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		axes, err := axesOf(in)
		if err != nil {
			return nil, fmt.Errorf("axes: %w", err)
		}
		drop := make([]bool, len(x.shape))
		for _, a := range axes {
			a, err := axis(a, len(x.shape))
			if err != nil {
				return nil, err
			}
			if x.shape[a] != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of %s: its size is not 1", a, x)
			}
			drop[a] = true
		}
		var shape []int
		for k, d := range x.shape {
			if (len(axes) == 0 && d == 1) || drop[k] {
				continue
			}
			shape = append(shape, d)
		}
		return one(x.reshaped(shape)), nil
	}, nil
}

func buildUnsqueeze(*node) (kernel, error) {
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		axes, err := axesOf(in)
		if err != nil || len(axes) == 0 {
			return nil, fmt.Errorf("axes: want a non-empty integer list")
		}
		rank := len(x.shape) + len(axes)
		ones := make([]bool, rank)
		for _, a := range axes {
			a, err := axis(a, rank)
			if err != nil {
				return nil, err
			}
			ones[a] = true
		}
		shape := make([]int, 0, rank)
		next := 0
		for k := 0; k < rank; k++ {
			if ones[k] {
				shape = append(shape, 1)
				continue
			}
			shape = append(shape, x.shape[next])
			next++
		}
		return one(x.reshaped(shape)), nil
	}, nil
}

// strides returns the row-major strides of a shape.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for k := len(shape) - 1; k >= 0; k-- {
		s[k] = acc
		acc *= shape[k]
	}
	return s
}

// gatherStrided copies into out (shape) the elements of x at
// base + Σ index[k] * step[k], for each index of shape.
func gatherStrided(x *tensor, shape []int, base int, step []int) *tensor {
	out := like(x, shape)
	n := size(shape)
	pos := make([]int, len(shape))
	cur := base
	for e := 0; e < n; e++ {
		if x.dt == f32 {
			out.f[e] = x.f[cur]
		} else {
			out.i[e] = x.i[cur]
		}
		for k := len(shape) - 1; k >= 0; k-- {
			pos[k]++
			cur += step[k]
			if pos[k] < shape[k] {
				break
			}
			cur -= step[k] * pos[k]
			pos[k] = 0
		}
	}
	return out
}

// Transpose permutes the axes (default: reversed).
func buildTranspose(n *node) (kernel, error) {
	perm, hasPerm := n.ints("perm")
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		p := perm
		if !hasPerm {
			p = make([]int, len(x.shape))
			for k := range p {
				p[k] = len(x.shape) - 1 - k
			}
		}
		if len(p) != len(x.shape) {
			return nil, fmt.Errorf("perm %v does not fit %s", p, x)
		}
		st := strides(x.shape)
		shape := make([]int, len(p))
		step := make([]int, len(p))
		for k, a := range p {
			if a < 0 || a >= len(x.shape) {
				return nil, fmt.Errorf("perm %v does not fit %s", p, x)
			}
			shape[k], step[k] = x.shape[a], st[a]
		}
		return one(gatherStrided(x, shape, 0, step)), nil
	}, nil
}

// Shape, with start and end (opset 15 on).
func buildShape(n *node) (kernel, error) {
	start, end := int(n.int("start", 0)), int(n.int("end", math.MaxInt32))
	return func(in []*tensor) ([]*tensor, error) {
		r := len(in[0].shape)
		clamp := func(v int) int {
			if v < 0 {
				v += r
			}
			return max(0, min(r, v))
		}
		s, e := clamp(start), clamp(end)
		out := newInt(i64, []int{max(0, e-s)})
		for k := s; k < e; k++ {
			out.i[k-s] = int64(in[0].shape[k])
		}
		return one(out), nil
	}, nil
}

// Slice: starts, ends, optional axes and steps as inputs, clamped as ONNX
// defines (ends past the dimension, INT64_MAX included, stop at it).
func buildSlice(*node) (kernel, error) {
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		lists := make([][]int, 4)
		for k := 1; k < 5 && k < len(in); k++ {
			if in[k] == nil {
				continue
			}
			v, err := in[k].ints()
			if err != nil {
				return nil, err
			}
			lists[k-1] = v
		}
		starts, ends, axes, steps := lists[0], lists[1], lists[2], lists[3]
		if len(starts) != len(ends) {
			return nil, fmt.Errorf("starts %v and ends %v differ in length", starts, ends)
		}
		if axes == nil {
			for k := range starts {
				axes = append(axes, k)
			}
		}
		st := strides(x.shape)
		shape := append([]int{}, x.shape...)
		step := append([]int{}, st...)
		base := 0
		for k, a := range axes {
			a, err := axis(a, len(x.shape))
			if err != nil {
				return nil, err
			}
			dim := x.shape[a]
			s, e, by := starts[k], ends[k], 1
			if steps != nil {
				by = steps[k]
			}
			if by == 0 {
				return nil, fmt.Errorf("a step of 0")
			}
			if s < 0 {
				s += dim
			}
			if e < 0 {
				e += dim
			}
			var count int
			if by > 0 {
				s, e = max(0, min(dim, s)), max(0, min(dim, e))
				count = max(0, (e-s+by-1)/by)
			} else {
				s, e = max(0, min(dim-1, s)), max(-1, min(dim-1, e))
				count = max(0, (s-e-by-1)/-by)
			}
			shape[a] = count
			step[a] = st[a] * by
			if count > 0 {
				base += s * st[a]
			}
		}
		if size(shape) == 0 {
			return one(like(x, shape)), nil
		}
		return one(gatherStrided(x, shape, base, step)), nil
	}, nil
}

// Expand broadcasts the input to a shape.
func buildExpand(*node) (kernel, error) {
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		want, err := in[1].ints()
		if err != nil {
			return nil, fmt.Errorf("shape: %w", err)
		}
		shape, err := broadcast(x.shape, want)
		if err != nil {
			return nil, err
		}
		out := like(x, shape)
		m := indexer(shape, x.shape)
		for e := range size(shape) {
			if x.dt == f32 {
				out.f[e] = x.f[m(e)]
			} else {
				out.i[e] = x.i[m(e)]
			}
		}
		return one(out), nil
	}, nil
}

// Cast to float (float16, float and double all compute as float32), an
// integer type (held as int64, truncating toward zero) or bool.
func buildCast(n *node) (kernel, error) {
	to := n.int("to", 0)
	var dt dtype
	switch to {
	case protoFloat, protoDouble, 10: // 10: float16
		dt = f32
	case protoInt64, protoInt32, protoInt8, protoUint8, 4, 5, 12, 13: // and (u)int16, uint32/64
		dt = i64
	case protoBool:
		dt = boolean
	default:
		return nil, fmt.Errorf("cast to element type %d is not supported: cast to float, an integer type or bool", to)
	}
	return func(in []*tensor) ([]*tensor, error) {
		x := in[0]
		out := like(&tensor{dt: dt}, x.shape)
		for k := range x.len() {
			v := value(x, k)
			switch dt {
			case f32:
				out.f[k] = float32(v)
			case i64:
				out.i[k] = int64(v)
			default:
				out.i[k] = cond[int64](v != 0, 1, 0)
			}
		}
		return one(out), nil
	}, nil
}

// Constant's value: a tensor, or value_float(s) / value_int(s).
func buildConstant(n *node) (kernel, error) {
	var t *tensor
	switch {
	case n.attr("value") != nil:
		var err error
		if t, err = fromProto(n.attr("value").t); err != nil {
			return nil, err
		}
	case n.attr("value_float") != nil:
		t = &tensor{dt: f32, shape: []int{}, f: []float32{n.attr("value_float").f}}
	case n.attr("value_floats") != nil:
		v := n.attr("value_floats").floats
		t = &tensor{dt: f32, shape: []int{len(v)}, f: append([]float32{}, v...)}
	case n.attr("value_int") != nil:
		t = &tensor{dt: i64, shape: []int{}, i: []int64{n.attr("value_int").i}}
	case n.attr("value_ints") != nil:
		v := n.attr("value_ints").ints
		t = &tensor{dt: i64, shape: []int{len(v)}, i: append([]int64{}, v...)}
	default:
		return nil, fmt.Errorf("no value: ferry reads value, value_float(s) and value_int(s)")
	}
	return func([]*tensor) ([]*tensor, error) { return one(t), nil }, nil
}

// ConstantOfShape fills a shape with its value (default float 0).
func buildConstantOfShape(n *node) (kernel, error) {
	fill := &tensor{dt: f32, shape: []int{1}, f: []float32{0}}
	if a := n.attr("value"); a != nil {
		var err error
		if fill, err = fromProto(a.t); err != nil {
			return nil, err
		}
		if fill.len() != 1 {
			return nil, fmt.Errorf("value must hold one element")
		}
	}
	return func(in []*tensor) ([]*tensor, error) {
		shape, err := in[0].ints()
		if err != nil {
			return nil, fmt.Errorf("shape: %w", err)
		}
		for _, d := range shape {
			if d < 0 {
				return nil, fmt.Errorf("shape %v has a negative dimension", shape)
			}
		}
		out := like(fill, shape)
		for k := range out.len() {
			if fill.dt == f32 {
				out.f[k] = fill.f[0]
			} else {
				out.i[k] = fill.i[0]
			}
		}
		return one(out), nil
	}, nil
}
