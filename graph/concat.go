package graph

import (
	"fmt"
	"math"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConcatCols returns the matrices ms (B×C₁, B×C₂, …, one dtype) side by
// side, B×ΣC, in one op that copies rows into a buffer it reuses from run
// to run; the gradient of each input that carries one (see NoGradient) is
// one op copying its column block back out. It replaces G.Concat on axis
// 1, whose strided iterator dominated a step with a reference set of
// thousands of rows. When no input carries a gradient the output does not
// either (it is forward-only).
func ConcatCols(ms ...*G.Node) (*G.Node, error) {
	if len(ms) == 0 {
		return nil, fmt.Errorf("graph: concat: no inputs")
	}
	b, dt := 0, tensor.Dtype{}
	cols := make([]int, len(ms))
	total := 0
	for k, m := range ms {
		if m == nil {
			return nil, fmt.Errorf("graph: concat: input %d is nil", k)
		}
		s := m.Shape()
		if len(s) != 2 {
			return nil, fmt.Errorf("graph: concat: input %d has shape %v; want a matrix", k, s)
		}
		if k == 0 {
			b, dt = s[0], m.Dtype()
		}
		if s[0] != b || m.Dtype() != dt {
			return nil, fmt.Errorf("graph: concat: input %d is %v %v; want %d rows of %v", k, m.Dtype(), s, b, dt)
		}
		cols[k] = s[1]
		total += s[1]
	}
	if _, err := FloatDtype("concat input", ms[0]); err != nil {
		return nil, err
	}
	if err := sameGraph(ms...); err != nil {
		return nil, err
	}
	if len(ms) == 1 {
		return ms[0], nil
	}
	var sb strings.Builder
	for _, c := range cols {
		fmt.Fprintf(&sb, ",%d", c)
	}
	name := fmt.Sprintf("concatcols(%d%s)", b, sb.String())
	wrt := make([]bool, len(ms))
	grads := false
	for k, m := range ms {
		wrt[k] = !NoGradient(m)
		grads = grads || wrt[k]
	}
	if !grads { // forward-only, into a buffer of its own
		o := &opBase{dt: dt, shape: tensor.Shape{b, total}}
		return apply(name+"-nograd", dt, 2,
			func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b, total}, nil },
			func(in []G.Value) (G.Value, error) {
				out := o.buffer()
				switch d := out.Data().(type) {
				case []float32:
					if err := concatAny(in, cols, b, d); err != nil {
						return nil, err
					}
				case []float64:
					if err := concatAny(in, cols, b, d); err != nil {
						return nil, err
					}
				}
				return out, nil
			}, ms...)
	}
	o := &fusedOp{opBase: opBase{dt: dt, shape: tensor.Shape{b, total}}, name: name, wrt: wrt}
	o.f32 = func(in [][]float32, out []float32) error { return concatFwd(in, cols, b, out) }
	o.f64 = func(in [][]float64, out []float64) error { return concatFwd(in, cols, b, out) }
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		res := make(G.Nodes, len(in))
		off := 0
		for k := range in {
			c, at := cols[k], off
			off += c
			if !wrt[k] {
				continue
			}
			g := &fusedOp{opBase: opBase{dt: dt, shape: tensor.Shape{b, c}}, name: fmt.Sprintf("%s_d%d", name, k)}
			g.f32 = func(v [][]float32, dx []float32) error { return concatGrad(v[0], b, total, at, c, dx) }
			g.f64 = func(v [][]float64, dx []float64) error { return concatGrad(v[0], b, total, at, c, dx) }
			n, err := applyFused(g, grad)
			if err != nil {
				return nil, err
			}
			res[k] = n
		}
		return res, nil
	}
	return applyFused(o, ms...)
}

func concatFwd[T float](in [][]T, cols []int, b int, out []T) error {
	total := len(out) / max(b, 1)
	for k, x := range in {
		if err := checkLen("concat", x, b*cols[k]); err != nil {
			return err
		}
	}
	for r := 0; r < b; r++ {
		off := r * total
		for k, x := range in {
			c := cols[k]
			copy(out[off:off+c], x[r*c:(r+1)*c])
			off += c
		}
	}
	return nil
}

// concatAny is concatFwd on graph values.
func concatAny[T float](in []G.Value, cols []int, b int, out []T) error {
	xs, err := floats[T]("concat", in...)
	if err != nil {
		return err
	}
	return concatFwd(xs, cols, b, out)
}

// concatGrad copies columns [at, at+c) of the B×total gradient g into dx.
func concatGrad[T float](g []T, b, total, at, c int, dx []T) error {
	if err := checkLen("concat gradient", g, b*total); err != nil {
		return err
	}
	for r := 0; r < b; r++ {
		copy(dx[r*c:(r+1)*c], g[r*total+at:r*total+at+c])
	}
	return nil
}

// HingeCount returns, without gradient, the number of terms of HingeSum
// that are strictly positive: #{ij : w_ij·h(scale·x_ij + offset) > 0}, the
// divisor of a MeanNonZero reduction of those terms, in one pass and
// without the B×B temporaries of the composition.
func HingeCount(x, w *G.Node, scale, offset float64, squared bool) (*G.Node, error) {
	if err := checkMasked("hinge count", x, w); err != nil {
		return nil, err
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) || math.IsNaN(offset) || math.IsInf(offset, 0) {
		return nil, fmt.Errorf("graph: hinge count: scale %v and offset %v must be finite", scale, offset)
	}
	dt := x.Dtype()
	return apply(fmt.Sprintf("hingecount(scale=%v,offset=%v,sq=%t)", scale, offset, squared), dt, 0,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.ScalarShape(), nil },
		func(in []G.Value) (G.Value, error) {
			switch x := data(in[0]).(type) {
			case []float32:
				return G.NewF32(float32(hingeCount(scale, offset, squared, x, data(in[1]).([]float32)))), nil
			case []float64:
				return G.NewF64(float64(hingeCount(scale, offset, squared, x, data(in[1]).([]float64)))), nil
			}
			return nil, fmt.Errorf("graph: hinge count: unsupported dtype %v", in[0].Dtype())
		}, x, w)
}

func hingeCount[T float](scale, offset float64, squared bool, x, w []T) int {
	a, c := T(scale), T(offset)
	n := 0
	for i, wi := range w[:min(len(w), len(x))] {
		if wi == 0 {
			continue
		}
		if t := a*x[i] + c; t > 0 {
			if squared {
				t *= t
			}
			if wi*t > 0 {
				n++
			}
		}
	}
	return n
}

// Scale returns c·x elementwise for a tensor x: Affine with no offset, one
// op writing into a buffer it reuses from run to run (Gorgonia's Mul by a
// constant allocates its output and its gradient every run); the gradient
// is c·g, one op, and none for a NoGradient input. A scalar x is G.Mul's.
func Scale(x *G.Node, c float64) (*G.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("graph: scale: nil input")
	}
	if _, err := FloatDtype("scale input", x); err != nil {
		return nil, err
	}
	if math.IsNaN(c) || math.IsInf(c, 0) {
		return nil, fmt.Errorf("graph: scale: factor %v must be finite", c)
	}
	if x.IsScalar() {
		return G.Mul(x, constant(x.Dtype(), c))
	}
	return affine(x, c, 0)
}
