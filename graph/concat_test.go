package graph_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
)

// TestConcatCols: the value is the matrices side by side, and the weighted
// sum Σ w·concat(a, b, c) has the gradient of each input's block of w
// (checked against central differences); an input without gradient (a
// forward-only node) gets no derivative op.
func TestConcatCols(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	const rows = 3
	cols := []int{2, 4, 1}
	vals := [][]float64{randMatrix(r, rows, 2, 1), randMatrix(r, rows, 4, 1), randMatrix(r, rows, 1, 1)}
	w := randMatrix(r, rows, 7, 1)
	res := graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		var ms []*G.Node
		for k, v := range vals {
			ms = append(ms, matNode(g, string(rune('a'+k)), rows, cols[k], v))
		}
		c, err := graph.ConcatCols(ms...)
		if err != nil {
			return nil, nil, err
		}
		p, err := G.HadamardProd(c, matNode(g, "w", rows, 7, w))
		if err != nil {
			return nil, nil, err
		}
		s, err := G.Sum(p)
		return s, ms, err
	}, graphtest.GradOptions{})
	var want float64 // oracle: row i is a_i, b_i, c_i
	for i := 0; i < rows; i++ {
		row := append(append(append([]float64(nil), vals[0][i*2:(i+1)*2]...), vals[1][i*4:(i+1)*4]...), vals[2][i])
		for j, v := range row {
			want += w[i*7+j] * v
		}
	}
	graphtest.RequireClose(t, want, res.Cost, 1e-14, 1e-14, "value")

	g := G.NewGraph()
	a := matNode(g, "a", rows, 2, vals[0])
	fixed, err := graph.ApplyForward("copy", tensor.Float64, 2,
		func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
		func(in []G.Value) (G.Value, error) { return in[0].(tensor.Tensor).Clone().(G.Value), nil },
		matNode(g, "b", rows, 4, vals[1]))
	require.NoError(t, err)
	c, err := graph.ConcatCols(a, fixed)
	require.NoError(t, err)
	s, err := G.Sum(c)
	require.NoError(t, err)
	_, err = G.Grad(s, a)
	require.NoError(t, err)
	derivs := 0
	for _, n := range g.AllNodes() {
		if n.Op() != nil && len(n.Op().String()) > 10 && n.Op().String()[:10] == "concatcols" && n.Op().String() != c.Op().String() {
			derivs++
		}
	}
	require.Equal(t, 1, derivs, "one derivative op, for a only")
	only, err := graph.ConcatCols(fixed, fixed)
	require.NoError(t, err)
	require.True(t, graph.NoGradient(only), "forward-only inputs give a forward-only output")
	require.Equal(t, append(append([]float64(nil), vals[1][:4]...), vals[1][:4]...), run(t, g, only)[:8])

	_, err = graph.ConcatCols(a, matNode(g, "x", rows+1, 2, randMatrix(r, rows+1, 2, 1)))
	require.ErrorContains(t, err, "graph: concat: input 1")
}

// TestHingeCount: the count of positive hinge terms, against the definition.
func TestHingeCount(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	const rows, cols = 6, 7
	x := randMatrix(r, rows, cols, 1)
	w := make([]float64, rows*cols)
	for i := range w {
		w[i] = float64(r.IntN(2))
	}
	for _, sq := range []bool{false, true} {
		const scale, offset = -1.0, 0.3
		want := 0 // oracle: the definition
		for i := range x {
			if h := math.Max(0, scale*x[i]+offset); w[i]*h > 0 {
				want++
			}
		}
		g := G.NewGraph()
		c, err := graph.HingeCount(matNode(g, "x", rows, cols, x), matNode(g, "w", rows, cols, w), scale, offset, sq)
		require.NoError(t, err)
		require.True(t, graph.NoGradient(c))
		require.Equal(t, []float64{float64(want)}, run(t, g, c))
		require.Greater(t, want, 0)
	}
}
