package graph_test

import (
	"fmt"
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

// ExampleExpr writes the hinge max(0, d_ap − d_an + ε), summed, as one
// expression and checks the error once.
func ExampleExpr() {
	g := G.NewGraph()
	dap := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("dap"),
		G.WithValue(tensor.New(tensor.WithBacking([]float64{0.5, 1.0, 2.0}))))
	dan := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("dan"),
		G.WithValue(tensor.New(tensor.WithBacking([]float64{1.0, 1.0, 1.0}))))

	e := graph.NewExpr(tensor.Float64)
	loss := e.Sum(e.Relu(e.Add(e.Sub(dap, dan), e.Const(0.2)))) // Σ max(0, d_ap − d_an + 0.2)
	if err := e.Err(); err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	// by hand: max(0, −0.3) + max(0, 0.2) + max(0, 1.2) = 1.4
	fmt.Printf("%.4f\n", loss.Value().Data())
	// Output: 1.4000
}
