package losses

import (
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// TestClassMaskRefilledEachRun checks that classMask and targetIndex,
// which reuse their buffers from run to run, give the new labels' values
// after the labels change (no 1 left over from the run before), in both
// layouts and dtypes.
func TestClassMaskRefilledEachRun(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, transpose := range []bool{false, true} {
			g := G.NewGraph()
			labels := G.NewVector(g, tensor.Int, G.WithShape(3), G.WithName("labels"))
			e := graph.NewExpr(dt)
			mask := classMask("test", e, labels, 4, transpose)
			idx := targetIndex("test", e, labels, 4)
			require.NoError(t, e.Err())
			var mv, iv G.Value
			G.Read(mask, &mv)
			G.Read(idx, &iv)
			vm := G.NewTapeMachine(g)
			for _, l := range [][]int{{0, 1, 3}, {3, 3, 0}} {
				require.NoError(t, G.Let(labels, tensor.New(tensor.WithBacking(append([]int(nil), l...)))))
				vm.Reset()
				require.NoError(t, graph.Run(vm))
				want := make([]float64, 12)
				wantIdx := make([]int, 3)
				for i, c := range l {
					if transpose {
						want[c*3+i] = 1
					} else {
						want[i*4+c] = 1
					}
					wantIdx[i] = i*4 + c
				}
				got := make([]float64, 12)
				switch d := mv.Data().(type) {
				case []float32:
					for i, v := range d {
						got[i] = float64(v)
					}
				case []float64:
					copy(got, d)
				}
				require.Equal(t, want, got, "labels %v transpose %v %v", l, transpose, dt)
				require.Equal(t, wantIdx, iv.Data().([]int))
			}
			vm.Close()
		}
	}
}
