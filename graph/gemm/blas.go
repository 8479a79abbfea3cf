package gemm

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Implementation is gonum's pure-Go BLAS with this package's Sgemm and
// Dgemm. It satisfies Gorgonia's and gorgonia.org/tensor's BLAS interfaces
// (blas.Float32, blas.Float64, blas.Complex64, blas.Complex128), so
// G.Use(gemm.Implementation{}) routes every matrix product of a graph
// through it; package graph does so by default.
//
// Like every BLAS implementation, its methods panic on bad arguments.
type Implementation struct {
	gonum.Implementation
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C in float32; see Sgemm.
func (Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm computes C = alpha·op(A)·op(B) + beta·C in float64; see Dgemm.
func (Implementation) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

var _ blas.Float32 = Implementation{}
var _ blas.Float64 = Implementation{}
