package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// Elementwise ops for same-shape tensors (and a scale with an offset),
// each one pass into a buffer the op owns and reuses from run to run,
// where Gorgonia's Add, Sub, HadamardProd, Neg and Mul by a constant
// allocate a fresh result (and, for the constant, a broadcast copy) every
// run. Expr routes its Add, Sub, Mul, Neg and Scale of non-scalar
// operands here; the derivative ops are the same ops on the gradient.

type ewKind int

const (
	ewAdd ewKind = iota
	ewSub
	ewMul
)

func (k ewKind) String() string { return [...]string{"add", "sub", "mul"}[k] }

// ewBinary returns a + b, a − b or a ⊙ b for a and b of one shape and
// dtype.
func ewBinary(kind ewKind, a, b *G.Node) (*G.Node, error) {
	if !a.Shape().Eq(b.Shape()) || a.Dtype() != b.Dtype() {
		return nil, fmt.Errorf("graph: %v: operands %v %v and %v %v differ", kind, a.Shape(), a.Dtype(), b.Shape(), b.Dtype())
	}
	if _, err := FloatDtype(kind.String()+" operand", a); err != nil {
		return nil, err
	}
	shape := a.Shape().Clone()
	n := shape.TotalSize()
	o := &fusedOp{opBase: opBase{dt: a.Dtype(), shape: shape}, name: fmt.Sprintf("ew(%v,%v)", kind, shape)}
	o.f32 = func(in [][]float32, out []float32) error { return ewFwd(kind, n, in, out) }
	o.f64 = func(in [][]float64, out []float64) error { return ewFwd(kind, n, in, out) }
	o.wrt = []bool{true, true}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		switch kind {
		case ewAdd:
			return G.Nodes{grad, grad}, nil
		case ewSub:
			nb, err := affine(grad, -1, 0)
			return G.Nodes{grad, nb}, err
		}
		da, err := ewBinary(ewMul, grad, in[1])
		if err != nil {
			return nil, err
		}
		db, err := ewBinary(ewMul, grad, in[0])
		return G.Nodes{da, db}, err
	}
	return applyFused(o, a, b)
}

func ewFwd[T float](kind ewKind, n int, in [][]T, out []T) error {
	a, b := in[0], in[1]
	if err := checkLen(kind.String(), a, n); err != nil {
		return err
	}
	if err := checkLen(kind.String(), b, n); err != nil {
		return err
	}
	parallelRows((n+sumBlock-1)/sumBlock, sumBlock, func(lo, hi int) {
		lo, hi = lo*sumBlock, min(hi*sumBlock, n)
		o, x, y := out[lo:hi], a[lo:hi], b[lo:hi]
		switch kind {
		case ewAdd:
			for i := range o {
				o[i] = x[i] + y[i]
			}
		case ewSub:
			for i := range o {
				o[i] = x[i] - y[i]
			}
		default:
			for i := range o {
				o[i] = x[i] * y[i]
			}
		}
	})
	return nil
}

// affine returns scale·x + offset elementwise in one op; its derivative op
// is scale·g (the same op).
func affine(x *G.Node, scale, offset float64) (*G.Node, error) {
	if _, err := FloatDtype("affine input", x); err != nil {
		return nil, err
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) || math.IsNaN(offset) || math.IsInf(offset, 0) {
		return nil, fmt.Errorf("graph: affine: scale %v and offset %v must be finite", scale, offset)
	}
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: shape},
		name: fmt.Sprintf("affine(scale=%v,offset=%v,%v)", scale, offset, shape)}
	o.f32 = func(in [][]float32, out []float32) error { return affineFwd(n, scale, offset, in, out) }
	o.f64 = func(in [][]float64, out []float64) error { return affineFwd(n, scale, offset, in, out) }
	o.wrt = []bool{true}
	o.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		d, err := affine(grad, scale, 0)
		return G.Nodes{d}, err
	}
	return applyFused(o, x)
}

func affineFwd[T float](n int, scale, offset float64, in [][]T, out []T) error {
	x := in[0]
	if err := checkLen("affine", x, n); err != nil {
		return err
	}
	a, c := T(scale), T(offset)
	parallelRows((n+sumBlock-1)/sumBlock, sumBlock, func(lo, hi int) {
		lo, hi = lo*sumBlock, min(hi*sumBlock, n)
		o, v := out[lo:hi], x[lo:hi]
		switch {
		case c == 0 && a == -1:
			for i := range o {
				o[i] = -v[i]
			}
		case c == 0:
			for i := range o {
				o[i] = a * v[i]
			}
		default:
			for i := range o {
				o[i] = a*v[i] + c
			}
		}
	})
	return nil
}

// Affine returns scale·x + offset elementwise (scale and offset finite),
// in one op without the broadcast copies of Gorgonia's scalar operands.
func Affine(x *G.Node, scale, offset float64) (*G.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("graph: affine: nil input")
	}
	return affine(x, scale, offset)
}
