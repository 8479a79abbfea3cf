package mining

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/contrastive-go/contrastive/graph"
)

// Batch is what a miner sees of one batch: the pairwise matrix computed in
// the current forward pass and the labels.
type Batch struct {
	// Dist is the B×B matrix, row-major: distances, or similarities when
	// LargerIsCloser is set.
	Dist           []float64
	LargerIsCloser bool
	Labels         []int
	// Dim is the embedding dimension (distance-weighted sampling needs it).
	Dim int
	// checked: the miner ops found every entry of Dist finite while
	// copying it, so Validate need not scan it again
	checked bool
}

// Len returns the batch size B.
func (b Batch) Len() int { return len(b.Labels) }

// At returns the matrix entry (i, j).
func (b Batch) At(i, j int) float64 { return b.Dist[i*len(b.Labels)+j] }

// Closer reports whether pair (i, j) is strictly closer than pair (k, l).
func (b Batch) Closer(i, j, k, l int) bool {
	if b.LargerIsCloser {
		return b.At(i, j) > b.At(k, l)
	}
	return b.At(i, j) < b.At(k, l)
}

// Dissimilarity returns entry (i, j) oriented so that smaller is closer
// (the distance, or the negated similarity).
func (b Batch) Dissimilarity(i, j int) float64 {
	if b.LargerIsCloser {
		return -b.At(i, j)
	}
	return b.At(i, j)
}

// Validate checks the batch's shape and values.
func (b Batch) Validate() error {
	n := len(b.Labels)
	if n == 0 {
		return fmt.Errorf("mining: empty batch")
	}
	if len(b.Dist) != n*n {
		return fmt.Errorf("mining: distance matrix has %d entries; want %d×%d for %d labels", len(b.Dist), n, n, n)
	}
	if b.checked {
		return nil
	}
	for k, v := range b.Dist {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("mining: distance (%d, %d) is %v", k/n, k%n, v)
		}
	}
	return nil
}

// TripletList is a fixed-capacity list of (anchor, positive, negative) rows of
// a batch with a weight per slot; slots past Len are padding with weight 0.
type TripletList struct {
	Anchor, Positive, Negative []int
	Weight                     []float64
	n                          int
}

// NewTripletList returns an empty list with room for capacity triplets (none
// for a negative capacity).
func NewTripletList(capacity int) *TripletList {
	capacity = max(capacity, 0)
	return &TripletList{
		Anchor:   make([]int, capacity),
		Positive: make([]int, capacity),
		Negative: make([]int, capacity),
		Weight:   make([]float64, capacity),
	}
}

// Cap returns the number of slots.
func (t *TripletList) Cap() int { return len(t.Anchor) }

// Len returns the number of filled slots.
func (t *TripletList) Len() int { return t.n }

// Reset empties the list (all slots become padding).
func (t *TripletList) Reset() {
	for i := 0; i < t.n; i++ {
		t.Anchor[i], t.Positive[i], t.Negative[i], t.Weight[i] = 0, 0, 0, 0
	}
	t.n = 0
}

// Add appends a triplet with weight w, or reports that the list is full.
func (t *TripletList) Add(a, p, n int, w float64) error {
	if t.n == len(t.Anchor) {
		return fmt.Errorf("mining: more triplets than the capacity of %d slots", len(t.Anchor))
	}
	t.Anchor[t.n], t.Positive[t.n], t.Negative[t.n], t.Weight[t.n] = a, p, n, w
	t.n++
	return nil
}

// PairList is a fixed-capacity list of (i, j) pairs with a weight per slot.
type PairList struct {
	I, J   []int
	Weight []float64
	n      int
}

// NewPairList returns an empty list with room for capacity pairs (none for a
// negative capacity).
func NewPairList(capacity int) *PairList {
	capacity = max(capacity, 0)
	return &PairList{I: make([]int, capacity), J: make([]int, capacity), Weight: make([]float64, capacity)}
}

// Cap returns the number of slots.
func (p *PairList) Cap() int { return len(p.I) }

// Len returns the number of filled slots.
func (p *PairList) Len() int { return p.n }

// Reset empties the list.
func (p *PairList) Reset() {
	for k := 0; k < p.n; k++ {
		p.I[k], p.J[k], p.Weight[k] = 0, 0, 0
	}
	p.n = 0
}

// Add appends pair (i, j) with weight w, or reports that the list is full.
func (p *PairList) Add(i, j int, w float64) error {
	if p.n == len(p.I) {
		return fmt.Errorf("mining: more pairs than the capacity of %d slots", len(p.I))
	}
	p.I[p.n], p.J[p.n], p.Weight[p.n] = i, j, w
	p.n++
	return nil
}

// TripletMiner selects triplets from a batch.
type TripletMiner interface {
	// TripletCapacity returns the number of slots a batch of b samples needs.
	TripletCapacity(b int) (int, error)
	// MineTriplets resets out and fills it from the batch.
	MineTriplets(batch Batch, out *TripletList) error
}

// PairMiner selects positive pairs (same label) and negative pairs
// (different labels) from a batch.
type PairMiner interface {
	// PairCapacity returns the number of positive and negative slots a batch
	// of b samples needs.
	PairCapacity(b int) (pos, neg int, err error)
	// MinePairs resets pos and neg and fills them from the batch.
	MinePairs(batch Batch, pos, neg *PairList) error
}

// TripletFunc adapts a function to a TripletMiner with a capacity function.
type TripletFunc struct {
	Capacity func(b int) (int, error)
	Mine     func(batch Batch, out *TripletList) error
}

// TripletCapacity implements TripletMiner.
func (f TripletFunc) TripletCapacity(b int) (int, error) { return f.Capacity(b) }

// MineTriplets implements TripletMiner.
func (f TripletFunc) MineTriplets(batch Batch, out *TripletList) error { return f.Mine(batch, out) }

// MaxSlots bounds the capacity a miner may ask for by default (16M slots);
// past it a miner asks for an explicit capacity instead of allocating
// gigabytes per step.
const MaxSlots = 1 << 24

// AllTriplets selects every valid triplet (a, p, n): labels[a] == labels[p],
// a ≠ p, labels[n] ≠ labels[a] ("batch all"), in the order a, then p, then n.
// It is what the triplet loss uses without a miner.
type AllTriplets struct {
	// Capacity is the number of slots; 0 means the worst case over all
	// labelings of a batch of b (b·⌊(b−1)/2⌋·⌈(b−1)/2⌉), refused when larger
	// than MaxSlots. For P×K batches PKTriplets(p, k) is exact.
	Capacity int
	// OnlyViolating keeps only triplets with d(a,p) − d(a,n) + Margin > 0.
	OnlyViolating bool
	Margin        float64
	// Distance, when set, is the distance the miner reads (a loss computes
	// its matrix, without gradient, besides its own); nil means the loss's.
	Distance graph.Distance
}

// PKTriplets returns the number of valid triplets of a batch of p classes
// with k samples each: p·k·(k−1)·(p−1)·k; 0 when p < 2 or k < 2 (there are
// none), and math.MaxInt when the count overflows an int (which every
// capacity check refuses, see MaxCapacity).
func PKTriplets(p, k int) int {
	if p < 2 || k < 2 {
		return 0
	}
	n := 1
	for _, f := range []int{p, k, k - 1, p - 1, k} {
		hi, lo := bits.Mul64(uint64(n), uint64(f))
		if hi != 0 || lo > math.MaxInt {
			return math.MaxInt
		}
		n = int(lo)
	}
	return n
}

// TripletCapacity implements TripletMiner.
func (m AllTriplets) TripletCapacity(b int) (int, error) {
	if m.Capacity < 0 {
		return 0, fmt.Errorf("mining: AllTriplets.Capacity is %d; want ≥ 0", m.Capacity)
	}
	if m.Capacity > 0 {
		return m.Capacity, checkCapacity("AllTriplets", m.Capacity)
	}
	if err := checkBatchSize(b); err != nil {
		return 0, err
	}
	if b > 1<<20 { // the product below would overflow; the bound is far past MaxSlots anyway
		return 0, fmt.Errorf("mining: all triplets of a batch of %d need more than %d slots; set AllTriplets.Capacity (PKTriplets(p, k) for P×K batches) or use a miner", b, MaxSlots)
	}
	// Σ_a (n_a − 1)(b − n_a) ≤ b · max_n (n−1)(b−n), n integer
	h := (b - 1) / 2
	worst := b * h * (b - 1 - h)
	if worst > MaxSlots {
		return 0, fmt.Errorf("mining: all triplets of a batch of %d need up to %d slots (more than %d); set AllTriplets.Capacity (PKTriplets(p, k) for P×K batches) or use a miner", b, worst, MaxSlots)
	}
	if worst == 0 {
		worst = 1
	}
	return worst, nil
}

// MineTriplets implements TripletMiner.
func (m AllTriplets) MineTriplets(batch Batch, out *TripletList) error {
	if err := beginTriplets(batch, out); err != nil {
		return err
	}
	if m.OnlyViolating && (math.IsNaN(m.Margin) || math.IsInf(m.Margin, 0)) {
		return fmt.Errorf("mining: AllTriplets.Margin is %v; want a finite number", m.Margin)
	}
	b := batch.Len()
	for a := 0; a < b; a++ {
		for p := 0; p < b; p++ {
			if p == a || batch.Labels[p] != batch.Labels[a] {
				continue
			}
			dap := batch.Dissimilarity(a, p)
			for n := 0; n < b; n++ {
				if batch.Labels[n] == batch.Labels[a] {
					continue
				}
				if m.OnlyViolating && !(dap-batch.Dissimilarity(a, n)+m.Margin > 0) {
					continue
				}
				if err := out.Add(a, p, n, 1); err != nil {
					return fmt.Errorf("mining: batch has more valid triplets than AllTriplets' %d slots; raise AllTriplets.Capacity", out.Cap())
				}
			}
		}
	}
	return nil
}
