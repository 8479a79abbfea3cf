package mining_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/contrastive-go/contrastive/mining"
)

// BenchmarkMiners times one MineTriplets / MinePairs call on a P×K batch
// (K = 4, P = B/4) of random L2-normalised 64-D embeddings: Euclidean
// distances for the triplet miners and PairMargin, cosine similarities for
// MultiSimilarity. Building the matrix and the output lists is outside the
// timed loop.
func BenchmarkMiners(b *testing.B) {
	const k, dim = 4, 64
	for _, n := range []int{128, 256, 1024} {
		p := n / k
		r := rand.New(rand.NewPCG(uint64(n), 1))
		x := embeddings(r, n, dim)
		labels := make([]int, n)
		for i := range labels {
			labels[i] = i / k
		}
		dist := mining.Batch{Dist: euclidean(x, 0), Labels: labels, Dim: dim}
		sims := mining.Batch{Dist: dots(x, 0), LargerIsCloser: true, Labels: labels, Dim: dim}
		for _, tc := range []struct {
			name  string
			miner mining.TripletMiner
		}{
			{"BatchHard", mining.BatchHard{}},
			{"AllTriplets", mining.AllTriplets{Capacity: mining.PKTriplets(p, k)}},
			{"SemiHard", mining.SemiHard{Margin: 0.2, Fallback: mining.FallbackFarthest}},
			{"TripletsOfType", mining.TripletsOfType{Type: mining.TypeSemiHard, Margin: 0.2, Capacity: mining.PKTriplets(p, k)}},
			{"DistanceWeighted", mining.NewDistanceWeighted(1)},
		} {
			b.Run(fmt.Sprintf("%s/B=%d", tc.name, n), func(b *testing.B) {
				c, err := tc.miner.TripletCapacity(n)
				if err != nil {
					b.Fatal(err)
				}
				out := mining.NewTripletList(c)
				b.ReportAllocs()
				for b.Loop() {
					if err := tc.miner.MineTriplets(dist, out); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		for _, tc := range []struct {
			name  string
			miner mining.PairMiner
			batch mining.Batch
		}{
			{"MultiSimilarity", mining.MultiSimilarityPML(), sims},
			{"PairMargin", mining.PairMarginPML(), dist},
		} {
			b.Run(fmt.Sprintf("%s/B=%d", tc.name, n), func(b *testing.B) {
				cp, cn, err := tc.miner.PairCapacity(n)
				if err != nil {
					b.Fatal(err)
				}
				pos, neg := mining.NewPairList(cp), mining.NewPairList(cn)
				b.ReportAllocs()
				for b.Loop() {
					if err := tc.miner.MinePairs(tc.batch, pos, neg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPKSamplerEpoch times one epoch of a 60 000-sample dataset of
// 1 000 classes (60 each) in batches of 32 × 4.
func BenchmarkPKSamplerEpoch(b *testing.B) {
	labels := make([]int, 60000)
	for i := range labels {
		labels[i] = i % 1000
	}
	s, err := mining.NewPKSampler(labels, 32, 4, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	e := 0
	for b.Loop() {
		if _, err := s.Epoch(e); err != nil {
			b.Fatal(err)
		}
		e++
	}
}
