//go:build openblas

package graph

// Built with -tags openblas (and Debian's libopenblas-dev installed), the
// module's matrix products run on OpenBLAS through cgo instead of
// graph/gemm's kernels (blas.go, which this tag leaves out):
//
//	apt-get install libopenblas-dev
//	go test -tags openblas -bench Losses ./bench
//
// The default build needs neither cgo nor OpenBLAS.

// #cgo LDFLAGS: -lopenblas
import "C"

import (
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

func init() { G.Use(netlib.Implementation{}) }
