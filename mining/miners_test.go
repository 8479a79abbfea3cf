package mining_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/graph/graphtest"
	"github.com/contrastive-go/contrastive/mining"
)

// tieDist is a hand-made symmetric distance matrix with deliberate ties
// (integer entries), for labels tieLabels.
var (
	tieLabels = []int{0, 0, 0, 1, 1, 2}
	tieDist   = []float64{
		0, 3, 3, 2, 2, 5,
		3, 0, 1, 4, 2, 2,
		3, 1, 0, 1, 1, 4,
		2, 4, 1, 0, 3, 3,
		2, 2, 1, 3, 0, 2,
		5, 2, 4, 3, 2, 0,
	}
)

// tenMinus returns 10 − v: similarities ordered like the distances v.
func tenMinus(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = 10 - x
	}
	return out
}

// testMatrices returns named batches: hand-made ties, random Euclidean
// distances and cosine similarities, the same rounded to create ties, and
// batches with classes large enough for SemiHard's sorted path.
func testMatrices() []struct {
	name string
	m    mat
} {
	r := rand.New(rand.NewPCG(1, 2))
	type nm = struct {
		name string
		m    mat
	}
	out := []nm{
		{"ties/distances", mat{v: tieDist, labels: tieLabels, dim: 2}},
		{"ties/similarities", mat{v: tenMinus(tieDist), larger: true, labels: tieLabels, dim: 2}},
	}
	for _, c := range []struct {
		name       string
		b, d, cls  int
		quantum    float64
		bigClasses bool
	}{
		{"random", 14, 3, 3, 0, false},
		{"rounded", 16, 2, 3, 0.25, false},
		{"bigclasses", 26, 3, 3, 0.25, true},
		{"bigclasses-exact", 26, 4, 3, 0, true},
	} {
		x := embeddings(r, c.b, c.d)
		labels := randomLabels(r, c.b, c.cls)
		if c.bigClasses { // 12, 12 and 2 samples: 11 positives per anchor
			for i := range labels {
				labels[i] = min(i/12, 2)
			}
		}
		out = append(out,
			nm{c.name + "/euclidean", mat{v: euclidean(x, c.quantum), labels: labels, dim: c.d}},
			nm{c.name + "/cosine", mat{v: dots(x, c.quantum), larger: true, labels: labels, dim: c.d}},
		)
	}
	return out
}

// tripletCase is a triplet miner with the oracle it must match.
type tripletCase struct {
	name   string
	miner  mining.TripletMiner
	oracle func(mat) []triplet
}

func tripletCases() []tripletCase {
	cs := []tripletCase{
		{"BatchHard", mining.BatchHard{}, oracleBatchHard},
		{"AllTriplets", mining.AllTriplets{}, func(m mat) []triplet { return oracleAllTriplets(m, false, 0) }},
	}
	for _, margin := range []float64{0, 0.25, 1, 2} {
		cs = append(cs, tripletCase{fmt.Sprintf("AllTriplets/violating/m=%g", margin),
			mining.AllTriplets{OnlyViolating: true, Margin: margin},
			func(m mat) []triplet { return oracleAllTriplets(m, true, margin) }})
	}
	for _, margin := range []float64{0, 0.25, 0.5, 1, 2, math.Inf(1)} {
		for _, fb := range []mining.SemiHardFallback{mining.FallbackNone, mining.FallbackFarthest, mining.FallbackHardest} {
			cs = append(cs, tripletCase{fmt.Sprintf("SemiHard/m=%g/%v", margin, fb),
				mining.SemiHard{Margin: margin, Fallback: fb},
				func(m mat) []triplet { return oracleSemiHard(m, margin, fb) }})
		}
	}
	for _, margin := range []float64{-0.25, 0, 0.25, 1, 2} {
		for _, typ := range []mining.TripletType{mining.TypeAll, mining.TypeHard, mining.TypeSemiHard, mining.TypeEasy} {
			cs = append(cs, tripletCase{fmt.Sprintf("TripletsOfType/%v/m=%g", typ, margin),
				mining.TripletsOfType{Type: typ, Margin: margin},
				func(m mat) []triplet { return oracleOfType(m, typ, margin) }})
		}
	}
	return cs
}

// mine runs a triplet miner with the capacity it asks for.
func mine(t testing.TB, miner mining.TripletMiner, m mat) []triplet {
	t.Helper()
	c, err := miner.TripletCapacity(m.n())
	require.NoError(t, err)
	out := mining.NewTripletList(c)
	require.NoError(t, miner.MineTriplets(m.batch(), out))
	for k, w := range out.Weight {
		if want := float64(min(1, max(0, out.Len()-k))); w != want { // 1 for filled slots, 0 for padding
			t.Fatalf("weight of slot %d is %v; want %v", k, w, want)
		}
	}
	return tripletsOf(out)
}

func TestTripletMinersMatchBruteForce(t *testing.T) {
	for _, tm := range testMatrices() {
		for _, tc := range tripletCases() {
			t.Run(tm.name+"/"+tc.name, func(t *testing.T) {
				require.Equal(t, sortedTriplets(tc.oracle(tm.m)), mine(t, tc.miner, tm.m))
			})
		}
	}
}

func TestPairMinersMatchBruteForce(t *testing.T) {
	type pairCase struct {
		name   string
		miner  mining.PairMiner
		oracle func(mat) ([]pair, []pair)
	}
	var cs []pairCase
	for _, eps := range []float64{0, 0.1, 0.5, 1, -0.1} {
		cs = append(cs, pairCase{fmt.Sprintf("MultiSimilarity/eps=%g", eps), mining.MultiSimilarity{Epsilon: eps},
			func(m mat) ([]pair, []pair) { return oracleMultiSimilarity(m, eps) }})
	}
	for _, mg := range [][2]float64{{0.2, 0.8}, {0, 0}, {1, 2}, {0.8, 0.2}, {2, 3}, {9, 8}} {
		cs = append(cs, pairCase{fmt.Sprintf("PairMargin/%g,%g", mg[0], mg[1]), mining.PairMargin{PosMargin: mg[0], NegMargin: mg[1]},
			func(m mat) ([]pair, []pair) { return oraclePairMargin(m, mg[0], mg[1]) }})
	}
	for _, tm := range testMatrices() {
		for _, tc := range cs {
			t.Run(tm.name+"/"+tc.name, func(t *testing.T) {
				cp, cn, err := tc.miner.PairCapacity(tm.m.n())
				require.NoError(t, err)
				pos, neg := mining.NewPairList(cp), mining.NewPairList(cn)
				require.NoError(t, tc.miner.MinePairs(tm.m.batch(), pos, neg))
				wantPos, wantNeg := tc.oracle(tm.m)
				require.Equal(t, sortedPairs(wantPos), pairsOf(pos), "positive pairs")
				require.Equal(t, sortedPairs(wantNeg), pairsOf(neg), "negative pairs")
			})
		}
	}
}

// TestTieRules pins the lowest-index tie rule on the hand-made matrix with
// golden triplets worked out by hand from tieDist (row by row: the
// candidates, their entries, the winner).
func TestTieRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		miner mining.TripletMiner
		want  []triplet
	}{
		// a=0: positives 1,2 both at 3 → 1; negatives 3,4 at 2 → 3.
		// a=1: positives 0 (3), 2 (1) → 0; negatives 4,5 at 2 → 4.
		// a=2: positives 0 (3) → 0; negatives 3,4 at 1 → 3.
		// a=3: positive 4; negatives 2 (1) → 2. a=4: positive 3; negative 2 (1).
		// a=5: no positive.
		{"BatchHard", mining.BatchHard{}, []triplet{{0, 1, 3}, {1, 0, 4}, {2, 0, 3}, {3, 4, 2}, {4, 3, 2}}},
		// windows (d_ap, d_ap+2): (1,0): 3 at 4; (1,2): 4,5 at 2 → 4;
		// (2,0): 5 at 4; (3,4): 1 at 4; the others have none.
		{"SemiHard/none", mining.SemiHard{Margin: 2}, []triplet{{1, 0, 3}, {1, 2, 4}, {2, 0, 5}, {3, 4, 1}}},
		// plus the farthest negative for (0,1), (0,2): 5 at 5; (2,1): 5 at 4;
		// (4,3): 0, 1, 5 all at 2 → 0.
		{"SemiHard/farthest", mining.SemiHard{Margin: 2, Fallback: mining.FallbackFarthest},
			[]triplet{{0, 1, 5}, {0, 2, 5}, {1, 0, 3}, {1, 2, 4}, {2, 0, 5}, {2, 1, 5}, {3, 4, 1}, {4, 3, 0}}},
		// plus the closest negative for (0,1), (0,2): 3, 4 at 2 → 3;
		// (2,1): 3, 4 at 1 → 3; (4,3): 2 at 1.
		{"SemiHard/hardest", mining.SemiHard{Margin: 2, Fallback: mining.FallbackHardest},
			[]triplet{{0, 1, 3}, {0, 2, 3}, {1, 0, 3}, {1, 2, 4}, {2, 0, 5}, {2, 1, 3}, {3, 4, 1}, {4, 3, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []mat{
				{v: tieDist, labels: tieLabels},
				{v: tenMinus(tieDist), larger: true, labels: tieLabels},
				{v: negated(tieDist), larger: true, labels: tieLabels},
			} {
				require.Equal(t, sortedTriplets(tc.want), mine(t, tc.miner, m), "larger=%t", m.larger)
			}
		})
	}
}

// TestBatchHardOrder pins the documented output order (by anchor).
func TestBatchHardOrder(t *testing.T) {
	out := mining.NewTripletList(6)
	require.NoError(t, mining.BatchHard{}.MineTriplets(mat{v: tieDist, labels: tieLabels}.batch(), out))
	require.Equal(t, []int{0, 1, 2, 3, 4, 0}, out.Anchor) // last slot is padding
}

func TestEmptySelections(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := embeddings(r, 7, 3)
	distinct := []int{0, 1, 2, 3, 4, 5, 6}
	oneClass := []int{9, 9, 9, 9, 9, 9, 9}
	dw := mining.NewDistanceWeighted(1)
	miners := []mining.TripletMiner{
		mining.BatchHard{}, mining.AllTriplets{}, mining.AllTriplets{OnlyViolating: true, Margin: 10},
		mining.SemiHard{Margin: 10, Fallback: mining.FallbackFarthest}, mining.SemiHard{Margin: 10, Fallback: mining.FallbackHardest},
		mining.TripletsOfType{Margin: 10}, mining.TripletsOfType{Type: mining.TypeEasy, Margin: -10}, dw,
	}
	for _, lc := range []struct {
		name   string
		labels []int
	}{{"all labels distinct", distinct}, {"one class", oneClass}} {
		for _, larger := range []bool{false, true} {
			m := mat{v: euclidean(x, 0), labels: lc.labels, dim: 3}
			if larger {
				m.v = dots(x, 0)
				m.larger = true
			}
			for _, miner := range miners {
				if _, isDW := miner.(mining.DistanceWeighted); isDW && larger {
					continue
				}
				t.Run(fmt.Sprintf("%s/larger=%t/%T", lc.name, larger, miner), func(t *testing.T) {
					require.Empty(t, mine(t, miner, m))
				})
			}
			t.Run(fmt.Sprintf("%s/larger=%t/pairs", lc.name, larger), func(t *testing.T) {
				pos, neg := mining.NewPairList(42), mining.NewPairList(42)
				require.NoError(t, mining.MultiSimilarity{Epsilon: 10}.MinePairs(m.batch(), pos, neg))
				require.Zero(t, pos.Len())
				require.Zero(t, neg.Len())
				// PairMargin with margins that accept every pair of the kind that exists
				pm := mining.PairMargin{PosMargin: -10, NegMargin: 10}
				if larger {
					pm = mining.PairMargin{PosMargin: 10, NegMargin: -10}
				}
				require.NoError(t, pm.MinePairs(m.batch(), pos, neg))
				if lc.labels[0] == lc.labels[1] {
					require.Equal(t, 42, pos.Len()) // 7·6 ordered pairs
					require.Zero(t, neg.Len())
				} else {
					require.Zero(t, pos.Len())
					require.Equal(t, 42, neg.Len())
				}
			})
		}
	}
}

// TestAllTriplets covers the miner that came with the package.
func TestAllTriplets(t *testing.T) {
	t.Run("count", func(t *testing.T) {
		// class 0 (3 samples): 3 anchors × 2 positives × 3 negatives = 18;
		// class 1 (2 samples): 2 × 1 × 4 = 8; class 2: none.
		require.Len(t, mine(t, mining.AllTriplets{}, mat{v: tieDist, labels: tieLabels}), 26)
	})
	t.Run("order", func(t *testing.T) {
		out := mining.NewTripletList(26)
		require.NoError(t, mining.AllTriplets{}.MineTriplets(mat{v: tieDist, labels: tieLabels}.batch(), out))
		// first anchor 0, positive 1, negatives 3, 4, 5; then positive 2
		require.Equal(t, []int{3, 4, 5, 3}, out.Negative[:4])
		require.Equal(t, []int{1, 1, 1, 2}, out.Positive[:4])
	})
	t.Run("violating is strict", func(t *testing.T) {
		// (0,1,3): d_ap − d_an + 1 = 3 − 2 + 1 = 2 > 0 kept;
		// (0,1,5): 3 − 5 + 2 = 0, not > 0, dropped at margin 2.
		got := mine(t, mining.AllTriplets{OnlyViolating: true, Margin: 2}, mat{v: tieDist, labels: tieLabels})
		require.Contains(t, got, triplet{0, 1, 3})
		require.NotContains(t, got, triplet{0, 1, 5})
	})
	t.Run("PKTriplets is exact", func(t *testing.T) {
		for _, pk := range [][2]int{{2, 2}, {3, 4}, {5, 3}} {
			p, k := pk[0], pk[1]
			labels := make([]int, p*k)
			for i := range labels {
				labels[i] = i / k
			}
			m := mat{v: make([]float64, p*k*p*k), labels: labels}
			require.Len(t, oracleAllTriplets(m, false, 0), mining.PKTriplets(p, k))
			require.Len(t, mine(t, mining.AllTriplets{Capacity: mining.PKTriplets(p, k)}, m), mining.PKTriplets(p, k))
		}
	})
	// Issue 11, defect 4: PKTriplets(1000, 100000) overflowed silently
	// (to a wrong, possibly small or negative count).
	t.Run("PKTriplets saturates", func(t *testing.T) {
		for _, tc := range []struct{ p, k, want int }{
			{10, 10, 81000}, // 10·10·9·9·10
			{1000, 100000, math.MaxInt},
			{math.MaxInt, 2, math.MaxInt},
			{3, math.MaxInt, math.MaxInt},
			{1, 5, 0},
			{5, 1, 0},
			{-1, 5, 0}, // was −1·5·4·(−2)·5 = 200
			{5, -3, 0},
		} {
			require.Equal(t, tc.want, mining.PKTriplets(tc.p, tc.k), "p=%d k=%d", tc.p, tc.k)
		}
	})
	t.Run("capacity too small", func(t *testing.T) {
		err := mining.AllTriplets{}.MineTriplets(mat{v: tieDist, labels: tieLabels}.batch(), mining.NewTripletList(25))
		require.ErrorContains(t, err, "raise AllTriplets.Capacity")
	})
}

// labelings calls f with every labeling of b samples up to renaming
// (restricted growth strings).
func labelings(b int, f func([]int)) {
	l := make([]int, b)
	var rec func(i, next int)
	rec = func(i, next int) {
		if i == b {
			f(l)
			return
		}
		for c := 0; c <= next && c < b; c++ {
			l[i] = c
			rec(i+1, max(next, c+1))
		}
	}
	rec(0, 0)
}

// TestCapacityCoversEveryLabeling checks each default capacity against the
// largest selection over all labelings of small batches, where every
// triplet (or pair) of the right kind is selected.
func TestCapacityCoversEveryLabeling(t *testing.T) {
	for b := 1; b <= 7; b++ {
		var maxAll, maxAP, maxHard, maxPair int
		labelings(b, func(l []int) {
			m := mat{v: make([]float64, b*b), labels: l}
			maxAll = max(maxAll, len(oracleAllTriplets(m, false, 0)))
			maxHard = max(maxHard, len(oracleBatchHard(m)))
			ap := 0
			for a := 0; a < b; a++ {
				if len(m.negatives(a)) > 0 {
					ap += len(m.positives(a))
				}
			}
			maxAP = max(maxAP, ap)
			pos, neg := oraclePairMargin(m, -1, 1) // every pair: all entries are 0
			maxPair = max(maxPair, len(pos), len(neg))
		})
		capOf := func(m mining.TripletMiner) int {
			c, err := m.TripletCapacity(b)
			require.NoError(t, err)
			return c
		}
		require.GreaterOrEqual(t, capOf(mining.AllTriplets{}), maxAll, "b=%d", b)
		require.GreaterOrEqual(t, capOf(mining.TripletsOfType{}), maxAll, "b=%d", b)
		require.GreaterOrEqual(t, capOf(mining.BatchHard{}), maxHard, "b=%d", b)
		if b >= 4 { // two classes of ≥ 2 give every anchor a triplet
			require.Equal(t, maxHard, capOf(mining.BatchHard{}), "b=%d: B is tight", b)
		}
		require.Equal(t, max(maxAP, 1), capOf(mining.SemiHard{}), "b=%d: (b−1)(b−2) is tight", b)
		require.Equal(t, max(maxAP, 1), capOf(mining.DistanceWeighted{}), "b=%d", b)
		for _, pm := range []mining.PairMiner{mining.MultiSimilarity{}, mining.PairMargin{}} {
			cp, cn, err := pm.PairCapacity(b)
			require.NoError(t, err)
			require.Equal(t, max(maxPair, 1), cp, "b=%d", b)
			require.Equal(t, max(maxPair, 1), cn, "b=%d", b)
		}
	}
}

func TestCapacityErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func() error
		want string
	}{
		{"AllTriplets negative b", func() error { _, err := mining.AllTriplets{}.TripletCapacity(-1); return err }, "batch size -1"},
		{"AllTriplets overflow", func() error { _, err := mining.AllTriplets{}.TripletCapacity(1 << 22); return err }, "more than"},
		{"AllTriplets past MaxSlots", func() error { _, err := mining.AllTriplets{}.TripletCapacity(1024); return err }, "set AllTriplets.Capacity"},
		{"BatchHard negative b", func() error { _, err := mining.BatchHard{}.TripletCapacity(-3); return err }, "batch size -3"},
		{"SemiHard past MaxSlots", func() error { _, err := mining.SemiHard{}.TripletCapacity(5000); return err }, "set SemiHard.Capacity"},
		{"SemiHard negative capacity", func() error { _, err := mining.SemiHard{Capacity: -1}.TripletCapacity(5); return err }, "SemiHard.Capacity is -1"},
		{"TripletsOfType past MaxSlots", func() error { _, err := mining.TripletsOfType{}.TripletCapacity(1024); return err }, "set TripletsOfType.Capacity"},
		{"TripletsOfType huge b", func() error { _, err := mining.TripletsOfType{}.TripletCapacity(1 << 40); return err }, "MaxSlots"},
		{"DistanceWeighted past MaxSlots", func() error { _, err := mining.DistanceWeighted{}.TripletCapacity(5000); return err }, "set DistanceWeighted.Capacity"},
		{"MultiSimilarity past MaxSlots", func() error { _, _, err := mining.MultiSimilarity{}.PairCapacity(5000); return err }, "MultiSimilarity needs up to"},
		{"PairMargin negative b", func() error { _, _, err := mining.PairMargin{}.PairCapacity(-2); return err }, "batch size -2"},
		// Explicit capacities past MaxCapacity (issue 11, defect 4): before,
		// Capacity: 1<<34 was taken and the miner allocated it (fatal
		// out-of-memory).
		{"AllTriplets explicit 1<<34", func() error { _, err := mining.AllTriplets{Capacity: 1 << 34}.TripletCapacity(100); return err },
			"AllTriplets.Capacity is 17179869184 slots, about 2199.0 GB at 128 bytes a slot; the limit is MaxCapacity = 67108864 slots (8.6 GB)"},
		{"SemiHard explicit past MaxCapacity", func() error {
			_, err := mining.SemiHard{Capacity: mining.MaxCapacity + 1}.TripletCapacity(100)
			return err
		}, "SemiHard.Capacity is 67108865 slots"},
		{"TripletsOfType explicit past MaxCapacity", func() error {
			_, err := mining.TripletsOfType{Capacity: mining.PKTriplets(1000, 100000)}.TripletCapacity(100)
			return err
		}, "the limit is MaxCapacity"},
		{"DistanceWeighted explicit past MaxCapacity", func() error { _, err := mining.DistanceWeighted{Capacity: 1 << 40}.TripletCapacity(100); return err }, "DistanceWeighted.Capacity is 1099511627776 slots"},
		{"AllTriplets -k 200", func() error {
			_, err := mining.AllTriplets{Capacity: mining.PKTriplets(10, 200)}.TripletCapacity(2000)
			return err
		}, "AllTriplets.Capacity is 716400000 slots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f()
			require.Error(t, err)
			require.ErrorContains(t, err, "mining: ")
			require.ErrorContains(t, err, tc.want)
		})
	}
	// explicit capacities are taken as given
	c, err := mining.TripletsOfType{Capacity: mining.PKTriplets(256, 4)}.TripletCapacity(1024)
	require.NoError(t, err)
	require.Equal(t, 3133440, c) // 256·4·3·255·4
}

func TestMinerErrors(t *testing.T) {
	good := mat{v: tieDist, labels: tieLabels, dim: 4}.batch()
	short := good
	short.Dist = tieDist[:35]
	nan := good
	nan.Dist = append([]float64(nil), tieDist...)
	nan.Dist[7] = math.NaN()
	empty := mining.Batch{}
	out := mining.NewTripletList(100)
	type tc struct {
		name  string
		miner mining.TripletMiner
		batch mining.Batch
		out   *mining.TripletList
		want  string
	}
	var cases []tc
	for _, m := range []mining.TripletMiner{mining.BatchHard{}, mining.AllTriplets{}, mining.SemiHard{Margin: 1, Fallback: mining.FallbackFarthest},
		mining.TripletsOfType{}, mining.NewDistanceWeighted(1)} {
		name := fmt.Sprintf("%T", m)
		cases = append(cases,
			tc{name + "/nil out", m, good, nil, "nil output triplets"},
			tc{name + "/short matrix", m, short, out, "35 entries"},
			tc{name + "/NaN", m, nan, out, "distance (1, 1) is NaN"},
			tc{name + "/empty", m, empty, out, "empty batch"},
			tc{name + "/too small", m, good, mining.NewTripletList(1), "slots"}, // leaves the list full
		)
	}
	sims := good
	sims.LargerIsCloser = true
	dim1 := good
	dim1.Dim = 1
	cases = append(cases,
		tc{"SemiHard/negative margin", mining.SemiHard{Margin: -1}, good, out, "SemiHard.Margin is -1"},
		tc{"SemiHard/NaN margin", mining.SemiHard{Margin: math.NaN()}, good, out, "SemiHard.Margin is NaN"},
		tc{"SemiHard/bad fallback", mining.SemiHard{Fallback: 7}, good, out, "SemiHardFallback(7)"},
		tc{"TripletsOfType/bad type", mining.TripletsOfType{Type: 9}, good, out, "TripletType(9)"},
		tc{"TripletsOfType/NaN margin", mining.TripletsOfType{Margin: math.NaN()}, good, out, "TripletsOfType.Margin is NaN"},
		tc{"DistanceWeighted/similarities", mining.NewDistanceWeighted(1), sims, out, "similarities"},
		tc{"DistanceWeighted/dim", mining.NewDistanceWeighted(1), dim1, out, "Batch.Dim is 1"},
		tc{"DistanceWeighted/nil rand", mining.DistanceWeighted{}, good, out, "Rand is nil"},
		tc{"DistanceWeighted/cutoff order", mining.DistanceWeighted{Cutoff: 1, NonzeroLossCutoff: 0.9, Rand: rand.New(rand.NewPCG(1, 1))}, good, out, "not below"},
		tc{"DistanceWeighted/cutoff above 2", mining.DistanceWeighted{NonzeroLossCutoff: 2.5, Rand: rand.New(rand.NewPCG(1, 1))}, good, out, "want in (Cutoff, 2]"},
		tc{"DistanceWeighted/negative cutoff", mining.DistanceWeighted{Cutoff: -1, Rand: rand.New(rand.NewPCG(1, 1))}, good, out, "Cutoff is -1"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.out == out {
				out.Reset()
				require.NoError(t, out.Add(0, 1, 3, 1)) // stale triplet of an earlier batch
			}
			err := c.miner.MineTriplets(c.batch, c.out)
			require.Error(t, err)
			require.ErrorContains(t, err, "mining: ")
			require.ErrorContains(t, err, c.want)
			if c.out == out {
				require.Zero(t, c.out.Len(), "a rejected batch leaves the list empty")
			}
		})
	}
	pairCases := []struct {
		name     string
		miner    mining.PairMiner
		batch    mining.Batch
		pos, neg *mining.PairList
		want     string
	}{
		{"MultiSimilarity/nil", mining.MultiSimilarityPML(), good, nil, mining.NewPairList(30), "nil output pairs"},
		{"MultiSimilarity/NaN", mining.MultiSimilarity{Epsilon: math.NaN()}, good, mining.NewPairList(30), mining.NewPairList(30), "Epsilon is NaN"},
		{"MultiSimilarity/short", mining.MultiSimilarityPML(), short, mining.NewPairList(30), mining.NewPairList(30), "35 entries"},
		{"MultiSimilarity/too small", mining.MultiSimilarity{Epsilon: 100}, good, mining.NewPairList(1), mining.NewPairList(1), "slots"},
		{"PairMargin/NaN", mining.PairMargin{NegMargin: math.NaN()}, good, mining.NewPairList(30), mining.NewPairList(30), "NegMargin is NaN"},
		{"PairMargin/NaN entry", mining.PairMarginPML(), nan, mining.NewPairList(30), mining.NewPairList(30), "NaN"},
		{"PairMargin/too small", mining.PairMargin{PosMargin: -1, NegMargin: 100}, good, mining.NewPairList(30), mining.NewPairList(3), "negative pairs"},
	}
	for _, c := range pairCases {
		t.Run(c.name, func(t *testing.T) {
			err := c.miner.MinePairs(c.batch, c.pos, c.neg)
			require.Error(t, err)
			require.ErrorContains(t, err, "mining: ")
			require.ErrorContains(t, err, c.want)
		})
	}
}

// TestSemiHardFarthestMatchesTFAddons checks the documented equivalence:
// with FallbackFarthest, the mean hinge over mined triplets divided by the
// number of positive pairs equals TensorFlow Addons' triplet_semihard_loss,
// computed here as TF does (smallest d_an > d_ap, no upper bound, else the
// largest negative).
func TestSemiHardFarthestMatchesTFAddons(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 20; trial++ {
		b := 6 + r.IntN(20)
		x := embeddings(r, b, 3)
		q := []float64{0, 0.25}[trial%2]
		m := mat{v: euclidean(x, q), labels: randomLabels(r, b, 4)}
		m.labels[0], m.labels[1] = 7, 8 // make sure there are at least two classes
		margin := []float64{0.1, 0.5, 1}[trial%3]
		tf, numPos := 0.0, 0
		for a := 0; a < b; a++ {
			for _, p := range m.positives(a) {
				numPos++
				neg := m.negatives(a)
				outside, largest := math.Inf(1), math.Inf(-1)
				for _, n := range neg {
					if d := m.at(a, n); d > m.at(a, p) {
						outside = math.Min(outside, d)
					}
					largest = math.Max(largest, m.at(a, n))
				}
				chosen := outside
				if math.IsInf(outside, 1) {
					chosen = largest
				}
				tf += math.Max(0, margin+m.at(a, p)-chosen)
			}
		}
		ours := 0.0
		got := mine(t, mining.SemiHard{Margin: margin, Fallback: mining.FallbackFarthest}, m)
		for _, tr := range got {
			ours += math.Max(0, m.at(tr[0], tr[1])-m.at(tr[0], tr[2])+margin)
		}
		require.Len(t, got, numPos, "one triplet per positive pair")
		if numPos > 0 {
			graphtest.RequireClose(t, tf/float64(numPos), ours/float64(numPos), 1e-12, 1e-12, fmt.Sprintf("trial %d", trial))
		}
	}
}
