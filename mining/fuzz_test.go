package mining_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/mining"
)

// FuzzMinersInvariants runs every miner on random L2-normalised embeddings
// (Euclidean distances, optionally rounded to create ties, and cosine
// similarities) with random labels, and checks that no valid input gives an
// error, that every anchor/positive shares a label and differs, that every
// negative's label differs, that the selection conditions hold, that each
// miner equals its brute-force oracle, and that a triplet miner selects the
// same triplets from distances D and from similarities −D.
//
// Its seed corpus runs with go test; fuzz briefly with
//
//	go test -run '^$' -fuzz FuzzMinersInvariants -fuzztime 10s ./mining
func FuzzMinersInvariants(f *testing.F) {
	f.Add(uint64(1), uint8(12), uint8(3), uint8(3), false, uint8(16))
	f.Add(uint64(2), uint8(30), uint8(1), uint8(4), true, uint8(32))  // rounded: many ties
	f.Add(uint64(3), uint8(6), uint8(7), uint8(1), false, uint8(8))   // one class
	f.Add(uint64(4), uint8(9), uint8(2), uint8(200), true, uint8(0))  // mostly distinct labels, margin 0
	f.Add(uint64(5), uint8(39), uint8(5), uint8(2), true, uint8(200)) // big classes: SemiHard's sorted path
	f.Add(uint64(6), uint8(0), uint8(0), uint8(0), false, uint8(1))   // a single sample
	f.Fuzz(func(t *testing.T, seed uint64, size, dim, classes uint8, rounded bool, marginByte uint8) {
		r := rand.New(rand.NewPCG(seed, 0))
		b, d, c := 1+int(size)%40, 1+int(dim)%8, 1+int(classes)%12
		quantum := 0.0
		if rounded {
			quantum = 0.25
		}
		margin := float64(marginByte) / 64
		x := embeddings(r, b, d)
		labels := randomLabels(r, b, c)
		dist := mat{v: euclidean(x, quantum), labels: labels, dim: d}
		sims := mat{v: dots(x, quantum), larger: true, labels: labels, dim: d}
		neg := mat{v: negated(dist.v), larger: true, labels: labels, dim: d}

		for _, tc := range fuzzTripletCases(margin) {
			for _, m := range []mat{dist, sims} {
				got := mine(t, tc.miner, m)
				require.Equal(t, sortedTriplets(tc.oracle(m)), got, "%s larger=%t", tc.name, m.larger)
				for _, tr := range got {
					a, p, n := tr[0], tr[1], tr[2]
					require.NotEqual(t, a, p, tc.name)
					require.Equal(t, labels[a], labels[p], tc.name)
					require.NotEqual(t, labels[a], labels[n], tc.name)
					if tc.check != nil {
						require.True(t, tc.check(m, a, p, n), "%s: condition fails for %v, larger=%t", tc.name, tr, m.larger)
					}
				}
			}
			require.Equal(t, mine(t, tc.miner, dist), mine(t, tc.miner, neg), "%s: distances vs negated similarities", tc.name)
		}

		// DistanceWeighted: Euclidean distances only.
		dw := mining.NewDistanceWeighted(seed)
		out := mining.NewTripletList(max(1, b*b))
		err := dw.MineTriplets(dist.batch(), out)
		if d < 2 {
			require.ErrorContains(t, err, "Batch.Dim is 1")
		} else {
			require.NoError(t, err)
			want := 0
			for a := 0; a < b; a++ {
				drawable := false
				for _, n := range dist.negatives(a) {
					drawable = drawable || dist.at(a, n) < 1.4
				}
				if drawable {
					want += len(dist.positives(a))
				}
			}
			require.Equal(t, want, out.Len())
			for k := 0; k < out.Len(); k++ {
				a, p, n := out.Anchor[k], out.Positive[k], out.Negative[k]
				require.NotEqual(t, a, p)
				require.Equal(t, labels[a], labels[p])
				require.NotEqual(t, labels[a], labels[n])
				require.Less(t, dist.at(a, n), 1.4)
			}
		}

		// Pair miners.
		for _, m := range []mat{dist, sims} {
			for _, eps := range []float64{0, 0.1, margin} {
				pos, negs := mining.NewPairList(max(1, b*b)), mining.NewPairList(max(1, b*b))
				require.NoError(t, mining.MultiSimilarity{Epsilon: eps}.MinePairs(m.batch(), pos, negs))
				wantPos, wantNeg := oracleMultiSimilarity(m, eps)
				require.Equal(t, sortedPairs(wantPos), pairsOf(pos))
				require.Equal(t, sortedPairs(wantNeg), pairsOf(negs))
				checkPairs(t, labels, pos, negs)
				pm := mining.PairMargin{PosMargin: margin / 2, NegMargin: margin}
				require.NoError(t, pm.MinePairs(m.batch(), pos, negs))
				wantPos, wantNeg = oraclePairMargin(m, pm.PosMargin, pm.NegMargin)
				require.Equal(t, sortedPairs(wantPos), pairsOf(pos))
				require.Equal(t, sortedPairs(wantNeg), pairsOf(negs))
				checkPairs(t, labels, pos, negs)
			}
		}
	})
}

func checkPairs(t *testing.T, labels []int, pos, neg *mining.PairList) {
	t.Helper()
	for k := 0; k < pos.Len(); k++ {
		require.NotEqual(t, pos.I[k], pos.J[k])
		require.Equal(t, labels[pos.I[k]], labels[pos.J[k]])
	}
	for k := 0; k < neg.Len(); k++ {
		require.NotEqual(t, labels[neg.I[k]], labels[neg.J[k]])
	}
}

// fuzzCase is a triplet miner, its oracle, and a condition every selected
// triplet must meet, written on the raw entries.
type fuzzCase struct {
	name   string
	miner  mining.TripletMiner
	oracle func(mat) []triplet
	check  func(m mat, a, p, n int) bool
}

func fuzzTripletCases(margin float64) []fuzzCase {
	// dap/dan: oriented so that smaller is closer, computed by hand
	dd := func(m mat, a, j int) float64 {
		if m.larger {
			return -m.at(a, j)
		}
		return m.at(a, j)
	}
	batchHard := func(m mat, a, p, n int) bool {
		for _, j := range m.positives(a) {
			if m.farther(m.at(a, j), m.at(a, p)) || m.at(a, j) == m.at(a, p) && j < p {
				return false
			}
		}
		for _, j := range m.negatives(a) {
			if m.farther(m.at(a, n), m.at(a, j)) || m.at(a, j) == m.at(a, n) && j < n {
				return false
			}
		}
		return true
	}
	semiHard := func(m mat, a, p, n int) bool {
		return dd(m, a, n) > dd(m, a, p) && dd(m, a, n) < dd(m, a, p)+margin
	}
	cs := []fuzzCase{
		{"BatchHard", mining.BatchHard{}, oracleBatchHard, batchHard},
		{"AllTriplets/violating", mining.AllTriplets{OnlyViolating: true, Margin: margin},
			func(m mat) []triplet { return oracleAllTriplets(m, true, margin) },
			func(m mat, a, p, n int) bool { return dd(m, a, p)-dd(m, a, n)+margin > 0 }},
		{"SemiHard/none", mining.SemiHard{Margin: margin},
			func(m mat) []triplet { return oracleSemiHard(m, margin, mining.FallbackNone) }, semiHard},
		{"SemiHard/farthest", mining.SemiHard{Margin: margin, Fallback: mining.FallbackFarthest},
			func(m mat) []triplet { return oracleSemiHard(m, margin, mining.FallbackFarthest) }, nil},
		{"SemiHard/hardest", mining.SemiHard{Margin: margin, Fallback: mining.FallbackHardest},
			func(m mat) []triplet { return oracleSemiHard(m, margin, mining.FallbackHardest) }, nil},
		{"TripletsOfType/hard", mining.TripletsOfType{Type: mining.TypeHard, Margin: margin},
			func(m mat) []triplet { return oracleOfType(m, mining.TypeHard, margin) },
			func(m mat, a, p, n int) bool { return dd(m, a, n) <= dd(m, a, p) }},
		{"TripletsOfType/semihard", mining.TripletsOfType{Type: mining.TypeSemiHard, Margin: margin},
			func(m mat) []triplet { return oracleOfType(m, mining.TypeSemiHard, margin) },
			func(m mat, a, p, n int) bool {
				return dd(m, a, n) > dd(m, a, p) && dd(m, a, n)-dd(m, a, p) <= margin
			}},
		{"TripletsOfType/easy", mining.TripletsOfType{Type: mining.TypeEasy, Margin: margin},
			func(m mat) []triplet { return oracleOfType(m, mining.TypeEasy, margin) },
			func(m mat, a, p, n int) bool { return dd(m, a, n)-dd(m, a, p) > margin }},
		{"TripletsOfType/all", mining.TripletsOfType{Type: mining.TypeAll, Margin: margin},
			func(m mat) []triplet { return oracleOfType(m, mining.TypeAll, margin) }, nil},
	}
	for _, ps := range strategies {
		for _, ns := range strategies {
			if !allowed(ps.name, ns.name) {
				continue
			}
			cs = append(cs, fuzzCase{"BatchEasyHard/" + ps.name + "-" + ns.name, mining.BatchEasyHard{Pos: ps.s, Neg: ns.s},
				func(m mat) []triplet { return convertToTriplets(pmlEasyHard(m, ps.name, ns.name, nil, nil)) }, nil})
		}
	}
	return cs
}
