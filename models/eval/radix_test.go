package eval

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randRow returns n non-negative float32 distances drawn by kind: "spread"
// over many binades, "dup" from a handful of values (many ties, zeros), or
// "narrow" within one histogram bucket.
func randRow(rng *rand.Rand, n int, kind string) []float32 {
	row := make([]float32, n)
	for i := range row {
		switch kind {
		case "spread":
			row[i] = float32(math.Exp(rng.NormFloat64() * 10))
		case "dup":
			row[i] = float32(rng.IntN(4))
		case "narrow":
			row[i] = 1 + float32(rng.IntN(1000))*0x1p-23
		}
	}
	if n > 1 {
		row[n-1] = float32(math.Inf(1)) // as for the query itself in self mode
	}
	return row
}

// TestKthSmallest compares the radix selection with sorting.
func TestKthSmallest(t *testing.T) {
	for _, kind := range []string{"spread", "dup", "narrow"} {
		for _, n := range []int{1, 2, 7, 100, 5000} {
			t.Run(fmt.Sprintf("%s/n=%d", kind, n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 3))
				row := randRow(rng, n, kind)
				sorted := slices.Clone(row)
				slices.Sort(sorted)
				var hist [2048]int32
				scratch := make([]uint32, n)
				for _, k := range []int{0, n / 3, n / 2, n - 1} {
					clear(hist[:])
					for _, d := range row {
						hist[math.Float32bits(d)>>20]++
					}
					got := math.Float32frombits(kthSmallest(row, k, &hist, scratch))
					if got != sorted[k] {
						t.Fatalf("n=%d k=%d: got %v, want %v (from sorting)", n, k, got, sorted[k])
					}
				}
			})
		}
	}
}

// TestSortCands compares the radix sort with a stable sort by key.
func TestSortCands(t *testing.T) {
	for _, kind := range []string{"spread", "dup", "narrow"} {
		for _, n := range []int{0, 1, 31, 33, 5000} {
			t.Run(fmt.Sprintf("%s/n=%d", kind, n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 4))
				row := randRow(rng, n, kind)
				cs := make([]cand, n)
				for i, d := range row {
					cs[i] = cand{math.Float32bits(d), int32(i)}
				}
				want := slices.Clone(cs)
				slices.SortStableFunc(want, func(a, b cand) int { return cmp.Compare(a.key, b.key) })
				var hist [2048]int32
				sortCands(cs, make([]cand, n), &hist)
				if !slices.Equal(cs, want) {
					t.Fatalf("n=%d: radix sort differs from a stable sort by key", n)
				}
			})
		}
	}
}
