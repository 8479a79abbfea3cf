package mining

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
)

// PKSampler builds batches of P classes × K samples ("PK batches", Hermans,
// Beyer & Leibe 2017), the batches that batch-hard and semi-hard mining
// need: every anchor then has K−1 positives and (P−1)·K negatives.
//
// Each batch is a slice of P·K dataset indices (positions in the labels
// given to NewPKSampler); entries [i·K, (i+1)·K) are the K samples of the
// batch's i-th class, and the P classes of a batch are distinct.
//
// One epoch visits every sample at least once:
//
//   - Each class is shuffled and cut into ⌈n/K⌉ chunks of K. A last,
//     partial chunk is completed with other samples of the same class
//     drawn without replacement; a class with fewer than K samples (but at
//     least 2) is completed by drawing its own samples with replacement,
//     so its batches hold repeated indices (as pytorch-metric-learning's
//     MPerClassSampler does). Batches always keep their P×K shape.
//   - Classes with a single sample are excluded (they can never give an
//     anchor–positive pair); Excluded lists their indices.
//   - Chunks are grouped into batches greedily, P distinct classes at a
//     time, always taking the classes with the most chunks left (ties in
//     a random order). This uses every chunk in
//     max(⌈M/P⌉, max_c m_c) batches for M chunks, m_c of them from class c,
//     the fewest possible. When fewer than P classes have chunks left,
//     the batch is completed with fresh chunks of other classes (drawn at
//     random), so a dominant class oversamples the others.
//   - The order of the batches, and of the classes inside each batch, is
//     shuffled.
//
// With class sizes that are multiples of K and no dominant class, each
// sample appears exactly once per epoch. Epoch(e) depends only on the
// labels, P, K, the seed and e, so epochs can be regenerated in any order.
type PKSampler struct {
	p, k     int
	seed     uint64
	classes  [][]int // classes with ≥ 2 samples, in order of first appearance
	excluded []int
	batches  int
}

// NewPKSampler returns a sampler of batches of p classes with k samples
// each over a dataset with the given labels, reproducible from seed.
// It returns an error for empty labels, p < 1, k < 2, k larger than the
// dataset, or fewer than p classes with at least 2 samples.
func NewPKSampler(labels []int, p, k int, seed uint64) (*PKSampler, error) {
	switch {
	case len(labels) == 0:
		return nil, fmt.Errorf("mining: PKSampler: no labels")
	case p < 1:
		return nil, fmt.Errorf("mining: PKSampler: P = %d; want ≥ 1 class per batch", p)
	case k < 2:
		return nil, fmt.Errorf("mining: PKSampler: K = %d < 2: triplet losses need at least 2 samples per class", k)
	case k > len(labels):
		return nil, fmt.Errorf("mining: PKSampler: K = %d exceeds the %d samples of the dataset", k, len(labels))
	}
	at := map[int]int{}
	var all [][]int
	for i, l := range labels {
		c, ok := at[l]
		if !ok {
			c = len(all)
			at[l] = c
			all = append(all, nil)
		}
		all[c] = append(all[c], i)
	}
	s := &PKSampler{p: p, k: k, seed: seed}
	for _, idx := range all {
		if len(idx) < 2 {
			s.excluded = append(s.excluded, idx...)
			continue
		}
		s.classes = append(s.classes, idx)
	}
	if len(s.classes) < p {
		return nil, fmt.Errorf("mining: PKSampler: %d classes have at least 2 samples (of %d classes); P = %d needs at least %d", len(s.classes), len(all), p, p)
	}
	prio := make([]int, len(s.classes))
	for i := range prio {
		prio[i] = i
	}
	s.batches = len(schedule(s.chunkCounts(), p, prio))
	return s, nil
}

// BatchesPerEpoch returns the number of batches Epoch returns.
func (s *PKSampler) BatchesPerEpoch() int { return s.batches }

// Excluded returns the dataset indices left out because their class has a
// single sample (a new slice; nil when there are none).
func (s *PKSampler) Excluded() []int { return append([]int(nil), s.excluded...) }

func (s *PKSampler) chunkCounts() []int {
	counts := make([]int, len(s.classes))
	for c, idx := range s.classes {
		counts[c] = (len(idx) + s.k - 1) / s.k
	}
	return counts
}

// Epoch returns the batches of one epoch (each a slice of P·K dataset
// indices), reproducible from the seed and the epoch number.
func (s *PKSampler) Epoch(epoch int) ([][]int, error) {
	if epoch < 0 {
		return nil, fmt.Errorf("mining: PKSampler: epoch %d; want ≥ 0", epoch)
	}
	rng := rand.New(rand.NewPCG(s.seed, uint64(epoch)))
	k := s.k
	chunks := make([][][]int, len(s.classes))
	for c, idx := range s.classes {
		perm := append([]int(nil), idx...)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for lo := 0; lo < len(perm); lo += k {
			hi := min(lo+k, len(perm))
			chunk := make([]int, 0, k)
			chunk = append(chunk, perm[lo:hi]...)
			if missing := k - len(chunk); missing > 0 {
				if lo >= missing {
					// perm[:lo] are the class's other samples in random order
					chunk = append(chunk, perm[:missing]...)
				} else {
					for range missing {
						chunk = append(chunk, perm[rng.IntN(len(perm))])
					}
				}
			}
			chunks[c] = append(chunks[c], chunk)
		}
	}
	rounds := schedule(s.chunkCounts(), s.p, rng.Perm(len(s.classes)))
	batches := make([][]int, len(rounds))
	used := make([]int, len(s.classes))
	in := make([]bool, len(s.classes))
	for r, classes := range rounds {
		groups := make([][]int, 0, s.p)
		for _, c := range classes {
			groups = append(groups, chunks[c][used[c]])
			used[c]++
			in[c] = true
		}
		if len(groups) < s.p {
			for _, c := range rng.Perm(len(s.classes)) {
				if len(groups) == s.p {
					break
				}
				if !in[c] {
					groups = append(groups, freshChunk(rng, s.classes[c], k))
				}
			}
		}
		for _, c := range classes {
			in[c] = false
		}
		rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
		batch := make([]int, 0, s.p*k)
		for _, g := range groups {
			batch = append(batch, g...)
		}
		batches[r] = batch
	}
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	return batches, nil
}

// freshChunk draws k samples of a class: distinct when the class has at
// least k, else all of them plus draws with replacement.
func freshChunk(rng *rand.Rand, idx []int, k int) []int {
	perm := append([]int(nil), idx...)
	rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	if len(perm) >= k {
		return perm[:k]
	}
	for len(perm) < k {
		perm = append(perm, idx[rng.IntN(len(idx))])
	}
	return perm
}

// schedule groups chunks into rounds of at most p distinct classes, taking
// each round the classes with the most chunks left (ties by prio, lower
// first), until no chunk is left. The number of rounds depends only on the
// counts: after every round the multiset of counts left is the same
// whichever of the tied classes were taken.
func schedule(counts []int, p int, prio []int) [][]int {
	h := &classHeap{}
	for c, n := range counts {
		if n > 0 {
			*h = append(*h, classLeft{class: c, left: n, prio: prio[c]})
		}
	}
	heap.Init(h)
	var rounds [][]int
	taken := make([]classLeft, 0, p)
	for h.Len() > 0 {
		taken = taken[:0]
		for h.Len() > 0 && len(taken) < p {
			taken = append(taken, heap.Pop(h).(classLeft))
		}
		round := make([]int, len(taken))
		for i, t := range taken {
			round[i] = t.class
			if t.left--; t.left > 0 {
				heap.Push(h, t)
			}
		}
		rounds = append(rounds, round)
	}
	return rounds
}

type classLeft struct{ class, left, prio int }

// classHeap is a max-heap by chunks left, then min by prio.
type classHeap []classLeft

func (h classHeap) Len() int { return len(h) }
func (h classHeap) Less(i, j int) bool {
	if h[i].left != h[j].left {
		return h[i].left > h[j].left
	}
	return h[i].prio < h[j].prio
}
func (h classHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *classHeap) Push(x any)   { *h = append(*h, x.(classLeft)) }
func (h *classHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
