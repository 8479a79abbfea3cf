package losses

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// npairTuplesMaps is the selection written with maps (the definition: the
// first two samples of each class in order of first appearance).
func npairTuplesMaps(labels []int, c int) npairSelection {
	t := npairSelection{anchor: make([]int, c), positive: make([]int, c)}
	first := map[int]int{}
	used := map[int]bool{}
	for i, l := range labels {
		f, seen := first[l]
		if !seen {
			first[l] = i
			continue
		}
		if used[l] || t.n == c {
			continue
		}
		used[l] = true
		t.anchor[t.n], t.positive[t.n] = f, i
		t.n++
	}
	return t
}

// TestNPairTuples checks the table-based selection against the map-based
// definition on random labels, some of them negative or far above 4B (the
// map path), at full and reduced capacity.
func TestNPairTuples(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	for trial := 0; trial < 200; trial++ {
		b := 2 + r.IntN(40)
		labels := make([]int, b)
		for i := range labels {
			switch r.IntN(4) {
			case 0:
				labels[i] = -1 - r.IntN(3)
			case 1:
				labels[i] = 1000 + r.IntN(3)
			default:
				labels[i] = r.IntN(b)
			}
		}
		for _, c := range []int{b / 2, 1 + r.IntN(b/2)} {
			require.Equal(t, npairTuplesMaps(labels, c), npairTuples(labels, c), "labels %v, capacity %d", labels, c)
		}
	}
}
