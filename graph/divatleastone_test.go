package graph_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
)

// TestDivAtLeastOne checks num / max(den, 1) with num = Σ x² (so that the
// gradient 2x/max(den, 1) depends on den) against the definition, for a
// denominator above 1, between 0 and 1 and 0 (then the mean of nothing is
// num itself), in float64 and float32; the gradient against central
// differences (den, a count, gets none) and the argument errors.
func TestDivAtLeastOne(t *testing.T) {
	x := []float64{0.5, -1.25, 2}
	const sq = 0.25 + 1.5625 + 4
	for _, den := range []float64{4, 0.5, 0} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("den=%v/%v", den, dt), func(t *testing.T) {
				v, dx := valueAndGrad(t, dt, x, 1, 3, func(e *graph.Expr, xn *G.Node) *G.Node {
					d := e.Sum(vecNode(xn.Graph(), dt, "den", []float64{den}))
					return e.DivAtLeastOne(e.Sum(e.Mul(xn, xn)), d)
				})
				div := max(den, 1)
				tol := 1e-15
				if dt == tensor.Float32 {
					tol = 1e-6
				}
				graphtest.RequireClose(t, sq/div, v, tol, tol, "value")
				graphtest.RequireAllClose(t, []float64{2 * x[0] / div, 2 * x[1] / div, 2 * x[2] / div}, dx, tol, tol, "gradient")
			})
		}
		graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
			xn := matNode(g, "x", 1, 3, x)
			e := graph.NewExpr(tensor.Float64)
			out := e.DivAtLeastOne(e.Sum(e.Mul(xn, xn)), G.NewScalar(g, tensor.Float64, G.WithName("den"), G.WithValue(den)))
			return out, []*G.Node{xn}, e.Err()
		}, graphtest.GradOptions{})
	}
	g := G.NewGraph()
	s32 := G.NewScalar(g, tensor.Float32, G.WithName("s32"), G.WithValue(float32(1)))
	s64 := G.NewScalar(g, tensor.Float64, G.WithName("s64"), G.WithValue(1.0))
	_, err := graph.DivAtLeastOne(s32, s64)
	require.ErrorContains(t, err, "graph: DivAtLeastOne: numerator is float32 but denominator is float64")
	_, err = graph.DivAtLeastOne(matNode(g, "m", 1, 3, x), s64)
	require.ErrorContains(t, err, "graph: DivAtLeastOne wants scalars")
}
