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

// TestGatherDiff checks GatherDiff against the difference of two Gathers:
// the same values and gradient bit for bit, in float64 and float32, with
// indices repeated within p, within n and across both (a triplet list's
// layout: one entry of x is a positive of many triplets), an entry never
// addressed, and a non-linear cost so that repeated gradients must add up;
// the gradient against central differences, the float32 gradient against
// the float64 one, and the errors.
func TestGatherDiff(t *testing.T) {
	r := rand.New(rand.NewPCG(97, 98))
	const b = 5
	x := randMatrix(r, b, b, 1)
	p := []int{1, 1, 7, 12, 3, 0}
	n := []int{2, 4, 1, 12, 24, 0} // 1 in both lists, 12 and 0 against themselves
	w := randMatrix(r, 1, len(p), 1)
	idx := func(g *G.ExprGraph, name string, v []int) *G.Node {
		return G.NewVector(g, tensor.Int, G.WithShape(len(v)), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]int(nil), v...)))))
	}
	cost := func(e *graph.Expr, d *G.Node) *G.Node { // Σ w ⊙ d², non-linear in d
		return weighted(e, e.Mul(d, d), w)
	}
	fused := func(e *graph.Expr, xn *G.Node) *G.Node {
		return cost(e, e.GatherDiff(xn, idx(xn.Graph(), "p", p), idx(xn.Graph(), "n", n)))
	}
	unfused := func(e *graph.Expr, xn *G.Node) *G.Node {
		return cost(e, e.Sub(e.Gather(xn, idx(xn.Graph(), "p", p)), e.Gather(xn, idx(xn.Graph(), "n", n))))
	}
	var grads [2][]float64
	for i, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		t.Run(fmt.Sprint(dt), func(t *testing.T) {
			v, dx := valueAndGrad(t, dt, x, b, b, fused)
			wv, wdx := valueAndGrad(t, dt, x, b, b, unfused)
			require.Equal(t, wv, v, "value")
			require.Equal(t, wdx, dx, "gradient")
			grads[i] = dx
		})
	}
	graphtest.RequireAllClose(t, grads[0], grads[1], 1e-6, 1e-5, "float32 gradient")
	graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", b, b, x)
		e := graph.NewExpr(tensor.Float64)
		out := fused(e, xn)
		return out, []*G.Node{xn}, e.Err()
	}, graphtest.GradOptions{})

	g := G.NewGraph()
	d, err := graph.GatherDiff(matNode(g, "x", b, b, x), idx(g, "p", []int{0, b * b}), idx(g, "n", []int{0, 1}))
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()
	require.ErrorContains(t, m.RunAll(), "graph: gather: index 25 at position 1 is outside 25 entries")
	_ = d
	_, err = graph.GatherDiff(matNode(g, "y", b, b, x), idx(g, "p2", p), idx(g, "n2", n[:2]))
	require.ErrorContains(t, err, "graph: gather diff: index vectors of")
	_, err = graph.GatherDiff(matNode(g, "z", b, b, x), idx(g, "p3", p), vecNode(g, tensor.Float64, "f", []float64{0}))
	require.ErrorContains(t, err, "graph: gather diff: indices must be int vectors")
}

// TestHingeSumAdd checks HingeSumAdd against HingeSum of the sum (an Add):
// the same value and gradient, bit for bit, in float64 and float32,
// squared and not, with weights that skip entries; both summands'
// gradients against central differences, and the shape error.
func TestHingeSumAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(101, 102))
	const b = 6
	x, y := randMatrix(r, b, b, 1), randMatrix(r, b, b, 1)
	w := randMatrix(r, b, b, 1)
	for i := range w {
		if i%3 == 0 {
			w[i] = 0
		}
	}
	for _, sq := range []bool{false, true} {
		build := func(fused bool) func(e *graph.Expr, xn *G.Node) *G.Node {
			return func(e *graph.Expr, xn *G.Node) *G.Node {
				yn := typedNode(xn.Graph(), e.Dtype(), "y", y, b, b)
				wn := typedNode(xn.Graph(), e.Dtype(), "w", w, b, b)
				if fused {
					return e.Do(func() (*G.Node, error) { return graph.HingeSumAdd(xn, yn, wn, -1.5, 0.25, sq) })
				}
				sum := e.Add(xn, yn)
				return e.Do(func() (*G.Node, error) { return graph.HingeSum(sum, wn, -1.5, 0.25, sq) })
			}
		}
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("sq=%t/%v", sq, dt), func(t *testing.T) {
				v, dx := valueAndGrad(t, dt, x, b, b, build(true))
				wv, wdx := valueAndGrad(t, dt, x, b, b, build(false))
				require.Equal(t, wv, v, "value")
				require.Equal(t, wdx, dx, "gradient")
			})
		}
		t.Run(fmt.Sprintf("sq=%t/gradient", sq), func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn, yn := matNode(g, "x", b, b, x), matNode(g, "y", b, b, y)
				s, err := graph.HingeSumAdd(xn, yn, matNode(g, "w", b, b, w), -1.5, 0.25, sq)
				return s, []*G.Node{xn, yn}, err
			}, graphtest.GradOptions{})
		})
	}
	g := G.NewGraph()
	_, err := graph.HingeSumAdd(matNode(g, "x", b, b, x), matNode(g, "y", b, b-1, y[:b*(b-1)]), matNode(g, "w", b, b, w), 1, 0, false)
	require.ErrorContains(t, err, "graph: hinge sum: x (6, 5) and w (6, 6) must be tensors of one shape")
}

// TestMaskedRowOf checks MaskedLogSumExpOf, MaskedLog1pSumExpOf and
// MaskedRowMaxOf against the reductions of Affine(x, scale, offset): the
// same values and gradient bit for bit, in float64 and float32, for the
// lifted loss's (−1, ε), a pure negation and a general affine map, with a
// mask that has an empty row; the gradient against central differences
// and the argument errors.
func TestMaskedRowOf(t *testing.T) {
	r := rand.New(rand.NewPCG(103, 104))
	const b, c = 5, 7
	x := randMatrix(r, b, c, 2)
	mask := make([]float64, b*c)
	for i := range mask {
		if r.IntN(3) > 0 && i/c != 2 { // row 2 empty
			mask[i] = 1
		}
	}
	w := randMatrix(r, 1, b, 1)
	for _, kind := range []string{"lse", "l1p", "max"} {
		for _, af := range [][2]float64{{-1, 1}, {-1, 0}, {0.5, -0.25}} {
			cost := func(fused bool) func(e *graph.Expr, xn *G.Node) *G.Node {
				return func(e *graph.Expr, xn *G.Node) *G.Node {
					m := typedNode(xn.Graph(), e.Dtype(), "mask", mask, b, c)
					var red *G.Node
					switch {
					case fused && kind == "lse":
						red = e.MaskedLogSumExpOf(xn, m, af[0], af[1])
					case fused && kind == "l1p":
						red = e.MaskedLog1pSumExpOf(xn, m, af[0], af[1])
					case fused:
						red = e.MaskedRowMaxOf(xn, m, af[0], af[1])
					case kind == "lse":
						red = e.MaskedLogSumExp(e.Affine(xn, af[0], af[1]), m)
					case kind == "l1p":
						red = e.MaskedLog1pSumExp(e.Affine(xn, af[0], af[1]), m)
					default:
						red = e.MaskedRowMax(e.Affine(xn, af[0], af[1]), m)
					}
					return weighted(e, red, w)
				}
			}
			name := fmt.Sprintf("%s/%v", kind, af)
			for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
				t.Run(fmt.Sprintf("%s/%v", name, dt), func(t *testing.T) {
					v, dx := valueAndGrad(t, dt, x, b, c, cost(true))
					wv, wdx := valueAndGrad(t, dt, x, b, c, cost(false))
					require.Equal(t, wv, v, "value")
					require.Equal(t, wdx, dx, "gradient")
				})
			}
			t.Run(name+"/gradient", func(t *testing.T) {
				graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
					xn := matNode(g, "x", b, c, x)
					e := graph.NewExpr(tensor.Float64)
					out := cost(true)(e, xn)
					return out, []*G.Node{xn}, e.Err()
				}, graphtest.GradOptions{})
			})
		}
	}
	g := G.NewGraph()
	_, err := graph.MaskedLogSumExpOf(matNode(g, "x", b, c, x), matNode(g, "m", b, c, mask), math.NaN(), 0)
	require.ErrorContains(t, err, "graph: masked log-sum-exp: scale NaN and offset 0 must be finite")
	_, err = graph.MaskedRowMaxOf(matNode(g, "x2", b, c, x), matNode(g, "m2", b, c-1, mask[:b*(c-1)]), 1, 0)
	require.ErrorContains(t, err, "graph: masked row extreme")
}
