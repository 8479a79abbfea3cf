package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pairFlags builds, without gradient, a B×B matrix from per-row values v and
// flags has (both length B):
//
//	"i":    has_i
//	"j":    has_j
//	"any":  has_i or has_j
//	"seli": has_i and (not has_j or v_i ≥ v_j)   (row i wins, ties to i)
//	"selj": has_j and not seli
func pairFlags(kind string, v, has *G.Node) (*G.Node, error) {
	b := v.Shape()[0]
	var buf reused
	return apply("pairflags("+kind+")", v.Dtype(), 2,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b, b}, nil },
		func(in []G.Value) (G.Value, error) {
			switch vv := data(in[0]).(type) {
			case []float32:
				t, out := zeroed[float32](&buf, in[0].Dtype(), b, b)
				pairFlagKernel(out, kind, vv, data(in[1]).([]float32))
				return t, nil
			case []float64:
				t, out := zeroed[float64](&buf, in[0].Dtype(), b, b)
				pairFlagKernel(out, kind, vv, data(in[1]).([]float64))
				return t, nil
			}
			return nil, fmt.Errorf("graph: pairflags: unsupported dtype %v", in[0].Dtype())
		}, v, has)
}

// pairFlagKernel sets the 1 entries of the b×b flags in out (zeros).
func pairFlagKernel[T float](out []T, kind string, v, has []T) {
	b := len(v)
	for i := 0; i < b; i++ {
		hi := has[i] != 0
		row := out[i*b : (i+1)*b]
		switch kind {
		case "i":
			if hi {
				for j := range row {
					row[j] = 1
				}
			}
		case "j":
			for j := range row {
				if has[j] != 0 {
					row[j] = 1
				}
			}
		case "any":
			for j := range row {
				if hi || has[j] != 0 {
					row[j] = 1
				}
			}
		case "seli":
			if hi {
				for j := range row {
					if has[j] == 0 || v[i] >= v[j] {
						row[j] = 1
					}
				}
			}
		case "selj":
			for j := range row {
				if has[j] != 0 && !(hi && v[i] >= v[j]) {
					row[j] = 1
				}
			}
		}
	}
}

func checkPair(v, has *G.Node) error {
	if v == nil || has == nil {
		return fmt.Errorf("graph: pairwise: nil input")
	}
	if v.Dims() != 1 || !v.Shape().Eq(has.Shape()) {
		return fmt.Errorf("graph: pairwise: v %v and has %v must be vectors of one length", v.Shape(), has.Shape())
	}
	if v.Dtype() != has.Dtype() {
		return fmt.Errorf("graph: pairwise: v is %v but has is %v", v.Dtype(), has.Dtype())
	}
	_, err := FloatDtype("pairwise input", v)
	return err
}

// PairwiseMax returns the B×B matrix max(v_i, v_j) over the rows that are
// flagged in has (a 0/1 vector without gradient): v_i alone where only i is
// flagged, v_j alone where only j is, and 0 where neither is. The gradient
// goes to exactly one of the two (i on ties).
func PairwiseMax(v, has *G.Node) (*G.Node, error) {
	if err := checkPair(v, has); err != nil {
		return nil, err
	}
	return pairVec(false, v, has) // one op, one derivative op
}

// PairwiseLogAddExp returns the B×B matrix log(has_i·e^{v_i} + has_j·e^{v_j}),
// computed stably, and exactly 0 (zero gradient) where neither row is
// flagged. With v_i = log Σ_k exp(a_ik) it combines two rows' sums
// of exponentials, as the smooth lifted structured loss does.
func PairwiseLogAddExp(v, has *G.Node) (*G.Node, error) {
	if err := checkPair(v, has); err != nil {
		return nil, err
	}
	return pairVec(true, v, has) // one op, one derivative op
}

// PairAny returns, without gradient, the B×B matrix has_i or has_j.
func PairAny(v, has *G.Node) (*G.Node, error) {
	if err := checkPair(v, has); err != nil {
		return nil, err
	}
	return pairFlags("any", v, has)
}

// PairAnyMask returns, without gradient, the B×B matrix mask_ij where row i
// or row j is flagged in has (a 0/1 vector of length B), 0 elsewhere: the
// product of mask with PairAny(has, has) in one pass into a buffer it
// reuses, where PairAny and a product are three (clearing and filling the
// flags, then the product).
func PairAnyMask(mask, has *G.Node) (*G.Node, error) {
	if err := checkPair(has, has); err != nil {
		return nil, err
	}
	b := has.Shape()[0]
	if mask == nil || !mask.Shape().Eq(tensor.Shape{b, b}) || mask.Dtype() != has.Dtype() {
		return nil, fmt.Errorf("graph: pair any mask: mask must be a %d×%d %v matrix", b, b, has.Dtype())
	}
	var buf reused
	return apply("pairanymask", has.Dtype(), 2,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b, b}, nil },
		func(in []G.Value) (G.Value, error) {
			switch m := data(in[0]).(type) {
			case []float32:
				t, out := reuse[float32](&buf, in[0].Dtype(), b, b)
				return t, pairAnyMask(out, m, data(in[1]).([]float32))
			case []float64:
				t, out := reuse[float64](&buf, in[0].Dtype(), b, b)
				return t, pairAnyMask(out, m, data(in[1]).([]float64))
			}
			return nil, fmt.Errorf("graph: pair any mask: unsupported dtype %v", in[0].Dtype())
		}, mask, has)
}

func pairAnyMask[T float](out, mask, has []T) error {
	b := len(has)
	if len(mask) != b*b || len(out) != b*b {
		return fmt.Errorf("graph: pair any mask: %d mask values for %d flags", len(mask), b)
	}
	for i, h := range has {
		row, mr := out[i*b:(i+1)*b], mask[i*b:(i+1)*b]
		if h != 0 {
			copy(row, mr)
			continue
		}
		for j, v := range mr {
			row[j] = 0
			if has[j] != 0 {
				row[j] = v
			}
		}
	}
	return nil
}
