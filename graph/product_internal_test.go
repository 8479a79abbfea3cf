package graph

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParallelProduct checks that the product split over cores gives the
// one-call product bit for bit (each entry is the same sum over k), for
// every transpose pair, row strides wider than the matrices, beta 0 and 1,
// row counts that split into whole and partial blocks, and sizes below the
// threshold (one call), with GOMAXPROCS 1, 2 and 3.
func TestParallelProduct(t *testing.T) {
	r := rand.New(rand.NewPCG(81, 82))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		for _, sz := range [][3]int{{256, 256, 128}, {1000, 130, 64}, {50, 300, 200}, {7, 5, 3}, {301, 257, 33}} {
			m, n, k := sz[0], sz[1], sz[2]
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, beta := range []float32{0, 1} {
						t.Run(fmt.Sprintf("procs=%d/%dx%dx%d/ta=%t/tb=%t/beta=%v", procs, m, n, k, ta, tb, beta), func(t *testing.T) {
							ar, ac := m, k
							if ta {
								ar, ac = k, m
							}
							br, bc := k, n
							if tb {
								br, bc = n, k
							}
							lda, ldb, ldc := ac+3, bc+1, n+2
							a, b := make([]float32, ar*lda), make([]float32, br*ldb)
							for i := range a {
								a[i] = float32(r.NormFloat64())
							}
							for i := range b {
								b[i] = float32(r.NormFloat64())
							}
							c0 := make([]float32, m*ldc)
							for i := range c0 {
								c0[i] = float32(r.NormFloat64())
							}
							want := append([]float32(nil), c0...)
							product(ta, tb, m, n, k, 0.5, a, lda, b, ldb, beta, want, ldc)
							got := append([]float32(nil), c0...)
							parallelProduct(ta, tb, m, n, k, 0.5, a, lda, b, ldb, beta, got, ldc)
							require.Equal(t, want, got)
						})
					}
				}
			}
		}
	}
}
