package onnx

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// The ONNX operator sets this executor implements: every operator in the
// table below follows its definition in each of these opsets (the ones
// whose meaning changed in between, such as ReduceMean's axes or Split's
// num_outputs, read the model's opset).
const (
	MinOpset = 13
	MaxOpset = 18
)

// kernel runs one node: its inputs in the node's order (nil for an omitted
// optional input) to its outputs. A kernel allocates its outputs (a
// bufKernel writes them into the buffers of its run) and never mutates its
// inputs or keeps the slice, so one compiled graph serves any number of
// concurrent runs.
type kernel func(in []*tensor) ([]*tensor, error)

// bufKernel is a kernel that writes its one output into *buf, grown when
// short, and returns it over buf: a run keeps the buffers of such steps
// for the next run (graph.runWith), so a served request does not allocate
// and clear its layers' outputs. With a nil buf it allocates.
type bufKernel func(in []*tensor, buf *[]float32) ([]*tensor, error)

// alloc is k as a kernel that allocates its output.
func (k bufKernel) alloc(in []*tensor) ([]*tensor, error) { return k(in, nil) }

// graph is a compiled ONNX graph: values numbered, initializers and every
// node whose inputs are all constant evaluated once at load, each remaining
// node bound to a kernel whose attributes were parsed and checked at load.
type graph struct {
	opset  int64
	nvals  int
	consts []*tensor // by value id; nil for values computed per run
	inputs []*valueInfo
	ids    map[string]int
	output int
	name   string // the output's name
	steps  []step

	scratch sync.Pool // *[][]float32: the buffers of a run's buffered steps, by step
}

type step struct {
	name, op string
	in, out  []int // value ids; -1 for an omitted optional value
	free     []int // values no later step reads
	run      kernel
	// into is run writing into a kept buffer, and variant makes into with
	// or without Relu after it (fuseRelu); both nil unless the operator
	// is buffered.
	into    bufKernel
	variant func(relu bool) bufKernel
}

// node is what an operator's builder sees of one node at load.
type node struct {
	proto  *nodeProto
	opset  int64
	consts []*tensor // each input's constant value, or nil when computed per run
}

// builder checks a node's attributes and returns its kernel.
type builder func(n *node) (kernel, error)

// compile checks a model against what the executor implements and builds
// its graph. Every operator the model uses that is missing is named in one
// error, with the opset, at load.
func compile(mp *modelProto) (*graph, error) {
	g := mp.graph
	if g == nil {
		return nil, fmt.Errorf("not an ONNX model: no graph")
	}
	opset := modelOpset(mp)
	if opset < MinOpset || opset > MaxOpset {
		return nil, fmt.Errorf("ONNX opset %d is not supported: ferry scores opsets %d to %d (torch.onnx.export's default in PyTorch 1.13 to 2.x; pass opset_version=%d to choose)", opset, MinOpset, MaxOpset, MaxOpset)
	}
	gr := &graph{opset: opset, ids: map[string]int{}}
	for _, init := range g.inits {
		t, err := fromProto(init)
		if err != nil {
			return nil, fmt.Errorf("ONNX initializer: %w", err)
		}
		gr.consts[gr.newID(init.name)] = t
	}
	for _, in := range g.inputs {
		if _, isInit := gr.ids[in.name]; isInit {
			continue // older exports list initializers as inputs too
		}
		gr.newID(in.name)
		gr.inputs = append(gr.inputs, in)
	}
	var unsupported []string
	for _, np := range g.nodes {
		op := np.opType
		if d := np.domain; d != "" && d != "ai.onnx" {
			unsupported = appendOnce(unsupported, d+"."+op)
			continue
		}
		build, ok := operators[op]
		if !ok {
			unsupported = appendOnce(unsupported, op)
			continue
		}
		if len(unsupported) > 0 {
			continue // only collecting names now
		}
		if err := gr.add(np, build); err != nil {
			return nil, err
		}
	}
	if len(unsupported) > 0 {
		sort.Strings(unsupported)
		return nil, fmt.Errorf("ONNX operators not supported (opset %d): %s; ferry scores %s", opset, strings.Join(unsupported, ", "), strings.Join(Operators(), ", "))
	}
	if len(g.outputs) == 0 {
		return nil, fmt.Errorf("the ONNX graph has no output")
	}
	gr.name = g.outputs[0].name
	id, ok := gr.ids[gr.name]
	if !ok {
		return nil, fmt.Errorf("the ONNX graph's output %q is computed by no node", gr.name)
	}
	gr.output = id
	gr.fuseRelu()
	gr.planFrees()
	gr.scratch.New = func() any {
		bufs := make([][]float32, len(gr.steps))
		return &bufs
	}
	return gr, nil
}

// modelOpset is the model's version of the default operator set.
func modelOpset(mp *modelProto) int64 {
	var opset int64
	for _, o := range mp.opsets {
		if (o.domain == "" || o.domain == "ai.onnx") && o.version > opset {
			opset = o.version
		}
	}
	return opset
}

// newID numbers the value name.
func (gr *graph) newID(name string) int {
	id := gr.nvals
	gr.nvals++
	gr.ids[name] = id
	gr.consts = append(gr.consts, nil)
	return id
}

// add builds np's kernel and appends its step; a node whose inputs are all
// known at load is run once now and its outputs kept as constants.
func (gr *graph) add(np *nodeProto, build builder) error {
	op := np.opType
	s := step{name: np.name, op: op}
	n := &node{proto: np, opset: gr.opset}
	folded := true
	for _, name := range np.inputs {
		if name == "" {
			s.in = append(s.in, -1)
			n.consts = append(n.consts, nil)
			continue
		}
		id, ok := gr.ids[name]
		if !ok {
			return fmt.Errorf("ONNX node %s (%s) reads %q, which no earlier node, input or initializer gives (nodes must be in topological order)", nodeName(np), op, name)
		}
		s.in = append(s.in, id)
		n.consts = append(n.consts, gr.consts[id])
		folded = folded && gr.consts[id] != nil
	}
	var k kernel
	var err error
	if b, ok := buffered[op]; ok {
		if s.variant, err = b(n); err == nil {
			s.into = s.variant(false)
			k = s.into.alloc
		}
	} else {
		k, err = build(n)
	}
	if err != nil {
		return fmt.Errorf("ONNX node %s (%s, opset %d): %w", nodeName(np), op, gr.opset, err)
	}
	s.run = k
	for _, name := range np.outputs {
		if name == "" {
			s.out = append(s.out, -1)
			continue
		}
		s.out = append(s.out, gr.newID(name))
	}
	if !folded {
		gr.steps = append(gr.steps, s)
		return nil
	}
	// Every input is known at load: run it once now.
	outs, err := fold(k, n.consts)
	if err != nil {
		return fmt.Errorf("ONNX node %s (%s) on its constant inputs: %w", nodeName(np), op, err)
	}
	for k, id := range s.out {
		if id >= 0 && k < len(outs) {
			gr.consts[id] = outs[k]
		}
	}
	return nil
}

// fold runs a kernel on constant inputs at load, turning a panic on a
// malformed model into an error.
func fold(k kernel, in []*tensor) (out []*tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return k(in)
}

// fuseRelu merges each Relu into the step before it when that step's
// operator has a fused kernel (buffered) and its one output is read by the
// Relu alone (not by another step, nor as the graph's output): a Linear
// layer and its activation, as PyTorch exports them, become one step that
// writes one tensor. The fused kernel computes the same values.
func (g *graph) fuseRelu() {
	producer := make([]int, g.nvals)
	readers := make([]int, g.nvals)
	for i := range producer {
		producer[i] = -1
	}
	for k, s := range g.steps {
		for _, id := range s.out {
			if id >= 0 {
				producer[id] = k
			}
		}
		for _, id := range s.in {
			if id >= 0 {
				readers[id]++
			}
		}
	}
	drop := make([]bool, len(g.steps))
	for k, s := range g.steps {
		if s.op != "Relu" || len(s.in) != 1 || len(s.out) != 1 || s.in[0] < 0 || s.out[0] < 0 {
			continue
		}
		id := s.in[0]
		j := producer[id]
		if j < 0 || readers[id] != 1 || id == g.output {
			continue
		}
		p := &g.steps[j]
		if p.variant == nil || len(p.out) != 1 {
			continue
		}
		p.into = p.variant(true)
		p.run, p.variant, p.op, p.out = p.into.alloc, nil, p.op+"+Relu", []int{s.out[0]}
		drop[k] = true
	}
	kept := g.steps[:0]
	for k, s := range g.steps {
		if !drop[k] {
			kept = append(kept, s)
		}
	}
	g.steps = kept
}

// planFrees lets each run drop an intermediate value after the last step
// that reads it, so a deep network holds only its live activations.
func (g *graph) planFrees() {
	last := make([]int, g.nvals)
	for i := range last {
		last[i] = -1
	}
	for k, s := range g.steps {
		for _, id := range s.in {
			if id >= 0 && g.consts[id] == nil {
				last[id] = k
			}
		}
	}
	for id, k := range last {
		if k >= 0 && id != g.output {
			g.steps[k].free = append(g.steps[k].free, id)
		}
	}
}

// run computes the graph's output from feeds, by value id, allocating
// every value.
func (g *graph) run(feeds map[int]*tensor) (*tensor, error) { return g.exec(feeds, nil) }

// runWith computes the graph's output from feeds and hands it to use, with
// the buffered steps writing into buffers kept from an earlier run (one
// set per concurrent run, pooled): the output and every value may live in
// those buffers, so use must copy what it keeps.
func (g *graph) runWith(feeds map[int]*tensor, use func(*tensor) error) error {
	bufs := g.scratch.Get().(*[][]float32)
	defer g.scratch.Put(bufs)
	out, err := g.exec(feeds, *bufs)
	if err != nil {
		return err
	}
	return use(out)
}

// exec runs the steps: a buffered step writes into bufs[k] when bufs is
// not nil. A kernel that panics on an input it did not foresee fails the
// run with an error: a malformed request or model never takes the server
// down.
func (g *graph) exec(feeds map[int]*tensor, bufs [][]float32) (out *tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("ONNX graph: %v", r)
		}
	}()
	vals := make([]*tensor, g.nvals)
	copy(vals, g.consts)
	for id, t := range feeds {
		vals[id] = t
	}
	var ins []*tensor
	for k, s := range g.steps {
		ins = ins[:0]
		for _, id := range s.in {
			if id < 0 {
				ins = append(ins, nil)
				continue
			}
			if vals[id] == nil {
				return nil, fmt.Errorf("ONNX node %s (%s): an input has no value", s.label(), s.op)
			}
			ins = append(ins, vals[id])
		}
		var outs []*tensor
		if bufs != nil && s.into != nil {
			outs, err = s.into(ins, &bufs[k])
		} else {
			outs, err = s.run(ins)
		}
		if err != nil {
			return nil, fmt.Errorf("ONNX node %s (%s): %w", s.label(), s.op, err)
		}
		for k, id := range s.out {
			if id >= 0 && k < len(outs) {
				vals[id] = outs[k]
			}
		}
		for _, id := range s.free {
			vals[id] = nil
		}
	}
	out = vals[g.output]
	if out == nil {
		return nil, fmt.Errorf("the graph produced no %q", g.name)
	}
	return out, nil
}

func (s step) label() string {
	if s.name != "" {
		return s.name
	}
	return "(unnamed)"
}

func nodeName(np *nodeProto) string {
	if np.name != "" {
		return np.name
	}
	if len(np.outputs) > 0 {
		return "producing " + np.outputs[0]
	}
	return "(unnamed)"
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Operators lists the ONNX operators the executor implements, sorted.
func Operators() []string {
	names := make([]string, 0, len(operators))
	for op := range operators {
		names = append(names, op)
	}
	sort.Strings(names)
	return names
}

// Attribute readers. A missing attribute takes the operator's default.

func (n *node) attr(name string) *attrProto {
	for _, a := range n.proto.attrs {
		if a.name == name {
			return a
		}
	}
	return nil
}

func (n *node) int(name string, def int64) int64 {
	if a := n.attr(name); a != nil {
		return a.i
	}
	return def
}

func (n *node) float(name string, def float32) float32 {
	if a := n.attr(name); a != nil {
		return a.f
	}
	return def
}

func (n *node) ints(name string) ([]int, bool) {
	a := n.attr(name)
	if a == nil {
		return nil, false
	}
	out := make([]int, len(a.ints))
	for k, v := range a.ints {
		out[k] = int(v)
	}
	return out, true
}
