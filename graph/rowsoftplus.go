package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RowSoftplusSum returns the scalar
//
//	Σ_ij r_i·w_ij·softplus(v_i − z_ij)
//
// for z and w of one shape B×C and v, r of length B; w (pair weights or a
// mask) and r (row weights) get no gradient. It is the sum of NT-Xent's
// per-pair terms −log(e^{z_ij} / (e^{z_ij} + e^{v_i})) with v_i the
// log-sum-exp of row i's negatives (Chen et al. 2020; van den Oord et al.
// 2018) in one op: softplus is evaluated only where w_ij ≠ 0, with no
// B×C temporary for the shift, the sign, the softplus or the weights. The
// derivative ops are one pass each: dz_ij = −g·r_i·w_ij·σ(v_i − z_ij) and
// dv_i = g·r_i·Σ_j w_ij·σ(v_i − z_ij).
func RowSoftplusSum(z, v, w, r *G.Node) (*G.Node, error) {
	if err := checkMasked("row softplus sum", z, w); err != nil {
		return nil, err
	}
	b, c := z.Shape()[0], z.Shape()[1]
	for _, n := range []*G.Node{v, r} {
		if n == nil || n.Dims() != 1 || n.Shape()[0] != b || n.Dtype() != z.Dtype() {
			return nil, fmt.Errorf("graph: row softplus sum: v and r must be %v vectors of length %d (z is %v)", z.Dtype(), b, z.Shape())
		}
	}
	name := fmt.Sprintf("rowsoftplussum(%dx%d)", b, c)
	o := &fusedOp{opBase: opBase{dt: z.Dtype(), shape: tensor.ScalarShape()}, name: name}
	o.wrt = []bool{true, true, false, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		res := make(G.Nodes, 4)
		for k, shape := range []tensor.Shape{{b, c}, {b}} {
			g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape}, name: fmt.Sprintf("%s_d%d", name, k)}
			g.f32 = func(x [][]float32, d []float32) error { return rowSoftplusGrad(k, b, c, x, d) }
			g.f64 = func(x [][]float64, d []float64) error { return rowSoftplusGrad(k, b, c, x, d) }
			n, err := applyFused(g, in[0], in[1], in[2], in[3], grad)
			if err != nil {
				return nil, err
			}
			res[k] = n
		}
		return res, nil
	}
	var part []float64 // per-row sums, added in row order
	return applyScalar(o, func(in []G.Value) (G.Value, error) {
		if len(part) != b {
			part = make([]float64, b)
		}
		switch o.dt {
		case tensor.Float32:
			x, err := fusedFloats[float32](name, in)
			if err != nil {
				return nil, err
			}
			s, err := rowSoftplusSum(b, c, x, part)
			return G.NewF32(float32(s)), err
		case tensor.Float64:
			x, err := fusedFloats[float64](name, in)
			if err != nil {
				return nil, err
			}
			s, err := rowSoftplusSum(b, c, x, part)
			return G.NewF64(s), err
		}
		return nil, fmt.Errorf("graph: row softplus sum: unsupported dtype %v", o.dt)
	}, z, v, w, r)
}

func checkRowSoftplus[T float](name string, b, c int, in [][]T) error {
	for k, n := range []int{b * c, b, b * c, b} {
		if err := checkLen(name, in[k], n); err != nil {
			return err
		}
	}
	return nil
}

func rowSoftplusSum[T float](b, c int, in [][]T, part []float64) (float64, error) {
	if err := checkRowSoftplus("row softplus sum", b, c, in); err != nil {
		return 0, err
	}
	z, v, w, r := in[0], in[1], in[2], in[3]
	parallelRows(b, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			part[i] = 0
			if r[i] == 0 {
				continue
			}
			var s float64
			vi, zr := v[i], z[i*c:(i+1)*c]
			for j, wj := range w[i*c : (i+1)*c] {
				if wj != 0 {
					s += float64(wj * softplusT(vi-zr[j]))
				}
			}
			part[i] = float64(r[i]) * s
		}
	})
	var s float64
	for _, p := range part {
		s += p
	}
	return s, nil
}

// rowSoftplusGrad is the gradient with respect to z (k = 0) or v (k = 1)
// from the inputs (z, v, w, r, grad).
func rowSoftplusGrad[T float](k, b, c int, in [][]T, d []T) error {
	if err := checkRowSoftplus("row softplus sum gradient", b, c, in); err != nil {
		return err
	}
	if len(in[4]) != 1 {
		return fmt.Errorf("graph: row softplus sum gradient: want a scalar gradient, got %d values", len(in[4]))
	}
	z, v, w, r, g := in[0], in[1], in[2], in[3], in[4][0]
	parallelRows(b, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			vi, zr, wr := v[i], z[i*c:(i+1)*c], w[i*c:(i+1)*c]
			gi := g * r[i]
			if k == 0 {
				dr := d[i*c : (i+1)*c]
				clear(dr)
				if gi == 0 {
					continue
				}
				for j, wj := range wr {
					if wj != 0 {
						dr[j] = -gi * wj * sigmoidT(vi-zr[j])
					}
				}
				continue
			}
			var s T
			if gi != 0 {
				for j, wj := range wr {
					if wj != 0 {
						s += wj * sigmoidT(vi-zr[j])
					}
				}
			}
			d[i] = gi * s
		}
	})
	return nil
}
