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

// naiveDiagXent is the oracle in N-pair's form: Σ over active i of
// log(1 + Σ_{active j ≠ i} e^{z_ij − z_ii}).
func naiveDiagXent(z, a []float64, c int) float64 {
	var total float64
	for i := 0; i < c; i++ {
		if a[i] == 0 {
			continue
		}
		s := 1.0
		for j := 0; j < c; j++ {
			if j != i && a[j] != 0 {
				s += math.Exp(z[i*c+j] - z[i*c+i])
			}
		}
		total += math.Log(s)
	}
	return total
}

// TestDiagonalCrossEntropy checks the value against the N-pair form on
// 300×300 (row-parallel; float64 at 1e-12, float32 at 1e-5 relative) with
// padding at the end, with and without a hole, and the gradient against central
// differences on 6×6 (and float32's gradient against float64's).
func TestDiagonalCrossEntropy(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	active := func(c int, hole bool) []float64 {
		a := make([]float64, c)
		for i := range a[:c*2/3] {
			a[i] = 1
		}
		if hole {
			a[1] = 0
		}
		return a
	}
	for _, hole := range []bool{true, false} { // a hole, or a filled prefix (the dense path)
		const c = 300
		z, a := randMatrix(r, c, c, 4), active(c, hole)
		want := naiveDiagXent(z, a, c)
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("hole=%t/%v", hole, dt), func(t *testing.T) {
				g := G.NewGraph()
				s, err := graph.DiagonalCrossEntropy(typedNode(g, dt, "z", z, c, c), vecNode(g, dt, "a", a))
				require.NoError(t, err)
				tol := 1e-12
				if dt == tensor.Float32 {
					tol = 1e-5
				}
				graphtest.RequireClose(t, want, run(t, g, s)[0], tol, tol, "value")
			})
		}
		const sc = 6
		zs, as := randMatrix(r, sc, sc, 2), active(sc, hole)
		res := graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
			zn := matNode(g, "z", sc, sc, zs)
			s, err := graph.DiagonalCrossEntropy(zn, vecNode(g, tensor.Float64, "a", as))
			return s, []*G.Node{zn}, err
		}, graphtest.GradOptions{})
		graphtest.RequireClose(t, naiveDiagXent(zs, as, sc), res.Cost, 1e-12, 1e-12, "small value")
		grad := func(dt tensor.Dtype) []float64 {
			g := G.NewGraph()
			zn := typedNode(g, dt, "z", zs, sc, sc)
			s, err := graph.DiagonalCrossEntropy(zn, vecNode(g, dt, "a", as))
			require.NoError(t, err)
			gs, err := G.Grad(s, zn)
			require.NoError(t, err)
			return run(t, g, gs[0])
		}
		graphtest.RequireAllClose(t, grad(tensor.Float64), grad(tensor.Float32), 1e-6, 1e-5, "float32 gradient")
	}
	g := G.NewGraph()
	_, err := graph.DiagonalCrossEntropy(matNode(g, "z", 2, 3, make([]float64, 6)), vecNode(g, tensor.Float64, "a", make([]float64, 2)))
	require.ErrorContains(t, err, "graph: diagonal cross-entropy: z must be a square matrix")
}
