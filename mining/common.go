package mining

import (
	"fmt"
	"math"
)

// beginTriplets checks the output list and the batch and empties the list,
// so that a failed call leaves no stale triplets behind.
func beginTriplets(batch Batch, out *TripletList) error {
	if out == nil {
		return fmt.Errorf("mining: nil output triplets")
	}
	out.Reset()
	return batch.Validate()
}

// beginPairs is beginTriplets for pair miners.
func beginPairs(batch Batch, pos, neg *PairList) error {
	if pos == nil || neg == nil {
		return fmt.Errorf("mining: nil output pairs")
	}
	pos.Reset()
	neg.Reset()
	return batch.Validate()
}

// checkBatchSize rejects a negative batch size.
func checkBatchSize(b int) error {
	if b < 0 {
		return fmt.Errorf("mining: batch size %d; want ≥ 0", b)
	}
	return nil
}

// checkMargin rejects a NaN parameter (NaN compares false with everything
// and would silently select nothing, or everything).
func checkMargin(what string, v float64) error {
	if math.IsNaN(v) {
		return fmt.Errorf("mining: %s is NaN", what)
	}
	return nil
}

// slots resolves a miner's capacity: explicit when > 0, else worst (the
// worst case over all labelings of the batch), refused past MaxSlots and
// raised to 1 so that the op always has at least one (padding) slot.
// worst is computed by the caller in float64 so that huge batches cannot
// overflow.
func slots(name string, explicit int, worst float64) (int, error) {
	if explicit < 0 {
		return 0, fmt.Errorf("mining: %s.Capacity is %d; want ≥ 0", name, explicit)
	}
	if explicit > 0 {
		return explicit, checkCapacity(name, explicit)
	}
	if worst > MaxSlots {
		return 0, fmt.Errorf("mining: %s needs up to %.0f slots for this batch size (more than MaxSlots = %d); set %s.Capacity", name, worst, MaxSlots, name)
	}
	if worst < 1 {
		return 1, nil
	}
	return int(worst), nil
}

// MaxCapacity bounds an explicit Capacity (64M slots, about 8.6 GB at
// SlotBytes each): past it a miner refuses to build instead of allocating
// more than a machine holds.
const MaxCapacity = 1 << 26

// SlotBytes estimates the memory one slot costs while a graph trains: the
// miner's index and weight lists, the per-step index and weight tensors and
// the loss's gathered vectors with their gradients.
const SlotBytes = 128

// checkCapacity refuses an explicit capacity above MaxCapacity with the
// memory it would need and the limit.
func checkCapacity(name string, c int) error {
	if c > MaxCapacity {
		return fmt.Errorf("mining: %s.Capacity is %d slots, about %.1f GB at %d bytes a slot; the limit is MaxCapacity = %d slots (%.1f GB)",
			name, c, float64(c)*SlotBytes/1e9, SlotBytes, MaxCapacity, float64(MaxCapacity)*SlotBytes/1e9)
	}
	return nil
}

// worstAllTriplets bounds the number of valid triplets of a batch of b over
// all labelings: Σ_a (n_a − 1)(b − n_a) ≤ b · max_n (n − 1)(b − n).
func worstAllTriplets(b int) float64 {
	h := (b - 1) / 2
	return float64(b) * float64(h) * float64(b-1-h)
}

// worstAnchorPositive bounds the number of ordered anchor–positive pairs
// whose anchor has at least one negative: with at least two classes,
// Σ_c n_c(n_c − 1) is largest for class sizes (b − 1, 1).
func worstAnchorPositive(b int) float64 {
	if b < 2 {
		return 0
	}
	return float64(b-1) * float64(b-2)
}

// addTriplet appends to out and turns a full list into an error that names
// the miner.
func addTriplet(name string, out *TripletList, a, p, n int) error {
	if err := out.Add(a, p, n, 1); err != nil {
		return fmt.Errorf("mining: %s: the batch yields more than the %d slots of the output; raise %s.Capacity or size the output with TripletCapacity", name, out.Cap(), name)
	}
	return nil
}

// addPair appends to list and names the miner when it is full.
func addPair(name, kind string, list *PairList, i, j int) error {
	if err := list.Add(i, j, 1); err != nil {
		return fmt.Errorf("mining: %s: the batch yields more %s pairs than the %d slots of the output; size it with PairCapacity", name, kind, list.Cap())
	}
	return nil
}

// orientedRow returns row a of the matrix and the sign that orients it so
// that smaller is closer: Dissimilarity(a, j) == sign*row[j] exactly
// (multiplying by −1 only flips the sign bit).
func orientedRow(batch Batch, a int) (row []float64, sign float64) {
	b := batch.Len()
	sign = 1
	if batch.LargerIsCloser {
		sign = -1
	}
	return batch.Dist[a*b : (a+1)*b], sign
}
