package graph_test

import (
	"fmt"
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
