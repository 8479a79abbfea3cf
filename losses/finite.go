package losses

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// finite returns a node with the value of x (what names it) that, when the
// graph runs, fails with an error naming the first NaN or ±Inf entry
// ("losses: triplet: embeddings row 3, column 1 is NaN"). The gradient passes
// through unchanged. Every loss reads its embeddings through it, so that
// non-finite embeddings give an error, never a NaN loss (the rule of the
// package doc, "Non-finite embeddings").
func finite(name, what string, x *G.Node) (*G.Node, error) {
	n, err := G.ApplyOp(&finiteOp{loss: name, what: what, dims: x.Dims(), dt: x.Dtype(), check: true}, x)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %w", name, err)
	}
	return n, nil
}

// finiteOp is the identity with a finiteness check in its forward pass
// (check set) and the plain identity as its derivative (check unset).
type finiteOp struct {
	loss, what string
	dims       int
	dt         tensor.Dtype
	check      bool
	out        *tensor.Dense // reused output
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
func (o *finiteOp) WriteHash(h hash.Hash) { fmt.Fprint(h, o.String()) }
func (o *finiteOp) String() string {
	return fmt.Sprintf("finite(%s,%s,%d,%v,check=%t)", o.loss, o.what, o.dims, o.dt, o.check)
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

// SymDiff passes the gradient through an unchecked identity.
func (o *finiteOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	id := *o
	id.check = false
	g, err := G.ApplyOp(&id, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}
