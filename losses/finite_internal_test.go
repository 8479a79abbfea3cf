package losses

import (
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// childOf returns the input of a one-input node.
func childOf(n *G.Node) *G.Node { return childAt(n.Graph(), n, 0) }

// TestFiniteView pins when the finiteness check hands on its input's value
// without a copy: only while no op that reads it may write into it. A
// Gorgonia elementwise op that overwrites its input (Add, whose first
// input's interval ends there) must get a copy, or it would add into the
// caller's embeddings in place; a graph op that only reads (GatherRows) gets the
// input's value itself. Either way the gradient reaches x unchanged: it is
// the output's gradient node itself.
func TestFiniteView(t *testing.T) {
	x0 := []float64{1, -2, 3, 4, 5, -6}
	for _, tc := range []struct {
		name string
		use  func(c *G.Node) (*G.Node, error)
		view bool
		grad []float64 // ∂Σy/∂x
	}{
		{"overwriting reader", func(c *G.Node) (*G.Node, error) {
			o := G.NewMatrix(c.Graph(), tensor.Float64, G.WithShape(3, 2), G.WithName("o"),
				G.WithValue(tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float64{10, 10, 10, 10, 10, 10}))))
			return G.Add(c, o)
		}, false, []float64{1, 1, 1, 1, 1, 1}},
		{"reading op", func(c *G.Node) (*G.Node, error) {
			idx := G.NewVector(c.Graph(), tensor.Int, G.WithShape(2), G.WithName("idx"),
				G.WithValue(tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{2, 0}))))
			return graph.GatherRows(c, idx)
		}, true, []float64{1, 1, 0, 0, 1, 1}},
		{"x overwritten by another reader", func(c *G.Node) (*G.Node, error) {
			// x itself is also read by an op that overwrites it (its interval
			// ends there): a view would see that op's result
			x := childOf(c)
			o := G.NewMatrix(c.Graph(), tensor.Float64, G.WithShape(3, 2), G.WithName("o"),
				G.WithValue(tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float64{10, 10, 10, 10, 10, 10}))))
			sum, err := G.Add(x, o)
			if err != nil {
				return nil, err
			}
			idx := G.NewVector(c.Graph(), tensor.Int, G.WithShape(2), G.WithName("idx"),
				G.WithValue(tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{2, 0}))))
			rows, err := graph.GatherRows(c, idx)
			if err != nil {
				return nil, err
			}
			s1, err := G.Sum(sum)
			if err != nil {
				return nil, err
			}
			return G.Add(rows, s1)
		}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := G.NewGraph()
			xv := tensor.New(tensor.WithShape(3, 2), tensor.WithBacking(append([]float64(nil), x0...)))
			x := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("x"), G.WithValue(xv))
			c, err := finite("test", "x", x)
			require.NoError(t, err)
			y, err := tc.use(c)
			require.NoError(t, err)
			loss, err := G.Sum(y)
			require.NoError(t, err)
			grads, err := G.Grad(loss, x)
			require.NoError(t, err)
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			for run := 0; run < 2; run++ {
				require.NoError(t, vm.RunAll())
				same := c.Value().(*tensor.Dense) == xv
				require.Equal(t, tc.view, same, "run %d: output is x's value", run)
				if tc.grad == nil { // x's other reader may overwrite x itself (Gorgonia's doing): the check's output must not follow it
					require.Equal(t, x0, c.Value().Data(), "run %d: the checked value", run)
					require.NoError(t, G.Let(x, tensor.New(tensor.WithShape(3, 2), tensor.WithBacking(append([]float64(nil), x0...)))))
					vm.Reset()
					continue
				}
				require.Equal(t, x0, xv.Data(), "run %d changed x", run)
				require.Equal(t, tc.grad, grads[0].Value().Data(), "run %d: gradient", run)
				vm.Reset()
			}
		})
	}
}
