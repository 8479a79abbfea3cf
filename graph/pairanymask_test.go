package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// TestPairAnyMask checks PairAnyMask against the product of the mask with
// PairAny(has, has), entry for entry, in float64 and float32, for flags
// with rows on and off, all on and all off, on two runs of one machine
// (the buffer is reused), and its shape error.
func TestPairAnyMask(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 100))
	const b = 6
	mask := randMatrix(r, b, b, 1)
	for _, has := range [][]float64{{1, 0, 0, 1, 0, 1}, {1, 1, 1, 1, 1, 1}, {0, 0, 0, 0, 0, 0}} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%v/%v", has, dt), func(t *testing.T) {
				g := G.NewGraph()
				e := graph.NewExpr(dt)
				m, h := typedNode(g, dt, "mask", mask, b, b), vecNode(g, dt, "has", has)
				got, want := e.PairAnyMask(m, h), e.Mul(m, e.PairAny(h, h))
				require.NoError(t, e.Err())
				var gv, wv G.Value
				G.Read(got, &gv)
				G.Read(want, &wv)
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				for run := 0; run < 2; run++ {
					require.NoError(t, vm.RunAll())
					require.Equal(t, wv.Data(), gv.Data())
					vm.Reset()
				}
			})
		}
	}
	g := G.NewGraph()
	_, err := graph.PairAnyMask(matNode(g, "m", b, b-1, randMatrix(r, b, b-1, 1)), vecNode(g, tensor.Float64, "h", make([]float64, b)))
	require.ErrorContains(t, err, "graph: pair any mask: mask must be a 6×6 float64 matrix")
}
