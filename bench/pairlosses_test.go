package bench

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
)

// pairLossCases lists the pair-based losses of issue 14 at their presets:
// pytorch-metric-learning's where it has the loss (these names are also in
// the cross-check dump and torch_losses.py), the papers' otherwise.
func pairLossCases() []lossCase {
	return []lossCase{
		{name: "MultiSimilarityPML", loss: func(p, k int) lossFn { return losses.MultiSimilarityPML() }},
		{name: "CirclePML", loss: func(p, k int) lossFn { return losses.CirclePML() }},
		{name: "GeneralizedLiftedPML", loss: func(p, k int) lossFn { return losses.GeneralizedLiftedPML() }},
		{name: "MarginPML", loss: func(p, k int) lossFn { return losses.MarginPML() }},
		{name: "DebiasedContrastive", loss: func(p, k int) lossFn { return losses.NewDebiasedContrastive() }},
		{name: "HardNegative", loss: func(p, k int) lossFn { return losses.NewHardNegative() }},
	}
}

// BenchmarkLossesPairBased times one forward+backward pass of each
// pair-based loss at B = 256 and 1024 (D = 128, float32), like
// BenchmarkLosses.
func BenchmarkLossesPairBased(b *testing.B) {
	for _, c := range pairLossCases() {
		b.Run(c.name, func(b *testing.B) {
			for _, n := range []int{256, 1024} {
				b.Run(benchName(n, benchDim), func(b *testing.B) {
					b.ReportAllocs()
					s, err := build(c, n, benchDim, perClass, tensor.Float32)
					if err != nil {
						b.Fatal(err)
					}
					defer s.close()
					if err := s.run(); err != nil { // warm-up, and a setup check
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := graph.Run(s.m); err != nil {
							b.Fatal(err)
						}
						s.m.Reset()
					}
				})
			}
		})
	}
}

// TestPairLossSetups is TestLossSetups for pairLossCases: each benchmark's
// graph at B=8, two forward+backward steps with finite values, in float32
// and float64.
func TestPairLossSetups(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, c := range pairLossCases() {
			t.Run(fmt.Sprintf("%s/%v", c.name, dt), func(t *testing.T) {
				s, err := build(c, 8, 4, perClass, dt)
				require.NoError(t, err)
				defer s.close()
				for i := 0; i < 2; i++ {
					require.NoError(t, s.m.RunAll())
					v, ok := scalar(s.loss.Value())
					require.True(t, ok, "loss value %v", s.loss.Value())
					require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "loss %v", v)
					require.True(t, v >= 0, "loss %v", v)
					for _, x := range floats(s.grad.Value().Data()) {
						require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "gradient entry %v", x)
					}
					s.m.Reset()
				}
			})
		}
	}
}
