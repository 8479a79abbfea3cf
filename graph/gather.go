package graph

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gather returns the vector x.flat[idx[k]] for an Int vector idx of length
// C: entries of a float tensor x of any shape, addressed by their row-major
// flat index (a·B + p for a B×B matrix). Its gradient scatters back with a
// plain add loop, which at millions of indices is an order of magnitude
// faster than G.ByIndices (whose gradient is also only right on axis 0).
// Repeated indices receive the sum of their gradients.
func Gather(x, idx *G.Node) (*G.Node, error) {
	if _, err := FloatDtype("gather input", x); err != nil {
		return nil, err
	}
	if idx == nil || idx.Dtype() != tensor.Int || idx.Dims() != 1 {
		return nil, fmt.Errorf("graph: gather indices must be an int vector")
	}
	if err := sameGraph(x, idx); err != nil {
		return nil, err
	}
	n, err := G.ApplyOp(gatherOp{dims: x.Dims(), dt: x.Dtype()}, x, idx)
	if err != nil {
		return nil, fmt.Errorf("graph: gather: %w", err)
	}
	return n, nil
}

type gatherOp struct {
	dims int
	dt   tensor.Dtype
}

func (gatherOp) Arity() int { return 2 }
func (o gatherOp) Type() hm.Type {
	return hm.NewFnType(nodeType(o.dt, o.dims), G.TensorType{Dims: 1, Of: G.Int}, G.TensorType{Dims: 1, Of: o.dt})
}
func (gatherOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[1].(tensor.Shape)
	if !ok || len(s) != 1 {
		return nil, fmt.Errorf("graph: gather: indices must be a vector")
	}
	return tensor.Shape{s[0]}, nil
}
func (gatherOp) ReturnsPtr() bool        { return false }
func (gatherOp) CallsExtern() bool       { return false }
func (gatherOp) OverwritesInput() int    { return -1 }
func (o gatherOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatherflat(%d,%v)", o.dims, o.dt) }
func (o gatherOp) Hashcode() uint32      { return hashOf(o) }
func (gatherOp) String() string          { return "gatherflat" }

func hashOf(o interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (gatherOp) Do(in ...G.Value) (G.Value, error) {
	idx := in[1].Data().([]int)
	switch x := data(in[0]).(type) {
	case []float32:
		return dense(gatherKernel(x, idx), len(idx)), checkIdx(idx, len(x))
	case []float64:
		return dense(gatherKernel(x, idx), len(idx)), checkIdx(idx, len(x))
	}
	return nil, fmt.Errorf("graph: gather: unsupported dtype %v", in[0].Dtype())
}

func checkIdx(idx []int, n int) error {
	for k, i := range idx {
		if i < 0 || i >= n {
			return fmt.Errorf("graph: gather: index %d at position %d is outside %d entries", i, k, n)
		}
	}
	return nil
}

func gatherKernel[T float](x []T, idx []int) []T {
	out := make([]T, len(idx))
	for k, i := range idx {
		if i >= 0 && i < len(x) {
			out[k] = x[i]
		}
	}
	return out
}

func (gatherOp) DiffWRT(int) []bool { return []bool{true, false} }

func (gatherOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, idx := inputs[0], inputs[1]
	shape := x.Shape().Clone()
	op := &scatterAddOp{shape: shape, dt: x.Dtype()}
	g, err := G.ApplyOp(op, grad, idx)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g, nil}, nil
}

// scatterAddOp builds a zero tensor of a fixed shape and adds grad[k] at
// flat index idx[k]: the gradient of Gather.
type scatterAddOp struct {
	shape tensor.Shape
	dt    tensor.Dtype
}

func (o *scatterAddOp) Arity() int { return 2 }
func (o *scatterAddOp) Type() hm.Type {
	return hm.NewFnType(G.TensorType{Dims: 1, Of: o.dt}, G.TensorType{Dims: 1, Of: G.Int}, nodeType(o.dt, len(o.shape)))
}
func (o *scatterAddOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return o.shape.Clone(), nil }
func (o *scatterAddOp) ReturnsPtr() bool                               { return false }
func (o *scatterAddOp) CallsExtern() bool                              { return false }
func (o *scatterAddOp) OverwritesInput() int                           { return -1 }
func (o *scatterAddOp) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "scatteradd%v%v", o.shape, o.dt) }
func (o *scatterAddOp) Hashcode() uint32                               { return hashOf(o) }
func (o *scatterAddOp) String() string                                 { return fmt.Sprintf("scatteradd%v", o.shape) }
func (o *scatterAddOp) DiffWRT(n int) []bool                           { return make([]bool, n) }
func (o *scatterAddOp) SymDiff(inputs G.Nodes, _, _ *G.Node) (G.Nodes, error) {
	return make(G.Nodes, len(inputs)), nil
}

func (o *scatterAddOp) Do(in ...G.Value) (G.Value, error) {
	idx := in[1].Data().([]int)
	n := o.shape.TotalSize()
	if err := checkIdx(idx, n); err != nil {
		return nil, err
	}
	switch g := data(in[0]).(type) {
	case []float32:
		return dense(scatterKernel(g, idx, n), o.shape...), nil
	case []float64:
		return dense(scatterKernel(g, idx, n), o.shape...), nil
	}
	return nil, fmt.Errorf("graph: scatteradd: unsupported dtype %v", in[0].Dtype())
}

func scatterKernel[T float](g []T, idx []int, n int) []T {
	out := make([]T, n)
	for k, i := range idx {
		out[i] += g[k]
	}
	return out
}
