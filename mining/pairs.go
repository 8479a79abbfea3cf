package mining

import "github.com/contrastive-go/contrastive/graph"

// Pair miners return ordered pairs (i, j), i ≠ j: (j, i) is mined
// separately from (i, j), as in pytorch-metric-learning, whose pair indices
// cover the whole matrix except the diagonal.

// pairSlots is the capacity of each list of a pair miner: every ordered
// pair of a batch of b, b·(b−1).
func pairSlots(name string, b int) (pos, neg int, err error) {
	if err := checkBatchSize(b); err != nil {
		return 0, 0, err
	}
	c, err := slots(name, 0, float64(b)*float64(b-1))
	return c, c, err
}

// MultiSimilarity is the mining step of the multi-similarity loss (Wang,
// Han, Huang, Dong & Scott 2019, "Multi-Similarity Loss with General Pair
// Weighting for Deep Metric Learning"), as pytorch-metric-learning's
// MultiSimilarityMiner implements it. With similarities S, row i keeps
//
//	negative pair (i, k) if S_ik + Epsilon > min_{positives j} S_ij,
//	positive pair (i, j) if S_ij − Epsilon < max_{negatives k} S_ik;
//
// with distances the comparisons flip (D_ik − Epsilon < max_j D_ij and
// D_ij + Epsilon > min_k D_ik), which is the same rule on
// Batch.Dissimilarity. A row without positives or without negatives keeps
// nothing. Pairs come in row-major order with weight 1.
type MultiSimilarity struct {
	// Epsilon is the paper's ε, in the matrix's own units. Any value but
	// NaN is accepted; the zero value means 0. The paper and PML use 0.1
	// (MultiSimilarityPML).
	Epsilon float64
	// Distance, when set, is the distance the miner reads (a loss computes
	// its matrix, without gradient, besides its own); nil means the loss's.
	Distance graph.Distance
}

// MultiSimilarityPML returns the miner with PML's default Epsilon 0.1.
func MultiSimilarityPML() MultiSimilarity { return MultiSimilarity{Epsilon: 0.1} }

// PairCapacity implements PairMiner: b·(b−1) slots each.
func (MultiSimilarity) PairCapacity(b int) (pos, neg int, err error) {
	return pairSlots("MultiSimilarity", b)
}

// MinePairs implements PairMiner.
func (m MultiSimilarity) MinePairs(batch Batch, pos, neg *PairList) error {
	if err := beginPairs(batch, pos, neg); err != nil {
		return err
	}
	if err := checkMargin("MultiSimilarity.Epsilon", m.Epsilon); err != nil {
		return err
	}
	labels := batch.Labels
	for i, li := range labels {
		row, sign := orientedRow(batch, i)
		// hardest positive (largest dissimilarity), hardest negative (smallest)
		hasPos, hasNeg := false, false
		var maxPos, minNeg float64
		for j, lj := range labels {
			if j == i {
				continue
			}
			d := sign * row[j]
			if lj == li {
				if !hasPos || d > maxPos {
					maxPos = d
				}
				hasPos = true
			} else {
				if !hasNeg || d < minNeg {
					minNeg = d
				}
				hasNeg = true
			}
		}
		if !hasPos || !hasNeg {
			continue
		}
		for j, lj := range labels {
			if j == i {
				continue
			}
			d := sign * row[j]
			var err error
			if lj == li {
				if d+m.Epsilon > minNeg {
					err = addPair("MultiSimilarity", "positive", pos, i, j)
				}
			} else if d-m.Epsilon < maxPos {
				err = addPair("MultiSimilarity", "negative", neg, i, j)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// PairMargin selects the pairs that violate fixed margins, as
// pytorch-metric-learning's PairMarginMiner: with distances, positive
// pairs with D_ij > PosMargin and negative pairs with D_ij < NegMargin;
// with similarities, positive pairs with S_ij < PosMargin and negative
// pairs with S_ij > NegMargin. The margins are absolute values in the
// matrix's own units, so similarities need their own margins. Pairs come
// in row-major order with weight 1.
type PairMargin struct {
	// PosMargin and NegMargin have no defaults: the zero value means 0.
	// PML's defaults are 0.2 and 0.8, for Euclidean distances on
	// L2-normalised embeddings (PairMarginPML).
	PosMargin, NegMargin float64
	// Distance, when set, is the distance the miner reads (a loss computes
	// its matrix, without gradient, besides its own); nil means the loss's.
	Distance graph.Distance
}

// PairMarginPML returns the miner with PML's defaults, PosMargin 0.2 and
// NegMargin 0.8 (for distances).
func PairMarginPML() PairMargin { return PairMargin{PosMargin: 0.2, NegMargin: 0.8} }

// PairCapacity implements PairMiner: b·(b−1) slots each.
func (PairMargin) PairCapacity(b int) (pos, neg int, err error) {
	return pairSlots("PairMargin", b)
}

// MinePairs implements PairMiner.
func (m PairMargin) MinePairs(batch Batch, pos, neg *PairList) error {
	if err := beginPairs(batch, pos, neg); err != nil {
		return err
	}
	if err := checkMargin("PairMargin.PosMargin", m.PosMargin); err != nil {
		return err
	}
	if err := checkMargin("PairMargin.NegMargin", m.NegMargin); err != nil {
		return err
	}
	b := batch.Len()
	for i := 0; i < b; i++ {
		for j := 0; j < b; j++ {
			if j == i {
				continue
			}
			v := batch.At(i, j)
			var err error
			if batch.Labels[j] == batch.Labels[i] {
				if batch.LargerIsCloser && v < m.PosMargin || !batch.LargerIsCloser && v > m.PosMargin {
					err = addPair("PairMargin", "positive", pos, i, j)
				}
			} else if batch.LargerIsCloser && v > m.NegMargin || !batch.LargerIsCloser && v < m.NegMargin {
				err = addPair("PairMargin", "negative", neg, i, j)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
