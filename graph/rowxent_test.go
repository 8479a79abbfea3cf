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

// naiveMaskedXent is the oracle: per row, log Σ over the mask of e^z (0
// for an empty mask) minus w_i Σ_j target_ij z_ij, in plain float64 loops.
func naiveMaskedXent(z, m, tg, w []float64, b, c int) []float64 {
	out := make([]float64, b)
	for i := 0; i < b; i++ {
		var s, dot float64
		for j := 0; j < c; j++ {
			s += m[i*c+j] * math.Exp(z[i*c+j])
			dot += tg[i*c+j] * z[i*c+j]
		}
		lse := 0.0
		if s > 0 {
			lse = math.Log(s)
		}
		out[i] = lse - w[i]*dot
	}
	return out
}

// TestMaskedCrossEntropy checks MaskedCrossEntropy against the loops in
// float64 and float32 on rows with an empty mask, an empty target, and
// unmasked entries far above the masked ones (the masked maximum's shift),
// the gradient against central differences, and the float32 gradient
// against the float64 one.
func TestMaskedCrossEntropy(t *testing.T) {
	r := rand.New(rand.NewPCG(81, 82))
	const b, c = 6, 9
	z := randMatrix(r, b, c, 2)
	m, tg := make([]float64, b*c), make([]float64, b*c)
	for i := range m {
		m[i] = float64(r.IntN(2))
		if m[i] != 0 && r.IntN(2) == 0 {
			tg[i] = 1
		}
	}
	for j := 0; j < c; j++ {
		m[1*c+j], tg[1*c+j] = 0, 0 // an empty row
		tg[2*c+j] = 0              // no target
		if m[3*c+j] == 0 {
			z[3*c+j] = 120 // far above the row's masked entries
		}
	}
	w := []float64{0.5, 1, 0.25, 1, 2, 1.0 / 3}
	want := naiveMaskedXent(z, m, tg, w, b, c)
	wOut := randMatrix(r, b, 1, 1)
	eval := func(dt tensor.Dtype) (val, grad []float64) {
		g := G.NewGraph()
		zn := typedNode(g, dt, "z", z, b, c)
		out, err := graph.MaskedCrossEntropy(zn, typedNode(g, dt, "m", m, b, c), typedNode(g, dt, "t", tg, b, c), vecNode(g, dt, "w", w))
		require.NoError(t, err)
		p, err := G.HadamardProd(out, G.NewConstant(graph.DenseOf(dt, wOut, b)))
		require.NoError(t, err)
		cost, err := G.Sum(p)
		require.NoError(t, err)
		gs, err := G.Grad(cost, zn)
		require.NoError(t, err)
		var vv G.Value
		G.Read(out, &vv)
		grad = run(t, g, gs[0])
		val, err = graphtest.Float64s(vv)
		require.NoError(t, err)
		return val, grad
	}
	v64, g64 := eval(tensor.Float64)
	graphtest.RequireAllClose(t, want, v64, 1e-12, 1e-12, "float64 value")
	v32, g32 := eval(tensor.Float32)
	graphtest.RequireAllClose(t, want, v32, 1e-4, 1e-5, "float32 value")
	graphtest.RequireAllClose(t, g64, g32, 1e-5, 1e-4, "float32 gradient")
	for j := 0; j < c; j++ { // the empty row gets no gradient, masked-out entries only the target's
		require.Zero(t, g64[1*c+j], fmt.Sprintf("empty row, column %d", j))
	}
	z3 := append([]float64(nil), z...)
	for i := range z3 { // central differences on moderate values
		z3[i] = math.Min(z3[i], 5)
	}
	graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		zn := matNode(g, "z", b, c, z3)
		out, err := graph.MaskedCrossEntropy(zn, matNode(g, "m", b, c, m), matNode(g, "t", b, c, tg), vecNode(g, tensor.Float64, "w", w))
		if err != nil {
			return nil, nil, err
		}
		cost, err := linear(out, wOut)
		return cost, []*G.Node{zn}, err
	}, graphtest.GradOptions{})
	g := G.NewGraph()
	_, err := graph.MaskedCrossEntropy(matNode(g, "z", b, c, z), matNode(g, "m", b, c, m), matNode(g, "t", b, c, tg), vecNode(g, tensor.Float64, "w", w[:2]))
	require.ErrorContains(t, err, "graph: masked cross-entropy: w must be a float64 vector of length 6")
}
