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

// TestVectorPathsFloat32 runs the ops whose float32 kernels go through
// package vmath (masked log-sum-exp and log1p-sum-exp, the logistic pair
// sum, pairwise log-add-exp) in float32 and float64 on a 300×237 input
// (row-parallel, a row length that is not a multiple of 8), and compares
// the values and the gradients of a random linear functional of each.
func TestVectorPathsFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 48))
	const rows, cols = 300, 237
	x := randMatrix(r, rows, cols, 3)
	mask, noise := make([]float64, rows*cols), make([]float64, rows*cols)
	for i := range mask {
		mask[i] = float64(r.IntN(2))
		noise[i] = 1 - mask[i]
		if r.IntN(7) == 0 {
			noise[i] = 0 // neither
		}
	}
	for j := 0; j < cols; j++ {
		mask[5*cols+j] = 0 // an empty row
		if mask[7*cols+j] == 0 {
			x[7*cols+j] = 150 // unmasked far above the masked: the masked maximum's shift
		}
		if mask[8*cols+j] == 0 {
			x[8*cols+j] = 30 // unmasked above the masked, within the row maximum's shift
		}
	}
	v := randMatrix(r, rows, 1, 4)
	has := make([]float64, rows)
	for i := range has {
		has[i] = float64(r.IntN(4) % 3) // some 0, some weights 1 and 2 read as flags
	}
	wRow, wMat := randMatrix(r, rows, 1, 1), randMatrix(r, rows, rows, 1)
	cases := []struct {
		name string
		f    func(g *G.ExprGraph, dt tensor.Dtype) (out, wrt *G.Node, err error)
		w    []float64
	}{
		{"lse", func(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, *G.Node, error) {
			xn := typedNode(g, dt, "x", x, rows, cols)
			out, err := graph.MaskedLogSumExp(xn, typedNode(g, dt, "m", mask, rows, cols))
			return out, xn, err
		}, wRow},
		{"log1p", func(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, *G.Node, error) {
			xn := typedNode(g, dt, "x", x, rows, cols)
			out, err := graph.MaskedLog1pSumExp(xn, typedNode(g, dt, "m", mask, rows, cols))
			return out, xn, err
		}, wRow},
		{"softplussum", func(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, *G.Node, error) {
			xn := typedNode(g, dt, "x", x, rows, cols)
			c := G.NewScalar(g, dt, G.WithName("c"), G.WithValue(graph.DenseOf(dt, []float64{0.3}).Data()))
			out, err := graph.SoftplusSum(xn, typedNode(g, dt, "p", mask, rows, cols), typedNode(g, dt, "n", noise, rows, cols), c, -1.7)
			return out, xn, err
		}, nil},
		{"logaddexp", func(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, *G.Node, error) {
			vn := vecNode(g, dt, "v", v)
			out, err := graph.PairwiseLogAddExp(vn, vecNode(g, dt, "has", has))
			return out, vn, err
		}, wMat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eval := func(dt tensor.Dtype) (val, grad []float64) {
				g := G.NewGraph()
				out, wrt, err := tc.f(g, dt)
				require.NoError(t, err)
				cost := out
				if tc.w != nil {
					wn := G.NewConstant(graph.DenseOf(dt, tc.w, out.Shape()...))
					p, err := G.HadamardProd(out, wn)
					require.NoError(t, err)
					cost, err = G.Sum(p)
					require.NoError(t, err)
				}
				gs, err := G.Grad(cost, wrt)
				require.NoError(t, err)
				var vv, gv G.Value
				G.Read(out, &vv)
				G.Read(gs[0], &gv)
				m := G.NewTapeMachine(g)
				defer m.Close()
				require.NoError(t, m.RunAll())
				val, err = graphtest.Float64s(vv)
				require.NoError(t, err)
				grad, err = graphtest.Float64s(gv)
				require.NoError(t, err)
				return val, grad
			}
			v64, g64 := eval(tensor.Float64)
			v32, g32 := eval(tensor.Float32)
			// float32 rounding of the inputs and of sums over a row: 1e-5 relative
			graphtest.RequireAllClose(t, v64, v32, 1e-5, 1e-5, fmt.Sprintf("%s value", tc.name))
			graphtest.RequireAllClose(t, g64, g32, 1e-5, 1e-4, fmt.Sprintf("%s gradient", tc.name))
		})
	}
}
