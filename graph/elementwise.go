package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Elementwise ops with exact gradients where Gorgonia's are not: Softplus
// and SafeSqrt.

// Softplus returns log(1 + exp(x)) elementwise, accurate to the last bits
// for any x and with the exact gradient σ(x) everywhere, 0 included:
// max(x, 0) + log1p(exp(−|x|)) in one op whose derivative op is g·σ(x). A
// scalar x is the composition p·x + log1p(exp(−s·x)) where s = +1 for
// x ≥ 0 and −1 otherwise and p = (1+s)/2 are constants for differentiation.
func Softplus(x *G.Node) (*G.Node, error) {
	if _, err := FloatDtype("softplus input", x); err != nil {
		return nil, err
	}
	if !x.IsScalar() {
		return softplusOp(x) // one op and one derivative op
	}
	s, err := apply("nonnegsign", x.Dtype(), x.Dims(),
		func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
		func(in []G.Value) (G.Value, error) {
			shape := in[0].Shape().Clone()
			switch xv := data(in[0]).(type) {
			case []float32:
				return dense(nonNegSign(xv), shape...), nil
			case []float64:
				return dense(nonNegSign(xv), shape...), nil
			case float32: // a scalar
				return G.NewF32(nonNegSign([]float32{xv})[0]), nil
			case float64:
				return G.NewF64(nonNegSign([]float64{xv})[0]), nil
			}
			return nil, fmt.Errorf("graph: nonnegsign: unsupported dtype %v", in[0].Dtype())
		}, x)
	if err != nil {
		return nil, err
	}
	p, err := G.Add(s, constant(x.Dtype(), 1))
	if err != nil {
		return nil, err
	}
	if p, err = G.Mul(p, constant(x.Dtype(), 0.5)); err != nil {
		return nil, err
	}
	lin, err := G.HadamardProd(x, p)
	if err != nil {
		return nil, err
	}
	abs, err := G.HadamardProd(x, s)
	if err != nil {
		return nil, err
	}
	nabs, err := G.Neg(abs)
	if err != nil {
		return nil, err
	}
	e, err := G.Exp(nabs)
	if err != nil {
		return nil, err
	}
	l, err := G.Log1p(e)
	if err != nil {
		return nil, err
	}
	return G.Add(lin, l)
}

func nonNegSign[T float](x []T) []T {
	out := make([]T, len(x))
	for i, v := range x {
		out[i] = 1
		if v < 0 {
			out[i] = -1
		}
	}
	return out
}

// sqrtEpsilon is the threshold below which SafeSqrt returns exactly 0: a
// squared distance that small is rounding noise of the matrix-product form
// (float32: 1e-10, float64: 1e-20; see doc.go).
func sqrtEpsilon(dt tensor.Dtype) float64 {
	if dt == tensor.Float32 {
		return 1e-10
	}
	return 1e-20
}

// SafeSqrt returns √x for x > ε (1e-10 in float32, 1e-20 in float64) and exactly 0 (with a zero
// gradient) elsewhere. Gorgonia's Sqrt has an infinite derivative at 0,
// which turns into NaN downstream (see TestGorgoniaSqrtGradientAtZero). It
// is one elementwise op whose symbolic derivative is another
// (g·½/√x where x > ε, else 0), like Gorgonia's own Sqrt; the gradient is
// first-order only.
func SafeSqrt(x *G.Node) (*G.Node, error) {
	if _, err := FloatDtype("sqrt input", x); err != nil {
		return nil, err
	}
	n, err := G.ApplyOp(&safeSqrtOp{eps: sqrtEpsilon(x.Dtype()), dt: x.Dtype(), dims: x.Dims()}, x)
	if err != nil {
		return nil, fmt.Errorf("graph: safe sqrt: %w", err)
	}
	return n, nil
}

// safeSqrtOp is y = √x where x > eps, 0 elsewhere; with grad set it is
// instead the backward op dx = grad·½/√x where x > eps, 0 elsewhere.
type safeSqrtOp struct {
	eps  float64
	dt   tensor.Dtype
	dims int
	grad bool
}

func (o *safeSqrtOp) Arity() int {
	if o.grad {
		return 2
	}
	return 1
}
func (o *safeSqrtOp) Type() hm.Type {
	t := nodeType(o.dt, o.dims)
	if o.grad {
		return hm.NewFnType(t, t, t)
	}
	return hm.NewFnType(t, t)
}
func (o *safeSqrtOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graph: safe sqrt: no static shape")
	}
	return s.Clone(), nil
}
func (o *safeSqrtOp) ReturnsPtr() bool     { return false }
func (o *safeSqrtOp) CallsExtern() bool    { return false }
func (o *safeSqrtOp) OverwritesInput() int { return -1 }
func (o *safeSqrtOp) String() string {
	return fmt.Sprintf("safesqrt(eps=%v,%v,%d,grad=%t)", o.eps, o.dt, o.dims, o.grad)
}
func (o *safeSqrtOp) WriteHash(h hash.Hash) { fmt.Fprint(h, o.String()) }
func (o *safeSqrtOp) Hashcode() uint32      { return hashOf(o) }

func (o *safeSqrtOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	if !o.grad {
		out[0] = true
	}
	return out
}

func (o *safeSqrtOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if o.grad {
		return make(G.Nodes, len(inputs)), nil
	}
	back := &safeSqrtOp{eps: o.eps, dt: o.dt, dims: o.dims, grad: true}
	dx, err := G.ApplyOp(back, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

func (o *safeSqrtOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape().Clone()
	switch x := data(in[0]).(type) {
	case []float32:
		var g []float32
		if o.grad {
			g = data(in[1]).([]float32)
		}
		return dense(safeSqrtKernel(x, g, float32(o.eps)), shape...), nil
	case []float64:
		var g []float64
		if o.grad {
			g = data(in[1]).([]float64)
		}
		return dense(safeSqrtKernel(x, g, o.eps), shape...), nil
	}
	return nil, fmt.Errorf("graph: safe sqrt: unsupported dtype %v", in[0].Dtype())
}

// safeSqrtKernel computes √x (g nil) or g·½/√x (g set), 0 where x ≤ eps.
func safeSqrtKernel[T float](x, g []T, eps T) []T {
	out := make([]T, len(x))
	for i, v := range x {
		if v <= eps {
			continue
		}
		r := T(math.Sqrt(float64(v)))
		if g == nil {
			out[i] = r
		} else {
			out[i] = g[i] * 0.5 / r
		}
	}
	return out
}
