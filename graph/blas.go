//go:build !openblas

package graph

import (
	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph/gemm"
)

// The default build runs every matrix product of every Gorgonia graph in
// the process (G.Use sets Gorgonia's and gorgonia.org/tensor's BLAS, whose
// MatMul, MatVecMul and Outer call it) through graph/gemm's blocked SIMD
// Sgemm and Dgemm; the other routines stay gonum's. Built with -tags
// openblas, openblas.go installs OpenBLAS instead.
func init() { G.Use(gemm.Implementation{}) }
