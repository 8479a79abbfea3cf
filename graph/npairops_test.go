package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
)

// valueAndGrad builds a scalar cost of x (rows×cols of dtype dt) with
// build, runs it twice (the ops reuse their buffers) and returns the cost
// and ∂cost/∂x of the second run.
func valueAndGrad(t *testing.T, dt tensor.Dtype, x []float64, rows, cols int, build func(e *graph.Expr, x *G.Node) *G.Node) (float64, []float64) {
	t.Helper()
	g := G.NewGraph()
	xn := typedNode(g, dt, "x", x, rows, cols)
	e := graph.NewExpr(dt)
	cost := build(e, xn)
	require.NoError(t, e.Err())
	gs, err := G.Grad(cost, xn)
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()
	for run := 0; run < 2; run++ {
		m.Reset()
		require.NoError(t, m.RunAll())
	}
	v, err := graphtest.Float64s(cost.Value())
	require.NoError(t, err)
	dx, err := graphtest.Float64s(gs[0].Value())
	require.NoError(t, err)
	return v[0], dx
}

// halvesOf returns GatherRows nodes of the top and bottom halves of x (2C
// rows), the unfused layout the fused ops replace.
func halvesOf(e *graph.Expr, x *G.Node) (top, bottom *G.Node) {
	c := x.Shape()[0] / 2
	idx := func(name string, off int) *G.Node {
		v := make([]int, c)
		for i := range v {
			v[i] = off + i
		}
		return G.NewVector(x.Graph(), tensor.Int, G.WithShape(c), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(c), tensor.WithBacking(v))))
	}
	return e.GatherRows(x, idx("top", 0)), e.GatherRows(x, idx("bottom", c))
}

var activePatterns = []struct {
	name   string
	active []float64
}{
	{"padded", []float64{1, 1, 1, 1, 0, 0, 0}},
	{"hole", []float64{1, 0, 1, 1, 1, 0, 0}},
	{"none", []float64{0, 0, 0, 0, 0, 0, 0}},
	{"all", []float64{1, 1, 1, 1, 1, 1, 1}},
}

// TestHalvesDot checks HalvesDot against ActiveDot of the two halves
// (gathered as separate matrices): the same values and the same gradient,
// bit for bit, in float64 and float32, for padding at the end, a hole,
// nothing and everything active; the gradient against central
// differences; the float32 gradient against the float64 one; and the
// shape errors.
func TestHalvesDot(t *testing.T) {
	r := rand.New(rand.NewPCG(91, 92))
	const c, d = 7, 5
	x := randMatrix(r, 2*c, d, 1)
	w := randMatrix(r, c, c, 1)
	for _, tc := range activePatterns {
		fused := func(e *graph.Expr, xn *G.Node) *G.Node {
			a := vecNode(xn.Graph(), e.Dtype(), "a", tc.active)
			return weighted(e, e.HalvesDot(xn, a), w)
		}
		unfused := func(e *graph.Expr, xn *G.Node) *G.Node {
			a := vecNode(xn.Graph(), e.Dtype(), "a", tc.active)
			top, bottom := halvesOf(e, xn)
			return weighted(e, e.ActiveDot(top, bottom, a), w)
		}
		var grads [2][]float64
		for k, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%s/%v", tc.name, dt), func(t *testing.T) {
				v, dx := valueAndGrad(t, dt, x, 2*c, d, fused)
				wv, wdx := valueAndGrad(t, dt, x, 2*c, d, unfused)
				require.Equal(t, wv, v, "value")
				require.Equal(t, wdx, dx, "gradient")
				grads[k] = dx
			})
		}
		graphtest.RequireAllClose(t, grads[0], grads[1], 1e-6, 1e-5, tc.name+": float32 gradient")
		t.Run(tc.name+"/gradient", func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", 2*c, d, x)
				e := graph.NewExpr(tensor.Float64)
				out := fused(e, xn)
				return out, []*G.Node{xn}, e.Err()
			}, graphtest.GradOptions{})
		})
	}
	g := G.NewGraph()
	_, err := graph.HalvesDot(matNode(g, "odd", 2*c+1, d, randMatrix(r, 2*c+1, d, 1)), vecNode(g, tensor.Float64, "a", make([]float64, c)))
	require.ErrorContains(t, err, "graph: halves dot: x must be a 2C×D matrix")
	_, err = graph.HalvesDot(matNode(g, "x", 2*c, d, x), vecNode(g, tensor.Float64, "a3", make([]float64, 3)))
	require.ErrorContains(t, err, "graph: halves dot: active must be a float64 vector of length 7")
}

// weighted returns Σ w ⊙ m, a cost whose gradient with respect to m is w.
func weighted(e *graph.Expr, m *G.Node, w []float64) *G.Node {
	c := G.NewConstant(graph.DenseOf(e.Dtype(), w, m.Shape()...))
	return e.Sum(e.Mul(m, c))
}

// TestSqNormMean checks SqNormMean against the composition it replaces
// (SqNormSum per block, their sum, DivAtLeastOne by Σw, Scale by k): the
// same value and gradient bit for bit, in float64 and float32, for one,
// two and three blocks, weights that skip rows and weights that are all 0
// (the divisor is then 1); the gradient against central differences, the
// float32 gradient against the float64 one, and the argument errors.
func TestSqNormMean(t *testing.T) {
	r := rand.New(rand.NewPCG(93, 94))
	const c, d, k = 5, 6, 0.375
	for _, h := range []int{1, 2, 3} {
		x := randMatrix(r, h*c, d, 1)
		for _, wts := range [][]float64{{1, 0, 1, 1, 0}, {0, 0, 0, 0, 0}, {1, 1, 1, 1, 1}} {
			fused := func(e *graph.Expr, xn *G.Node) *G.Node {
				return e.SqNormMean(xn, vecNode(xn.Graph(), e.Dtype(), "w", wts), k)
			}
			unfused := func(e *graph.Expr, xn *G.Node) *G.Node {
				wn := vecNode(xn.Graph(), e.Dtype(), "w", wts)
				var sum *G.Node
				for b := 0; b < h; b++ {
					idx := make([]int, c)
					for i := range idx {
						idx[i] = b*c + i
					}
					in := G.NewVector(xn.Graph(), tensor.Int, G.WithShape(c), G.WithName(fmt.Sprint("block", b)), G.WithValue(tensor.New(tensor.WithShape(c), tensor.WithBacking(idx))))
					s := e.SqNormSum(e.GatherRows(xn, in), wn)
					if sum == nil {
						sum = s
					} else {
						sum = e.Add(sum, s)
					}
				}
				return e.Scale(e.DivAtLeastOne(sum, e.Sum(wn)), k)
			}
			name := fmt.Sprintf("H=%d/w=%v", h, wts)
			var grads [2][]float64
			for i, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
				t.Run(fmt.Sprintf("%s/%v", name, dt), func(t *testing.T) {
					v, dx := valueAndGrad(t, dt, x, h*c, d, fused)
					wv, wdx := valueAndGrad(t, dt, x, h*c, d, unfused)
					require.Equal(t, wv, v, "value")
					require.Equal(t, wdx, dx, "gradient")
					grads[i] = dx
				})
			}
			graphtest.RequireAllClose(t, grads[0], grads[1], 1e-6, 1e-5, name+": float32 gradient")
			t.Run(name+"/gradient", func(t *testing.T) {
				graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
					xn := matNode(g, "x", h*c, d, x)
					e := graph.NewExpr(tensor.Float64)
					out := fused(e, xn)
					return out, []*G.Node{xn}, e.Err()
				}, graphtest.GradOptions{})
			})
		}
	}
	g := G.NewGraph()
	x := matNode(g, "x", 2*c, d, randMatrix(r, 2*c, d, 1))
	_, err := graph.SqNormMean(x, vecNode(g, tensor.Float64, "w3", make([]float64, 3)), k)
	require.ErrorContains(t, err, "graph: squared norm mean: w must be a float64 vector whose length divides x's 10 rows")
	_, err = graph.SqNormMean(x, vecNode(g, tensor.Float64, "w", make([]float64, c)), math.Inf(1))
	require.ErrorContains(t, err, "graph: squared norm mean: k is +Inf; want a finite value")
}

// TestMeanDiagonalCrossEntropy checks MeanDiagonalCrossEntropy against
// DivAtLeastOne of DiagonalCrossEntropy by the number of active rows: the
// same value and gradient bit for bit, in float64 and float32 (the mean of
// nothing active is 0), the gradient against central differences and the
// float32 gradient against the float64 one.
func TestMeanDiagonalCrossEntropy(t *testing.T) {
	r := rand.New(rand.NewPCG(95, 96))
	const c = 7
	z := randMatrix(r, c, c, 2)
	for _, tc := range activePatterns {
		fused := func(e *graph.Expr, zn *G.Node) *G.Node {
			return e.MeanDiagonalCrossEntropy(zn, vecNode(zn.Graph(), e.Dtype(), "a", tc.active))
		}
		unfused := func(e *graph.Expr, zn *G.Node) *G.Node {
			a := vecNode(zn.Graph(), e.Dtype(), "a", tc.active)
			return e.DivAtLeastOne(e.DiagonalCrossEntropy(zn, a), e.Sum(a))
		}
		var grads [2][]float64
		for i, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%s/%v", tc.name, dt), func(t *testing.T) {
				v, dz := valueAndGrad(t, dt, z, c, c, fused)
				wv, wdz := valueAndGrad(t, dt, z, c, c, unfused)
				require.Equal(t, wv, v, "value")
				require.Equal(t, wdz, dz, "gradient")
				grads[i] = dz
			})
		}
		graphtest.RequireAllClose(t, grads[0], grads[1], 1e-6, 1e-5, tc.name+": float32 gradient")
		t.Run(tc.name+"/gradient", func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				zn := matNode(g, "z", c, c, z)
				e := graph.NewExpr(tensor.Float64)
				out := fused(e, zn)
				return out, []*G.Node{zn}, e.Err()
			}, graphtest.GradOptions{})
		})
	}
}

// TestGatherRowsRebound runs one GatherRows gradient with an index vector
// bound anew between runs: rows selected in the first run and not in the
// second must come back 0 (the derivative writes each row once instead of
// clearing the whole matrix first), repeated rows add up.
func TestGatherRowsRebound(t *testing.T) {
	r := rand.New(rand.NewPCG(105, 106))
	const b, d = 6, 3
	x := randMatrix(r, b, d, 1)
	w := randMatrix(r, 4, d, 1)
	g := G.NewGraph()
	xn := matNode(g, "x", b, d, x)
	idx := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("idx"), G.WithValue(tensor.New(tensor.WithShape(4), tensor.WithBacking([]int{0, 1, 2, 3}))))
	e := graph.NewExpr(tensor.Float64)
	cost := weighted(e, e.GatherRows(xn, idx), w)
	require.NoError(t, e.Err())
	gs, err := G.Grad(cost, xn)
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()
	for _, sel := range [][]int{{0, 1, 2, 3}, {5, 4, 5, 1}, {2, 2, 2, 2}} {
		require.NoError(t, G.Let(idx, tensor.New(tensor.WithShape(4), tensor.WithBacking(append([]int(nil), sel...)))))
		require.NoError(t, m.RunAll())
		want := make([]float64, b*d) // row i: Σ of w's rows k with sel_k = i
		for k, i := range sel {
			for c := 0; c < d; c++ {
				want[i*d+c] += w[k*d+c]
			}
		}
		got, err := graphtest.Float64s(gs[0].Value())
		require.NoError(t, err)
		graphtest.RequireAllClose(t, want, got, 1e-15, 1e-15, fmt.Sprint("indices ", sel))
		m.Reset()
	}
}

// TestActivePaddingRebound runs one graph of ActiveDot (and HalvesDot),
// MeanDiagonalCrossEntropy and their derivatives while the active prefix
// shrinks and grows between runs (the ops then clear only the padding the
// new prefix uncovers), and compares every run's matrix and gradients
// with a graph built afresh for that selection, bit for bit.
func TestActivePaddingRebound(t *testing.T) {
	r := rand.New(rand.NewPCG(107, 108))
	const c, d = 7, 3
	x := randMatrix(r, 2*c, d, 1)
	type result struct{ z, dx []float64 }
	build := func(g *G.ExprGraph, halves bool, act []float64) (a, z *G.Node, dx G.Nodes) {
		xn := matNode(g, "x", 2*c, d, x)
		a = vecNode(g, tensor.Float64, "a", act)
		e := graph.NewExpr(tensor.Float64)
		if halves {
			z = e.HalvesDot(xn, a)
		} else {
			idx := func(name string, off int) *G.Node {
				v := make([]int, c)
				for i := range v {
					v[i] = off + i
				}
				return G.NewVector(g, tensor.Int, G.WithShape(c), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(c), tensor.WithBacking(v))))
			}
			z = e.ActiveDot(e.GatherRows(xn, idx("top", 0)), e.GatherRows(xn, idx("bottom", c)), a)
		}
		loss := e.MeanDiagonalCrossEntropy(z, a)
		require.NoError(t, e.Err())
		gs, err := G.Grad(loss, xn)
		require.NoError(t, err)
		return a, z, gs
	}
	read := func(z *G.Node, dx G.Nodes) result {
		zv, err := graphtest.Float64s(z.Value())
		require.NoError(t, err)
		gv, err := graphtest.Float64s(dx[0].Value())
		require.NoError(t, err)
		return result{zv, gv}
	}
	patterns := [][]float64{
		{1, 1, 1, 1, 1, 1, 1},
		{1, 1, 1, 0, 0, 0, 0},
		{1, 1, 1, 1, 1, 0, 0},
		{0, 0, 0, 0, 0, 0, 0},
		{1, 0, 1, 0, 0, 0, 0},
		{1, 1, 1, 1, 1, 1, 0},
		{1, 1, 0, 0, 0, 0, 0},
	}
	for _, halves := range []bool{false, true} {
		g := G.NewGraph()
		a, z, dx := build(g, halves, patterns[0])
		m := G.NewTapeMachine(g)
		for k, act := range patterns {
			require.NoError(t, G.Let(a, graph.DenseOf(tensor.Float64, act, c)))
			require.NoError(t, m.RunAll())
			got := read(z, dx)
			m.Reset()
			fg := G.NewGraph()
			_, fz, fdx := build(fg, halves, act)
			fm := G.NewTapeMachine(fg)
			require.NoError(t, fm.RunAll())
			require.Equal(t, read(fz, fdx), got, "halves=%t, run %d, active %v", halves, k, act)
			fm.Close()
		}
		m.Close()
	}
}
