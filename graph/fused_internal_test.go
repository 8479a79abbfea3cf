package graph

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSymmetrize checks the tiled S + Sᵀ, into another matrix and in
// place, against the direct loop for sizes
// below, at and across the tile side (partial tiles at the edge), on one
// core and on the parallel path (b·tile past parallelMin).
func TestSymmetrize(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	for _, b := range []int{1, 5, symTile, symTile + 1, 3*symTile - 7, 2100} {
		t.Run(fmt.Sprint(b), func(t *testing.T) {
			s := make([]float64, b*b)
			for i := range s {
				s[i] = r.NormFloat64()
			}
			want := make([]float64, b*b)
			for i := 0; i < b; i++ {
				for j := 0; j < b; j++ {
					want[i*b+j] = s[i*b+j] + s[j*b+i] // exact in either order
				}
			}
			dst := make([]float64, b*b)
			symmetrizeInto(dst, s, b) // into another matrix
			require.Equal(t, want, dst)
			symmetrize(s, b) // in place
			require.Equal(t, want, s)
		})
	}
}

// TestFillMask checks the grouped mask fill against the definition entry by
// entry, for self and cross masks of both kinds, with repeated, unsorted
// and negative labels (a negative reference label is an empty slot), run
// twice on one scratch with different labels.
func TestFillMask(t *testing.T) {
	r := rand.New(rand.NewPCG(73, 74))
	labels := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = r.IntN(7) - 2 // −2 … 4
		}
		return out
	}
	for _, self := range []bool{true, false} {
		for _, kind := range []MaskKind{SameLabel, DifferentLabel} {
			t.Run(fmt.Sprintf("self=%t/%v", self, kind), func(t *testing.T) {
				var s maskScratch
				for run := 0; run < 2; run++ {
					a := labels(13)
					b := a
					if !self {
						b = labels(17 + run)
					}
					want := make([]float32, len(a)*len(b))
					for i, li := range a {
						for j, lj := range b {
							same := li == lj
							switch {
							case self && i == j && kind == SameLabel:
							case !self && lj < 0:
							case same == (kind == SameLabel):
								want[i*len(b)+j] = 1
							}
						}
					}
					got := make([]float32, len(a)*len(b))
					for i := range got {
						got[i] = 9 // every entry must be written
					}
					fillMask(got, a, b, kind, self, &s)
					require.Equal(t, want, got, "run %d, labels %v and %v", run, a, b)
				}
			})
		}
	}
}

// BenchmarkSymmetrize times S + Sᵀ at the self matrix's size of a
// 1024-row batch.
func BenchmarkSymmetrize(b *testing.B) {
	const n = 1024
	s := make([]float32, n*n)
	for i := range s {
		s[i] = float32(i % 7)
	}
	b.SetBytes(int64(4 * n * n))
	for i := 0; i < b.N; i++ {
		symmetrize(s, n)
	}
}
