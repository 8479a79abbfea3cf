//go:build openblas

package bench

import "gonum.org/v1/netlib/blas/netlib"

func init() {
	sgemmers = append(sgemmers, sgemmer{"openblas", netlib.Implementation{}.Sgemm})
}
