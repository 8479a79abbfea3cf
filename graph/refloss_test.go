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

func intVec(g *G.ExprGraph, name string, v []int) *G.Node {
	return G.NewVector(g, tensor.Int, G.WithShape(len(v)), G.WithName(name), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), v...)))))
}

// refHardRun returns Σ_i w_i·gap_i, the has vector and the gradients with
// respect to a and r, by RefBatchHard (fused) or by the composition it
// replaces: MaskedRowMax and MaskedRowMin of the oriented concatenated
// matrix under the concatenated label masks.
func refHardRun(t *testing.T, fused bool, dt tensor.Dtype, sign float64, a, r, w []float64, la, lr []int) (float64, []float64, []float64, []float64) {
	t.Helper()
	b, c := len(la), len(lr)
	g := G.NewGraph()
	an := G.NewMatrix(g, dt, G.WithShape(b, b), G.WithName("a"), G.WithValue(graph.DenseOf(dt, a, b, b)))
	rn := G.NewMatrix(g, dt, G.WithShape(b, c), G.WithName("r"), G.WithValue(graph.DenseOf(dt, r, b, c)))
	ln, lrn := intVec(g, "labels", la), intVec(g, "reflabels", lr)
	e := graph.NewExpr(dt)
	var gap, has *G.Node
	if fused {
		gap, has = e.Do2(func() (*G.Node, *G.Node, error) { return graph.RefBatchHard(an, rn, ln, lrn, sign) })
	} else {
		m := e.Scale(e.ConcatCols(an, rn), sign)
		pos := e.ConcatCols(e.LabelMask(ln, graph.SameLabel), e.CrossLabelMask(ln, lrn, graph.SameLabel))
		neg := e.ConcatCols(e.LabelMask(ln, graph.DifferentLabel), e.CrossLabelMask(ln, lrn, graph.DifferentLabel))
		has = e.Mul(e.AnyInRow(pos), e.AnyInRow(neg))
		gap = e.Mul(e.Sub(e.MaskedRowMax(m, pos), e.Do(func() (*G.Node, error) { return graph.MaskedRowMin(m, neg) })), has)
	}
	cost := e.Sum(e.Mul(gap, vecNode(g, dt, "w", w)))
	require.NoError(t, e.Err())
	grads, err := G.Grad(cost, an, rn)
	require.NoError(t, err)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	v, err := graphtest.Float64s(cost.Value())
	require.NoError(t, err)
	h, err := graphtest.Float64s(has.Value())
	require.NoError(t, err)
	ga, err := graphtest.Float64s(grads[0].Value())
	require.NoError(t, err)
	gr, err := graphtest.Float64s(grads[1].Value())
	require.NoError(t, err)
	return v[0], h, ga, gr
}

// TestRefBatchHardMatchesMasked: RefBatchHard's gaps, has and gradients
// equal those of the masked row extremes of the concatenated matrix, with
// ties (repeated values: the first extreme by column takes the gradient),
// full and partly empty reference sets, rows without negatives, both signs
// and both dtypes.
func TestRefBatchHardMatchesMasked(t *testing.T) {
	const b, c = 7, 23
	rng := rand.New(rand.NewPCG(5, 6))
	a, r := randMatrix(rng, b, b, 1), randMatrix(rng, b, c, 1)
	for i := 0; i < b; i++ { // ties: a few values repeated across both parts
		r[i*c+3], r[i*c+17] = a[i*b+(i+1)%b], a[i*b+(i+1)%b]
		r[i*c+5] = r[i*c+9]
	}
	w := randMatrix(rng, b, 1, 1)
	full := make([]int, c)
	for j := range full {
		full[j] = j % 3
	}
	partial := append([]int(nil), full...)
	partial[4], partial[20], partial[22] = -1, -1, -1
	for _, ls := range []struct {
		name   string
		la, lr []int
	}{
		{"full", []int{0, 1, 2, 0, 1, 5, 0}, full},
		{"partial", []int{0, 1, 2, 0, 1, 5, 0}, partial},
		{"single-class", make([]int, b), make([]int, c)},
	} {
		for _, sign := range []float64{1, -1} {
			for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
				t.Run(fmt.Sprintf("%s/sign=%v/%v", ls.name, sign, dt), func(t *testing.T) {
					wv, wh, wa, wr := refHardRun(t, false, dt, sign, a, r, w, ls.la, ls.lr)
					gv, gh, ga, gr := refHardRun(t, true, dt, sign, a, r, w, ls.la, ls.lr)
					graphtest.RequireClose(t, wv, gv, 1e-12, 1e-12, "value")
					graphtest.RequireAllClose(t, wh, gh, 0, 0, "has")
					graphtest.RequireAllClose(t, wa, ga, 1e-12, 1e-12, "batch gradient")
					graphtest.RequireAllClose(t, wr, gr, 1e-12, 1e-12, "reference gradient")
				})
			}
		}
	}
}

// TestRefOpsErrors: the reference ops name what is wrong with their
// inputs and parameters.
func TestRefOpsErrors(t *testing.T) {
	g := G.NewGraph()
	a := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 3), G.WithName("a"))
	r := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 5), G.WithName("r"))
	r32 := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 5), G.WithName("r32"))
	rBad := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 5), G.WithName("rbad"))
	la := G.NewVector(g, tensor.Int, G.WithShape(3), G.WithName("la"))
	lr := G.NewVector(g, tensor.Int, G.WithShape(5), G.WithName("lr"))
	lr4 := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("lr4"))
	hinges := graph.RefHinges{PosScale: 1, NegScale: -1, NegOffset: 1}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", errOf(graph.RefNTXent(a, nil, la, lr, 1, true)), "nil input"},
		{"dtype", errOf(graph.RefNTXent(a, r32, la, lr, 1, true)), "want B×B and B×R of one dtype"},
		{"rows", errOf(graph.RefContrastive(a, rBad, la, lr, hinges)), "want B×B and B×R"},
		{"ref labels", errOf(graph.RefContrastive(a, r, la, lr4, hinges)), "reference graph: labels has 4 entries"},
		{"scale", errOf(graph.RefNTXent(a, r, la, lr, math.Inf(1), true)), "scale is +Inf"},
		{"hinge", errOf(graph.RefContrastive(a, r, la, lr, graph.RefHinges{PosScale: math.NaN()})), "must be finite"},
		{"reduction", errOf(graph.RefContrastive(a, r, la, lr, graph.RefHinges{Reduction: 7})), "unknown reduction"},
		{"sign", func() error { _, _, err := graph.RefBatchHard(a, r, la, lr, 2); return err }(), "sign is 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			require.Contains(t, tc.err.Error(), tc.want)
		})
	}
}

func errOf(_ *G.Node, err error) error { return err }
