package graph_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// runGraph builds cost = Σ (x·w)² with its gradient and returns the nodes.
func runGraph(t *testing.T) (*G.ExprGraph, *G.Node, *G.Node, *G.Node) {
	t.Helper()
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6}))))
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{0.5, -1, 2, 0.25}))))
	y := G.Must(G.Mul(x, w))
	cost := G.Must(G.Sum(G.Must(G.Square(y))))
	_, err := G.Grad(cost, w)
	require.NoError(t, err)
	return g, x, w, cost
}

func TestRunMatchesRunAll(t *testing.T) {
	want := map[string][]float64{}
	for _, mode := range []string{"RunAll", "Run"} {
		g, _, w, cost := runGraph(t)
		vm := G.NewTapeMachine(g, G.BindDualValues(w))
		for range 2 { // a second run after Reset gives the same result
			vm.Reset()
			if mode == "Run" {
				require.NoError(t, graph.Run(vm))
			} else {
				require.NoError(t, vm.RunAll())
			}
		}
		gw, err := w.Grad()
		require.NoError(t, err)
		got := append([]float64{cost.Value().Data().(float64)}, gw.Data().([]float64)...)
		want[mode] = got
		vm.Close()
	}
	require.Equal(t, want["RunAll"], want["Run"])
	// Σ over rows of (x·w)²: x·w = [[4.5 -0.5] [9.5 -2] [14.5 -3.5]]
	require.InDelta(t, 4.5*4.5+0.25+9.5*9.5+4+14.5*14.5+3.5*3.5, want["Run"][0], 1e-12)
}

func TestRunReportsOpError(t *testing.T) {
	g, x, _, _ := runGraph(t)
	boom := errors.New("boom")
	_, err := graph.ApplyForward("fail", tensor.Float64, 2,
		func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
		func([]G.Value) (G.Value, error) { return nil, boom }, x)
	require.NoError(t, err)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	err = graph.Run(vm)
	require.Error(t, err)
	require.Contains(t, err.Error(), "boom")
}

func TestRunOtherMachine(t *testing.T) {
	g, _, _, cost := runGraph(t)
	vm := G.NewLispMachine(g, G.ExecuteFwdOnly())
	defer vm.Close()
	require.NoError(t, graph.Run(vm))
	require.NotNil(t, cost.Value())
}
