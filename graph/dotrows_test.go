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

// naiveActiveDot is the oracle: direct loops over all pairs of rows.
func naiveActiveDot(x, y, active []float64, c, d int) []float64 {
	out := make([]float64, c*c)
	for i := 0; i < c; i++ {
		for j := 0; j < c; j++ {
			var s float64
			for k := 0; k < d; k++ {
				s += x[i*d+k] * y[j*d+k]
			}
			out[i*c+j] = active[i] * active[j] * s
		}
	}
	return out
}

// TestActiveDot checks ActiveDot against the loops, in float64 and
// float32, for padding at the end (N-pair's layout), a hole inside the
// active prefix, nothing active and everything active, and both
// gradients against central differences.
func TestActiveDot(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	const c, d = 7, 5
	x, y := randMatrix(r, c, d, 1), randMatrix(r, c, d, 1)
	for _, tc := range []struct {
		name   string
		active []float64
	}{
		{"padded", []float64{1, 1, 1, 1, 0, 0, 0}},
		{"hole", []float64{1, 0, 1, 1, 1, 0, 0}},
		{"none", []float64{0, 0, 0, 0, 0, 0, 0}},
		{"all", []float64{1, 1, 1, 1, 1, 1, 1}},
	} {
		want := naiveActiveDot(x, y, tc.active, c, d)
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%s/%v", tc.name, dt), func(t *testing.T) {
				g := G.NewGraph()
				out, err := graph.ActiveDot(typedNode(g, dt, "x", x, c, d), typedNode(g, dt, "y", y, c, d), vecNode(g, dt, "a", tc.active))
				require.NoError(t, err)
				tol := 1e-14
				if dt == tensor.Float32 {
					tol = 1e-6
				}
				graphtest.RequireAllClose(t, want, run(t, g, out), tol, tol, "value")
			})
		}
		t.Run(tc.name+"/gradient", func(t *testing.T) {
			w := randMatrix(r, c, c, 1)
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn, yn := matNode(g, "x", c, d, x), matNode(g, "y", c, d, y)
				out, err := graph.ActiveDot(xn, yn, vecNode(g, tensor.Float64, "a", tc.active))
				if err != nil {
					return nil, nil, err
				}
				cost, err := linear(out, w)
				return cost, []*G.Node{xn, yn}, err
			}, graphtest.GradOptions{})
		})
	}
	g := G.NewGraph()
	_, err := graph.ActiveDot(matNode(g, "x", c, d, x), matNode(g, "y", c, d, y), vecNode(g, tensor.Float64, "a", make([]float64, 3)))
	require.ErrorContains(t, err, "graph: active dot: active must be")
}
