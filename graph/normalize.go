package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// l2NormOp is y = x / √(||x||² + normTiny) row by row (L2Normalize), one
// pass over a B×D matrix into an owned buffer. Its derivative op computes
//
//	dx = (g − y·(y·g)) / √(||x||² + normTiny)
//
// row by row, the same Jacobian as the composition it replaces.
type l2NormOp struct {
	opBase
	noGrad bool // the input carries no gradient (NoGradient): neither does the output
}

func (o *l2NormOp) Arity() int { return 1 }
func (o *l2NormOp) Type() hm.Type {
	return hm.NewFnType(mat(o.dt), mat(o.dt))
}
func (o *l2NormOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "l2normalize%v%v", o.shape, o.dt) }
func (o *l2NormOp) Hashcode() uint32      { return hashOf(o) }
func (o *l2NormOp) String() string        { return "l2normalize" }
func (o *l2NormOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}

// UsePreallocDo implements G.UsePreallocDoer.
func (o *l2NormOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "l2normalize", prealloc,
		func(out []float32) error { return l2Norm(o.shape, in, out) },
		func(out []float64) error { return l2Norm(o.shape, in, out) })
}

// rowNorm returns √(Σ row² + normTiny), accumulated in float64.
func rowNorm[T float](row []T) float64 {
	var s float64
	for _, e := range row {
		s += float64(e) * float64(e)
	}
	return math.Sqrt(s + normTiny)
}

func l2Norm[T float](shape tensor.Shape, in []G.Value, y []T) error {
	v, err := floats[T]("l2normalize", in...)
	if err != nil {
		return err
	}
	x := v[0]
	b, d := shape[0], shape[1]
	if len(x) != b*d {
		return fmt.Errorf("graph: l2normalize: input holds %d values; want %v", len(x), shape)
	}
	for r := 0; r < b; r++ {
		row := x[r*d : (r+1)*d]
		n := T(rowNorm(row))
		for j, e := range row {
			y[r*d+j] = e / n
		}
	}
	return nil
}

func (o *l2NormOp) DiffWRT(int) []bool { return []bool{!o.noGrad} }

func (o *l2NormOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&l2NormGradOp{opBase: opBase{dt: o.dt, shape: o.shape.Clone()}}, inputs[0], output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}

// l2NormGradOp is the gradient of l2NormOp from (x, y, g).
type l2NormGradOp struct {
	opBase
	noDiff
}

func (o *l2NormGradOp) Arity() int { return 3 }
func (o *l2NormGradOp) Type() hm.Type {
	t := mat(o.dt)
	return hm.NewFnType(t, t, t, t)
}
func (o *l2NormGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "l2normalize_dx%v%v", o.shape, o.dt) }
func (o *l2NormGradOp) Hashcode() uint32      { return hashOf(o) }
func (o *l2NormGradOp) String() string        { return "l2normalize_dx" }
func (o *l2NormGradOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}
func (o *l2NormGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "l2normalize_dx", prealloc,
		func(out []float32) error { return l2NormGrad(o.shape, in, out) },
		func(out []float64) error { return l2NormGrad(o.shape, in, out) })
}

func l2NormGrad[T float](shape tensor.Shape, in []G.Value, dx []T) error {
	v, err := floats[T]("l2normalize_dx", in...)
	if err != nil {
		return err
	}
	x, y, g := v[0], v[1], v[2]
	b, d := shape[0], shape[1]
	if len(x) != b*d || len(y) != b*d || len(g) != b*d {
		return fmt.Errorf("graph: l2normalize_dx: inputs hold %d, %d and %d values; want %v", len(x), len(y), len(g), shape)
	}
	for r := 0; r < b; r++ {
		xr, yr, gr := x[r*d:(r+1)*d], y[r*d:(r+1)*d], g[r*d:(r+1)*d]
		var yg float64
		for j, e := range yr {
			yg += float64(e) * float64(gr[j])
		}
		n := rowNorm(xr)
		for j, e := range yr {
			dx[r*d+j] = T((float64(gr[j]) - float64(e)*yg) / n)
		}
	}
	return nil
}
