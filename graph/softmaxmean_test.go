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

// TestRowSoftmaxMean checks RowSoftmaxMean against the composition it
// replaces in SoftTriple (scale, masked log-sum-exp, shift, exp, product,
// row sum): value and gradient within rounding, float64 and float32; the
// gradient against central differences; large 1/τ without overflow; and
// the argument errors.
func TestRowSoftmaxMean(t *testing.T) {
	r := rand.New(rand.NewPCG(201, 202))
	const rows, k = 6, 5
	x := randMatrix(r, rows, k, 1)
	w := randMatrix(r, 1, rows, 1)
	ones := make([]float64, rows*k)
	for i := range ones {
		ones[i] = 1
	}
	for _, a := range []float64{1, 10} {
		fused := func(e *graph.Expr, xn *G.Node) *G.Node {
			return weighted(e, e.Do(func() (*G.Node, error) { return graph.RowSoftmaxMean(xn, a) }), w)
		}
		composed := func(e *graph.Expr, xn *G.Node) *G.Node {
			z := e.Scale(xn, a)
			lse := e.MaskedLogSumExp(z, typedNode(xn.Graph(), e.Dtype(), "ones", ones, rows, k))
			p := e.Do(func() (*G.Node, error) { return G.Exp(e.SubCol(z, lse)) })
			return weighted(e, e.Sum(e.Mul(p, xn), 1), w)
		}
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("a=%v/%v", a, dt), func(t *testing.T) {
				v, dx := valueAndGrad(t, dt, x, rows, k, fused)
				wv, wdx := valueAndGrad(t, dt, x, rows, k, composed)
				tol := 1e-12
				if dt == tensor.Float32 {
					tol = 1e-5
				}
				graphtest.RequireClose(t, wv, v, tol, tol, "value")
				for i := range dx {
					graphtest.RequireClose(t, wdx[i], dx[i], tol, tol, fmt.Sprintf("gradient %d", i))
				}
			})
		}
		t.Run(fmt.Sprintf("a=%v/gradient", a), func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", rows, k, x)
				e := graph.NewExpr(tensor.Float64)
				out := fused(e, xn)
				return out, []*G.Node{xn}, e.Err()
			}, graphtest.GradOptions{})
		})
	}
	t.Run("large 1/τ", func(t *testing.T) {
		// 1/τ = 1e4 on values of order 1: exp would overflow unshifted;
		// the mean is then the row maximum.
		v, dx := valueAndGrad(t, tensor.Float32, x, rows, k, func(e *graph.Expr, xn *G.Node) *G.Node {
			return e.Sum(e.Do(func() (*G.Node, error) { return graph.RowSoftmaxMean(xn, 1e4) }))
		})
		want := 0.0
		for i := range rows {
			m := math.Inf(-1)
			for _, u := range x[i*k : (i+1)*k] {
				m = math.Max(m, float64(float32(u)))
			}
			want += m
		}
		graphtest.RequireClose(t, want, v, 1e-5, 1e-5, "value")
		for _, d := range dx {
			require.False(t, math.IsNaN(d) || math.IsInf(d, 0))
		}
	})
	t.Run("float32 chunks", func(t *testing.T) {
		// 600 rows: the float32 path's exponentials run in chunks of rows;
		// float32 against float64, value and gradient
		const n, kk = 600, 3
		xx := randMatrix(r, n, kk, 1)
		ww := randMatrix(r, 1, n, 1)
		f := func(e *graph.Expr, xn *G.Node) *G.Node {
			return weighted(e, e.Do(func() (*G.Node, error) { return graph.RowSoftmaxMean(xn, 4) }), ww)
		}
		v32, dx32 := valueAndGrad(t, tensor.Float32, xx, n, kk, f)
		v64, dx64 := valueAndGrad(t, tensor.Float64, xx, n, kk, f)
		graphtest.RequireClose(t, v64, v32, 1e-4, 1e-4, "value")
		for i := range dx64 {
			graphtest.RequireClose(t, dx64[i], dx32[i], 1e-5, 1e-4, fmt.Sprintf("gradient %d", i))
		}
	})
	g := G.NewGraph()
	for _, a := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		_, err := graph.RowSoftmaxMean(matNode(g, fmt.Sprintf("x%v", a), rows, k, x), a)
		require.ErrorContains(t, err, "graph: row softmax mean: 1/τ is")
	}
	_, err := graph.RowSoftmaxMean(G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("v")), 1)
	require.ErrorContains(t, err, "graph: row softmax mean: x must be an R×K matrix")
}
