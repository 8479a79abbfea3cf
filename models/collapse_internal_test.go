package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSqDist: the four-way sum agrees with the one-chain loop to rounding
// for every length modulo 4.
func TestSqDist(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 64, 67} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			a, b := make([]float64, n), make([]float64, n)
			want := 0.0
			for i := range a {
				a[i], b[i] = r.NormFloat64(), r.NormFloat64()
				want += (a[i] - b[i]) * (a[i] - b[i])
			}
			if got := sqDist(a, b); math.Abs(got-want) > 1e-12*(1+want) {
				t.Fatalf("sqDist = %v, want %v", got, want)
			}
		})
	}
}
