package graph

import (
	"fmt"
	"math"
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph/vmath"
)

// DiagonalCrossEntropy returns the scalar
//
//	Σ_i a_i·(log Σ_j a_j·e^{z_ij} − z_ii)
//
// for a C×C matrix of logits z and a 0/1 vector a of active rows (no
// gradient): the softmax cross-entropy of each active row against its
// diagonal over the active columns, −log(e^{z_ii} / Σ_j e^{z_ij}), summed.
// With z_ij = f_iᵀf_j⁺ it is Sohn's (2016) multi-class N-pair term
// log(1 + Σ_{j≠i} e^{z_ij − z_ii}). It is one op, stable (each row shifted
// by its active maximum), without the C×C temporaries of a subtraction,
// a mask and a log-sum-exp; the derivative op is one pass,
// dz_ij = g·a_i·(a_j·softmax_ij − δ_ij).
func DiagonalCrossEntropy(z, active *G.Node) (*G.Node, error) {
	return diagonalCrossEntropy(z, active, false)
}

// MeanDiagonalCrossEntropy is DiagonalCrossEntropy divided by
// max(1, Σ_i a_i): the mean over the active rows (N-pair's 1/N Σ_i), in
// one op where a sum of a and a division are two more (and the division's
// derivative two more again). The sum is rounded to z's dtype before the
// division, as DivAtLeastOne of the two ops rounds it; the derivative
// divides g the same way first.
func MeanDiagonalCrossEntropy(z, active *G.Node) (*G.Node, error) {
	return diagonalCrossEntropy(z, active, true)
}

func diagonalCrossEntropy(z, active *G.Node, mean bool) (*G.Node, error) {
	if z == nil || active == nil {
		return nil, fmt.Errorf("graph: diagonal cross-entropy: nil input")
	}
	if _, err := FloatDtype("diagonal cross-entropy input", z); err != nil {
		return nil, err
	}
	if z.Dims() != 2 || z.Shape()[0] != z.Shape()[1] {
		return nil, fmt.Errorf("graph: diagonal cross-entropy: z must be a square matrix; got shape %v", z.Shape())
	}
	c := z.Shape()[0]
	if active.Dims() != 1 || active.Shape()[0] != c || active.Dtype() != z.Dtype() {
		return nil, fmt.Errorf("graph: diagonal cross-entropy: active must be a %v vector of length %d; got %v %v", z.Dtype(), c, active.Dtype(), active.Shape())
	}
	name := fmt.Sprintf("diagxent(%d)", c)
	if mean {
		name = fmt.Sprintf("meandiagxent(%d)", c)
	}
	o := &fusedOp{opBase: opBase{dt: z.Dtype(), shape: tensor.ScalarShape()}, name: name}
	o.wrt = []bool{true, false}
	// The forward pass keeps each row's maximum and sum of shifted
	// exponentials; the derivative op, which takes the forward output as an
	// input so that it runs after it, reads them instead of finding them
	// again (the same values: the same passes over the same row).
	rows := &diagRows{}
	o.diff = func(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{c, c}}, name: name + "_dz"}
		var gp pad
		g.f32 = func(v [][]float32, dz []float32) error { return diagXentGrad(c, mean, rows, v, dz, &gp, g.kept()) }
		g.f64 = func(v [][]float64, dz []float64) error { return diagXentGrad(c, mean, rows, v, dz, &gp, g.kept()) }
		n, err := applyFused(g, in[0], in[1], grad, out)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n, nil}, nil
	}
	return applyScalar(o, func(in []G.Value) (G.Value, error) {
		rows.resize(c)
		switch o.dt {
		case tensor.Float32:
			v, err := fusedFloats[float32](name, in)
			if err != nil {
				return nil, err
			}
			s, err := diagXent(c, v, rows)
			return G.NewF32(meanOf(mean, float32(s), v[1])), err
		case tensor.Float64:
			v, err := fusedFloats[float64](name, in)
			if err != nil {
				return nil, err
			}
			s, err := diagXent(c, v, rows)
			return G.NewF64(meanOf(mean, s, v[1])), err
		}
		return nil, fmt.Errorf("graph: diagonal cross-entropy: unsupported dtype %v", o.dt)
	}, z, active)
}

// expRow sets dst[j] = e^{src[j]} (vmath for float32, package math for
// float64).
func expRow[T float](dst, src []T) { expShiftRow(dst, src, 0) }

// expShiftRow sets dst[j] = e^{src[j] − shift}, the difference rounded
// to T first, in one pass (vmath for float32, package math for float64).
func expShiftRow[T float](dst, src []T, shift T) {
	if d32, ok := as32(dst); ok {
		vmath.ExpShift(d32, any(src).([]float32), float32(shift))
		return
	}
	for j, v := range src {
		dst[j] = T(math.Exp(float64(v - shift)))
	}
}

// softmaxRow sets tmp[j] = e^{z_j − m} for the active j (0 elsewhere),
// with m the active maximum, and returns m and Σ_j tmp[j]. dense says
// that every entry of a is active (N-pair's filled prefix): then no mask
// is read, and the maximum and the sum run on four accumulators.
func softmaxRow[T float](zr, a, tmp []T, dense bool) (mx T, s float64) {
	if dense {
		mx = maxOf(zr)
		expShiftRow(tmp, zr, mx)
		return mx, sum64(tmp)
	}
	first := true
	for j, v := range zr {
		if a[j] != 0 && (first || v > mx) {
			mx, first = v, false
		}
	}
	expShiftRow(tmp, zr, mx)
	for j := range tmp {
		if a[j] == 0 {
			tmp[j] = 0
		}
		s += float64(tmp[j])
	}
	return mx, s
}

// allActive reports whether every entry of a is non-zero.
func allActive[T float](a []T) bool {
	for _, v := range a {
		if v == 0 {
			return false
		}
	}
	return true
}

// maxOf returns the largest entry of a non-empty x (with a NaN entry,
// NaN or the largest of the others: the callers' shifted exponentials
// carry the NaN either way).
func maxOf[T float](x []T) T {
	if x32, ok := as32(x); ok {
		return T(vmath.Max(x32))
	}
	m0, m1, m2, m3 := x[0], x[0], x[0], x[0]
	j := 0
	for ; j+4 <= len(x); j += 4 {
		m0, m1, m2, m3 = max(m0, x[j]), max(m1, x[j+1]), max(m2, x[j+2]), max(m3, x[j+3])
	}
	for ; j < len(x); j++ {
		m0 = max(m0, x[j])
	}
	return max(m0, m1, m2, m3)
}

// sum64 returns Σ x in float64, on four accumulators.
func sum64[T float](x []T) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		s0 += float64(x[j])
		s1 += float64(x[j+1])
		s2 += float64(x[j+2])
		s3 += float64(x[j+3])
	}
	for ; j < len(x); j++ {
		s0 += float64(x[j])
	}
	return (s0 + s1) + (s2 + s3)
}

// diagRows is what DiagonalCrossEntropy's forward pass leaves for its
// derivative: per row, the term, the maximum and the sum of the shifted
// exponentials (valid for the active rows), and whether the rows were dense.
type diagRows struct {
	part, max, sum []float64
	n              int
	dense          bool
}

func (r *diagRows) resize(c int) {
	if len(r.part) != c {
		r.part, r.max, r.sum = make([]float64, c), make([]float64, c), make([]float64, c)
	}
}

func diagXent[T float](c int, in [][]T, rows *diagRows) (float64, error) {
	part := rows.part
	z, a := in[0], in[1]
	if err := checkLen("diagonal cross-entropy", z, c*c); err != nil {
		return 0, err
	}
	if err := checkLen("diagonal cross-entropy", a, c); err != nil {
		return 0, err
	}
	n := activePrefix(a) // columns past it are inactive
	dense := allActive(a[:n])
	rows.n, rows.dense = n, dense
	parallelRows(c, n, func(lo, hi int) {
		tmp := make([]T, n)
		for i := lo; i < hi; i++ {
			part[i] = 0
			if a[i] == 0 {
				continue
			}
			zr := z[i*c : i*c+n]
			mx, s := softmaxRow(zr, a[:n], tmp, dense)
			rows.max[i], rows.sum[i] = float64(mx), s
			part[i] = float64(a[i]) * (float64(mx) + math.Log(s) - float64(zr[i]))
		}
	})
	var s float64
	for _, p := range part {
		s += p
	}
	return s, nil
}

// meanOf returns s / max(1, Σ w) when mean is set (the sum of w rounded
// to T first), else s.
func meanOf[T float](mean bool, s T, w []T) T {
	if !mean {
		return s
	}
	return s / max(T(sum64(w)), 1)
}

func diagXentGrad[T float](c int, mean bool, rows *diagRows, in [][]T, dz []T, p *pad, kept bool) error {
	z, a, g := in[0], in[1], in[2]
	if err := checkLen("diagonal cross-entropy gradient", z, c*c); err != nil {
		return err
	}
	if err := checkLen("diagonal cross-entropy gradient", a, c); err != nil {
		return err
	}
	if len(g) != 1 {
		return fmt.Errorf("graph: diagonal cross-entropy gradient: want a scalar gradient, got %d values", len(g))
	}
	g0 := meanOf(mean, g[0], a) // ∂L/∂(the sum)
	n := activePrefix(a)        // columns past it are inactive
	dense := allActive(a[:n])
	if len(rows.max) != c || rows.n != n || rows.dense != dense {
		return fmt.Errorf("graph: diagonal cross-entropy gradient: the forward pass has not run on these inputs")
	}
	buf := unsafe.Pointer(unsafe.SliceData(dz))
	zf := max(p.zeroFrom(buf, kept, c), n) // rows and columns from zf on are 0 already
	p.at, p.from = buf, n
	parallelRows(zf, n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dr := dz[i*c : (i+1)*c]
			if i >= n {
				clear(dr[:zf]) // past the prefix
				continue
			}
			if a[i] == 0 {
				clear(dr)
				continue
			}
			clear(dr[n:zf])
			dr = dr[:n]
			// softmaxRow's exponentials, with the forward pass's maximum and sum
			expShiftRow(dr, z[i*c:i*c+n], T(rows.max[i]))
			if !dense {
				for j, aj := range a[:n] {
					if aj == 0 {
						dr[j] = 0
					}
				}
			}
			s := rows.sum[i]
			f := g0 * a[i] * T(1/s)
			for j := range dr {
				dr[j] *= f
			}
			dr[i] -= g0 * a[i]
		}
	})
	return nil
}
