package mining

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/contrastive-go/contrastive/graph"
)

// Defaults of DistanceWeighted, from the reference implementation of Wu et
// al. (2017) and pytorch-metric-learning's DistanceWeightedMiner.
const (
	DefaultDistanceWeightedCutoff            = 0.5
	DefaultDistanceWeightedNonzeroLossCutoff = 1.4
)

// DistanceWeighted samples negatives with probability inversely
// proportional to the density of distances between random points on the
// unit sphere (Wu, Manmatha, Smola & Krähenbühl 2017, "Sampling Matters in
// Deep Embedding Learning"). In n = Batch.Dim dimensions, pairwise
// distances of uniform points have density
//
//	q(d) ∝ d^(n−2) · (1 − d²/4)^((n−3)/2),
//
// and the paper samples negative n for anchor a with probability
// ∝ min(λ, 1/q(d(a,n))). As in the authors' code (and PML), the cap λ is
// applied by clipping distances below at Cutoff: 1/q is decreasing on
// (0, √2] for every n ≥ 2, so below the default NonzeroLossCutoff
// max(d, Cutoff) gives exactly min(λ, 1/q(d)) with λ = 1/q(Cutoff). Negatives at d ≥ NonzeroLossCutoff get weight 0 (their
// margin loss would be 0 anyway). Weights are computed in log space, per
// anchor relative to its largest log weight, so large Dim neither
// overflows nor underflows to an all-zero row.
//
// For every ordered anchor–positive pair (a, p), a ≠ p, one negative is
// drawn independently from the anchor's distribution, as in the authors'
// reference code, which pairs each anchor with each of its k−1 positives
// (pytorch-metric-learning instead also draws the positives at random).
// Anchors whose negatives all have weight 0 give no triplet, as in PML
// (the authors' code falls back to a uniform draw). Triplets come in order
// of a, then p, with weight 1.
//
// It assumes Euclidean (not squared) distances between L2-normalised
// embeddings, so that distances lie in [0, 2]: MineTriplets returns an
// error for similarities (LargerIsCloser) and for Dim < 2.
//
// Randomness comes from Rand, which MineTriplets advances; a miner is
// therefore not safe for concurrent use, and a fixed seed gives the same
// triplets for the same sequence of batches.
type DistanceWeighted struct {
	// Cutoff clips distances from below (the paper's cap λ); 0 means
	// DefaultDistanceWeightedCutoff (0.5). A cutoff of 0 itself is not
	// allowed: 1/q is unbounded at 0.
	Cutoff float64
	// NonzeroLossCutoff: negatives at distance ≥ NonzeroLossCutoff are
	// never drawn; 0 means DefaultDistanceWeightedNonzeroLossCutoff (1.4).
	// It must be greater than Cutoff and at most 2 (the sphere's diameter).
	NonzeroLossCutoff float64
	// Capacity is the number of slots; 0 means the worst case over all
	// labelings of a batch of b, (b−1)(b−2), refused above MaxSlots. For
	// P×K batches p·k·(k−1) is exact.
	Capacity int
	// Rand is the source of randomness; required.
	Rand *rand.Rand
	// Distance, when set, is the distance the miner reads (a loss computes
	// its matrix, without gradient, besides its own); nil means the loss's.
	Distance graph.Distance
}

// NewDistanceWeighted returns a miner with the default cutoffs and a
// PCG generator seeded with seed.
func NewDistanceWeighted(seed uint64) DistanceWeighted {
	return DistanceWeighted{
		Cutoff:            DefaultDistanceWeightedCutoff,
		NonzeroLossCutoff: DefaultDistanceWeightedNonzeroLossCutoff,
		Rand:              rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
	}
}

// TripletCapacity implements TripletMiner.
func (m DistanceWeighted) TripletCapacity(b int) (int, error) {
	if err := checkBatchSize(b); err != nil {
		return 0, err
	}
	return slots("DistanceWeighted", m.Capacity, worstAnchorPositive(b))
}

// cutoffs returns the effective cutoffs or an error naming the bad field.
func (m DistanceWeighted) cutoffs() (lo, hi float64, err error) {
	lo, hi = m.Cutoff, m.NonzeroLossCutoff
	if lo == 0 {
		lo = DefaultDistanceWeightedCutoff
	}
	if hi == 0 {
		hi = DefaultDistanceWeightedNonzeroLossCutoff
	}
	switch {
	case math.IsNaN(lo) || lo < 0:
		return 0, 0, fmt.Errorf("mining: DistanceWeighted.Cutoff is %v; want > 0", m.Cutoff)
	case math.IsNaN(hi) || hi < 0 || hi > 2:
		return 0, 0, fmt.Errorf("mining: DistanceWeighted.NonzeroLossCutoff is %v; want in (Cutoff, 2]", m.NonzeroLossCutoff)
	case lo >= hi:
		return 0, 0, fmt.Errorf("mining: DistanceWeighted.Cutoff %v is not below NonzeroLossCutoff %v", lo, hi)
	}
	return lo, hi, nil
}

// distanceWeightedLogWeight returns the unnormalised log sampling weight of a negative at
// Euclidean distance d in dim dimensions: −log q(max(d, cutoff)) =
// (2 − dim)·log c − ((dim − 3)/2)·log(1 − c²/4). It does not apply
// NonzeroLossCutoff; it needs c < 2.
func distanceWeightedLogWeight(d, cutoff float64, dim int) float64 {
	c := math.Max(d, cutoff)
	n := float64(dim)
	return (2-n)*math.Log(c) - (n-3)/2*math.Log1p(-c*c/4)
}

// MineTriplets implements TripletMiner.
func (m DistanceWeighted) MineTriplets(batch Batch, out *TripletList) error {
	if err := beginTriplets(batch, out); err != nil {
		return err
	}
	if batch.LargerIsCloser {
		return fmt.Errorf("mining: DistanceWeighted needs Euclidean distances between L2-normalised embeddings; the batch holds similarities (LargerIsCloser)")
	}
	if batch.Dim < 2 {
		return fmt.Errorf("mining: DistanceWeighted needs the embedding dimension; Batch.Dim is %d, want ≥ 2", batch.Dim)
	}
	if m.Rand == nil {
		return fmt.Errorf("mining: DistanceWeighted.Rand is nil; set it or use NewDistanceWeighted(seed)")
	}
	lo, hi, err := m.cutoffs()
	if err != nil {
		return err
	}
	b := batch.Len()
	negs := make([]int, 0, b)
	cum := make([]float64, 0, b)
	for a := 0; a < b; a++ {
		la := batch.Labels[a]
		hasPos := false
		for j := 0; j < b; j++ {
			if j != a && batch.Labels[j] == la {
				hasPos = true
				break
			}
		}
		if !hasPos {
			continue
		}
		// Log weights of the negatives that can be drawn, kept in cum.
		negs, cum = negs[:0], cum[:0]
		top := math.Inf(-1)
		for j := 0; j < b; j++ {
			if batch.Labels[j] == la {
				continue
			}
			d := batch.At(a, j)
			if !(d < hi) {
				continue
			}
			lw := distanceWeightedLogWeight(d, lo, batch.Dim)
			negs = append(negs, j)
			cum = append(cum, lw)
			top = math.Max(top, lw)
		}
		if len(negs) == 0 {
			continue
		}
		// Exponentiate relative to the largest (which becomes 1) and
		// accumulate; last is the last index with a non-zero weight.
		total, last := 0.0, 0
		for k, lw := range cum {
			w := math.Exp(lw - top)
			if w > 0 {
				last = k
			}
			total += w
			cum[k] = total
		}
		for p := 0; p < b; p++ {
			if p == a || batch.Labels[p] != la {
				continue
			}
			u := m.Rand.Float64() * total
			k := sort.Search(len(cum), func(k int) bool { return cum[k] > u })
			if k > last { // u rounded up to total
				k = last
			}
			if err := addTriplet("DistanceWeighted", out, a, p, negs[k]); err != nil {
				return err
			}
		}
	}
	return nil
}
