package mining

import (
	"fmt"
	"math"

	"github.com/contrastive-go/contrastive/graph"
)

// Strategy is how BatchEasyHard picks an anchor's positive or negative.
type Strategy int

const (
	// StrategyEasy picks the closest positive, or the farthest negative.
	StrategyEasy Strategy = iota
	// StrategySemiHard picks, for positives, the farthest positive strictly closer
	// than the anchor's chosen negative; for negatives, the closest negative
	// strictly farther than the anchor's chosen positive. Only one side may
	// be SemiHard, and not with All on the other side.
	StrategySemiHard
	// StrategyHard picks the farthest positive, or the closest negative.
	StrategyHard
	// StrategyAll keeps every positive (or negative) of the anchor.
	StrategyAll
)

// String returns the strategy's name as pytorch-metric-learning spells it.
func (s Strategy) String() string {
	switch s {
	case StrategyEasy:
		return "easy"
	case StrategySemiHard:
		return "semihard"
	case StrategyHard:
		return "hard"
	case StrategyAll:
		return "all"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// Range is a closed interval [Lo, Hi] of matrix entries, in the matrix's own
// units.
type Range struct{ Lo, Hi float64 }

// BatchEasyHard is pytorch-metric-learning's BatchEasyHardMiner (Xuan,
// Stylianou & Pless 2020, "Improved Embeddings with Easy Positive Triplet
// Mining", WACV, for easy positives): per anchor, one positive chosen by
// Pos and one negative chosen by Neg, each one of Easy, SemiHard, Hard or
// All, with "closer" read through Batch.Dissimilarity (smaller distance,
// larger similarity):
//
//	Pos Easy: closest positive       Neg Easy: farthest negative
//	Pos Hard: farthest positive      Neg Hard: closest negative
//	Pos SemiHard: farthest positive p with d(a,p) < d(a,n), n the chosen negative
//	Neg SemiHard: closest negative n with d(a,n) > d(a,p), p the chosen positive
//	All: every positive (negative) of the anchor
//
// There is no margin: the semi-hard window is bounded on one side only, as
// in PML. Both sides SemiHard, or SemiHard with All, are refused (PML raises
// the same). PosRange and NegRange, when set, first drop the candidates
// whose matrix entry lies outside the range (PML's allowed_pos_range and
// allowed_neg_range; like PML they do not apply to a side that is All).
//
// As a TripletMiner it returns what PML's TripletMarginLoss makes of the
// miner's pairs (convert_to_triplets): one triplet (a, p, n) per anchor
// with both picks; with All on one side, the anchor's pick on the other
// side combined with each of its positives (negatives); All on both sides is
// every valid triplet. As a PairMiner it returns PML's pairs: the positive
// pairs (a, p) and negative pairs (a, n) of the anchors that have both
// picks, or, on a side that is All, every pair of that side (its anchors
// need no pick on the other side), while the other side keeps every anchor
// with a pick.
//
// Ties go to the lowest batch index (torch.min and torch.max along a row
// return the first extreme on the CPU). Triplets come in order of a, then
// p, then n, with weight 1; pairs in row-major order.
//
// The zero value mines easy positives and easy negatives;
// BatchEasyHardPML returns PML's default, easy positives and semi-hard
// negatives.
type BatchEasyHard struct {
	Pos, Neg Strategy
	// PosRange and NegRange, when non-nil, keep only the candidates whose
	// matrix entry lies in the range.
	PosRange, NegRange *Range
	// Distance, when set, is the distance the miner reads (a loss computes
	// its matrix, without gradient, besides its own); nil means the loss's.
	Distance graph.Distance
}

// BatchEasyHardPML returns PML's defaults: easy positives, semi-hard
// negatives.
func BatchEasyHardPML() BatchEasyHard { return BatchEasyHard{Pos: StrategyEasy, Neg: StrategySemiHard} }

// MinerDistance implements DistanceMiner.
func (m BatchEasyHard) MinerDistance() graph.Distance { return m.Distance }

// check validates the strategies and ranges.
func (m BatchEasyHard) check() error {
	for _, s := range []struct {
		what string
		s    Strategy
	}{{"Pos", m.Pos}, {"Neg", m.Neg}} {
		if s.s < StrategyEasy || s.s > StrategyAll {
			return fmt.Errorf("mining: BatchEasyHard.%s is %v; want StrategyEasy, StrategySemiHard, StrategyHard or StrategyAll", s.what, s.s)
		}
	}
	if m.Pos == StrategySemiHard && m.Neg == StrategySemiHard {
		return fmt.Errorf("mining: BatchEasyHard: Pos and Neg cannot both be SemiHard (each side's window is set by the other's pick)")
	}
	if (m.Pos == StrategySemiHard && m.Neg == StrategyAll) || (m.Pos == StrategyAll && m.Neg == StrategySemiHard) {
		return fmt.Errorf("mining: BatchEasyHard: SemiHard cannot be combined with All (Pos %v, Neg %v)", m.Pos, m.Neg)
	}
	for _, r := range []struct {
		what string
		r    *Range
	}{{"PosRange", m.PosRange}, {"NegRange", m.NegRange}} {
		if r.r != nil && (math.IsNaN(r.r.Lo) || math.IsNaN(r.r.Hi) || r.r.Lo > r.r.Hi) {
			return fmt.Errorf("mining: BatchEasyHard.%s is [%v, %v]; want Lo ≤ Hi, neither NaN", r.what, r.r.Lo, r.r.Hi)
		}
	}
	return nil
}

// TripletCapacity implements TripletMiner: b for one pick per side;
// (b−1)(b−2) with All positives (every anchor–positive pair with a
// negative); b(b−2) with All negatives; every valid triplet with both.
func (m BatchEasyHard) TripletCapacity(b int) (int, error) {
	if err := checkBatchSize(b); err != nil {
		return 0, err
	}
	if err := m.check(); err != nil {
		return 0, err
	}
	var worst float64
	switch {
	case m.Pos == StrategyAll && m.Neg == StrategyAll:
		worst = worstAllTriplets(b)
	case m.Pos == StrategyAll:
		worst = worstAnchorPositive(b)
	case m.Neg == StrategyAll:
		worst = float64(b) * float64(max(b-2, 0))
	default:
		worst = float64(b)
	}
	return slots("BatchEasyHard", 0, worst)
}

// PairCapacity implements PairMiner: b(b−1) on a side that is All, b on the
// other.
func (m BatchEasyHard) PairCapacity(b int) (pos, neg int, err error) {
	if err := checkBatchSize(b); err != nil {
		return 0, 0, err
	}
	if err := m.check(); err != nil {
		return 0, 0, err
	}
	side := func(s Strategy) (int, error) {
		if s == StrategyAll {
			return slots("BatchEasyHard", 0, float64(b)*float64(b-1))
		}
		return max(b, 1), nil
	}
	if pos, err = side(m.Pos); err != nil {
		return 0, 0, err
	}
	neg, err = side(m.Neg)
	return pos, neg, err
}

// picks returns, per anchor, the chosen positive and negative (−1 for none,
// or for a side that is All).
func (m BatchEasyHard) picks(batch Batch) (pos, neg []int) {
	b := batch.Len()
	pos, neg = make([]int, b), make([]int, b)
	inRange := func(r *Range, v float64) bool { return r == nil || (v >= r.Lo && v <= r.Hi) }
	for a := 0; a < b; a++ {
		row, sign := orientedRow(batch, a)
		la := batch.Labels[a]
		// pick returns the candidate of the wanted side with the smallest
		// (closest) or largest (farthest) dissimilarity, among those beyond
		// bound (strictly below it when below, else strictly above).
		pick := func(same, closest bool, r *Range, bound float64, useBound, below bool) int {
			best := -1
			var bd float64
			for j, l := range batch.Labels {
				if j == a || (l == la) != same || !inRange(r, row[j]) {
					continue
				}
				d := sign * row[j]
				if useBound && (below && !(d < bound) || !below && !(d > bound)) {
					continue
				}
				if best < 0 || (closest && d < bd) || (!closest && d > bd) {
					best, bd = j, d
				}
			}
			return best
		}
		p, n := -1, -1
		plain := func(s Strategy, same bool, r *Range) int {
			if s == StrategyAll {
				return -1
			}
			// positives: Easy = closest, Hard = farthest; negatives the reverse
			closest := (s == StrategyEasy) == same
			return pick(same, closest, r, 0, false, false)
		}
		switch {
		case m.Pos == StrategySemiHard:
			n = plain(m.Neg, false, m.NegRange)
			if n >= 0 {
				p = pick(true, false, m.PosRange, sign*row[n], true, true)
			}
		case m.Neg == StrategySemiHard:
			p = plain(m.Pos, true, m.PosRange)
			if p >= 0 {
				n = pick(false, true, m.NegRange, sign*row[p], true, false)
			}
		default:
			p = plain(m.Pos, true, m.PosRange)
			n = plain(m.Neg, false, m.NegRange)
		}
		pos[a], neg[a] = p, n
	}
	return pos, neg
}

// MineTriplets implements TripletMiner.
func (m BatchEasyHard) MineTriplets(batch Batch, out *TripletList) error {
	if err := beginTriplets(batch, out); err != nil {
		return err
	}
	if err := m.check(); err != nil {
		return err
	}
	pos, neg := m.picks(batch)
	labels := batch.Labels
	for a, la := range labels {
		ps, ns := []int{pos[a]}, []int{neg[a]}
		if m.Pos == StrategyAll {
			ps = others(labels, a, true)
		}
		if m.Neg == StrategyAll {
			ns = others(labels, a, false)
		}
		for _, p := range ps {
			for _, n := range ns {
				if p < 0 || n < 0 || labels[p] != la || labels[n] == la {
					continue
				}
				if err := addTriplet("BatchEasyHard", out, a, p, n); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// MinePairs implements PairMiner.
func (m BatchEasyHard) MinePairs(batch Batch, posOut, negOut *PairList) error {
	if err := beginPairs(batch, posOut, negOut); err != nil {
		return err
	}
	if err := m.check(); err != nil {
		return err
	}
	pos, neg := m.picks(batch)
	labels := batch.Labels
	for a := range labels {
		// a side that is All needs no pick on the other side
		both := (m.Pos == StrategyAll || pos[a] >= 0) && (m.Neg == StrategyAll || neg[a] >= 0)
		keepPos := m.Pos == StrategyAll || (pos[a] >= 0 && (m.Neg == StrategyAll || both))
		keepNeg := m.Neg == StrategyAll || (neg[a] >= 0 && (m.Pos == StrategyAll || both))
		for _, side := range []struct {
			keep bool
			all  bool
			pick int
			same bool
			list *PairList
			kind string
		}{{keepPos, m.Pos == StrategyAll, pos[a], true, posOut, "positive"}, {keepNeg, m.Neg == StrategyAll, neg[a], false, negOut, "negative"}} {
			if !side.keep {
				continue
			}
			js := []int{side.pick}
			if side.all {
				js = others(labels, a, side.same)
			}
			for _, j := range js {
				if err := addPair("BatchEasyHard", side.kind, side.list, a, j); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// others returns the rows j ≠ a with a's label (same) or another label.
func others(labels []int, a int, same bool) []int {
	var out []int
	for j, l := range labels {
		if j != a && (l == labels[a]) == same {
			out = append(out, j)
		}
	}
	return out
}
