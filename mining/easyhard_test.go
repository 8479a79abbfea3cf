package mining_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/mining"
)

// pmlEasyHard is a line-by-line transcription of pytorch-metric-learning's
// BatchEasyHardMiner.mine on the raw matrix (the "distance" is inverted
// when m.larger): masks filled with ±Inf, torch.min/torch.max along rows
// (first extreme on ties), then the four return cases. rng is nil or the
// allowed range of a side.
func pmlEasyHard(m mat, posS, negS string, posRange, negRange *[2]float64) (a1, p, a2, n []int) {
	b := m.n()
	inverted := m.larger
	// get_all_pairs_indices
	var a1All, pAll, a2All, nAll []int
	for i := 0; i < b; i++ {
		for j := 0; j < b; j++ {
			if i != j && m.same(i, j) {
				a1All, pAll = append(a1All, i), append(pAll, j)
			}
			if !m.same(i, j) {
				a2All, nAll = append(a2All, i), append(nAll, j)
			}
		}
	}
	// _get_x_per_row(xtype, mat, anchor_idx, other_idx, val_range, semihard_thresholds)
	perRow := func(xtype string, ai, oi []int, rng *[2]float64, thr []float64) (vals []float64, idx []int, keep []bool) {
		inf := math.Inf(1)
		if xtype == "max" {
			inf = math.Inf(-1)
		}
		mask := make([]float64, b*b)
		for k := range mask {
			mask[k] = inf
		}
		for k := range ai {
			mask[ai[k]*b+oi[k]] = 1
		}
		for i := 0; i < b; i++ {
			for j := 0; j < b; j++ {
				v := m.at(i, j)
				if thr != nil && ((xtype == "min" && v <= thr[i]) || (xtype == "max" && v >= thr[i])) {
					mask[i*b+j] = inf
				}
				if rng != nil && (v > rng[1] || v < rng[0]) {
					mask[i*b+j] = inf
				}
			}
		}
		vals, idx, keep = make([]float64, b), make([]int, b), make([]bool, b)
		for i := 0; i < b; i++ {
			best, bi := 0.0, -1
			for j := 0; j < b; j++ {
				v := m.at(i, j)
				if mask[i*b+j] == inf {
					v = inf
				} else {
					keep[i] = true
				}
				if bi < 0 || (xtype == "min" && v < best) || (xtype == "max" && v > best) {
					best, bi = v, j
				}
			}
			vals[i], idx[i] = best, bi
		}
		return vals, idx, keep
	}
	mineFunc := func(strategy string) string {
		if strategy == "hard" || strategy == "semihard" {
			if inverted {
				return "min"
			}
			return "max"
		}
		if inverted {
			return "max"
		}
		return "min"
	}
	getPositives := func(thr []float64) ([]float64, []int, []bool) {
		return perRow(mineFunc(posS), a1All, pAll, posRange, thr)
	}
	getNegatives := func(thr []float64) ([]float64, []int, []bool) {
		s := "hard"
		if negS == "hard" || negS == "semihard" {
			s = "easy"
		}
		return perRow(mineFunc(s), a2All, nAll, negRange, thr)
	}
	var posD, negD []float64
	var posI, negI []int
	var posK, negK []bool
	switch {
	case posS == "semihard" && negS != "all":
		negD, negI, negK = getNegatives(nil)
		posD, posI, posK = getPositives(negD)
	case negS == "semihard" && posS != "all":
		posD, posI, posK = getPositives(nil)
		negD, negI, negK = getNegatives(posD)
	default:
		if posS != "all" {
			posD, posI, posK = getPositives(nil)
		}
		if negS != "all" {
			negD, negI, negK = getNegatives(nil)
		}
	}
	_, _ = posD, negD
	switch {
	case posS != "all" && negS != "all":
		for i := 0; i < b; i++ {
			if posK[i] && negK[i] {
				a1, p, a2, n = append(a1, i), append(p, posI[i]), append(a2, i), append(n, negI[i])
			}
		}
	case posS == "all" && negS != "all":
		a1, p = a1All, pAll
		for i := 0; i < b; i++ {
			if negK[i] {
				a2, n = append(a2, i), append(n, negI[i])
			}
		}
	case posS != "all" && negS == "all":
		for i := 0; i < b; i++ {
			if posK[i] {
				a1, p = append(a1, i), append(p, posI[i])
			}
		}
		a2, n = a2All, nAll
	default:
		a1, p, a2, n = a1All, pAll, a2All, nAll
	}
	return a1, p, a2, n
}

// convertToTriplets is PML's lmu.convert_to_triplets for a 4-tuple.
func convertToTriplets(a1, p, a2, n []int) []triplet {
	var out []triplet
	for i := range a1 {
		for j := range a2 {
			if a1[i] == a2[j] {
				out = append(out, triplet{a1[i], p[i], n[j]})
			}
		}
	}
	return out
}

var strategies = []struct {
	s    mining.Strategy
	name string
}{{mining.StrategyEasy, "easy"}, {mining.StrategySemiHard, "semihard"}, {mining.StrategyHard, "hard"}, {mining.StrategyAll, "all"}}

// allowed reports whether PML accepts the combination.
func allowed(pos, neg string) bool {
	return !(pos == "semihard" && neg == "semihard") && !(pos == "semihard" && neg == "all") && !(pos == "all" && neg == "semihard")
}

func TestBatchEasyHardMatchesPML(t *testing.T) {
	for _, tm := range testMatrices() {
		// ranges that cut some candidates: the middle of the entries
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range tm.m.v {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		mid := &[2]float64{lo + 0.2*(hi-lo), lo + 0.8*(hi-lo)}
		for _, ps := range strategies {
			for _, ns := range strategies {
				if !allowed(ps.name, ns.name) {
					continue
				}
				for _, rg := range []struct {
					name     string
					pos, neg *[2]float64
				}{{"", nil, nil}, {"/pos-range", mid, nil}, {"/neg-range", nil, mid}, {"/both-ranges", mid, mid}} {
					miner := mining.BatchEasyHard{Pos: ps.s, Neg: ns.s}
					if rg.pos != nil {
						miner.PosRange = &mining.Range{Lo: rg.pos[0], Hi: rg.pos[1]}
					}
					if rg.neg != nil {
						miner.NegRange = &mining.Range{Lo: rg.neg[0], Hi: rg.neg[1]}
					}
					t.Run(fmt.Sprintf("%s/%s-%s%s", tm.name, ps.name, ns.name, rg.name), func(t *testing.T) {
						a1, p, a2, n := pmlEasyHard(tm.m, ps.name, ns.name, rg.pos, rg.neg)
						require.Equal(t, sortedTriplets(convertToTriplets(a1, p, a2, n)), mine(t, miner, tm.m), "triplets")
						cp, cn, err := miner.PairCapacity(tm.m.n())
						require.NoError(t, err)
						pos, neg := mining.NewPairList(cp), mining.NewPairList(cn)
						require.NoError(t, miner.MinePairs(tm.m.batch(), pos, neg))
						var wantPos, wantNeg []pair
						for k := range a1 {
							wantPos = append(wantPos, pair{a1[k], p[k]})
						}
						for k := range a2 {
							wantNeg = append(wantNeg, pair{a2[k], n[k]})
						}
						require.Equal(t, sortedPairs(wantPos), pairsOf(pos), "positive pairs")
						require.Equal(t, sortedPairs(wantNeg), pairsOf(neg), "negative pairs")
					})
				}
			}
		}
	}
}

// TestBatchEasyHardByHand pins the strategies on tieDist (row 0: positives
// 1 and 2 both at 3, negatives 3 and 4 at 2, 5 at 5) with golden triplets
// read off the matrix: easy/hard positives tie at 3 (lowest index 1); the
// hard negative is 3 (2, lowest index), the easy one 5; the semi-hard
// negative after positive 1 (d = 3) is the closest negative beyond 3: 5.
func TestBatchEasyHardByHand(t *testing.T) {
	m := mat{v: tieDist, labels: tieLabels, dim: 2}
	for _, tc := range []struct {
		miner mining.BatchEasyHard
		want  triplet // anchor 0's triplet
	}{
		{mining.BatchEasyHard{Pos: mining.StrategyEasy, Neg: mining.StrategyHard}, triplet{0, 1, 3}},
		{mining.BatchEasyHard{Pos: mining.StrategyHard, Neg: mining.StrategyEasy}, triplet{0, 1, 5}},
		{mining.BatchEasyHardPML(), triplet{0, 1, 5}},
		// semi-hard positive: the farthest positive closer than the hard negative (2): none
		{mining.BatchEasyHard{Pos: mining.StrategySemiHard, Neg: mining.StrategyHard}, triplet{-1, -1, -1}},
		// … closer than the easy negative (5): 1 and 2 tie at 3, lowest index 1
		{mining.BatchEasyHard{Pos: mining.StrategySemiHard, Neg: mining.StrategyEasy}, triplet{0, 1, 5}},
	} {
		t.Run(fmt.Sprintf("%v-%v", tc.miner.Pos, tc.miner.Neg), func(t *testing.T) {
			got := triplet{-1, -1, -1}
			for _, tr := range mine(t, tc.miner, m) {
				if tr[0] == 0 {
					got = tr
				}
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestBatchEasyHardCapacityCoversEveryLabeling(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for b := 1; b <= 6; b++ {
		labelings(b, func(l []int) {
			v := make([]float64, b*b)
			for i := 0; i < b; i++ {
				for j := 0; j < i; j++ {
					v[i*b+j] = math.Round(r.Float64()*4) / 4
					v[j*b+i] = v[i*b+j]
				}
			}
			m := mat{v: v, labels: append([]int(nil), l...), dim: 2}
			for _, ps := range strategies {
				for _, ns := range strategies {
					if !allowed(ps.name, ns.name) {
						continue
					}
					miner := mining.BatchEasyHard{Pos: ps.s, Neg: ns.s}
					mine(t, miner, m) // fails when the capacity is too small
					cp, cn, err := miner.PairCapacity(b)
					require.NoError(t, err)
					require.NoError(t, miner.MinePairs(m.batch(), mining.NewPairList(cp), mining.NewPairList(cn)))
				}
			}
		})
	}
}

func TestBatchEasyHardErrors(t *testing.T) {
	good := mat{v: tieDist, labels: tieLabels, dim: 2}.batch()
	for _, tc := range []struct {
		name  string
		miner mining.BatchEasyHard
		want  string
	}{
		{"both semi-hard", mining.BatchEasyHard{Pos: mining.StrategySemiHard, Neg: mining.StrategySemiHard}, "mining: BatchEasyHard: Pos and Neg cannot both be SemiHard"},
		{"semi-hard with all", mining.BatchEasyHard{Pos: mining.StrategySemiHard, Neg: mining.StrategyAll}, "mining: BatchEasyHard: SemiHard cannot be combined with All (Pos semihard, Neg all)"},
		{"all with semi-hard", mining.BatchEasyHard{Pos: mining.StrategyAll, Neg: mining.StrategySemiHard}, "SemiHard cannot be combined with All (Pos all, Neg semihard)"},
		{"unknown strategy", mining.BatchEasyHard{Pos: 7}, "mining: BatchEasyHard.Pos is Strategy(7)"},
		{"negative strategy", mining.BatchEasyHard{Neg: -1}, "mining: BatchEasyHard.Neg is Strategy(-1)"},
		{"range NaN", mining.BatchEasyHard{PosRange: &mining.Range{Lo: math.NaN(), Hi: 1}}, "mining: BatchEasyHard.PosRange is [NaN, 1]"},
		{"range reversed", mining.BatchEasyHard{NegRange: &mining.Range{Lo: 2, Hi: 1}}, "mining: BatchEasyHard.NegRange is [2, 1]; want Lo ≤ Hi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.miner.TripletCapacity(6)
			require.ErrorContains(t, err, tc.want)
			_, _, err = tc.miner.PairCapacity(6)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, tc.miner.MineTriplets(good, mining.NewTripletList(64)), tc.want)
			require.ErrorContains(t, tc.miner.MinePairs(good, mining.NewPairList(64), mining.NewPairList(64)), tc.want)
		})
	}
}
