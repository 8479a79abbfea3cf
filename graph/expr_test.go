package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// TestExprKeepsFirstError: after a failing step every later step is skipped
// and Err returns the first failure; a nil input is an error, not a panic.
func TestExprKeepsFirstError(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x"))
	y := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("y"))

	e := graph.NewExpr(tensor.Float64)
	v := e.Add(e.Scale(x, 2), e.Const(1)) // 2x + 1
	require.NoError(t, e.Err())
	require.Equal(t, tensor.Shape{2, 3}, v.Shape())

	bad := e.Add(x, y) // shapes differ
	require.Nil(t, bad)
	first := e.Err()
	require.Error(t, first)
	require.Nil(t, e.Sum(e.Relu(x)), "steps after a failure are skipped")
	require.Equal(t, first, e.Err())

	e = graph.NewExpr(tensor.Float64)
	require.Nil(t, e.Neg(nil))
	require.ErrorContains(t, e.Err(), "graph: neg: input 0 is nil")
}
