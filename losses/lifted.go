package losses

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// LiftedForm chooses between the two forms of the lifted structured loss.
type LiftedForm int

const (
	// LiftedSmooth is the relaxation Song et al. optimise:
	// L_ij = D_ij + log(Σ_{(i,k)∈N} exp(ε − D_ik) + Σ_{(j,l)∈N} exp(ε − D_jl)).
	LiftedSmooth LiftedForm = iota
	// LiftedHard is the non-smooth definition:
	// L_ij = D_ij + max(max_{(i,k)∈N} (ε − D_ik), max_{(j,l)∈N} (ε − D_jl)).
	LiftedHard
)

// Lifted is the lifted structured loss of Song, Xiang, Jegelka & Savarese
// (2016, "Deep Metric Learning via Lifted Structured Feature Embedding"),
// in the form Weng (2021) summarises:
//
//	L = 1/(2|P|) · Σ_{(i,j)∈P} max(0, L_ij)²
//
// with D the distance (not squared), P the positive pairs and N the negative
// pairs of the batch, and L_ij of the chosen Form. L_ij is symmetric in i and
// j, so taking P as ordered pairs (both (i,j) and (j,i)), as this
// implementation does, gives the same value as unordered pairs: the sum and
// |P| both double. A positive pair where neither sample has a negative
// contributes 0; with no positive pair the loss is 0, with a zero gradient.
//
// NewLifted uses the Euclidean distance and ε = 1 (Song et al.'s margin).
// For a similarity s the matrix is negated first (D = −s) and ε keeps these
// oriented units. With a pair Miner, P and N are the mined positive and
// negative pairs: positive pairs count with the miner's weights (in the sum
// and in |P|), negative pairs as a set.
type Lifted struct {
	// Distance; nil means Euclidean{}.
	Distance graph.Distance
	// Margin ε ≥ 0.
	Margin float64
	// Form is LiftedSmooth (the zero value) or LiftedHard.
	Form LiftedForm
	// Miner selects P and N per batch; nil means all pairs.
	Miner mining.PairMiner
}

// NewLifted returns Song et al.'s smooth lifted structured loss with Euclidean
// distance and margin 1.
func NewLifted() Lifted { return Lifted{Distance: graph.Euclidean{}, Margin: 1} }

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l Lifted) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "lifted structured"
	e, emb, d, err := begin(name, emb, labels)
	if err != nil {
		return nil, err
	}
	if err := checkFinite(name, "margin", l.Margin, true); err != nil {
		return nil, err
	}
	if l.Form != LiftedSmooth && l.Form != LiftedHard {
		return nil, fmt.Errorf("losses: %s: unknown form %d", name, int(l.Form))
	}
	dist := distanceOr(l.Distance, graph.Euclidean{})
	raw, pos, neg := pairs(name, e, dist, l.Miner, nil, emb, labels, d)
	m, _ := orient(e, dist, raw)
	if l.Miner != nil {
		neg = e.Indicator(neg, 0) // mined negatives enter as a set (a label mask is one already)
	}
	// a_ik = ε − D_ik, formed a row at a time by the reductions
	has := e.AnyInRow(neg) // row i has a negative
	var pair *G.Node
	if l.Form == LiftedHard {
		pair = e.PairwiseMax(e.MaskedRowMaxOf(m, neg, -1, l.Margin), has) // max(max_k a_ik, max_l a_jl)
	} else {
		pair = e.PairwiseLogAddExp(e.MaskedLogSumExpOf(m, neg, -1, l.Margin), has) // log(Σ_k e^{a_ik} + Σ_l e^{a_jl})
	}
	w := e.PairAnyMask(pos, has)                                                              // positive pairs where i or j has a negative
	sum := e.Do(func() (*G.Node, error) { return graph.HingeSumAdd(m, pair, w, 1, 0, true) }) // Σ w·max(0, L_ij)², L_ij = D_ij + pair_ij, in one op
	return end(name, e, e.DivAtLeastOne(sum, e.Scale(e.Sum(pos), 2)))                         // 1/(2|P|) Σ
}
