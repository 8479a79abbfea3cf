package gemm_test

import (
	"fmt"

	"gonum.org/v1/gonum/blas"

	"github.com/contrastive-go/contrastive/graph/gemm"
)

// C = A·Bᵀ for a 2×3 A and a 2×3 B (so op(B) = Bᵀ is 3×2), row-major.
func ExampleSgemm() {
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{
		1, 0, 1,
		0, 1, 1,
	}
	c := make([]float32, 2*2)
	gemm.Sgemm(blas.NoTrans, blas.Trans, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output: [4 5 10 11]
}
