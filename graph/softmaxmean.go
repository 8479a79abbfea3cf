package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph/vmath"
)

// RowSoftmaxMean returns, for an R×K matrix x, the length-R vector of each
// row's softmax-weighted mean
//
//	v_r = Σ_k p_rk·x_rk,   p_r = softmax(x_r / τ)   (τ = 1/invTemp > 0)
//
// in one op, with one derivative op, ∂v_r/∂x_rk = p_rk·(1 + (x_rk − v_r)/τ).
// It is SoftTriple's relaxed similarity of an embedding to a class's K
// centres (Qian et al. 2019, "SoftTriple Loss: Deep Metric Learning Without
// Triplet Sampling"), where the composition (scale, log-sum-exp, shift,
// exp, product, row sum) makes six passes over R×K and as many in the
// gradient. The softmax is shifted by the row maximum (nothing overflows)
// and accumulated in float64.
func RowSoftmaxMean(x *G.Node, invTemp float64) (*G.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("graph: row softmax mean: nil input")
	}
	if _, err := FloatDtype("row softmax mean input", x); err != nil {
		return nil, err
	}
	if x.Dims() != 2 {
		return nil, fmt.Errorf("graph: row softmax mean: x must be an R×K matrix; got shape %v", x.Shape())
	}
	if !(invTemp > 0) || math.IsInf(invTemp, 0) {
		return nil, fmt.Errorf("graph: row softmax mean: 1/τ is %v; want a finite value > 0", invTemp)
	}
	r, k := x.Shape()[0], x.Shape()[1]
	name := fmt.Sprintf("rowsoftmaxmean(%dx%d,%v)", r, k, invTemp)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{r}}, name: name}
	o.f32 = func(in [][]float32, out []float32) error { return rowSoftmaxMean32(r, k, invTemp, in, out, nil) }
	o.f64 = func(in [][]float64, out []float64) error { return rowSoftmaxMean64(r, k, invTemp, in, out, nil) }
	o.wrt = []bool{true}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{r, k}}, name: name + "_dx"}
		g.f32 = func(v [][]float32, dx []float32) error { return rowSoftmaxMean32(r, k, invTemp, v, nil, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return rowSoftmaxMean64(r, k, invTemp, v, nil, dx) }
		n, err := applyFused(g, in[0], grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n}, nil
	}
	return applyFused(o, x)
}

// weightedSoftmaxRow writes e_k = exp(x_k·a − max_j x_j·a) into p and returns
// Σ_k e_k and Σ_k e_k·x_k.
func weightedSoftmaxRow(x []float64, a float64, p []float64) (z, zx float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v*a)
	}
	for i, v := range x {
		e := math.Exp(v*a - m)
		p[i] = e
		z += e
		zx += e * v
	}
	return z, zx
}

// rowSoftmaxMean64 is the float64 forward (out set: in = {x}) or gradient
// (dx set: in = {x, g}) of RowSoftmaxMean, with math.Exp.
func rowSoftmaxMean64(r, k int, a float64, in [][]float64, out, dx []float64) error {
	x, g, err := softmaxMeanArgs(r, k, in, out, dx)
	if err != nil {
		return err
	}
	p := make([]float64, k)
	for i := range r {
		row := x[i*k : (i+1)*k]
		z, zx := weightedSoftmaxRow(row, a, p)
		v := zx / z
		if dx == nil {
			out[i] = v
			continue
		}
		gz := g[i] / z
		for j, xv := range row {
			dx[i*k+j] = gz * p[j] * (1 + a*(xv-v))
		}
	}
	return nil
}

// softmaxMeanArgs checks RowSoftmaxMean's kernel arguments and returns x
// and, for the gradient (dx set), g.
func softmaxMeanArgs[T float](r, k int, in [][]T, out, dx []T) (x, g []T, err error) {
	x = in[0]
	if err := checkLen("row softmax mean", x, r*k); err != nil {
		return nil, nil, err
	}
	if dx == nil {
		return x, nil, checkLen("row softmax mean", out, r)
	}
	if len(in) < 2 {
		return nil, nil, fmt.Errorf("graph: row softmax mean gradient: no gradient input")
	}
	return x, in[1], checkLen("row softmax mean gradient", in[1], r)
}

// softmaxChunk is the number of rows whose exponentials rowSoftmaxMean32
// computes in one vectorised call.
const softmaxChunk = 256

// rowSoftmaxMean32 is the float32 forward (out set: in = {x}) or gradient
// (dx set: in = {x, g}) of RowSoftmaxMean. The exponentials of a chunk of
// rows, each row shifted by its maximum, go through vmath.Exp in one call;
// the sums are float64.
func rowSoftmaxMean32(r, k int, a float64, in [][]float32, out, dx []float32) error {
	x, g, err := softmaxMeanArgs(r, k, in, out, dx)
	if err != nil {
		return err
	}
	af := float32(a)
	e := make([]float32, min(r, softmaxChunk)*k)
	for r0 := 0; r0 < r; r0 += softmaxChunk {
		n := min(softmaxChunk, r-r0)
		xs := x[r0*k : (r0+n)*k]
		for i := range n {
			row, z := xs[i*k:(i+1)*k], e[i*k:(i+1)*k]
			m := float32(math.Inf(-1))
			for _, v := range row {
				m = max(m, af*v)
			}
			for j, v := range row {
				z[j] = af*v - m
			}
		}
		vmath.Exp(e[:n*k], e[:n*k])
		for i := range n {
			row, p := xs[i*k:(i+1)*k], e[i*k:(i+1)*k]
			var z, zx float64
			for j, v := range row {
				z += float64(p[j])
				zx += float64(p[j]) * float64(v)
			}
			v := zx / z
			if dx == nil {
				out[r0+i] = float32(v)
				continue
			}
			gz := float64(g[r0+i]) / z
			d := dx[(r0+i)*k : (r0+i+1)*k]
			for j, xv := range row {
				d[j] = float32(gz * float64(p[j]) * (1 + a*(float64(xv)-v)))
			}
		}
	}
	return nil
}
