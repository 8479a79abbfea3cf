package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkKernels times every float32 kernel this CPU runs on a few of
// the models' shapes (bench.BenchmarkGemm has them all, against gonum and
// OpenBLAS), so that the assembly kernels can be compared with one another
// and with the portable one:
//
//	go test -run '^$' -bench Kernels -cpu 1 ./graph/gemm
func BenchmarkKernels(b *testing.B) {
	shapes := []struct {
		name    string
		tA, tB  bool
		m, n, k int
	}{
		{"Conv1dW", true, false, 16, 25, 57600},
		{"Conv2Fwd", false, true, 6400, 32, 400},
		{"Conv2dX", false, false, 6400, 400, 32},
		{"Conv2dW", true, false, 32, 400, 6400},
		{"MLPFwd", false, false, 100, 256, 784},
		{"Eval", false, true, 128, 6000, 64},
	}
	for _, s := range shapes {
		a, bm, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
		for i := range a {
			a[i] = float32(i%7) - 3
		}
		for i := range bm {
			bm[i] = float32(i%5) - 2
		}
		lda, ldb := s.k, s.n
		if s.tA {
			lda = s.m
		}
		if s.tB {
			ldb = s.k
		}
		for _, kn := range kernels32() {
			b.Run(fmt.Sprintf("%s/%s", s.name, kn.name), func(b *testing.B) {
				for b.Loop() {
					gemm(kn, s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
