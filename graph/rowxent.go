package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaskedCrossEntropy returns the length-B vector
//
//	out_i = log Σ_j mask_ij·e^{z_ij} − w_i·Σ_j target_ij·z_ij
//
// of logits z (B×C), a mask (the softmax's support, as weights), target
// weights (B×C) and a row factor w (length B), none of the last three with
// a gradient: the cross-entropy of row i's softmax over its mask against
// the target distribution w_i·target_i. With target the positives and
// w_i = 1/|P(i)| it is SupCon's L_i (Khosla et al. 2020). An empty mask row
// has log-sum-exp 0, as in MaskedLogSumExp. It is one op where
// MaskedLogSumExp, MaskedRowSum, a product and a difference are four, and
// one derivative op, dz_ij = g_i·(mask_ij·e^{z_ij − lse_i} − w_i·target_ij),
// where those give two B×C gradients and their sum.
func MaskedCrossEntropy(z, mask, target, w *G.Node) (*G.Node, error) {
	const what = "masked cross-entropy"
	if err := checkMasked(what, z, mask); err != nil {
		return nil, err
	}
	if err := checkMasked(what, z, target); err != nil {
		return nil, err
	}
	b, c := z.Shape()[0], z.Shape()[1]
	if w == nil || w.Dims() != 1 || w.Shape()[0] != b || w.Dtype() != z.Dtype() {
		return nil, fmt.Errorf("graph: %s: w must be a %v vector of length %d", what, z.Dtype(), b)
	}
	name := fmt.Sprintf("maskedxent(%dx%d)", b, c)
	o := &fusedOp{opBase: opBase{dt: z.Dtype(), shape: tensor.Shape{b}}, name: name}
	o.f32 = func(in [][]float32, out []float32) error { return maskedXent(b, c, in, out, nil) }
	o.f64 = func(in [][]float64, out []float64) error { return maskedXent(b, c, in, out, nil) }
	o.wrt = []bool{true, false, false, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{b, c}}, name: name + "_dz"}
		g.f32 = func(v [][]float32, dz []float32) error { return maskedXent(b, c, v, nil, dz) }
		g.f64 = func(v [][]float64, dz []float64) error { return maskedXent(b, c, v, nil, dz) }
		n, err := applyFused(g, in[0], in[1], in[2], in[3], grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n, nil, nil, nil}, nil
	}
	return applyFused(o, z, mask, target, w)
}

// maskedXent is the forward pass (out set) or the derivative (dz set, the
// output gradient in[4]), one row at a time: the row's target sum and
// log-sum-exp are computed while the row is in cache, and the derivative
// recomputes them instead of keeping B values between the passes.
func maskedXent[T float](b, c int, in [][]T, out, dz []T) error {
	z, m, tg, w := in[0], in[1], in[2], in[3]
	for k, n := range []int{b * c, b * c, b * c, b} {
		if err := checkLen("masked cross-entropy", in[k], n); err != nil {
			return err
		}
	}
	var g []T
	if dz != nil {
		if g = in[4]; len(g) != b {
			return fmt.Errorf("graph: masked cross-entropy gradient: %d output gradients for %d rows", len(g), b)
		}
	}
	parallelRows(b, c, func(lo, hi int) {
		tmp := make([]T, c)
		for i := lo; i < hi; i++ {
			zr, mr, tr := z[i*c:(i+1)*c], m[i*c:(i+1)*c], tg[i*c:(i+1)*c]
			lse := maskedLSERow(zr, mr, tmp)
			if dz == nil {
				out[i] = T(lse - float64(w[i])*float64(maskedDot(zr, tr)))
				continue
			}
			dr, gi, wi := dz[i*c:(i+1)*c], g[i], w[i]
			expShiftRow(dr, zr, T(lse))
			for j, mj := range mr {
				e := T(0)
				if mj != 0 {
					e = mj * dr[j]
				}
				dr[j] = gi * (e - wi*tr[j])
			}
		}
	})
	return nil
}

// maskedLSERow returns log Σ_j m_j·e^{x_j} (0 for an empty mask), shifted
// by the row's maximum over every column (no mask read) unless the masked
// sum is then below lseShiftMin, not finite or empty; then by the masked
// maximum. tmp is scratch of x's length.
func maskedLSERow[T float](x, m, tmp []T) float64 {
	if len(x) == 0 {
		return 0
	}
	mx := maxOf(x)
	expShiftRow(tmp, x, mx)
	if s := float64(maskedDot(tmp, m)); s >= lseShiftMin && s <= math.MaxFloat64 {
		return float64(mx) + math.Log(s)
	}
	k := extremeAt(x, m, true)
	if k < 0 {
		return 0
	}
	mx = x[k]
	var s float64
	for j, w := range m {
		if w != 0 {
			s += float64(w * expT(x[j]-mx))
		}
	}
	return float64(mx) + math.Log(s)
}
