package onnx

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protowire"
)

// These tests run one operator at a time on values worked out by hand (the
// expected value beside each case says how), through the same Parse and run
// as a served model.

// A small encoder of the onnx.proto fields these tests need (the field
// numbers of onnx.proto3), so the models are built the way an exporter
// writes them, as bytes.

func pbBytes(b []byte, num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
}

func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

func floatInit(name string, shape []int64, v ...float32) []byte {
	var b []byte
	for _, d := range shape {
		b = pbVarint(b, 1, uint64(d))
	}
	b = pbVarint(b, 2, protoFloat)
	var packed []byte
	for _, x := range v {
		packed = protowire.AppendFixed32(packed, math.Float32bits(x))
	}
	b = pbBytes(b, 4, packed)
	return pbBytes(b, 8, []byte(name))
}

func intInit(name string, v ...int64) []byte {
	b := pbVarint(nil, 1, uint64(len(v)))
	b = pbVarint(b, 2, protoInt64)
	for _, x := range v {
		b = pbVarint(b, 7, uint64(x)) // unpacked, as some writers do
	}
	return pbBytes(b, 8, []byte(name))
}

func attrInt(name string, v int64) []byte {
	return pbVarint(pbBytes(nil, 1, []byte(name)), 3, uint64(v))
}

func attrInts(name string, v ...int64) []byte {
	var packed []byte
	for _, x := range v {
		packed = protowire.AppendVarint(packed, uint64(x))
	}
	return pbBytes(pbBytes(nil, 1, []byte(name)), 8, packed)
}

func attrFloat(name string, v float32) []byte {
	b := pbBytes(nil, 1, []byte(name))
	return protowire.AppendFixed32(protowire.AppendTag(b, 2, protowire.Fixed32Type), math.Float32bits(v))
}

// nodeDef is a node before encoding.
type nodeDef struct {
	op, domain string
	in         []string
	attrs      [][]byte
}

func (n nodeDef) encode(out string) []byte {
	var b []byte
	for _, in := range n.in {
		b = pbBytes(b, 1, []byte(in))
	}
	b = pbBytes(b, 2, []byte(out))
	b = pbBytes(b, 4, []byte(n.op))
	for _, a := range n.attrs {
		b = pbBytes(b, 5, a)
	}
	if n.domain != "" {
		b = pbBytes(b, 7, []byte(n.domain))
	}
	return b
}

// runOne builds a model of one node reading the graph input "x" (and the
// initializers), runs it on x and returns output "y".
func runOne(t *testing.T, opset int64, n nodeDef, inits [][]byte, x *tensor) (*tensor, error) {
	t.Helper()
	g := pbBytes(nil, 1, n.encode("y"))
	for _, init := range inits {
		g = pbBytes(g, 5, init)
	}
	g = pbBytes(g, 11, pbBytes(nil, 1, []byte("x")))
	g = pbBytes(g, 12, pbBytes(nil, 1, []byte("y")))
	b := pbBytes(nil, 7, g)
	b = pbBytes(b, 8, pbVarint(nil, 2, uint64(opset)))
	m, err := Parse(b)
	if err != nil {
		return nil, err
	}
	return m.g.run(map[int]*tensor{m.g.ids["x"]: x})
}

func floats(shape []int, v ...float32) *tensor { return &tensor{dt: f32, shape: shape, f: v} }

func TestOperators(t *testing.T) {
	x23 := floats([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	for _, c := range []struct {
		name  string
		opset int64
		node  nodeDef
		inits [][]byte
		x     *tensor
		want  *tensor
	}{{
		// [1 2 3; 4 5 6] · [1 0; 0 1; 1 1] = [4 5; 10 11]; ·2 + 0.5·[1 -1].
		name: "Gemm alpha beta", opset: 13,
		node:  nodeDef{op: "Gemm", in: []string{"x", "w", "c"}, attrs: [][]byte{attrFloat("alpha", 2), attrFloat("beta", 0.5)}},
		inits: [][]byte{floatInit("w", []int64{3, 2}, 1, 0, 0, 1, 1, 1), floatInit("c", []int64{2}, 1, -1)},
		x:     x23, want: floats([]int{2, 2}, 8.5, 9.5, 20.5, 21.5),
	}, {
		// transA: x' is [1 4; 2 5; 3 6], times the 2x1 column [1; 1] (given as [1 1] with transB).
		name: "Gemm transA transB", opset: 14,
		node:  nodeDef{op: "Gemm", in: []string{"x", "w"}, attrs: [][]byte{attrInt("transA", 1), attrInt("transB", 1)}},
		inits: [][]byte{floatInit("w", []int64{1, 2}, 1, 1)},
		x:     x23, want: floats([]int{3, 1}, 5, 7, 9),
	}, {
		// Batched: each [1, 3] row times the [3, 1] column of ones sums the row.
		name: "MatMul batched", opset: 13,
		node:  nodeDef{op: "MatMul", in: []string{"x", "w"}},
		inits: [][]byte{floatInit("w", []int64{1, 3, 1}, 1, 1, 1)},
		x:     floats([]int{2, 1, 3}, 1, 2, 3, 4, 5, 6), want: floats([]int{2, 1, 1}, 6, 15),
	}, {
		// Columns 2 and 0 of each row, walking backwards: ends -4 is before the start.
		name: "Slice negative step", opset: 13,
		node:  nodeDef{op: "Slice", in: []string{"x", "s", "e", "a", "st"}},
		inits: [][]byte{intInit("s", -1), intInit("e", -4), intInit("a", 1), intInit("st", -2)},
		x:     x23, want: floats([]int{2, 2}, 3, 1, 6, 4),
	}, {
		name: "Reshape zero and minus one", opset: 14,
		node:  nodeDef{op: "Reshape", in: []string{"x", "s"}},
		inits: [][]byte{intInit("s", 0, -1, 1)},
		x:     x23, want: floats([]int{2, 3, 1}, 1, 2, 3, 4, 5, 6),
	}, {
		// Opset 13: axes is an input. Sum over axis 0: [5 7 9].
		name: "ReduceSum axes input", opset: 13,
		node:  nodeDef{op: "ReduceSum", in: []string{"x", "a"}, attrs: [][]byte{attrInt("keepdims", 0)}},
		inits: [][]byte{intInit("a", 0)},
		x:     x23, want: floats([]int{3}, 5, 7, 9),
	}, {
		// Opset 17: ReduceMean's axes is still an attribute. Row means 2 and 5.
		name: "ReduceMean axes attribute", opset: 17,
		node: nodeDef{op: "ReduceMean", in: []string{"x"}, attrs: [][]byte{
			attrInts("axes", -1)}},
		x: x23, want: floats([]int{2, 1}, 2, 5),
	}, {
		// Opset 18: the axes moved to an input.
		name: "ReduceMean axes input", opset: 18,
		node:  nodeDef{op: "ReduceMean", in: []string{"x", "a"}},
		inits: [][]byte{intInit("a", 1)},
		x:     x23, want: floats([]int{2, 1}, 2, 5),
	}, {
		// exp(0), exp(1), exp(2) over their sum: 0.0900306, 0.2447285, 0.6652410.
		name: "Softmax last axis", opset: 13,
		node: nodeDef{op: "Softmax", in: []string{"x"}},
		x:    floats([]int{1, 3}, 0, 1, 2), want: floats([]int{1, 3}, 0.09003057, 0.24472847, 0.66524096),
	}, {
		// Mean 2, population variance 2/3: (x - 2) / sqrt(2/3) = ∓1.2247449, 0; times 2, plus 1.
		name: "LayerNormalization", opset: 17,
		node:  nodeDef{op: "LayerNormalization", in: []string{"x", "s", "b"}, attrs: [][]byte{attrFloat("epsilon", 0)}},
		inits: [][]byte{floatInit("s", []int64{3}, 2, 2, 2), floatInit("b", []int64{3}, 1, 1, 1)},
		x:     floats([]int{1, 3}, 1, 2, 3), want: floats([]int{1, 3}, -1.4494898, 1, 3.4494898),
	}, {
		// Rows 2 and 0 of a 3x2 table; -1 counts from the end.
		name: "Gather negative index", opset: 13,
		node:  nodeDef{op: "Gather", in: []string{"x", "i"}},
		inits: [][]byte{intInit("i", -1, 0)},
		x:     floats([]int{3, 2}, 1, 2, 3, 4, 5, 6), want: floats([]int{2, 2}, 5, 6, 1, 2),
	}, {
		name: "Concat axis 1", opset: 13,
		node:  nodeDef{op: "Concat", in: []string{"x", "c"}, attrs: [][]byte{attrInt("axis", 1)}},
		inits: [][]byte{floatInit("c", []int64{2, 1}, 7, 8)},
		x:     x23, want: floats([]int{2, 4}, 1, 2, 3, 7, 4, 5, 6, 8),
	}, {
		name: "Transpose", opset: 13,
		node: nodeDef{op: "Transpose", in: []string{"x"}},
		x:    x23, want: floats([]int{3, 2}, 1, 4, 2, 5, 3, 6),
	}, {
		// Broadcast [2,3] + [3,1]? No: [2,1,3] + [1,2,1] → [2,2,3].
		name: "Add broadcast both ways", opset: 13,
		node:  nodeDef{op: "Add", in: []string{"x", "c"}},
		inits: [][]byte{floatInit("c", []int64{1, 2, 1}, 10, 20)},
		x:     floats([]int{2, 1, 3}, 1, 2, 3, 4, 5, 6),
		want:  floats([]int{2, 2, 3}, 11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26),
	}} {
		t.Run(c.name, func(t *testing.T) {
			got, err := runOne(t, c.opset, c.node, c.inits, c.x)
			if err != nil {
				t.Fatal(err)
			}
			// Tolerance 1e-6: float32 results of hand-computed values.
			if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(tensor{}), cmpopts.EquateApprox(0, 1e-6), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestSplitByOpset(t *testing.T) {
	// Opset 18: num_outputs 2 splits 3 columns as 2 and 1.
	n := nodeDef{op: "Split", in: []string{"x"}, attrs: [][]byte{attrInt("axis", 1), attrInt("num_outputs", 2)}}
	got, err := runOne(t, 18, n, nil, floats([]int{2, 3}, 1, 2, 3, 4, 5, 6))
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 2, 4, 5}; !cmp.Equal(got.f, want) {
		t.Errorf("first part %v, want %v", got.f, want)
	}
}

func TestRunErrors(t *testing.T) {
	gather := nodeDef{op: "Gather", in: []string{"x", "i"}}
	_, err := runOne(t, 13, gather, [][]byte{intInit("i", 3)}, floats([]int{3, 1}, 1, 2, 3))
	if err == nil || !strings.Contains(err.Error(), "index 3 is out of range for an axis of 3") {
		t.Errorf("out-of-range category: %v", err)
	}
	div := nodeDef{op: "Div", in: []string{"x", "z"}}
	_, err = runOne(t, 13, div, [][]byte{intInit("z", 0)}, &tensor{dt: i64, shape: []int{1}, i: []int64{4}})
	if err == nil || !strings.Contains(err.Error(), "integer division by zero") {
		t.Errorf("integer division by zero: %v", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	relu := func() nodeDef { return nodeDef{op: "Relu", in: []string{"x"}} }
	for _, c := range []struct {
		name  string
		opset int64
		node  nodeDef
		want  string
	}{
		{"opset 12", 12, relu(), "ONNX opset 12 is not supported: ferry scores opsets 13 to 18"},
		{"opset 19", 19, relu(), "ONNX opset 19 is not supported"},
		{"operator", 13, nodeDef{op: "LSTM", in: []string{"x"}}, "ONNX operators not supported (opset 13): LSTM"},
		{"domain", 13, nodeDef{op: "FusedGemm", domain: "com.microsoft", in: []string{"x"}}, "com.microsoft.FusedGemm"},
		{"order", 13, nodeDef{op: "Add", in: []string{"x", "later"}}, `reads "later", which no earlier node`},
		{"cast", 13, nodeDef{op: "Cast", in: []string{"x"}, attrs: [][]byte{attrInt("to", 8)}}, "cast to element type 8 is not supported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := runOne(t, c.opset, c.node, nil, floats([]int{1}, 1))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	// An external-data tensor names what to do.
	ext := &tensorProto{name: "w", dims: []int64{1}, dataType: protoFloat, external: true}
	if _, err := fromProto(ext); err == nil || !strings.Contains(err.Error(), "external file") {
		t.Errorf("external data: %v", err)
	}
	short := &tensorProto{name: "w", dims: []int64{3}, dataType: protoFloat, raw: make([]byte, 8), hasRaw: true}
	if _, err := fromProto(short); err == nil || !strings.Contains(err.Error(), `tensor "w" of shape [3] holds 2 values`) {
		t.Errorf("short raw data: %v", err)
	}
	if math.IsNaN(float64(sigmoid(float32(math.Inf(-1))))) {
		t.Error("sigmoid(-inf) is NaN, want 0")
	}
}

// graphOf builds a model of nodes (each writing the output named beside it)
// reading the graph input "x" and the initializers, with output "y".
func graphOf(t *testing.T, nodes map[string]nodeDef, order []string, inits [][]byte) *Model {
	t.Helper()
	var g []byte
	for _, out := range order {
		g = pbBytes(g, 1, nodes[out].encode(out))
	}
	for _, init := range inits {
		g = pbBytes(g, 5, init)
	}
	g = pbBytes(g, 11, pbBytes(nil, 1, []byte("x")))
	g = pbBytes(g, 12, pbBytes(nil, 1, []byte("y")))
	b := pbBytes(nil, 7, g)
	b = pbBytes(b, 8, pbVarint(nil, 2, 14))
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A Gemm whose output only a Relu reads runs as one fused step, with the
// same bits as Gemm then Relu; one whose output something else reads too,
// or that is the graph's output, is left alone.
func TestGemmReluFusion(t *testing.T) {
	w := floatInit("w", []int64{3, 4}, 1, -2, 0.5, 3, -1, 0.25, 2, -3, 0.125, 1, -0.5, 2)
	c := floatInit("c", []int64{4}, 0.1, -0.2, 0.3, -5)
	gemm := nodeDef{op: "Gemm", in: []string{"x", "w", "c"}, attrs: [][]byte{attrFloat("beta", 0.5)}}
	x := floats([]int{2, 3}, 1, 2, 3, -1, 0.5, -2)
	want, err := runOne(t, 14, gemm, [][]byte{w, c}, x)
	if err != nil {
		t.Fatal(err)
	}
	rectify(want.f, want.f)
	var negative bool
	for _, v := range want.f {
		negative = negative || v == 0
	}
	if !negative {
		t.Fatal("the case rectifies nothing; it would not tell fused from unfused")
	}

	fused := graphOf(t, map[string]nodeDef{"h": gemm, "y": {op: "Relu", in: []string{"h"}}}, []string{"h", "y"}, [][]byte{w, c})
	if len(fused.g.steps) != 1 || fused.g.steps[0].op != "Gemm+Relu" {
		t.Fatalf("steps %v, want one Gemm+Relu", fused.g.steps)
	}
	got, err := fused.g.run(map[int]*tensor{fused.g.ids["x"]: x})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.f {
		if math.Float32bits(got.f[i]) != math.Float32bits(want.f[i]) {
			t.Fatalf("fused value %d is %v, Gemm then Relu %v", i, got.f[i], want.f[i])
		}
	}

	shared := graphOf(t, map[string]nodeDef{"h": gemm, "r": {op: "Relu", in: []string{"h"}}, "y": {op: "Add", in: []string{"r", "h"}}},
		[]string{"h", "r", "y"}, [][]byte{w, c})
	if len(shared.g.steps) != 3 {
		t.Errorf("a Gemm output two steps read: %d steps, want 3 (no fusion)", len(shared.g.steps))
	}
	got, err = shared.g.run(map[int]*tensor{shared.g.ids["x"]: x})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := runOne(t, 14, gemm, [][]byte{w, c}, x)
	for i := range want.f {
		if got.f[i] != want.f[i]+plain.f[i] {
			t.Fatalf("Relu(h)+h value %d is %v, want %v", i, got.f[i], want.f[i]+plain.f[i])
		}
	}
}

// Runs that write into kept buffers (runWith, what scoring uses) give the
// allocating run's bits, whatever the row counts of the runs before them:
// a buffer grown by a larger run and reused by a smaller one, and then a
// larger one again, holds no stale values.
func TestRunWithKeptBuffers(t *testing.T) {
	w := floatInit("w", []int64{3, 4}, 1, -2, 0.5, 3, -1, 0.25, 2, -3, 0.125, 1, -0.5, 2)
	c := floatInit("c", []int64{4}, 0.1, -0.2, 0.3, -5)
	v := floatInit("v", []int64{4, 2}, 1, 2, -1, 0.5, 0.25, -3, 2, 1)
	m := graphOf(t, map[string]nodeDef{
		"h": {op: "Gemm", in: []string{"x", "w", "c"}},
		"r": {op: "Relu", in: []string{"h"}},
		"y": {op: "Gemm", in: []string{"r", "v"}},
	}, []string{"h", "r", "y"}, [][]byte{w, c, v})
	rng := rand.New(rand.NewPCG(7, 8))
	for _, rows := range []int{5, 2, 9, 1, 9} {
		x := floats([]int{rows, 3})
		for i := 0; i < rows*3; i++ {
			x.f = append(x.f, float32(rng.NormFloat64()))
		}
		want, err := m.g.run(map[int]*tensor{m.g.ids["x"]: x})
		if err != nil {
			t.Fatal(err)
		}
		var got []float32
		err = m.g.runWith(map[int]*tensor{m.g.ids["x"]: x}, func(out *tensor) error {
			got = append(got, out.f...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want.f) {
			t.Fatalf("%d rows: %d outputs kept, %d allocated", rows, len(got), len(want.f))
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want.f[i]) {
				t.Fatalf("%d rows: output %d is %v in kept buffers, %v allocated", rows, i, got[i], want.f[i])
			}
		}
	}
}
