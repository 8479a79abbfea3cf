package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Reductions: masked row extremes and log-sum-exps, and means that divide by
// max(count, 1).

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

// checkSameShape is checkMasked for x and w of any one shape (matrices or
// vectors).
func checkSameShape(what string, x, w *G.Node) error {
	if x == nil || w == nil {
		return fmt.Errorf("graph: %s: nil input", what)
	}
	if x.Dims() < 1 || !x.Shape().Eq(w.Shape()) {
		return fmt.Errorf("graph: %s: x %v and w %v must be tensors of one shape", what, x.Shape(), w.Shape())
	}
	if x.Dtype() != w.Dtype() {
		return fmt.Errorf("graph: %s: x is %v but w is %v", what, x.Dtype(), w.Dtype())
	}
	_, err := FloatDtype(what+" input", x)
	return err
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
	if max {
		return maskedRow(redMax, x, mask)
	}
	return maskedRow(redMin, x, mask)
}

// MaskedLogSumExp returns the length-B vector log Σ_j mask_ij·exp(x_ij),
// computed stably (shifted by the masked row maximum). A row with an empty
// mask gives exactly 0 and a zero gradient, not −Inf. Gorgonia's own
// LogSumExp is wrong in v0.9.18 (see TestGorgoniaLogSumExpIsBroken).
func MaskedLogSumExp(x, mask *G.Node) (*G.Node, error) { return maskedLSE(x, mask, false) }

// MaskedLogSumExpOf is MaskedLogSumExp of Affine(x, scale, offset) in one
// op: the affine values are formed a row at a time in scratch (the same
// values as Affine's), so neither the B×C affine matrix nor, in the
// derivative, Affine's derivative pass over B×C exists. The lifted
// structured loss's log Σ_k e^{ε − D_ik}.
func MaskedLogSumExpOf(x, mask *G.Node, scale, offset float64) (*G.Node, error) {
	return maskedRowAffine(redLSE, "masked log-sum-exp", x, mask, scale, offset)
}

// MaskedLog1pSumExpOf is MaskedLog1pSumExp of Affine(x, scale, offset) in
// one op, as MaskedLogSumExpOf is for MaskedLogSumExp (Proxy-Anchor's
// log(1 + Σ e^{±α(s ∓ δ)})).
func MaskedLog1pSumExpOf(x, mask *G.Node, scale, offset float64) (*G.Node, error) {
	return maskedRowAffine(redLog1pSE, "masked log-sum-exp", x, mask, scale, offset)
}

// MaskedRowMaxOf is MaskedRowMax of Affine(x, scale, offset) in one op, as
// MaskedLogSumExpOf is for MaskedLogSumExp (the hard lifted loss's
// max_k ε − D_ik).
func MaskedRowMaxOf(x, mask *G.Node, scale, offset float64) (*G.Node, error) {
	return maskedRowAffine(redMax, "masked row extreme", x, mask, scale, offset)
}

func maskedRowAffine(kind rowRed, what string, x, mask *G.Node, scale, offset float64) (*G.Node, error) {
	if err := checkMasked(what, x, mask); err != nil {
		return nil, err
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) || math.IsNaN(offset) || math.IsInf(offset, 0) {
		return nil, fmt.Errorf("graph: %s: scale %v and offset %v must be finite", what, scale, offset)
	}
	return maskedRowOf(kind, x, mask, rowAffine{on: true, scale: scale, offset: offset})
}

// MaskedLog1pSumExp returns log(1 + Σ_j mask_ij·exp(x_ij)) per row, stably;
// an empty row gives 0. It is the N-pair and soft-margin form.
func MaskedLog1pSumExp(x, mask *G.Node) (*G.Node, error) { return maskedLSE(x, mask, true) }

// MaskedRowSum returns the length-B vector Σ_j mask_ij·x_ij of x (B×C)
// in one op, without the B×C product of Gorgonia's Mul and Sum; the mask
// (weights) gets no gradient, x gets g_i·mask_ij.
func MaskedRowSum(x, mask *G.Node) (*G.Node, error) {
	if err := checkMasked("masked row sum", x, mask); err != nil {
		return nil, err
	}
	return maskedRow(redSum, x, mask)
}

// maskedLSE is one op (maskedRow); the mask enters as weights
// (Σ_j mask_ij·e^{x_ij}) and receives no gradient.
func maskedLSE(x, mask *G.Node, plusOne bool) (*G.Node, error) {
	if err := checkMasked("masked log-sum-exp", x, mask); err != nil {
		return nil, err
	}
	if plusOne {
		return maskedRow(redLog1pSE, x, mask)
	}
	return maskedRow(redLSE, x, mask)
}

// Indicator returns, without gradient, 1 where x > threshold and 0 elsewhere.
func Indicator(x *G.Node, threshold float64) (*G.Node, error) {
	if _, err := FloatDtype("indicator input", x); err != nil {
		return nil, err
	}
	var buf reused
	return apply(fmt.Sprintf("indicator(>%v)", threshold), x.Dtype(), x.Dims(),
		func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
		func(in []G.Value) (G.Value, error) {
			shape := in[0].Shape().Clone()
			switch xv := data(in[0]).(type) {
			case []float32:
				t, out := zeroed[float32](&buf, in[0].Dtype(), shape...)
				indicator(out, xv, float32(threshold))
				return t, nil
			case []float64:
				t, out := zeroed[float64](&buf, in[0].Dtype(), shape...)
				indicator(out, xv, threshold)
				return t, nil
			}
			return nil, fmt.Errorf("graph: indicator: unsupported dtype %v", in[0].Dtype())
		}, x)
}

// indicator sets out[i] = 1 where x[i] > t (out holds zeros).
func indicator[T float](out, x []T, t T) {
	for i, v := range x {
		if v > t {
			out[i] = 1
		}
	}
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
	if sameShape(x, w) { // one op for Σ x⊙w, one for Σ w
		num, err := weightedSum(x, w)
		if err != nil {
			return nil, err
		}
		sw, err := sumAll(w)
		if err != nil {
			return nil, err
		}
		return DivAtLeastOne(num, sw)
	}
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
//
// It is one op with one derivative op (g / max(den, 1), nothing for den),
// where max and a Gorgonia division are two ops and the division's
// derivative four (two of them for den, computed and then dropped); the
// values are rounded as that composition rounds them: max(den, 1) in
// float64 then to the dtype, the quotients in the dtype.
func DivAtLeastOne(num, den *G.Node) (*G.Node, error) {
	if num == nil || den == nil {
		return nil, fmt.Errorf("graph: DivAtLeastOne: nil input")
	}
	if !den.IsScalar() || !num.IsScalar() {
		return nil, fmt.Errorf("graph: DivAtLeastOne wants scalars; got %v and %v", num.Shape(), den.Shape())
	}
	dt, err := FloatDtype("DivAtLeastOne numerator", num)
	if err != nil {
		return nil, err
	}
	if den.Dtype() != dt {
		return nil, fmt.Errorf("graph: DivAtLeastOne: numerator is %v but denominator is %v", dt, den.Dtype())
	}
	o := &fusedOp{opBase: opBase{dt: dt, shape: tensor.ScalarShape()}, name: "divatleastone"}
	o.wrt = []bool{true, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		d := &fusedOp{opBase: opBase{dt: dt, shape: tensor.ScalarShape()}, name: "divatleastone_dnum"}
		n, err := applyScalar(d, func(v []G.Value) (G.Value, error) { return divAtLeastOne(v[1], v[0]) }, in[1], grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n, nil}, nil
	}
	return applyScalar(o, func(v []G.Value) (G.Value, error) { return divAtLeastOne(v[0], v[1]) }, num, den)
}

// divAtLeastOne returns the scalar num / max(den, 1).
func divAtLeastOne(num, den G.Value) (G.Value, error) {
	switch n := num.Data().(type) {
	case float32:
		if d, ok := den.Data().(float32); ok {
			return G.NewF32(n / float32(math.Max(float64(d), 1))), nil
		}
	case float64:
		if d, ok := den.Data().(float64); ok {
			return G.NewF64(n / math.Max(d, 1)), nil
		}
	}
	return nil, fmt.Errorf("graph: DivAtLeastOne: values of type %T and %T", num.Data(), den.Data())
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
