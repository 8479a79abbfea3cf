package graph

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// fnOp is a forward-only Gorgonia Op built from a plain Go kernel. Its output
// carries no gradient to its inputs (it behaves like a constant for
// differentiation), which is what masks, argmax selections, mined indices and
// shift terms of stable reductions need.
//
// Gorgonia merges nodes whose ops hash alike and whose children are the same,
// so name must spell out every parameter of the kernel (see
// TestOpHashIncludesParameters).
type fnOp struct {
	name  string
	arity int
	typ   hm.Type
	shape func(in []tensor.Shape) (tensor.Shape, error)
	do    func(in []G.Value) (G.Value, error)
}

func (o *fnOp) Arity() int                        { return o.arity }
func (o *fnOp) Type() hm.Type                     { return o.typ }
func (o *fnOp) ReturnsPtr() bool                  { return false }
func (o *fnOp) CallsExtern() bool                 { return false }
func (o *fnOp) OverwritesInput() int              { return -1 }
func (o *fnOp) WriteHash(h hash.Hash)             { fmt.Fprint(h, o.name) }
func (o *fnOp) String() string                    { return o.name }
func (o *fnOp) Do(in ...G.Value) (G.Value, error) { return o.do(in) }

func (o *fnOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *fnOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("graph: %s: input %d has no static shape", o.name, i)
		}
		shapes[i] = s
	}
	return o.shape(shapes)
}

// DiffWRT reports that no input receives a gradient through this op.
func (o *fnOp) DiffWRT(inputs int) []bool { return make([]bool, inputs) }

// SymDiff returns no gradients: the op is a constant for differentiation.
func (o *fnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return make(G.Nodes, len(inputs)), nil
}

// nodeType is the Hindley-Milner type Gorgonia gives a value of this dtype and rank.
func nodeType(dt tensor.Dtype, dims int) hm.Type {
	if dims == 0 {
		return dt
	}
	return G.TensorType{Dims: dims, Of: dt}
}

// apply builds an fnOp node with the given output dtype and rank.
func apply(name string, out tensor.Dtype, outDims int, shape func([]tensor.Shape) (tensor.Shape, error), do func([]G.Value) (G.Value, error), inputs ...*G.Node) (*G.Node, error) {
	ts := make(hm.Types, 0, len(inputs)+1)
	for _, n := range inputs {
		ts = append(ts, n.Type())
	}
	ts = append(ts, nodeType(out, outDims))
	op := &fnOp{name: name, arity: len(inputs), typ: hm.NewFnType(ts...), shape: shape, do: do}
	n, err := G.ApplyOp(op, inputs...)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", name, err)
	}
	return n, nil
}

// ApplyForward adds a forward-only op to the graph of inputs: do computes
// the output value from the input values, shape infers the output shape from
// the input shapes, and out/outDims give the output dtype and rank (0 for a
// scalar). No gradient flows through the op. name identifies the op for
// Gorgonia's node deduplication and must spell out every parameter that
// changes what do computes. It is how a user writes a custom miner op or
// mask (mining.TripletOp is built on it).
func ApplyForward(name string, out tensor.Dtype, outDims int, shape func(in []tensor.Shape) (tensor.Shape, error), do func(in []G.Value) (G.Value, error), inputs ...*G.Node) (*G.Node, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("graph: %s: no inputs", name)
	}
	for i, n := range inputs {
		if n == nil {
			return nil, fmt.Errorf("graph: %s: input %d is nil", name, i)
		}
	}
	return apply(name, out, outDims, shape, do, inputs...)
}

// float is the set of element types the kernels run on.
type float interface{ ~float32 | ~float64 }

// reused hands a forward-only op the same output tensor every run (a
// fresh one only when the dtype or shape differs, e.g. after a reshape
// downstream), so that a mask does not allocate B×B values per step.
type reused struct{ t *tensor.Dense }

// zeroed returns the tensor of dtype dt and the shape, all zeros, and its
// backing slice.
func zeroed[T float](r *reused, dt tensor.Dtype, shape ...int) (*tensor.Dense, []T) {
	t, out := reuse[T](r, dt, shape...)
	clear(out)
	return t, out
}

// reuse is zeroed for a caller that writes every entry: the values are
// those of the previous run.
func reuse[T float](r *reused, dt tensor.Dtype, shape ...int) (*tensor.Dense, []T) {
	if r.t == nil || r.t.Dtype() != dt || !r.t.Shape().Eq(tensor.Shape(shape)) {
		r.t = tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	}
	return r.t, r.t.Data().([]T)
}

// data returns the backing slice of a dense value.
func data(v G.Value) any {
	if d, ok := v.(tensor.Tensor); ok {
		return d.Data()
	}
	return v.Data()
}

// dense wraps a backing slice in a tensor of the given shape.
func dense(backing any, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))
}

// NoGradient reports whether no gradient can flow into x: x is the output
// of a forward-only op (ApplyForward, StopGradient, a Queue's read op, a
// mask), or its L2 normalisation. Ops that take such an input (the pairwise
// matrix of a Distance) skip its derivative, so comparing a batch with a
// reference set of R rows costs no R×D gradient.
func NoGradient(x *G.Node) bool {
	if x == nil {
		return false
	}
	switch o := x.Op().(type) {
	case *fnOp:
		return true
	case *l2NormOp:
		return o.noGrad
	}
	return false
}

// stopGradient returns a node with x's value through which no gradient flows.
func stopGradient(x *G.Node) (*G.Node, error) {
	return apply("stopgrad", x.Dtype(), x.Dims(),
		func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
		func(in []G.Value) (G.Value, error) {
			t, ok := in[0].(tensor.Tensor)
			if !ok {
				return in[0], nil
			}
			return t.Clone().(G.Value), nil
		}, x)
}
