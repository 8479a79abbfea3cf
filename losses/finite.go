package losses

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/vmath"
)

// finite returns a node with the value of x (what names it) that, when the
// graph runs, fails with an error naming the first NaN or ±Inf entry
// ("losses: triplet: embeddings row 3, column 1 is NaN"). The gradient passes
// through unchanged (x's gradient is the output's gradient node itself, no
// op). Every loss reads its embeddings through it, so that non-finite
// embeddings give an error, never a NaN loss (the rule of the package doc,
// "Non-finite embeddings").
func finite(name, what string, x *G.Node) (*G.Node, error) {
	o := &finiteOp{loss: name, what: what, dims: x.Dims(), dt: x.Dtype(), check: true}
	o.name = o.format()
	n, err := G.ApplyOp(o, x)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %w", name, err)
	}
	if n.Op() == G.Op(o) { // not merged into an equal node built before
		o.node = n
	}
	return n, nil
}

// finiteOp is the identity with a finiteness check in its forward pass.
// Its output is x's value itself (no copy) when no op that reads it may
// write into it (readersKeep); else a copy into a buffer the op keeps.
type finiteOp struct {
	loss, what string
	dims       int
	dt         tensor.Dtype
	check      bool
	name       string        // String(), formatted once
	out        *tensor.Dense // reused output when a copy is needed
	node       *G.Node       // the op's node, for readersKeep
	// the graph's node count when readersKeep last looked, and its answer
	seen int
	keep bool
}

func (o *finiteOp) Arity() int { return 1 }

func (o *finiteOp) Type() hm.Type {
	var t hm.Type = o.dt
	if o.dims > 0 {
		t = G.TensorType{Dims: o.dims, Of: o.dt}
	}
	return hm.NewFnType(t, t)
}

func (o *finiteOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("losses: %s: %s have no static shape", o.loss, o.what)
	}
	return s.Clone(), nil
}

func (o *finiteOp) ReturnsPtr() bool      { return false }
func (o *finiteOp) CallsExtern() bool     { return false }
func (o *finiteOp) OverwritesInput() int  { return -1 }
func (o *finiteOp) WriteHash(h hash.Hash) { fmt.Fprint(h, o.format()) }
func (o *finiteOp) String() string {
	if o.name == "" {
		return o.format()
	}
	return o.name
}
func (o *finiteOp) format() string {
	return fmt.Sprintf("finite(%s,%s,%d,%v,check=%t)", o.loss, o.what, o.dims, o.dt, o.check)
}

// readersKeep reports whether every op that reads the output, or x, leaves
// its inputs alone: Gorgonia writes an op's result into an input's memory
// only when the op says it overwrites that input (OverwritesInput), so
// then the output may be x's value itself (an op that overwrote x after
// the check would change the output under the loss's later ops, one that
// overwrote the output would change x). The answer is kept until the
// graph gains nodes (G.Grad adds readers after the loss is built).
func (o *finiteOp) readersKeep() bool {
	if o.node == nil {
		return false
	}
	g := o.node.Graph()
	if n := len(g.AllNodes()); n != o.seen {
		o.seen, o.keep = n, false
		if x := childAt(g, o.node, 0); x != nil {
			o.keep = graph.Unwritten(o.node, nil) && graph.Unwritten(x, o.node)
		}
	}
	return o.keep
}

func (o *finiteOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *finiteOp) Do(in ...G.Value) (G.Value, error) {
	t, ok := in[0].(tensor.Tensor)
	if !ok { // a scalar value
		return in[0], nil
	}
	if o.check {
		cols := 1
		if s := t.Shape(); len(s) == 2 {
			cols = s[1]
		}
		var bad, at = 0.0, -1
		switch d := t.Data().(type) {
		case []float32:
			if vmath.Finite(d) { // the common case, eight lanes at a time
				break
			}
			for i, v := range d {
				if v-v != 0 { // NaN or ±Inf
					bad, at = float64(v), i
					break
				}
			}
		case []float64:
			for i, v := range d {
				if v-v != 0 {
					bad, at = v, i
					break
				}
			}
		}
		if at >= 0 {
			return nil, fmt.Errorf("losses: %s: %s row %d, column %d is %v", o.loss, o.what, at/cols, at%cols, bad)
		}
	}
	if o.readersKeep() {
		return t, nil
	}
	// a copy into a buffer the op keeps, instead of a fresh clone per run
	if o.out == nil || o.out.Dtype() != t.Dtype() || !o.out.Shape().Eq(t.Shape()) {
		o.out = tensor.New(tensor.WithShape(t.Shape().Clone()...), tensor.Of(t.Dtype()))
	}
	if err := tensor.Copy(o.out, t); err != nil {
		return nil, fmt.Errorf("losses: %s: %s: %w", o.loss, o.what, err)
	}
	return o.out, nil
}

// DiffWRT: the gradient flows to the input.
func (o *finiteOp) DiffWRT(inputs int) []bool { return []bool{true} }

// childAt returns input k of node n (in the op's argument order), or nil
// past the last.
func childAt(g *G.ExprGraph, n *G.Node, k int) *G.Node {
	it := g.From(n.ID())
	for i := 0; it.Next(); i++ {
		if i == k {
			c, _ := it.Node().(*G.Node)
			return c
		}
	}
	return nil
}

// SymDiff passes the gradient through: the input's gradient is the
// output's gradient node (as Gorgonia's own Add does), so the backward pass
// has no op and no copy for it.
func (o *finiteOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad}, nil
}
