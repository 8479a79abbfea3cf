package mining

import (
	"fmt"

	"github.com/contrastive-go/contrastive/graph"
)

// TripletType is a class of triplets by their margin
// m(a,p,n) = d(a,n) − d(a,p), following pytorch-metric-learning's
// TripletMarginMiner (d is Batch.Dissimilarity, so for similarities
// m = s(a,p) − s(a,n), as PML computes it for inverted distances).
type TripletType int

const (
	// TypeAll keeps triplets with m ≤ Margin: every triplet whose hinge
	// max(0, Margin − m) is active or exactly at its kink (PML "all",
	// its default).
	TypeAll TripletType = iota
	// TypeHard keeps triplets with m ≤ Margin and m ≤ 0: the negative is
	// at least as close as the positive (PML "hard").
	TypeHard
	// TypeSemiHard keeps triplets with 0 < m ≤ Margin: the negative is
	// farther than the positive but inside the margin (PML "semihard").
	TypeSemiHard
	// TypeEasy keeps triplets with m > Margin (PML "easy"): those with
	// zero hinge.
	TypeEasy
)

// String returns the constant's name.
func (t TripletType) String() string {
	switch t {
	case TypeAll:
		return "TypeAll"
	case TypeHard:
		return "TypeHard"
	case TypeSemiHard:
		return "TypeSemiHard"
	case TypeEasy:
		return "TypeEasy"
	}
	return fmt.Sprintf("TripletType(%d)", int(t))
}

// TripletsOfType selects every valid triplet (a, p, n) of the batch
// (labels[a] == labels[p], a ≠ p, labels[n] ≠ labels[a]) of the given Type,
// in the order a, then p, then n, each with weight 1. It is
// pytorch-metric-learning's TripletMarginMiner (PML's defaults: margin 0.2,
// type "all").
//
// The conditions use the margin m = d(a,n) − d(a,p) exactly as PML does:
// the boundaries are inclusive where PML's are (m ≤ Margin for all/hard/
// semihard, m ≤ 0 for hard) and exclusive elsewhere (m > 0 for semihard,
// m > Margin for easy). Note that TypeAll keeps triplets at m = Margin,
// whose hinge is 0, unlike AllTriplets{OnlyViolating: true}, which needs
// m < Margin strictly.
type TripletsOfType struct {
	Type TripletType
	// Margin is in the matrix's own units. Any value but NaN is accepted;
	// there is no default (the zero value means 0). PML's default is 0.2.
	Margin float64
	// Capacity is the number of slots; 0 means the worst case over all
	// labelings of a batch of b (as AllTriplets), refused above MaxSlots.
	// For P×K batches PKTriplets(p, k) is exact.
	Capacity int
	// Distance, when set, is the distance the miner reads (a loss computes
	// its matrix, without gradient, besides its own); nil means the loss's.
	Distance graph.Distance
}

// TripletCapacity implements TripletMiner.
func (m TripletsOfType) TripletCapacity(b int) (int, error) {
	if err := checkBatchSize(b); err != nil {
		return 0, err
	}
	return slots("TripletsOfType", m.Capacity, worstAllTriplets(b))
}

// keep reports whether a triplet of margin tm is of type t.
func (t TripletType) keep(tm, margin float64) bool {
	switch t {
	case TypeEasy:
		return tm > margin
	case TypeHard:
		return tm <= margin && tm <= 0
	case TypeSemiHard:
		return tm <= margin && tm > 0
	default:
		return tm <= margin
	}
}

// MineTriplets implements TripletMiner.
func (m TripletsOfType) MineTriplets(batch Batch, out *TripletList) error {
	if err := beginTriplets(batch, out); err != nil {
		return err
	}
	if m.Type < TypeAll || m.Type > TypeEasy {
		return fmt.Errorf("mining: TripletsOfType.Type is %v; want TypeAll, TypeHard, TypeSemiHard or TypeEasy", m.Type)
	}
	if err := checkMargin("TripletsOfType.Margin", m.Margin); err != nil {
		return err
	}
	labels := batch.Labels
	for a, la := range labels {
		row, sign := orientedRow(batch, a)
		for p, lp := range labels {
			if p == a || lp != la {
				continue
			}
			dap := sign * row[p]
			for n, ln := range labels {
				if ln == la || !m.Type.keep(sign*row[n]-dap, m.Margin) {
					continue
				}
				if err := addTriplet("TripletsOfType", out, a, p, n); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
