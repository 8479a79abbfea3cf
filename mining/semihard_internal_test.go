package mining

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSemiHardPathsAgree checks that SemiHard's two ways of finding an
// anchor's semi-hard negative, sorting its negatives once or scanning them
// for every positive, mine the same triplets, ties included.
func TestSemiHardPathsAgree(t *testing.T) {
	saved := semiHardSortAbove
	defer func() { semiHardSortAbove = saved }()
	r := rand.New(rand.NewPCG(7, 11))
	for _, b := range []int{2, 7, 40, 100} {
		for _, k := range []int{1, 2, 5, 10, 40} {
			for _, larger := range []bool{false, true} {
				for _, fb := range []SemiHardFallback{FallbackNone, FallbackFarthest, FallbackHardest} {
					name := fmt.Sprintf("B=%d/K=%d/larger=%v/fallback=%v", b, k, larger, fb)
					labels := make([]int, b)
					for i := range labels {
						labels[i] = i / k
					}
					dist := make([]float64, b*b)
					for i := range dist {
						dist[i] = float64(r.IntN(6)) / 10 // many ties
					}
					batch := Batch{Dist: dist, Labels: labels, LargerIsCloser: larger}
					m := SemiHard{Margin: 0.2, Fallback: fb, Capacity: b * b}
					mine := func(above int) *TripletList {
						semiHardSortAbove = above
						out := NewTripletList(b * b)
						require.NoError(t, m.MineTriplets(batch, out), name)
						return out
					}
					sorted, scanned := mine(0), mine(math.MaxInt)
					require.Equal(t, scanned.Len(), sorted.Len(), name)
					n := scanned.Len()
					require.Equal(t, scanned.Anchor[:n], sorted.Anchor[:n], name)
					require.Equal(t, scanned.Positive[:n], sorted.Positive[:n], name)
					require.Equal(t, scanned.Negative[:n], sorted.Negative[:n], name)
				}
			}
		}
	}
}
