package mining

import "github.com/contrastive-go/contrastive/graph"

// BatchHard selects one triplet per anchor: its farthest positive and its
// closest negative in the batch ("batch hard", Hermans, Beyer & Leibe 2017).
// Anchors without a positive or without a negative give no triplet.
// Distances and similarities are both handled through Batch.Dissimilarity:
// "farthest" is the largest distance or the smallest similarity.
//
// Ties: among positives (or negatives) at exactly the same value, the one
// with the lowest batch index wins.
//
// Triplets come in increasing anchor order with weight 1. The capacity is B.
type BatchHard struct {
	// Distance, when set, is the distance the miner reads (a loss computes
	// its matrix, without gradient, besides its own); nil means the loss's.
	Distance graph.Distance
}

// TripletCapacity implements TripletMiner: one slot per anchor.
func (BatchHard) TripletCapacity(b int) (int, error) {
	if err := checkBatchSize(b); err != nil {
		return 0, err
	}
	return max(b, 1), nil
}

// MineTriplets implements TripletMiner.
func (BatchHard) MineTriplets(batch Batch, out *TripletList) error {
	if err := beginTriplets(batch, out); err != nil {
		return err
	}
	b := batch.Len()
	for a := 0; a < b; a++ {
		p, n := -1, -1
		var dp, dn float64
		labels := batch.Labels
		la := labels[a]
		row, sign := orientedRow(batch, a)
		for j, l := range labels {
			if j == a {
				continue
			}
			d := sign * row[j]
			if l == la {
				if p < 0 || d > dp { // strict: the lowest index keeps a tie
					p, dp = j, d
				}
			} else if n < 0 || d < dn {
				n, dn = j, d
			}
		}
		if p < 0 || n < 0 {
			continue
		}
		if err := addTriplet("BatchHard", out, a, p, n); err != nil {
			return err
		}
	}
	return nil
}
