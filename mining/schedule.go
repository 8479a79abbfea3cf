package mining

import (
	"fmt"
	"math"
	"sync/atomic"
)

// Warmup is a miner schedule: it mines with Early for the first Steps
// batches it sees and with Late from then on. A batch-all or semi-hard
// warm-up before batch-hard mining keeps the first steps from collapsing
// every embedding onto one point, which the hardest triplets alone cannot
// undo (Hermans, Beyer & Leibe 2017, "In Defense of the Triplet Loss", §3
// and appendix; Xuan, Stylianou, Liu & Pless 2020, "Hard negative examples
// are hard, but useful", §3).
//
// A training step mines once, so Steps counts training steps; every call to
// MineTriplets counts, so a Warmup should not be shared between two
// trainers. Its capacity is the larger of the two miners' and slots past
// the mined triplets are padding (weight 0), so one fixed-shape graph serves
// both phases. Build it with NewWarmup: the copies of a Warmup share its
// step count.
type Warmup struct {
	Early, Late TripletMiner
	Steps       int
	seen        *atomic.Int64
}

// NewWarmup returns a schedule that mines with early for steps batches,
// then with late.
func NewWarmup(early, late TripletMiner, steps int) (Warmup, error) {
	if early == nil || late == nil {
		return Warmup{}, fmt.Errorf("mining: Warmup needs two miners")
	}
	if steps < 0 {
		return Warmup{}, fmt.Errorf("mining: Warmup steps is %d; want ≥ 0", steps)
	}
	if err := sameDistance(early, late); err != nil {
		return Warmup{}, err
	}
	return Warmup{Early: early, Late: late, Steps: steps, seen: new(atomic.Int64)}, nil
}

// Seen returns the number of batches mined so far.
func (w Warmup) Seen() int {
	if w.seen == nil {
		return 0
	}
	return int(w.seen.Load())
}

// TripletCapacity implements TripletMiner: the larger of the two
// capacities.
func (w Warmup) TripletCapacity(b int) (int, error) {
	if w.Early == nil || w.Late == nil || w.seen == nil {
		return 0, fmt.Errorf("mining: Warmup not built by NewWarmup")
	}
	e, err := w.Early.TripletCapacity(b)
	if err != nil {
		return 0, err
	}
	l, err := w.Late.TripletCapacity(b)
	if err != nil {
		return 0, err
	}
	return max(e, l), nil
}

// MineTriplets implements TripletMiner.
func (w Warmup) MineTriplets(batch Batch, out *TripletList) error {
	if w.Early == nil || w.Late == nil || w.seen == nil {
		return fmt.Errorf("mining: Warmup not built by NewWarmup")
	}
	if int(w.seen.Add(1)) <= w.Steps {
		return w.Early.MineTriplets(batch, out)
	}
	return w.Late.MineTriplets(batch, out)
}

// DefaultWarmupSteps is the length of the warm-up of BatchHardWithWarmup:
// measured on MNIST (README, "Training that does not collapse"), batch-hard
// mining from a random start collapsed for the first ~800 steps, while 500
// steps of batch-all mining kept the batch spread near 0.9 from the start.
const DefaultWarmupSteps = 500

// BatchHardWithWarmup is the recipe that does not collapse: batch-all
// mining (every triplet of a P×K batch that violates margin, AllTriplets
// with OnlyViolating) for steps training steps, then batch-hard (Hermans,
// Beyer & Leibe 2017). p and k size the warm-up's capacity
// (PKTriplets(p, k)).
//
// The warm-up is not always enough: on pixel-permuted MNIST with a ConvNet,
// batch-hard collapsed again a few hundred steps after the switch, while
// SemiHard mining never collapsed on the datasets measured (README,
// "Training that does not collapse"); the command's default is SemiHard.
func BatchHardWithWarmup(p, k, steps int, margin float64) (Warmup, error) {
	if p < 2 || k < 2 {
		return Warmup{}, fmt.Errorf("mining: P×K batch of %d×%d; want P, K ≥ 2", p, k)
	}
	if !(margin >= 0) || math.IsInf(margin, 0) {
		return Warmup{}, fmt.Errorf("mining: warm-up margin is %v; want a finite value ≥ 0", margin)
	}
	return NewWarmup(AllTriplets{OnlyViolating: true, Margin: margin, Capacity: PKTriplets(p, k)}, BatchHard{}, steps)
}
