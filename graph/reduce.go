package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func checkMasked(what string, x, mask *G.Node) error {
	if x == nil || mask == nil {
		return fmt.Errorf("graph: %s: nil input", what)
	}
	if x.Dims() != 2 || !x.Shape().Eq(mask.Shape()) {
		return fmt.Errorf("graph: %s: x %v and mask %v must be matrices of one shape", what, x.Shape(), mask.Shape())
	}
	if x.Dtype() != mask.Dtype() {
		return fmt.Errorf("graph: %s: x is %v but mask is %v", what, x.Dtype(), mask.Dtype())
	}
	if _, err := FloatDtype(what+" input", x); err != nil {
		return err
	}
	return nil
}

// MaskedRowMax returns the length-B vector of row maxima of x (B×C) over the
// entries where mask is non-zero. The gradient goes to one entry per row (the
// first maximum, by column index), unlike Gorgonia's Max, which hands every
// tied element the full gradient. A row with an empty mask gives 0 and no
// gradient.
func MaskedRowMax(x, mask *G.Node) (*G.Node, error) { return maskedRowExtreme(x, mask, true) }

// MaskedRowMin is MaskedRowMax for the minimum.
func MaskedRowMin(x, mask *G.Node) (*G.Node, error) { return maskedRowExtreme(x, mask, false) }

func maskedRowExtreme(x, mask *G.Node, max bool) (*G.Node, error) {
	if err := checkMasked("masked row extreme", x, mask); err != nil {
		return nil, err
	}
	hot, err := argExtremeOneHot(x, mask, max)
	if err != nil {
		return nil, err
	}
	prod, err := G.HadamardProd(x, hot)
	if err != nil {
		return nil, err
	}
	return G.Sum(prod, 1)
}

// argExtremeOneHot returns a B×C matrix with a single 1 per row at the masked
// maximum (max=true) or minimum of x, ties going to the lowest column index,
// and an all-zero row where the mask is empty. No gradient flows through it.
func argExtremeOneHot(x, mask *G.Node, max bool) (*G.Node, error) {
	if err := checkMasked("arg extreme", x, mask); err != nil {
		return nil, err
	}
	return apply(fmt.Sprintf("argextreme(max=%t)", max), x.Dtype(), 2,
		func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
		func(in []G.Value) (G.Value, error) {
			s := in[0].Shape()
			switch xv := data(in[0]).(type) {
			case []float32:
				return dense(argExtreme(xv, data(in[1]).([]float32), s[0], s[1], max), s[0], s[1]), nil
			case []float64:
				return dense(argExtreme(xv, data(in[1]).([]float64), s[0], s[1], max), s[0], s[1]), nil
			}
			return nil, fmt.Errorf("graph: argextreme: unsupported dtype %v", in[0].Dtype())
		}, x, mask)
}

func argExtreme[T float](x, m []T, r, c int, max bool) []T {
	out := make([]T, r*c)
	for i := 0; i < r; i++ {
		best := -1
		for j := 0; j < c; j++ {
			k := i*c + j
			if m[k] == 0 {
				continue
			}
			if best < 0 || (max && x[k] > x[i*c+best]) || (!max && x[k] < x[i*c+best]) {
				best = j
			}
		}
		if best >= 0 {
			out[i*c+best] = 1
		}
	}
	return out
}

// rowShift returns, without gradient, the masked row maximum of x, or 0 for
// an empty row; with withZero the maximum also takes the implicit 0 term of
// log(1 + Σ exp).
func rowShift(x, mask *G.Node, withZero bool) (*G.Node, error) {
	return apply(fmt.Sprintf("rowshift(zero=%t)", withZero), x.Dtype(), 1,
		func(s []tensor.Shape) (tensor.Shape, error) { return tensor.Shape{s[0][0]}, nil },
		func(in []G.Value) (G.Value, error) {
			s := in[0].Shape()
			switch xv := data(in[0]).(type) {
			case []float32:
				return dense(shiftKernel(xv, data(in[1]).([]float32), s[0], s[1], withZero), s[0]), nil
			case []float64:
				return dense(shiftKernel(xv, data(in[1]).([]float64), s[0], s[1], withZero), s[0]), nil
			}
			return nil, fmt.Errorf("graph: rowshift: unsupported dtype %v", in[0].Dtype())
		}, x, mask)
}

func shiftKernel[T float](x, m []T, r, c int, withZero bool) []T {
	out := make([]T, r)
	for i := 0; i < r; i++ {
		seen := withZero
		var best T
		for j := 0; j < c; j++ {
			k := i*c + j
			if m[k] != 0 && (!seen || x[k] > best) {
				best, seen = x[k], true
			}
		}
		out[i] = best
	}
	return out
}

// MaskedLogSumExp returns the length-B vector log Σ_j mask_ij·exp(x_ij),
// computed stably (shifted by the masked row maximum). A row with an empty
// mask gives exactly 0 and a zero gradient, not −Inf. Gorgonia's own
// LogSumExp is wrong in v0.9.18 (see TestGorgoniaLogSumExpIsBroken).
func MaskedLogSumExp(x, mask *G.Node) (*G.Node, error) { return maskedLSE(x, mask, false) }

// MaskedLog1pSumExp returns log(1 + Σ_j mask_ij·exp(x_ij)) per row, stably;
// an empty row gives 0. It is the N-pair and soft-margin form.
func MaskedLog1pSumExp(x, mask *G.Node) (*G.Node, error) { return maskedLSE(x, mask, true) }

func maskedLSE(x, mask *G.Node, plusOne bool) (*G.Node, error) {
	if err := checkMasked("masked log-sum-exp", x, mask); err != nil {
		return nil, err
	}
	dt := x.Dtype()
	m, err := rowShift(x, mask, plusOne)
	if err != nil {
		return nil, err
	}
	z, err := SubCol(x, m)
	if err != nil {
		return nil, err
	}
	// Masked-out entries become exp(0)·0, so a large x outside the mask can
	// never overflow into Inf·0 = NaN.
	if z, err = G.HadamardProd(z, mask); err != nil {
		return nil, err
	}
	e, err := G.Exp(z)
	if err != nil {
		return nil, err
	}
	if e, err = G.HadamardProd(e, mask); err != nil {
		return nil, err
	}
	s, err := G.Sum(e, 1)
	if err != nil {
		return nil, err
	}
	if plusOne {
		// log(1 + Σ e^x) = m + log1p(expm1(−m) + Σ e^(x−m)); when every x ≤ 0
		// m = 0 and this is log1p(Σ e^x), exact for tiny sums.
		neg, err := G.Neg(m)
		if err != nil {
			return nil, err
		}
		em1, err := G.Expm1(neg)
		if err != nil {
			return nil, err
		}
		if s, err = G.Add(s, em1); err != nil {
			return nil, err
		}
		l, err := G.Log1p(s)
		if err != nil {
			return nil, err
		}
		return G.Add(m, l)
	}
	// empty rows: add 1 so that log gives 0
	any, err := AnyInRow(mask)
	if err != nil {
		return nil, err
	}
	extra, err := G.Sub(Const(dt, 1), any)
	if err != nil {
		return nil, err
	}
	if s, err = G.Add(s, extra); err != nil {
		return nil, err
	}
	l, err := G.Log(s)
	if err != nil {
		return nil, err
	}
	return G.Add(m, l)
}

// SubCol returns x − v broadcast along columns: x (B×C), v (B) → B×C.
func SubCol(x, v *G.Node) (*G.Node, error) {
	c, err := asCol(v)
	if err != nil {
		return nil, err
	}
	return G.BroadcastSub(x, c, nil, []byte{1})
}

// MulCol returns x ⊙ v broadcast along columns: x (B×C), v (B) → B×C.
func MulCol(x, v *G.Node) (*G.Node, error) {
	c, err := asCol(v)
	if err != nil {
		return nil, err
	}
	return G.BroadcastHadamardProd(x, c, nil, []byte{1})
}

// asCol reshapes a vector of length B to a B×1 matrix.
func asCol(v *G.Node) (*G.Node, error) {
	if v.Dims() != 1 {
		return nil, fmt.Errorf("graph: want a vector; got shape %v", v.Shape())
	}
	return G.Reshape(v, tensor.Shape{v.Shape()[0], 1})
}

func asRow(v *G.Node) (*G.Node, error) {
	if v.Dims() != 1 {
		return nil, fmt.Errorf("graph: want a vector; got shape %v", v.Shape())
	}
	return G.Reshape(v, tensor.Shape{1, v.Shape()[0]})
}

// outerAdd returns the B×C matrix u_i + v_j of vectors u (B) and v (C).
func outerAdd(u, v *G.Node) (*G.Node, error) {
	c, err := asCol(u)
	if err != nil {
		return nil, err
	}
	r, err := asRow(v)
	if err != nil {
		return nil, err
	}
	return G.BroadcastAdd(c, r, []byte{1}, []byte{0})
}

// Indicator returns, without gradient, 1 where x > threshold and 0 elsewhere.
func Indicator(x *G.Node, threshold float64) (*G.Node, error) {
	if _, err := FloatDtype("indicator input", x); err != nil {
		return nil, err
	}
	return apply(fmt.Sprintf("indicator(>%v)", threshold), x.Dtype(), x.Dims(),
		func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
		func(in []G.Value) (G.Value, error) {
			shape := in[0].Shape().Clone()
			switch xv := data(in[0]).(type) {
			case []float32:
				return dense(indicator(xv, float32(threshold)), shape...), nil
			case []float64:
				return dense(indicator(xv, threshold), shape...), nil
			}
			return nil, fmt.Errorf("graph: indicator: unsupported dtype %v", in[0].Dtype())
		}, x)
}

func indicator[T float](x []T, t T) []T {
	out := make([]T, len(x))
	for i, v := range x {
		if v > t {
			out[i] = 1
		}
	}
	return out
}

// atLeastOne returns, without gradient, max(s, 1) of a scalar: the
// denominator of a mean over a count that may be zero.
func atLeastOne(s *G.Node) (*G.Node, error) {
	return apply("atleastone", s.Dtype(), 0,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.ScalarShape(), nil },
		func(in []G.Value) (G.Value, error) {
			switch v := in[0].Data().(type) {
			case float32:
				return G.NewF32(float32(math.Max(float64(v), 1))), nil
			case float64:
				return G.NewF64(math.Max(v, 1)), nil
			}
			return nil, fmt.Errorf("graph: atleastone: unsupported value %T", in[0].Data())
		}, s)
}

// WeightedMean returns Σ x⊙w / max(Σ w, 1), where w carries no gradient
// (a mask or slot weights). With no weight it is 0 with a zero gradient.
func WeightedMean(x, w *G.Node) (*G.Node, error) {
	p, err := G.HadamardProd(x, w)
	if err != nil {
		return nil, err
	}
	num, err := G.Sum(p)
	if err != nil {
		return nil, err
	}
	sw, err := G.Sum(w)
	if err != nil {
		return nil, err
	}
	return DivAtLeastOne(num, sw)
}

// DivAtLeastOne returns num / max(den, 1) for scalars, where den is a count
// or total weight that carries no gradient: the mean of nothing is 0.
func DivAtLeastOne(num, den *G.Node) (*G.Node, error) {
	if !den.IsScalar() || !num.IsScalar() {
		return nil, fmt.Errorf("graph: DivAtLeastOne wants scalars; got %v and %v", num.Shape(), den.Shape())
	}
	d, err := atLeastOne(den)
	if err != nil {
		return nil, err
	}
	return G.Div(num, d)
}

// MeanNonZero returns Σ x / max(#{x > 0}, 1): the mean over the terms that
// are strictly positive (pytorch-metric-learning's AvgNonZeroReducer). x is
// expected to be non-negative (hinge terms).
func MeanNonZero(x *G.Node) (*G.Node, error) {
	ind, err := Indicator(x, 0)
	if err != nil {
		return nil, err
	}
	num, err := G.Sum(x)
	if err != nil {
		return nil, err
	}
	cnt, err := G.Sum(ind)
	if err != nil {
		return nil, err
	}
	return DivAtLeastOne(num, cnt)
}

// Softplus returns log(1 + exp(x)) elementwise, accurate to the last bits
// for any x and with the exact gradient σ(x) everywhere, 0 included. It is
// written as p·x + log1p(exp(−s·x)) where s = +1 for x ≥ 0 and −1 otherwise
// and p = (1+s)/2 are constants for differentiation.
func Softplus(x *G.Node) (*G.Node, error) {
	if _, err := FloatDtype("softplus input", x); err != nil {
		return nil, err
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
			}
			return nil, fmt.Errorf("graph: nonnegsign: unsupported dtype %v", in[0].Dtype())
		}, x)
	if err != nil {
		return nil, err
	}
	p, err := G.Add(s, Const(x.Dtype(), 1))
	if err != nil {
		return nil, err
	}
	if p, err = G.Mul(p, Const(x.Dtype(), 0.5)); err != nil {
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
