//go:build !openblas

package graph

import (
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph/gemm"
)

// TestDefaultBLAS pins that importing graph routes Gorgonia's and the
// tensor package's matrix products through graph/gemm, and that a graph's
// product is right through it.
func TestDefaultBLAS(t *testing.T) {
	require.IsType(t, gemm.Implementation{}, G.WhichBLAS())
	require.IsType(t, gemm.Implementation{}, tensor.WhichBLAS())

	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))))
	y := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 2), G.WithValue(tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float32{1, 0, 0, 1, 1, 1}))))
	z, err := G.Mul(x, y)
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()
	require.NoError(t, m.RunAll())
	// [1 2 3; 4 5 6]·[1 0; 0 1; 1 1] by hand.
	require.Equal(t, []float32{4, 5, 10, 11}, z.Value().Data())
}
