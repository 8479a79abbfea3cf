package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GatherRows returns the C×D matrix whose row k is row idx[k] of x (B×D,
// float32 or float64), for an Int vector idx of length C with entries in
// [0, B): out_k = x_{idx_k}. It replaces G.ByIndices on axis 0 for the
// selections of the losses (N-pair's anchors and positives): one copy per
// row into a buffer the op reuses from run to run, where ByIndices
// allocates its result and, in its gradient, a zeroed B×D matrix per run.
// The derivative op scatters back into a B×D buffer of its own,
// dx_b = Σ_{k: idx_k = b} g_k, so a repeated index receives the sum of its
// rows' gradients and a row that is not selected gets 0. An index outside
// [0, B) is an error when the graph runs.
func GatherRows(x, idx *G.Node) (*G.Node, error) {
	if x == nil || idx == nil {
		return nil, fmt.Errorf("graph: gather rows: nil input")
	}
	if _, err := FloatDtype("gather rows input", x); err != nil {
		return nil, err
	}
	if x.Dims() != 2 {
		return nil, fmt.Errorf("graph: gather rows: x must be a B×D matrix; got shape %v", x.Shape())
	}
	if idx.Dtype() != tensor.Int || idx.Dims() != 1 {
		return nil, fmt.Errorf("graph: gather rows: indices must be an int vector; got %v of shape %v", idx.Dtype(), idx.Shape())
	}
	if err := sameGraph(x, idx); err != nil {
		return nil, err
	}
	b, d, c := x.Shape()[0], x.Shape()[1], idx.Shape()[0]
	o := &rowsOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{c, d}}, b: b}
	o.name = o.format()
	n, err := G.ApplyOp(o, x, idx)
	if err != nil {
		return nil, fmt.Errorf("graph: gather rows: %w", err)
	}
	return n, nil
}

// rowsOp is GatherRows (scatter false: inputs x, idx; output C×D) or its
// derivative (scatter true: inputs g, idx; output B×D). b is the number of
// rows of x either way.
type rowsOp struct {
	opBase
	b       int
	scatter bool
	name    string // String(), formatted once
	seen    []bool // scatter's scratch: the rows written so far
}

func (o *rowsOp) Arity() int { return 2 }
func (o *rowsOp) Type() hm.Type {
	t := nodeType(o.dt, 2)
	return hm.NewFnType(t, G.TensorType{Dims: 1, Of: G.Int}, t)
}
func (o *rowsOp) WriteHash(h hash.Hash) { fmt.Fprint(h, o.format()) }
func (o *rowsOp) Hashcode() uint32      { return hashOf(o) }
func (o *rowsOp) String() string {
	if o.name == "" {
		return o.format()
	}
	return o.name
}
func (o *rowsOp) format() string {
	if o.scatter {
		return fmt.Sprintf("scatterrows(%d,%v,%v)", o.b, o.shape, o.dt)
	}
	return fmt.Sprintf("gatherrows(%d,%v,%v)", o.b, o.shape, o.dt)
}

func (o *rowsOp) DiffWRT(int) []bool {
	return []bool{!o.scatter, false}
}

func (o *rowsOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if o.scatter {
		return make(G.Nodes, len(in)), nil
	}
	s := &rowsOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{o.b, o.shape[1]}}, b: o.b, scatter: true}
	s.name = s.format()
	n, err := G.ApplyOp(s, grad, in[1])
	if err != nil {
		return nil, fmt.Errorf("graph: gather rows gradient: %w", err)
	}
	return G.Nodes{n, nil}, nil
}

func (o *rowsOp) Do(in ...G.Value) (G.Value, error) {
	idx, ok := in[1].Data().([]int)
	if !ok {
		return nil, fmt.Errorf("graph: %v: indices hold %T", o, in[1].Data())
	}
	for k, i := range idx {
		if i < 0 || i >= o.b {
			return nil, fmt.Errorf("graph: gather rows: index %d at position %d is outside %d rows", i, k, o.b)
		}
	}
	d := o.shape[1]
	if o.scatter && len(o.seen) != o.b {
		o.seen = make([]bool, o.b)
	}
	return doFloat(&o.opBase, o.name, nil,
		func(out []float32) error { return rowsKernel(o.scatter, d, data(in[0]), idx, out, o.seen) },
		func(out []float64) error { return rowsKernel(o.scatter, d, data(in[0]), idx, out, o.seen) })
}

// rowsKernel copies the selected rows of src into out (gather), or clears
// out and adds row k of src into row idx_k (scatter).
func rowsKernel[T float](scatter bool, d int, in any, idx []int, out []T, seen []bool) error {
	src, ok := in.([]T)
	if !ok {
		return fmt.Errorf("graph: gather rows: input holds %T", in)
	}
	selected, all := src, out // C×D and B×D
	if !scatter {
		selected, all = out, src
	}
	if len(selected) != len(idx)*d || len(all)%d != 0 {
		return fmt.Errorf("graph: gather rows: %d indices for %d and %d values in rows of %d", len(idx), len(selected), len(all), d)
	}
	if scatter {
		// each row of out is written once: the first gradient row for it
		// copied, the others added, the rows no index names cleared (no
		// clearing pass over the whole matrix first)
		if b := len(out) / d; len(seen) != b {
			seen = make([]bool, b)
		} else {
			clear(seen)
		}
		for k, i := range idx {
			dst, g := out[i*d:(i+1)*d], src[k*d:(k+1)*d]
			if !seen[i] {
				seen[i] = true
				copy(dst, g)
				continue
			}
			for c, v := range g {
				dst[c] += v
			}
		}
		for i, ok := range seen {
			if !ok {
				clear(out[i*d : (i+1)*d])
			}
		}
		return nil
	}
	for k, i := range idx {
		copy(out[k*d:(k+1)*d], src[i*d:(i+1)*d])
	}
	return nil
}
