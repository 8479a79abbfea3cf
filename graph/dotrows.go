package graph

import (
	"fmt"
	"math"
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ActiveDot returns the C×C matrix active_i·active_j·x_iᵀy_j for x and y
// of C×D and a 0/1 vector active of length C (no gradient): the dot
// products of the active rows, 0 where either row is inactive. It is
// for fixed-capacity selections padded at the end (N-pair's tuples: the
// first n slots are filled): the matrix product covers only the leading
// rows up to the last active one, so padding costs nothing, and the
// derivative ops are products of the same size, dx_i = active_i·Σ_j
// active_j·g_ij·y_j and dy_j = active_j·Σ_i active_i·g_ij·x_i.
func ActiveDot(x, y, active *G.Node) (*G.Node, error) {
	if x == nil || y == nil || active == nil {
		return nil, fmt.Errorf("graph: active dot: nil input")
	}
	if x.Dims() != 2 || !x.Shape().Eq(y.Shape()) || x.Dtype() != y.Dtype() {
		return nil, fmt.Errorf("graph: active dot: x %v %v and y %v %v must be C×D matrices of one shape and dtype", x.Shape(), x.Dtype(), y.Shape(), y.Dtype())
	}
	if _, err := FloatDtype("active dot input", x); err != nil {
		return nil, err
	}
	c, d := x.Shape()[0], x.Shape()[1]
	if active.Dims() != 1 || active.Shape()[0] != c || active.Dtype() != x.Dtype() {
		return nil, fmt.Errorf("graph: active dot: active must be a %v vector of length %d; got %v %v", x.Dtype(), c, active.Dtype(), active.Shape())
	}
	name := fmt.Sprintf("activedot(%dx%d)", c, d)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{c, c}}, name: name}
	var fp pad
	o.f32 = func(in [][]float32, out []float32) error { return activeDotFwd(c, d, in, out, &fp, o.kept()) }
	o.f64 = func(in [][]float64, out []float64) error { return activeDotFwd(c, d, in, out, &fp, o.kept()) }
	o.wrt = []bool{true, true, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		res := make(G.Nodes, 3)
		for w := 0; w < 2; w++ {
			g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{c, d}}, name: fmt.Sprintf("%s_d%d", name, w)}
			var s32, s64 scratch
			var gp pad
			g.f32 = func(v [][]float32, dx []float32) error { return activeDotGrad(w, c, d, v, dx, &s32, &gp, g.kept()) }
			g.f64 = func(v [][]float64, dx []float64) error { return activeDotGrad(w, c, d, v, dx, &s64, &gp, g.kept()) }
			n, err := applyFused(g, in[0], in[1], in[2], grad)
			if err != nil {
				return nil, err
			}
			res[w] = n
		}
		return res, nil
	}
	return applyFused(o, x, y, active)
}

// HalvesDot is ActiveDot of the two halves of x (2C×D): the C×C matrix
// active_i·active_j·x_iᵀx_{C+j}, for a selection stacked as one matrix
// (N-pair's anchors over its positives, gathered by one GatherRows). The
// values are ActiveDot's of the halves; the derivative is one op that
// writes both halves of dx (ActiveDot's two derivatives), so a consumer
// of the halves does not cost two gathers, two scatters and the sum of
// their gradients.
func HalvesDot(x, active *G.Node) (*G.Node, error) {
	if x == nil || active == nil {
		return nil, fmt.Errorf("graph: halves dot: nil input")
	}
	if _, err := FloatDtype("halves dot input", x); err != nil {
		return nil, err
	}
	if x.Dims() != 2 || x.Shape()[0]%2 != 0 {
		return nil, fmt.Errorf("graph: halves dot: x must be a 2C×D matrix; got shape %v", x.Shape())
	}
	c, d := x.Shape()[0]/2, x.Shape()[1]
	if active.Dims() != 1 || active.Shape()[0] != c || active.Dtype() != x.Dtype() {
		return nil, fmt.Errorf("graph: halves dot: active must be a %v vector of length %d; got %v %v", x.Dtype(), c, active.Dtype(), active.Shape())
	}
	name := fmt.Sprintf("halvesdot(%dx%d)", c, d)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{c, c}}, name: name}
	var fp pad
	o.f32 = func(in [][]float32, out []float32) error {
		return activeDotFwd(c, d, halves(c*d, in), out, &fp, o.kept())
	}
	o.f64 = func(in [][]float64, out []float64) error {
		return activeDotFwd(c, d, halves(c*d, in), out, &fp, o.kept())
	}
	o.wrt = []bool{true, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{2 * c, d}}, name: name + "_dx"}
		var s32, s64 scratch
		var gp [2]pad // one per half
		g.f32 = func(v [][]float32, dx []float32) error { return halvesDotGrad(c, d, v, dx, &s32, &gp, g.kept()) }
		g.f64 = func(v [][]float64, dx []float64) error { return halvesDotGrad(c, d, v, dx, &s64, &gp, g.kept()) }
		n, err := applyFused(g, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n, nil}, nil
	}
	return applyFused(o, x, active)
}

// halves turns HalvesDot's inputs (x, active, [grad]) into ActiveDot's
// (top half, bottom half, active, [grad]); n is the size of a half.
func halves[T float](n int, in [][]T) [][]T {
	x := in[0]
	if len(x) != 2*n {
		x = nil // checkLen reports it
	}
	out := [][]T{x, nil}
	if x != nil {
		out[0], out[1] = x[:n], x[n:]
	}
	return append(out, in[1:]...)
}

func halvesDotGrad[T float](c, d int, in [][]T, dx []T, s *scratch, p *[2]pad, kept bool) error {
	v := halves(c*d, in)
	if err := checkLen("halves dot gradient", v[0], c*d); err != nil {
		return err
	}
	if err := checkLen("halves dot gradient", v[2], c); err != nil {
		return err
	}
	if err := activeDotGrad(0, c, d, v, dx[:c*d], s, &p[0], kept); err != nil {
		return err
	}
	return activeDotGrad(1, c, d, v, dx[c*d:], s, &p[1], kept)
}

// activePrefix returns 1 + the last active index (0 if none).
func activePrefix[T float](active []T) int {
	for i := len(active) - 1; i >= 0; i-- {
		if active[i] != 0 {
			return i + 1
		}
	}
	return 0
}

// pad remembers, for an output buffer that an op keeps from run to run,
// the index from which its rows (and, for a square matrix, its columns)
// hold zeros: the padding past a selection's filled prefix. The next run
// then clears only what the prefix uncovers.
type pad struct {
	at   unsafe.Pointer // the buffer
	from int
}

// zeroFrom returns the row (and column) from which buf is known to hold
// zeros: the last run's prefix when buf is the same buffer and the op's
// readers leave it alone (kept), else size (nothing known).
func (p *pad) zeroFrom(buf unsafe.Pointer, kept bool, size int) int {
	if kept && p.at == buf {
		return p.from
	}
	return size
}

func activeDotFwd[T float](c, d int, in [][]T, out []T, p *pad, kept bool) error {
	x, y, act := in[0], in[1], in[2]
	for k, n := range []int{c * d, c * d, c} {
		if err := checkLen("active dot", in[k], n); err != nil {
			return err
		}
	}
	n := activePrefix(act)
	buf := unsafe.Pointer(unsafe.SliceData(out))
	z := max(p.zeroFrom(buf, kept, c), n) // rows and columns from z on are 0 already
	p.at, p.from = buf, n
	clear(out[n*c : z*c]) // rows past the prefix; the product writes the n×n block
	if n == 0 {
		return nil
	}
	parallelProduct(false, true, n, n, d, 1, x, d, y, d, 0, out, c)
	dense := allActive(act[:n])
	for i := 0; i < n; i++ {
		clear(out[i*c+n : i*c+z])
		row := out[i*c : i*c+n]
		if dense {
			continue
		}
		if act[i] == 0 {
			clear(row)
			continue
		}
		for j, a := range act[:n] {
			if a == 0 {
				row[j] = 0
			}
		}
	}
	return nil
}

// activeDotGrad is the gradient with respect to x (w = 0) or y (w = 1)
// from the inputs (x, y, active, grad).
func activeDotGrad[T float](w, c, d int, in [][]T, dx []T, s *scratch, p *pad, kept bool) error {
	x, y, act, g := in[0], in[1], in[2], in[3]
	if err := checkLen("active dot gradient", g, c*c); err != nil {
		return err
	}
	n := activePrefix(act)
	buf := unsafe.Pointer(unsafe.SliceData(dx))
	z := max(p.zeroFrom(buf, kept, c), n) // rows from z on are 0 already
	p.at, p.from = buf, n
	clear(dx[n*d : z*d]) // rows past the prefix; the product writes the others
	if n == 0 {
		return nil
	}
	S, ld := g, c // the active block of g (leading dimension ld), inactive rows and columns 0
	if !allActive(act[:n]) {
		S, ld = get[T](s, n*n), n
		for i := 0; i < n; i++ {
			row, gr := S[i*n:(i+1)*n], g[i*c:i*c+n]
			if act[i] == 0 {
				clear(row)
				continue
			}
			for j, a := range act[:n] {
				row[j] = 0
				if a != 0 {
					row[j] = gr[j]
				}
			}
		}
	}
	if w == 0 {
		parallelProduct(false, false, n, d, n, 1, S, ld, y, d, 0, dx, d)
	} else {
		parallelProduct(true, false, n, d, n, 1, S, ld, x, d, 0, dx, d)
	}
	return nil
}

// SqNormSum returns the scalar Σ_i w_i·||x_i||² for x of C×D and a weight
// vector w of length C (no gradient): N-pair's embedding penalty (Sohn
// 2016) in one op, where Square, a row sum and a weighted sum are three
// ops and a C×D temporary. Rows with w_i = 0 (a selection's padding) are
// not read. The derivative op writes dx_i = 2·g·w_i·x_i.
func SqNormSum(x, w *G.Node) (*G.Node, error) {
	if x == nil || w == nil {
		return nil, fmt.Errorf("graph: squared norm sum: nil input")
	}
	if _, err := FloatDtype("squared norm sum input", x); err != nil {
		return nil, err
	}
	if x.Dims() != 2 {
		return nil, fmt.Errorf("graph: squared norm sum: x must be a C×D matrix; got shape %v", x.Shape())
	}
	c, d := x.Shape()[0], x.Shape()[1]
	if w.Dims() != 1 || w.Shape()[0] != c || w.Dtype() != x.Dtype() {
		return nil, fmt.Errorf("graph: squared norm sum: w must be a %v vector of length %d; got %v %v", x.Dtype(), c, w.Dtype(), w.Shape())
	}
	name := fmt.Sprintf("sqnormsum(%dx%d)", c, d)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.ScalarShape()}, name: name}
	o.wrt = []bool{true, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{c, d}}, name: name + "_dx"}
		g.f32 = func(v [][]float32, dx []float32) error { return sqNormSumGrad(c, d, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return sqNormSumGrad(c, d, v, dx) }
		n, err := applyFused(g, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n, nil}, nil
	}
	return applyScalar(o, func(in []G.Value) (G.Value, error) {
		return scalarDo(name, o.dt, in,
			func(v [][]float32) (float64, error) { return sqNormSum(c, d, v) },
			func(v [][]float64) (float64, error) { return sqNormSum(c, d, v) })
	}, x, w)
}

func sqNormSum[T float](c, d int, in [][]T) (float64, error) {
	x, w := in[0], in[1]
	if err := checkLen("squared norm sum", x, c*d); err != nil {
		return 0, err
	}
	if err := checkLen("squared norm sum", w, c); err != nil {
		return 0, err
	}
	var s float64
	for i, wi := range w {
		if wi != 0 {
			s += float64(wi) * dotRow(x[i*d:(i+1)*d])
		}
	}
	return s, nil
}

// dotRow returns ||r||² in float64, on four accumulators.
func dotRow[T float](r []T) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(r); j += 4 {
		a, b, c, d := float64(r[j]), float64(r[j+1]), float64(r[j+2]), float64(r[j+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; j < len(r); j++ {
		s0 += float64(r[j]) * float64(r[j])
	}
	return (s0 + s1) + (s2 + s3)
}

func sqNormSumGrad[T float](c, d int, in [][]T, dx []T) error {
	x, w, g := in[0], in[1], in[2]
	if err := checkLen("squared norm sum gradient", x, c*d); err != nil {
		return err
	}
	if err := checkLen("squared norm sum gradient", w, c); err != nil {
		return err
	}
	if len(g) != 1 {
		return fmt.Errorf("graph: squared norm sum gradient: want a scalar gradient, got %d values", len(g))
	}
	for i, wi := range w {
		row := dx[i*d : (i+1)*d]
		if wi == 0 {
			clear(row)
			continue
		}
		f := 2 * g[0] * wi
		for k, v := range x[i*d : (i+1)*d] {
			row[k] = f * v
		}
	}
	return nil
}

// SqNormMean returns the scalar
//
//	k · (Σ_h Σ_i w_i·||x_{hC+i}||²) / max(1, Σ_i w_i)
//
// for x of H·C rows (H ≥ 1 blocks of C rows: a selection stacked as one
// matrix, N-pair's anchors over its positives) and a weight vector w of
// length C (no gradient): N-pair's embedding penalty ¼λ·1/N Σ_i (||f_i||²
// + ||f_i⁺||²) in one op, where SqNormSum per block, their sum, a division
// and a scale are five (and the division's and the scale's derivatives
// more). It rounds as that composition does: each block's sum (float64)
// rounded to x's dtype, the blocks added in order, then divided by
// max(1, Σw) and multiplied by k; the derivative op writes
// dx_{hC+i} = 2·((k·g)/max(1, Σw))·w_i·x_{hC+i}.
func SqNormMean(x, w *G.Node, k float64) (*G.Node, error) {
	if x == nil || w == nil {
		return nil, fmt.Errorf("graph: squared norm mean: nil input")
	}
	if _, err := FloatDtype("squared norm mean input", x); err != nil {
		return nil, err
	}
	if math.IsNaN(k) || math.IsInf(k, 0) {
		return nil, fmt.Errorf("graph: squared norm mean: k is %v; want a finite value", k)
	}
	if x.Dims() != 2 {
		return nil, fmt.Errorf("graph: squared norm mean: x must be an H·C×D matrix; got shape %v", x.Shape())
	}
	rows, d := x.Shape()[0], x.Shape()[1]
	if w.Dims() != 1 || w.Dtype() != x.Dtype() || w.Shape()[0] == 0 || rows%w.Shape()[0] != 0 {
		return nil, fmt.Errorf("graph: squared norm mean: w must be a %v vector whose length divides x's %d rows; got %v %v", x.Dtype(), rows, w.Dtype(), w.Shape())
	}
	c := w.Shape()[0]
	name := fmt.Sprintf("sqnormmean(%dx%d,%d,%v)", rows, d, c, k)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.ScalarShape()}, name: name}
	o.wrt = []bool{true, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{rows, d}}, name: name + "_dx"}
		g.f32 = func(v [][]float32, dx []float32) error { return sqNormMeanGrad(rows/c, c, d, k, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return sqNormMeanGrad(rows/c, c, d, k, v, dx) }
		n, err := applyFused(g, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n, nil}, nil
	}
	return applyScalar(o, func(in []G.Value) (G.Value, error) {
		switch o.dt {
		case tensor.Float32:
			v, err := fusedFloats[float32](name, in)
			if err != nil {
				return nil, err
			}
			s, err := sqNormMean(rows/c, c, d, k, v)
			return G.NewF32(s), err
		case tensor.Float64:
			v, err := fusedFloats[float64](name, in)
			if err != nil {
				return nil, err
			}
			s, err := sqNormMean(rows/c, c, d, k, v)
			return G.NewF64(s), err
		}
		return nil, fmt.Errorf("graph: squared norm mean: unsupported dtype %v", o.dt)
	}, x, w)
}

func sqNormMean[T float](h, c, d int, k float64, in [][]T) (T, error) {
	x, w := in[0], in[1]
	if err := checkLen("squared norm mean", x, h*c*d); err != nil {
		return 0, err
	}
	if err := checkLen("squared norm mean", w, c); err != nil {
		return 0, err
	}
	var s T
	for b := 0; b < h; b++ {
		blk, err := sqNormSum(c, d, [][]T{x[b*c*d : (b+1)*c*d], w})
		if err != nil {
			return 0, err
		}
		s += T(blk)
	}
	return meanOf(true, s, w) * T(k), nil
}

func sqNormMeanGrad[T float](h, c, d int, k float64, in [][]T, dx []T) error {
	x, w, g := in[0], in[1], in[2]
	if err := checkLen("squared norm mean gradient", x, h*c*d); err != nil {
		return err
	}
	if err := checkLen("squared norm mean gradient", w, c); err != nil {
		return err
	}
	if len(g) != 1 {
		return fmt.Errorf("graph: squared norm mean gradient: want a scalar gradient, got %d values", len(g))
	}
	gs := []T{meanOf(true, T(k)*g[0], w)} // ∂L/∂(the block sums)
	for b := 0; b < h; b++ {
		if err := sqNormSumGrad(c, d, [][]T{x[b*c*d : (b+1)*c*d], w, gs}, dx[b*c*d:(b+1)*c*d]); err != nil {
			return err
		}
	}
	return nil
}
