package mining_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/mining"
)

// dwBatch has one class of k samples (rows 0..k−1, 0.1 apart) and one
// singleton class per entry of negDist, each at that distance from every
// member of the class.
func dwBatch(k int, negDist []float64, dim int) mat {
	b := k + len(negDist)
	v := make([]float64, b*b)
	labels := make([]int, b)
	for i := 0; i < b; i++ {
		if i >= k {
			labels[i] = 1 + i - k
		}
		for j := 0; j < b; j++ {
			switch {
			case i == j:
				v[i*b+j] = 0
			case i < k && j < k:
				v[i*b+j] = 0.1
			case i < k:
				v[i*b+j] = negDist[j-k]
			case j < k:
				v[i*b+j] = negDist[i-k]
			default:
				v[i*b+j] = 1
			}
		}
	}
	return mat{v: v, labels: labels, dim: dim}
}

// TestDistanceWeightedFrequencies compares empirical frequencies of the
// drawn negatives with the paper's weights min(λ, 1/q(d)) computed here in
// linear space, q(d) = d^(n−2)(1 − d²/4)^((n−3)/2) with d clipped at 0.5 and
// weight 0 at d ≥ 1.4, by a chi-square goodness-of-fit test.
func TestDistanceWeightedFrequencies(t *testing.T) {
	negDist := []float64{0.3, 0.5, 0.8, 1.1, 1.39, 1.4, 1.7}
	const k, calls = 10, 250 // 10·9 draws per call, 22500 in all
	for _, dim := range []int{2, 3, 4, 8} {
		t.Run(fmt.Sprintf("dim=%d", dim), func(t *testing.T) {
			m := dwBatch(k, negDist, dim)
			want := make([]float64, len(negDist))
			total := 0.0
			for i, d := range negDist {
				if d >= 1.4 {
					continue
				}
				c := math.Max(d, 0.5)
				want[i] = 1 / (math.Pow(c, float64(dim-2)) * math.Pow(1-c*c/4, float64(dim-3)/2))
				total += want[i]
			}
			miner := mining.NewDistanceWeighted(42)
			out := mining.NewTripletList(k * (k - 1))
			count := make([]int, len(negDist))
			draws := 0
			for range calls {
				require.NoError(t, miner.MineTriplets(m.batch(), out))
				require.Equal(t, k*(k-1), out.Len())
				for s := 0; s < out.Len(); s++ {
					require.GreaterOrEqual(t, out.Negative[s], k, "a positive was drawn as negative")
					count[out.Negative[s]-k]++
					draws++
				}
			}
			chi2, df := 0.0, -1
			for i := range negDist {
				if want[i] == 0 {
					require.Zero(t, count[i], "negative at d = %g ≥ 1.4 drawn", negDist[i])
					continue
				}
				e := float64(draws) * want[i] / total
				require.Greater(t, e, 5.0, "chi-square needs expected counts ≥ 5")
				chi2 += (float64(count[i]) - e) * (float64(count[i]) - e) / e
				df++
			}
			require.Equal(t, 4, df)
			// 18.467 is the upper 0.1% point of chi-square with 4 degrees
			// of freedom (standard table, e.g. NIST/SEMATECH e-Handbook
			// of Statistical Methods, 1.3.6.7.4).
			t.Logf("chi-square %.2f, counts %v", chi2, count)
			require.Less(t, chi2, 18.467, "counts %v, weights %v", count, want)
		})
	}
}

// TestDistanceWeightedLargeDim: at Dim = 4096 the weights overflow float64
// in linear space (0.6^−4094 ≈ e^2091); in log space the two closest
// negatives (a tie) take all the mass, about half each.
func TestDistanceWeightedLargeDim(t *testing.T) {
	m := dwBatch(10, []float64{0.6, 0.6, 0.7, 1.0}, 4096)
	miner := mining.NewDistanceWeighted(7)
	out := mining.NewTripletList(90)
	first := 0
	const calls = 10
	for range calls {
		require.NoError(t, miner.MineTriplets(m.batch(), out))
		require.Equal(t, 90, out.Len())
		for s := 0; s < out.Len(); s++ {
			require.Contains(t, []int{10, 11}, out.Negative[s])
			if out.Negative[s] == 10 {
				first++
			}
		}
	}
	// binomial(900, 1/2): standard deviation 15; allow 5 of them
	require.InDelta(t, 450, first, 75)
}

func TestDistanceWeightedNothingBelowCutoff(t *testing.T) {
	m := dwBatch(4, []float64{1.4, 1.5, 2}, 8)
	out := mining.NewTripletList(12)
	require.NoError(t, mining.NewDistanceWeighted(1).MineTriplets(m.batch(), out))
	require.Zero(t, out.Len())
	// a larger NonzeroLossCutoff lets 1.4 and 1.5 in, never 2 (< 2 strictly)
	require.NoError(t, mining.DistanceWeighted{NonzeroLossCutoff: 2, Rand: rand.New(rand.NewPCG(1, 2))}.MineTriplets(m.batch(), out))
	require.Equal(t, 12, out.Len())
	for s := 0; s < out.Len(); s++ {
		require.Contains(t, []int{4, 5}, out.Negative[s])
	}
}

func TestDistanceWeightedReproducible(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	x := embeddings(r, 32, 16)
	labels := make([]int, 32)
	for i := range labels {
		labels[i] = i / 4
	}
	m := mat{v: euclidean(x, 0), labels: labels, dim: 16}
	run := func(miner mining.DistanceWeighted) [][]triplet {
		var all [][]triplet
		out := mining.NewTripletList(32 * 3)
		for range 3 {
			require.NoError(t, miner.MineTriplets(m.batch(), out))
			all = append(all, tripletsOf(out))
		}
		return all
	}
	a, b := run(mining.NewDistanceWeighted(5)), run(mining.NewDistanceWeighted(5))
	require.Equal(t, a, b, "same seed, same triplets")
	require.NotEqual(t, a[0], a[1], "successive batches draw anew")
	require.NotEqual(t, a, run(mining.NewDistanceWeighted(6)), "another seed")
	// zero cutoffs are the defaults
	zero := mining.NewDistanceWeighted(5)
	zero.Cutoff, zero.NonzeroLossCutoff = 0, 0
	require.Equal(t, a, run(zero))
	for _, ts := range a {
		require.Len(t, ts, 32*3) // random embeddings in 16-D: every anchor has negatives below 1.4
	}
}
