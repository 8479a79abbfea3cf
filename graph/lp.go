package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Lp is the Minkowski distance of order P ≥ 1,
//
//	d(x_i, y_j) = ( Σ_k |x_ik − y_jk|^P )^{1/P}
//
// (P = 1: the Manhattan distance; P = 2: the Euclidean distance, computed
// from the differences rather than from a matrix product), as
// pytorch-metric-learning's LpDistance(p=P) computes it with torch.cdist.
// With Normalize the rows are first divided by their own Lp norm of the
// same order, x / max(||x||_P, 1e-12) (PML's BaseDistance normalises with
// F.normalize(p=P), so LpDistance(p=1) divides by the L1 norm); for P = 2
// that is L2Normalize.
//
// The derivative with respect to x_ik is
//
//	Σ_j g_ij · sign(x_ik − y_jk) · (|x_ik − y_jk| / d_ij)^{P−1},
//
// which is finite everywhere: a zero difference contributes 0 (for P = 1
// the subgradient sign(0) = 0, as torch.cdist takes), and a pair at
// distance 0 (coincident rows, the diagonal of a self matrix) contributes 0,
// as SafeSqrt does for Euclidean. The forward pass scales each pair by its
// largest difference, so P up to hundreds neither overflows nor
// underflows. Cost: O(B·R·D) power evaluations (none for P = 1 and 2),
// against one matrix product for Euclidean.
//
// References: Minkowski (1910) for the metric; Musgrave, Belongie & Lim
// (2020), pytorch-metric-learning, LpDistance.
type Lp struct {
	// P is the order, finite and ≥ 1 (below 1 the triangle inequality fails
	// and the derivative at a zero difference is infinite); 0 means 2.
	P float64
	// Normalize divides each row by its Lp norm of order P first.
	Normalize bool
}

func (Lp) LargerIsCloser() bool { return false }

func (d Lp) String() string { return fmt.Sprintf("lp(p=%v,normalize=%t)", d.order(), d.Normalize) }

func (d Lp) order() float64 {
	if d.P == 0 {
		return 2
	}
	return d.P
}

// Matrix implements Distance: one op after the optional normalisation (one
// op), and one derivative op per input.
func (d Lp) Matrix(x, y *G.Node) (*G.Node, error) {
	p := d.order()
	if math.IsNaN(p) || math.IsInf(p, 0) || p < 1 {
		return nil, fmt.Errorf("graph: Lp.P is %v; want a finite value ≥ 1 (0 means 2)", d.P)
	}
	x, y, err := prepare(x, y, false)
	if err != nil {
		return nil, err
	}
	if d.Normalize {
		self := x == y
		if x, err = LpNormalize(x, p); err != nil {
			return nil, err
		}
		if self {
			y = x
		} else if y, err = LpNormalize(y, p); err != nil {
			return nil, err
		}
	}
	return lpMatrix(p, x, y)
}

// lpMatrix is the B×R matrix of Lp distances in one op.
func lpMatrix(p float64, x, y *G.Node) (*G.Node, error) {
	self := x == y
	b, r, d := x.Shape()[0], y.Shape()[0], x.Shape()[1]
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{b, r}},
		name: fmt.Sprintf("lpmatrix(p=%v,self=%t,%dx%dx%d)", p, self, b, r, d)}
	o.f32 = func(in [][]float32, out []float32) error { return lpFwd(p, self, b, r, d, in, out) }
	o.f64 = func(in [][]float64, out []float64) error { return lpFwd(p, self, b, r, d, in, out) }
	inputs := G.Nodes{x}
	o.wrt = []bool{true}
	if !self {
		inputs = append(inputs, y)
		o.wrt = []bool{true, true}
	}
	o.diff = func(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
		res := make(G.Nodes, len(in))
		for w := range in {
			shape := tensor.Shape{b, d}
			if w == 1 {
				shape = tensor.Shape{r, d}
			}
			g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape},
				name: fmt.Sprintf("lpmatrix_d%d(p=%v,self=%t,%dx%dx%d)", w, p, self, b, r, d)}
			g.f32 = func(v [][]float32, dx []float32) error { return lpGrad(p, self, w, b, r, d, v, dx) }
			g.f64 = func(v [][]float64, dx []float64) error { return lpGrad(p, self, w, b, r, d, v, dx) }
			n, err := applyFused(g, append(append(G.Nodes{}, in...), out, grad)...)
			if err != nil {
				return nil, err
			}
			res[w] = n
		}
		return res, nil
	}
	return applyFused(o, inputs...)
}

// lpIntMax is the largest integer order whose powers lpDist and the
// gradient take by repeated multiplication instead of math.Pow.
const lpIntMax = 16

// lpInt returns p as an integer power k when 1 ≤ p ≤ lpIntMax is whole, else 0.
func lpInt(p float64) int {
	if p == math.Trunc(p) && p >= 1 && p <= lpIntMax {
		return int(p)
	}
	return 0
}

// ipow returns x^k for k ≥ 0 by repeated squaring.
func ipow(x float64, k int) float64 {
	r := 1.0
	for k > 0 {
		if k&1 == 1 {
			r *= x
		}
		x *= x
		k >>= 1
	}
	return r
}

// lpDist returns (Σ|a_k − c_k|^p)^{1/p}, accumulated in float64 (k is
// lpInt(p)). For p other than 1 and 2 the sum is taken directly, and again
// with every difference divided by the largest one when it overflows or
// falls below 1e-280, so neither happens.
func lpDist[T float](p float64, k int, a, c []T) float64 {
	switch p {
	case 1:
		var s float64
		for i, v := range a {
			s += math.Abs(float64(v) - float64(c[i]))
		}
		return s
	case 2:
		var s float64
		for i, v := range a {
			t := float64(v) - float64(c[i])
			s += t * t
		}
		return math.Sqrt(s)
	}
	pow := func(t float64) float64 {
		if k > 0 {
			return ipow(t, k)
		}
		return math.Pow(t, p)
	}
	var s float64
	switch k {
	case 3:
		for i, v := range a {
			t := math.Abs(float64(v) - float64(c[i]))
			s += t * t * t
		}
	default:
		for i, v := range a {
			s += pow(math.Abs(float64(v) - float64(c[i])))
		}
	}
	if s > 1e-280 && !math.IsInf(s, 0) {
		return math.Pow(s, 1/p)
	}
	var m float64
	for i, v := range a {
		m = math.Max(m, math.Abs(float64(v)-float64(c[i])))
	}
	if m == 0 {
		return 0
	}
	s = 0
	for i, v := range a {
		s += pow(math.Abs(float64(v)-float64(c[i])) / m)
	}
	return m * math.Pow(s, 1/p)
}

func lpFwd[T float](p float64, self bool, b, r, d int, in [][]T, out []T) error {
	k := lpInt(p)
	x, y := in[0], in[0]
	if !self {
		y = in[1]
	}
	if err := checkLen("lpmatrix", x, b*d); err != nil {
		return err
	}
	if err := checkLen("lpmatrix", y, r*d); err != nil {
		return err
	}
	parallelRows(b, r*d, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xi := x[i*d : (i+1)*d]
			for j := 0; j < r; j++ {
				if self && j == i {
					out[i*r+j] = 0
					continue
				}
				out[i*r+j] = T(lpDist(p, k, xi, y[j*d:(j+1)*d]))
			}
		}
	})
	return nil
}

// lpSlopes adds g·∂dist/∂a_c = g·sign(t_c)·(|t_c|/dist)^{p−1}, t = a − c,
// to acc for a pair at distance dist > 0 (k is lpInt(p)); a zero
// difference adds nothing.
func lpSlopes[T float](p float64, k int, g, dist float64, a, c []T, acc []float64) {
	switch {
	case p == 1:
		for i, v := range a {
			if t := float64(v) - float64(c[i]); t != 0 { // sign(0) = 0
				acc[i] += g * math.Copysign(1, t)
			}
		}
	case p == 2:
		g /= dist
		for i, v := range a {
			acc[i] += g * (float64(v) - float64(c[i]))
		}
	case k == 3:
		inv := 1 / dist
		for i, v := range a {
			t := (float64(v) - float64(c[i])) * inv
			acc[i] += g * t * math.Abs(t)
		}
	case k > 0:
		inv := 1 / dist
		for i, v := range a {
			t := (float64(v) - float64(c[i])) * inv
			acc[i] += g * t * ipow(math.Abs(t), k-2) // sign(t)·|t|^{k−1}, k ≥ 3
		}
	default:
		inv := 1 / dist
		for i, v := range a {
			if t := (float64(v) - float64(c[i])) * inv; t != 0 {
				acc[i] += g * math.Copysign(math.Pow(math.Abs(t), p-1), t)
			}
		}
	}
}

// lpGrad is the gradient with respect to input w (0: x, 1: y) from the
// inputs (x, [y], out, grad). For a self matrix x feeds both sides:
// dx_i = Σ_j (g_ij + g_ji)·slope(x_i − x_j).
func lpGrad[T float](p float64, self bool, w, b, r, d int, in [][]T, dx []T) error {
	k := lpInt(p)
	x, y := in[0], in[0]
	n := 1
	if !self {
		y = in[1]
		n = 2
	}
	out, g := in[n], in[n+1]
	if err := checkLen("lpmatrix gradient", g, b*r); err != nil {
		return err
	}
	if err := checkLen("lpmatrix gradient", out, b*r); err != nil {
		return err
	}
	rows := b
	if w == 1 {
		rows = r
	}
	parallelRows(rows, b*d, func(lo, hi int) {
		acc := make([]float64, d)
		for q := lo; q < hi; q++ {
			clear(acc)
			if w == 0 {
				xi := x[q*d : (q+1)*d]
				for j := 0; j < r; j++ {
					gij := float64(g[q*r+j])
					if self {
						gij += float64(g[j*r+q])
					}
					if dist := float64(out[q*r+j]); gij != 0 && dist > 0 {
						lpSlopes(p, k, gij, dist, xi, y[j*d:(j+1)*d], acc)
					}
				}
			} else {
				yj := y[q*d : (q+1)*d]
				for i := 0; i < b; i++ {
					// ∂/∂y = −∂/∂x: the slope of y_j − x_i
					if gij, dist := float64(g[i*r+q]), float64(out[i*r+q]); gij != 0 && dist > 0 {
						lpSlopes(p, k, gij, dist, yj, x[i*d:(i+1)*d], acc)
					}
				}
			}
			for c, v := range acc {
				dx[q*d+c] = T(v)
			}
		}
	})
	return nil
}

// lpNormMin is the smallest norm LpNormalize divides by (the eps of
// PyTorch's F.normalize).
const lpNormMin = 1e-12

// LpNormalize divides each row of x (B×D) by max(||x||_p, 1e-12), the
// Lp norm of order p ≥ 1, as PyTorch's F.normalize(x, p=p) does; for p = 2
// it is L2Normalize (whose zero-row guard differs only below norms of
// 1e-12). The derivative, for ||x||_p > 1e-12 and y = x/||x||_p, is
//
//	dx_k = (g_k − (g·y)·sign(y_k)|y_k|^{p−1}) / ||x||_p,
//
// finite at zero entries; a row at or below the floor gets g / 1e-12.
func LpNormalize(x *G.Node, p float64) (*G.Node, error) {
	if math.IsNaN(p) || math.IsInf(p, 0) || p < 1 {
		return nil, fmt.Errorf("graph: LpNormalize: p is %v; want a finite value ≥ 1", p)
	}
	if p == 2 {
		return L2Normalize(x)
	}
	b, d, err := checkEmbeddings("x", x)
	if err != nil {
		return nil, err
	}
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{b, d}},
		name: fmt.Sprintf("lpnormalize(p=%v,%dx%d)", p, b, d)}
	o.f32 = func(in [][]float32, out []float32) error { return lpNormFwd(p, b, d, in, out) }
	o.f64 = func(in [][]float64, out []float64) error { return lpNormFwd(p, b, d, in, out) }
	o.wrt = []bool{true}
	o.diff = func(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{b, d}},
			name: fmt.Sprintf("lpnormalize_dx(p=%v,%dx%d)", p, b, d)}
		g.f32 = func(v [][]float32, dx []float32) error { return lpNormGrad(p, b, d, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return lpNormGrad(p, b, d, v, dx) }
		n, err := applyFused(g, in[0], out, grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n}, nil
	}
	return applyFused(o, x)
}

// lpNorm returns max(||row||_p, 1e-12), scaled by the largest entry.
func lpNorm[T float](p float64, row []T) float64 {
	var m float64
	for _, v := range row {
		m = math.Max(m, math.Abs(float64(v)))
	}
	if m == 0 {
		return lpNormMin
	}
	var s float64
	for _, v := range row {
		s += math.Pow(math.Abs(float64(v))/m, p)
	}
	return math.Max(m*math.Pow(s, 1/p), lpNormMin)
}

func lpNormFwd[T float](p float64, b, d int, in [][]T, out []T) error {
	x := in[0]
	if err := checkLen("lpnormalize", x, b*d); err != nil {
		return err
	}
	for i := 0; i < b; i++ {
		row := x[i*d : (i+1)*d]
		n := lpNorm(p, row)
		for c, v := range row {
			out[i*d+c] = T(float64(v) / n)
		}
	}
	return nil
}

func lpNormGrad[T float](p float64, b, d int, in [][]T, dx []T) error {
	x, y, g := in[0], in[1], in[2]
	for _, v := range [][]T{x, y, g} {
		if err := checkLen("lpnormalize gradient", v, b*d); err != nil {
			return err
		}
	}
	for i := 0; i < b; i++ {
		xr, gr := x[i*d:(i+1)*d], g[i*d:(i+1)*d]
		n := lpNorm(p, xr)
		if n <= lpNormMin {
			for c, v := range gr {
				dx[i*d+c] = T(float64(v) / n)
			}
			continue
		}
		var gy float64
		for c, v := range xr {
			gy += float64(gr[c]) * float64(v) / n
		}
		for c, v := range xr {
			yc := float64(v) / n
			s := 0.0
			if yc != 0 {
				s = math.Copysign(math.Pow(math.Abs(yc), p-1), yc)
			}
			dx[i*d+c] = T((float64(gr[c]) - gy*s) / n)
		}
	}
	return nil
}
