package gemm

import (
	"math"

	"gonum.org/v1/gonum/blas"
)

//go:generate sh -c "cd internal/asmgen && go run . -out ../../kernels_amd64.s -stubs ../../kernels_amd64_stub.go -pkg gemm"

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, with op(A) m×k, op(B) k×n and C m×n, exactly as gonum's
// blas.Float32 Sgemm: op(X) is X for blas.NoTrans and Xᵀ for blas.Trans or
// blas.ConjTrans; lda, ldb and ldc are the row strides of the matrices as
// stored. With beta = 0, C is written without being read (NaN in C does not
// reach the result); with alpha = 0 or k = 0, A and B are not read.
//
// Like every BLAS routine it panics on bad arguments (an unknown
// transpose, a negative size, a stride shorter than a row, a slice too
// short for its matrix); Check reports the same conditions as an error.
func Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if err := Check(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc); err != nil {
		panic(err.Error())
	}
	gemm(kernel32(m, n), tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is Sgemm for float64.
func Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if err := Check(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc); err != nil {
		panic(err.Error())
	}
	gemm(kernel64(m, n), tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Error is a bad argument to Sgemm or Dgemm.
type Error string

func (e Error) Error() string { return string(e) }

// Check returns nil if Sgemm or Dgemm accepts these arguments (the lengths
// of a, b and c, not the slices), or an Error naming the first bad one. The
// conditions are gonum's blas ones.
func Check(tA, tB blas.Transpose, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) error {
	okT := func(t blas.Transpose) bool { return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans }
	switch {
	case !okT(tA):
		return Error("gemm: bad transpose of A")
	case !okT(tB):
		return Error("gemm: bad transpose of B")
	case m < 0:
		return Error("gemm: m < 0")
	case n < 0:
		return Error("gemm: n < 0")
	case k < 0:
		return Error("gemm: k < 0")
	}
	rowsA, colsA := m, k
	if tA != blas.NoTrans {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if tB != blas.NoTrans {
		rowsB, colsB = n, k
	}
	switch {
	case lda < max(1, colsA):
		return Error("gemm: lda is shorter than a row of A")
	case ldb < max(1, colsB):
		return Error("gemm: ldb is shorter than a row of B")
	case ldc < max(1, n):
		return Error("gemm: ldc is shorter than a row of C")
	}
	// Gonum checks lengths only when the product has work to do.
	if m == 0 || n == 0 {
		return nil
	}
	if need(rowsA, colsA, lda) > lenA {
		return Error("gemm: a is too short for A")
	}
	if need(rowsB, colsB, ldb) > lenB {
		return Error("gemm: b is too short for B")
	}
	if need(m, n, ldc) > lenC {
		return Error("gemm: c is too short for C")
	}
	return nil
}

// need is the number of elements a rows×cols matrix with row stride ld ≥
// cols spans (0 when it is empty), saturating at math.MaxInt.
func need(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	if rows-1 > (math.MaxInt-cols)/ld {
		return math.MaxInt
	}
	return ld*(rows-1) + cols
}
