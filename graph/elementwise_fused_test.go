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

// TestFusedElementwise checks Expr's Add, Sub, Mul (same-shape operands:
// the fused ops), Neg, Scale and Affine against the definition on
// 300×220 (row-parallel), in float64 and float32, and their gradients with
// respect to both operands against central differences on 4×5, with an
// operand used twice (x ⊙ x) so that gradients add up.
func TestFusedElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	type op struct {
		name  string
		f     func(e *graph.Expr, a, b *G.Node) *G.Node
		want  func(a, b float64) float64
		unary bool // b is not used
	}
	ops := []op{
		{"add", func(e *graph.Expr, a, b *G.Node) *G.Node { return e.Add(a, b) }, func(a, b float64) float64 { return a + b }, false},
		{"sub", func(e *graph.Expr, a, b *G.Node) *G.Node { return e.Sub(a, b) }, func(a, b float64) float64 { return a - b }, false},
		{"mul", func(e *graph.Expr, a, b *G.Node) *G.Node { return e.Mul(a, b) }, func(a, b float64) float64 { return a * b }, false},
		{"square-by-mul", func(e *graph.Expr, a, _ *G.Node) *G.Node { return e.Mul(a, a) }, func(a, _ float64) float64 { return a * a }, true},
		{"neg", func(e *graph.Expr, a, _ *G.Node) *G.Node { return e.Neg(a) }, func(a, _ float64) float64 { return -a }, true},
		{"scale", func(e *graph.Expr, a, _ *G.Node) *G.Node { return e.Scale(a, -2.5) }, func(a, _ float64) float64 { return -2.5 * a }, true},
		{"affine", func(e *graph.Expr, a, _ *G.Node) *G.Node { return e.Affine(a, 0.5, 3) }, func(a, _ float64) float64 { return 0.5*a + 3 }, true},
		{"square", func(e *graph.Expr, a, _ *G.Node) *G.Node { return e.Square(a) }, func(a, _ float64) float64 { return a * a }, true},
		{"mixed", func(e *graph.Expr, a, b *G.Node) *G.Node { return e.Sub(e.Mul(a, e.Affine(b, 2, 1)), e.Neg(a)) },
			func(a, b float64) float64 { return a*(2*b+1) + a }, false},
	}
	const rows, cols = 300, 220
	a, b := randMatrix(r, rows, cols, 1), randMatrix(r, rows, cols, 1)
	for _, o := range ops {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%s/%v", o.name, dt), func(t *testing.T) {
				g := G.NewGraph()
				e := graph.NewExpr(dt)
				out := o.f(e, typedNode(g, dt, "a", a, rows, cols), typedNode(g, dt, "b", b, rows, cols))
				require.NoError(t, e.Err())
				got := run(t, g, out)
				tol := 1e-15
				if dt == tensor.Float32 {
					tol = 1e-6
				}
				for i := range got {
					graphtest.RequireClose(t, o.want(a[i], b[i]), got[i], tol, tol, fmt.Sprintf("entry %d", i))
				}
			})
		}
		t.Run(o.name+"/gradient", func(t *testing.T) {
			const sr, sc = 4, 5
			w := randMatrix(r, sr, sc, 1)
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				an, bn := matNode(g, "a", sr, sc, a[:sr*sc]), matNode(g, "b", sr, sc, b[:sr*sc])
				e := graph.NewExpr(tensor.Float64)
				out := o.f(e, an, bn)
				if err := e.Err(); err != nil {
					return nil, nil, err
				}
				c, err := linear(e.Add(out, out), w) // out used twice: its gradient is a sum too
				if o.unary {
					return c, []*G.Node{an}, err
				}
				return c, []*G.Node{an, bn}, err
			}, graphtest.GradOptions{})
		})
	}
}

// TestAffineErrors: non-finite parameters and a nil input are refused.
func TestAffineErrors(t *testing.T) {
	g := G.NewGraph()
	x := matNode(g, "x", 2, 2, []float64{1, 2, 3, 4})
	_, err := graph.Affine(x, 1, 1/zero())
	require.ErrorContains(t, err, "graph: affine")
	_, err = graph.Affine(nil, 1, 0)
	require.ErrorContains(t, err, "graph: affine")
}

func zero() float64 { return 0 }

// TestFusedSums checks Expr's Sum over everything and over rows (the
// fused ops) and WeightedMean against loops on 300×220, and their
// gradients against central differences on 4×5.
func TestFusedSums(t *testing.T) {
	r := rand.New(rand.NewPCG(57, 58))
	const rows, cols = 300, 220
	x, w := randMatrix(r, rows, cols, 1), randMatrix(r, rows, cols, 1)
	for i := range w {
		w[i] = math.Abs(w[i]) // weights ≥ 0, a third of them 0
		if i%3 == 0 {
			w[i] = 0
		}
	}
	var all, wsum, ww float64
	rowSums := make([]float64, rows)
	for i, v := range x {
		all += v
		rowSums[i/cols] += v
		wsum += v * w[i]
		ww += w[i]
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		t.Run(fmt.Sprint(dt), func(t *testing.T) {
			g := G.NewGraph()
			e := graph.NewExpr(dt)
			xn, wn := typedNode(g, dt, "x", x, rows, cols), typedNode(g, dt, "w", w, rows, cols)
			s, rs, wm := e.Sum(xn), e.Sum(xn, 1), e.WeightedMean(xn, wn)
			require.NoError(t, e.Err())
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-4
			}
			var sv, rv, wv G.Value
			G.Read(s, &sv)
			G.Read(rs, &rv)
			G.Read(wm, &wv)
			m := G.NewTapeMachine(g)
			defer m.Close()
			require.NoError(t, m.RunAll())
			for _, c := range []struct {
				v    G.Value
				want []float64
			}{{sv, []float64{all}}, {rv, rowSums}, {wv, []float64{wsum / ww}}} {
				got, err := graphtest.Float64s(c.v)
				require.NoError(t, err)
				graphtest.RequireAllClose(t, c.want, got, tol, tol, "sum")
			}
		})
	}
	const sr, sc = 4, 5
	lin := randMatrix(r, sr, 1, 1)
	graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", sr, sc, x[:sr*sc])
		e := graph.NewExpr(tensor.Float64)
		rs := e.Sum(xn, 1)
		c := G.NewConstant(tensor.New(tensor.WithShape(sr), tensor.WithBacking(lin)))
		cost := e.Add(e.Add(e.Sum(e.Mul(rs, c)), e.Scale(e.Sum(e.Square(xn)), 0.5)),
			e.WeightedMean(xn, matNode(g, "w", sr, sc, w[:sr*sc])))
		return cost, []*G.Node{xn}, e.Err()
	}, graphtest.GradOptions{})
}
