package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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
	o.wrt = []bool{!NoGradient(x)}
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

// square returns x² elementwise in one op; its derivative op is 2·g·x in
// one pass.
func square(x *G.Node) (*G.Node, error) {
	if _, err := FloatDtype("square input", x); err != nil {
		return nil, err
	}
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: shape}, name: fmt.Sprintf("square(%v)", shape)}
	o.f32 = func(in [][]float32, out []float32) error { return squareFwd(n, in, out) }
	o.f64 = func(in [][]float64, out []float64) error { return squareFwd(n, in, out) }
	o.wrt = []bool{true}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape.Clone()}, name: fmt.Sprintf("square_dx(%v)", shape)}
		g.f32 = func(v [][]float32, dx []float32) error { return squareGrad(n, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return squareGrad(n, v, dx) }
		d, err := applyFused(g, in[0], grad)
		return G.Nodes{d}, err
	}
	return applyFused(o, x)
}

func squareFwd[T float](n int, in [][]T, out []T) error {
	if err := checkLen("square", in[0], n); err != nil {
		return err
	}
	for i, v := range in[0] {
		out[i] = v * v
	}
	return nil
}

func squareGrad[T float](n int, in [][]T, dx []T) error {
	x, g := in[0], in[1]
	if err := checkLen("square gradient", g, n); err != nil {
		return err
	}
	for i, v := range x {
		dx[i] = 2 * g[i] * v
	}
	return nil
}

// sumAll returns the scalar Σ x (in blocks added in order, float64
// partial sums) in one op; its derivative op fills x's shape with g.
func sumAll(x *G.Node) (*G.Node, error) {
	if _, err := FloatDtype("sum input", x); err != nil {
		return nil, err
	}
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	name := fmt.Sprintf("sumall(%v)", shape)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.ScalarShape()}, name: name}
	o.wrt = []bool{true}
	o.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape.Clone()}, name: name + "_dx"}
		g.f32 = func(v [][]float32, dx []float32) error { return fill(dx, v[0]) }
		g.f64 = func(v [][]float64, dx []float64) error { return fill(dx, v[0]) }
		d, err := applyFused(g, grad)
		return G.Nodes{d}, err
	}
	return applyScalar(o, func(in []G.Value) (G.Value, error) {
		switch v := data(in[0]).(type) {
		case []float32:
			s, err := sumOf(n, v)
			return G.NewF32(float32(s)), err
		case []float64:
			s, err := sumOf(n, v)
			return G.NewF64(s), err
		}
		return nil, fmt.Errorf("graph: sum: unsupported dtype %v", in[0].Dtype())
	}, x)
}

func sumOf[T float](n int, x []T) (float64, error) {
	if err := checkLen("sum", x, n); err != nil {
		return 0, err
	}
	return blockSum(n, func(lo, hi int) float64 { return sum64(x[lo:hi]) }), nil
}

func fill[T float](dx, g []T) error {
	if len(g) != 1 {
		return fmt.Errorf("graph: sum gradient: want a scalar gradient, got %d values", len(g))
	}
	for i := range dx {
		dx[i] = g[0]
	}
	return nil
}

// sumRows returns the row sums Σ_j x_ij of a B×C matrix in one op; its
// derivative op spreads g_i over row i.
func sumRows(x *G.Node) (*G.Node, error) {
	if _, err := FloatDtype("row sum input", x); err != nil {
		return nil, err
	}
	if x.Dims() != 2 {
		return nil, fmt.Errorf("graph: row sum: want a matrix; got shape %v", x.Shape())
	}
	b, c := x.Shape()[0], x.Shape()[1]
	name := fmt.Sprintf("sumrows(%dx%d)", b, c)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{b}}, name: name}
	o.f32 = func(in [][]float32, out []float32) error { return sumRowsFwd(b, c, in, out) }
	o.f64 = func(in [][]float64, out []float64) error { return sumRowsFwd(b, c, in, out) }
	o.wrt = []bool{true}
	o.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{b, c}}, name: name + "_dx"}
		g.f32 = func(v [][]float32, dx []float32) error { return spreadRows(b, c, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return spreadRows(b, c, v, dx) }
		d, err := applyFused(g, grad)
		return G.Nodes{d}, err
	}
	return applyFused(o, x)
}

func sumRowsFwd[T float](b, c int, in [][]T, out []T) error {
	x := in[0]
	if err := checkLen("row sum", x, b*c); err != nil {
		return err
	}
	parallelRows(b, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = sum4(x[i*c : (i+1)*c])
		}
	})
	return nil
}

// sum4 returns Σ x in T, on four accumulators.
func sum4[T float](x []T) T {
	var s0, s1, s2, s3 T
	j := 0
	for ; j+4 <= len(x); j += 4 {
		s0 += x[j]
		s1 += x[j+1]
		s2 += x[j+2]
		s3 += x[j+3]
	}
	for ; j < len(x); j++ {
		s0 += x[j]
	}
	return (s0 + s1) + (s2 + s3)
}

func spreadRows[T float](b, c int, in [][]T, dx []T) error {
	g := in[0]
	if err := checkLen("row sum gradient", g, b); err != nil {
		return err
	}
	parallelRows(b, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := dx[i*c : (i+1)*c]
			for j := range row {
				row[j] = g[i]
			}
		}
	})
	return nil
}

// weightedSum returns the scalar Σ x⊙w, with w (a mask or weights) taking
// no gradient, in one op; its derivative op is g·w.
func weightedSum(x, w *G.Node) (*G.Node, error) {
	if !sameShape(x, w) {
		return nil, fmt.Errorf("graph: weighted sum: x %v %v and w %v %v differ", x.Shape(), x.Dtype(), w.Shape(), w.Dtype())
	}
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	name := fmt.Sprintf("weightedsum(%v)", shape)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.ScalarShape()}, name: name}
	o.wrt = []bool{true, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape.Clone()}, name: name + "_dx"}
		g.f32 = func(v [][]float32, dx []float32) error { return scaleBy(n, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return scaleBy(n, v, dx) }
		d, err := applyFused(g, in[1], grad)
		return G.Nodes{d, nil}, err
	}
	return applyScalar(o, func(in []G.Value) (G.Value, error) {
		switch x := data(in[0]).(type) {
		case []float32:
			s, err := dotOf(n, x, data(in[1]).([]float32))
			return G.NewF32(float32(s)), err
		case []float64:
			s, err := dotOf(n, x, data(in[1]).([]float64))
			return G.NewF64(s), err
		}
		return nil, fmt.Errorf("graph: weighted sum: unsupported dtype %v", in[0].Dtype())
	}, x, w)
}

func dotOf[T float](n int, x, w []T) (float64, error) {
	if err := checkLen("weighted sum", x, n); err != nil {
		return 0, err
	}
	if err := checkLen("weighted sum", w, n); err != nil {
		return 0, err
	}
	return blockSum(n, func(lo, hi int) float64 {
		var s float64
		for i := lo; i < hi; i++ {
			if w[i] != 0 {
				s += float64(x[i] * w[i])
			}
		}
		return s
	}), nil
}

// scaleBy sets dx = g·w from the inputs (w, g) with g a scalar.
func scaleBy[T float](n int, in [][]T, dx []T) error {
	w, g := in[0], in[1]
	if err := checkLen("weighted sum gradient", w, n); err != nil {
		return err
	}
	if len(g) != 1 {
		return fmt.Errorf("graph: weighted sum gradient: want a scalar gradient, got %d values", len(g))
	}
	for i, v := range w {
		dx[i] = g[0] * v
	}
	return nil
}
