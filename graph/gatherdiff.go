package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GatherDiff returns the vector x.flat[p_k] − x.flat[n_k] for Int vectors
// p and n of one length C with entries in [0, size of x): the difference
// of two Gathers (a triplet's d(a,p) − d(a,n) from a B×B matrix and the
// flat indices a·B+p and a·B+n), in one op writing into a buffer it
// reuses. The derivative op writes dx = Σ_k g_k·(e_{p_k} − e_{n_k}) into
// a buffer of its own (repeated indices add up, in k order), where two
// Gathers and a Sub cost two scatters into fresh matrices of x's size and
// the sum of the two. An index outside x is an error when the graph runs.
func GatherDiff(x, p, n *G.Node) (*G.Node, error) {
	if _, err := FloatDtype("gather diff input", x); err != nil {
		return nil, err
	}
	for _, idx := range []*G.Node{p, n} {
		if idx == nil || idx.Dtype() != tensor.Int || idx.Dims() != 1 {
			return nil, fmt.Errorf("graph: gather diff: indices must be int vectors")
		}
	}
	if !p.Shape().Eq(n.Shape()) {
		return nil, fmt.Errorf("graph: gather diff: index vectors of %v and %v entries", p.Shape(), n.Shape())
	}
	if err := sameGraph(x, p, n); err != nil {
		return nil, err
	}
	o := &diffOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{p.Shape()[0]}}, in: x.Shape().Clone()}
	o.name = o.format()
	out, err := G.ApplyOp(o, x, p, n)
	if err != nil {
		return nil, fmt.Errorf("graph: gather diff: %w", err)
	}
	return out, nil
}

// diffOp is GatherDiff (scatter false: inputs x, p, n; output C) or its
// derivative (scatter true: inputs g, p, n; output of x's shape in).
type diffOp struct {
	opBase
	in      tensor.Shape
	scatter bool
	name    string // String(), formatted once
}

func (o *diffOp) Arity() int { return 3 }
func (o *diffOp) Type() hm.Type {
	idx := G.TensorType{Dims: 1, Of: G.Int}
	vec, mat := nodeType(o.dt, 1), nodeType(o.dt, len(o.in))
	if o.scatter {
		return hm.NewFnType(vec, idx, idx, mat)
	}
	return hm.NewFnType(mat, idx, idx, vec)
}
func (o *diffOp) WriteHash(h hash.Hash) { fmt.Fprint(h, o.format()) }
func (o *diffOp) Hashcode() uint32      { return hashOf(o) }
func (o *diffOp) String() string {
	if o.name == "" {
		return o.format()
	}
	return o.name
}
func (o *diffOp) format() string {
	return fmt.Sprintf("gatherdiff(%v,%v,scatter=%t,%v)", o.in, o.shape, o.scatter, o.dt)
}

func (o *diffOp) DiffWRT(int) []bool { return []bool{!o.scatter, false, false} }

func (o *diffOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if o.scatter {
		return make(G.Nodes, len(in)), nil
	}
	s := &diffOp{opBase: opBase{dt: o.dt, shape: o.in.Clone()}, in: o.in, scatter: true}
	s.name = s.format()
	n, err := G.ApplyOp(s, grad, in[1], in[2])
	if err != nil {
		return nil, fmt.Errorf("graph: gather diff gradient: %w", err)
	}
	return G.Nodes{n, nil, nil}, nil
}

func (o *diffOp) Do(in ...G.Value) (G.Value, error) {
	p, ok1 := in[1].Data().([]int)
	n, ok2 := in[2].Data().([]int)
	if !ok1 || !ok2 || len(p) != len(n) {
		return nil, fmt.Errorf("graph: %s: indices hold %T and %T", o.name, in[1].Data(), in[2].Data())
	}
	size := o.in.TotalSize()
	if err := checkIdx(p, size); err != nil {
		return nil, err
	}
	if err := checkIdx(n, size); err != nil {
		return nil, err
	}
	return doFloat(&o.opBase, o.name, nil,
		func(out []float32) error { return diffKernel(o.scatter, data(in[0]), p, n, out) },
		func(out []float64) error { return diffKernel(o.scatter, data(in[0]), p, n, out) })
}

// diffKernel writes out_k = x[p_k] − x[n_k] (gather), or clears out and
// adds g_k at p_k and −g_k at n_k (scatter).
func diffKernel[T float](scatter bool, in any, p, n []int, out []T) error {
	src, ok := in.([]T)
	if !ok {
		return fmt.Errorf("graph: gather diff: input holds %T", in)
	}
	if scatter {
		if len(src) != len(p) {
			return fmt.Errorf("graph: gather diff gradient: %d values for %d indices", len(src), len(p))
		}
		clear(out)
		for k, g := range src {
			out[p[k]] += g
			out[n[k]] -= g
		}
		return nil
	}
	if len(out) != len(p) {
		return fmt.Errorf("graph: gather diff: %d outputs for %d indices", len(out), len(p))
	}
	for k := range out {
		out[k] = src[p[k]] - src[n[k]]
	}
	return nil
}
