package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// dtype is a tensor's element type as the executor holds it. Float tensors
// are float32 (what PyTorch exports and ONNX Runtime computes in); integer
// tensors of any width are held as int64, booleans as int64 0 or 1.
type dtype uint8

const (
	f32 dtype = iota
	i64
	boolean
)

func (d dtype) String() string {
	switch d {
	case f32:
		return "float"
	case i64:
		return "int64"
	default:
		return "bool"
	}
}

// ONNX TensorProto element types (onnx.proto's TensorProto.DataType).
const (
	protoFloat  = 1
	protoUint8  = 2
	protoInt8   = 3
	protoInt32  = 6
	protoInt64  = 7
	protoBool   = 9
	protoDouble = 11
)

// tensor is a dense row-major tensor. Exactly one of f and i holds the data,
// by dt. Tensors are never mutated once a kernel has returned them: kernels
// allocate their outputs, so constants can be shared by every request.
type tensor struct {
	dt    dtype
	shape []int
	f     []float32
	i     []int64
}

// maxElements bounds every tensor the executor allocates (1 GiB of
// float32), so a malformed model or a shape computed from a request cannot
// exhaust memory; the graph fails with an error instead.
const maxElements = 1 << 28

// tooLarge is raised (as a panic, recovered into an error by the graph) by
// an allocation over maxElements.
type tooLarge struct{ shape []int }

func (e tooLarge) String() string {
	return fmt.Sprintf("a tensor of shape %v is over the executor's %d elements", e.shape, maxElements)
}

// size is the number of elements of a shape (1 for a scalar), or -1 when
// it is over maxElements or a dimension is negative.
func size(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxElements/d) {
			return -1
		}
		n *= d
	}
	return n
}

func (t *tensor) len() int { return size(t.shape) }

// checked is the size of a shape that is about to be allocated.
func checked(shape []int) int {
	n := size(shape)
	if n < 0 {
		panic(tooLarge{shape})
	}
	return n
}

func newFloat(shape []int) *tensor {
	return &tensor{dt: f32, shape: shape, f: make([]float32, checked(shape))}
}

// floatInto returns a float tensor of the given shape over *buf, grown
// when short, for a kernel that writes every value (its values are left
// from an earlier run); with no buf, a new tensor.
func floatInto(buf *[]float32, shape []int) *tensor {
	if buf == nil {
		return newFloat(shape)
	}
	n := checked(shape)
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return &tensor{dt: f32, shape: shape, f: (*buf)[:n]}
}

func newInt(dt dtype, shape []int) *tensor {
	return &tensor{dt: dt, shape: shape, i: make([]int64, checked(shape))}
}

// like returns a new tensor of t's type and the given shape.
func like(t *tensor, shape []int) *tensor {
	if t.dt == f32 {
		return newFloat(shape)
	}
	return newInt(t.dt, shape)
}

// reshaped returns t's data under another shape of the same size, sharing
// the data (safe: tensors are never mutated).
func (t *tensor) reshaped(shape []int) *tensor {
	return &tensor{dt: t.dt, shape: shape, f: t.f, i: t.i}
}

// ints reads a 1-D integer tensor as Go ints (shapes, axes, indices).
func (t *tensor) ints() ([]int, error) {
	if t.dt == f32 {
		return nil, fmt.Errorf("want an integer tensor, got float")
	}
	out := make([]int, len(t.i))
	for k, v := range t.i {
		out[k] = int(v)
	}
	return out, nil
}

func (t *tensor) String() string { return fmt.Sprintf("%s%v", t.dt, t.shape) }

// fromProto converts an initializer or a Constant's value.
func fromProto(tp *tensorProto) (*tensor, error) {
	if tp.external {
		return nil, fmt.Errorf("tensor %q keeps its data in an external file: save the model with its weights inside (onnx.save_model(..., save_as_external_data=False))", tp.name)
	}
	shape := make([]int, len(tp.dims))
	for k, d := range tp.dims {
		if d < 0 {
			return nil, fmt.Errorf("tensor %q has a negative dimension %d", tp.name, d)
		}
		shape[k] = int(d)
	}
	n := size(shape)
	if n < 0 {
		return nil, fmt.Errorf("tensor %q of shape %v is over %d elements", tp.name, shape, maxElements)
	}
	raw, rawLen := tp.raw, int64(len(tp.raw))
	if tp.file != nil {
		rawLen = tp.rawLen
	}
	dt, width, typed, err := tp.layout()
	if err != nil {
		return nil, err
	}
	// Check the count before allocating: a short tensor is an error, not a
	// large zeroed buffer.
	if tp.hasRaw && rawLen != int64(width*n) {
		return nil, fmt.Errorf("tensor %q of shape %v holds %d values", tp.name, shape, rawLen/int64(width))
	}
	if !tp.hasRaw && typed != n {
		return nil, fmt.Errorf("tensor %q of shape %v holds %d values", tp.name, shape, typed)
	}
	t := like(&tensor{dt: dt}, shape)
	if tp.file != nil && tp.dataType == protoFloat {
		return t, tp.readRaw(t.f) // straight from the file into the values
	}
	if tp.file != nil {
		if err := tp.readRaw(nil); err != nil {
			return nil, err
		}
		raw = tp.raw
	}
	switch {
	case !tp.hasRaw:
		raw = nil // the typed fields hold the values
	case raw == nil:
		raw = []byte{}
	}
	for k := 0; k < n; k++ {
		switch {
		case raw == nil && tp.dataType == protoFloat:
			t.f[k] = tp.floatData[k]
		case raw == nil && tp.dataType == protoDouble:
			t.f[k] = float32(tp.doubleData[k])
		case raw == nil && tp.dataType == protoInt64:
			t.i[k] = tp.int64Data[k]
		case raw == nil:
			t.i[k] = int64(tp.int32Data[k])
		case tp.dataType == protoFloat:
			t.f[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
		case tp.dataType == protoDouble:
			t.f[k] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:])))
		case width == 8:
			t.i[k] = int64(binary.LittleEndian.Uint64(raw[8*k:]))
		case width == 4:
			t.i[k] = int64(int32(binary.LittleEndian.Uint32(raw[4*k:])))
		case tp.dataType == protoInt8:
			t.i[k] = int64(int8(raw[k]))
		default:
			t.i[k] = int64(raw[k])
		}
	}
	return t, nil
}

// layout is how a tensor's elements are held: the executor's type, the
// width of a raw element in bytes, and how many typed values it has.
func (tp *tensorProto) layout() (dt dtype, width, typed int, err error) {
	switch tp.dataType {
	case protoFloat:
		return f32, 4, len(tp.floatData), nil
	case protoDouble:
		// Held as float32, the precision the rest of the graph computes in.
		return f32, 8, len(tp.doubleData), nil
	case protoInt64:
		return i64, 8, len(tp.int64Data), nil
	case protoInt32:
		return i64, 4, len(tp.int32Data), nil
	case protoInt8, protoUint8:
		return i64, 1, len(tp.int32Data), nil
	case protoBool:
		return boolean, 1, len(tp.int32Data), nil
	}
	return 0, 0, 0, fmt.Errorf("tensor %q has element type %d: ferry scores float, double, int8/32/64, uint8 and bool tensors", tp.name, tp.dataType)
}

// broadcast returns the shape two shapes broadcast to (numpy's rules, which
// ONNX's multidirectional broadcasting follows).
func broadcast(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for k := 0; k < n; k++ {
		da, db := 1, 1
		if j := k - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := k - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[k] = da
		case da == 1:
			out[k] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// indexMap maps each element of a tensor of shape out to the element of an
// input of shape in that broadcasts to it; nil when the shapes are equal.
func indexMap(out, in []int) []int {
	if equalShape(out, in) {
		return nil
	}
	n := size(out)
	idx := make([]int, n)
	if size(in) == 1 {
		return idx // all zeros
	}
	// Strides of in, aligned right on out, 0 where in broadcasts.
	strides := make([]int, len(out))
	s := 1
	for k := len(out) - 1; k >= 0; k-- {
		j := k - (len(out) - len(in))
		if j < 0 {
			continue
		}
		if in[j] != 1 {
			strides[k] = s
		}
		s *= in[j]
	}
	pos := make([]int, len(out))
	cur := 0
	for e := 0; e < n; e++ {
		idx[e] = cur
		for k := len(out) - 1; k >= 0; k-- {
			pos[k]++
			cur += strides[k]
			if pos[k] < out[k] {
				break
			}
			cur -= strides[k] * pos[k]
			pos[k] = 0
		}
	}
	return idx
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// axis resolves a possibly negative axis against a rank.
func axis(a, rank int) (int, error) {
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", a, rank)
	}
	return a, nil
}

// split3 splits a shape around an axis: the product of the dimensions
// before it, the axis's own and the product after it.
func split3(shape []int, ax int) (outer, mid, inner int) {
	return size(shape[:ax]), shape[ax], size(shape[ax+1:])
}
