package losses

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// Margin is the margin loss of Wu, Manmatha, Smola & Krähenbühl (2017,
// "Sampling Matters in Deep Embedding Learning"). Over the ordered pairs
// (i, j), i ≠ j, with D the distance, α the margin and β the boundary
//
//	ℓ_ij = max(0, α + y_ij (D_ij − β)),  y_ij = +1 for a positive pair, −1 for a negative
//
// reduced over the pairs. For a similarity the signs flip as in
// pytorch-metric-learning (max(0, α + β − S) for positives, max(0, α + S − β)
// for negatives).
//
// β is learnable in the paper. BetaParam, when set, is a scalar node that
// stands for β, so that a training loop of the caller's own can optimise it
// (its gradient comes from G.Grad like any other node), with the paper's
// regulariser ν·β added to the loss. models.Trainer optimises the encoder's
// weights only, so with it β stays the fixed Beta.
//
// With TripletWeighted each pair counts as often as it appears in a triplet
// (a, p, n): a positive pair once per negative of its anchor, a negative
// pair once per positive (pytorch-metric-learning's MarginLoss, which
// converts pairs to all triplets). With MeanNonZero the divisor is the
// (weighted) number of non-zero terms. A batch without pairs (or without
// triplets) gives 0 with a zero gradient.
//
// NewMargin takes Wu et al.'s α = 0.2 and β = 1.2 on the Euclidean distance
// of L2-normalised embeddings, the mean over every pair (the paper samples
// pairs by distance instead: set Miner). MarginPML takes
// pytorch-metric-learning's MarginLoss defaults (the same α and β, fixed;
// TripletWeighted; MeanNonZero). The zero Margin is α = β = 0 on the
// Euclidean distance, the mean.
type Margin struct {
	// Distance; nil means Euclidean{}.
	Distance graph.Distance
	// Margin α ≥ 0.
	Margin float64
	// Beta β, the boundary between positives and negatives, in the
	// distance's units (used when BetaParam is nil).
	Beta float64
	// BetaParam, when set, is a scalar node of the embeddings' dtype and
	// graph that stands for β (a learnable parameter).
	BetaParam *G.Node
	// Nu ν ≥ 0 weights the regulariser ν·β, added when BetaParam is set.
	Nu float64
	// TripletWeighted weights each pair by the number of triplets it is in.
	TripletWeighted bool
	// Reducer over the pair terms; DefaultReducer means Mean.
	Reducer Reducer
	// Miner, when set, selects the pairs (and their weights) each batch;
	// nil uses every pair.
	Miner mining.PairMiner
	// Ref, when set, adds a reference set (no gradient) to every anchor's
	// partners; it cannot be combined with a Miner.
	Ref *Ref
}

// NewMargin returns Wu et al.'s margin loss: Euclidean distance of
// L2-normalised embeddings, α = 0.2, β = 1.2 (fixed), the mean over pairs.
func NewMargin() Margin {
	return Margin{Distance: graph.Euclidean{Normalize: true}, Margin: 0.2, Beta: 1.2}
}

// MarginPML returns pytorch-metric-learning's MarginLoss defaults
// (learn_beta false): Euclidean distance of L2-normalised embeddings,
// α = 0.2, β = 1.2, every triplet, divided by the number of non-zero terms.
func MarginPML() Margin {
	return Margin{Distance: graph.Euclidean{Normalize: true}, Margin: 0.2, Beta: 1.2, TripletWeighted: true, Reducer: MeanNonZero}
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l Margin) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "margin"
	e, checked, d, err := begin(name, emb, labels)
	if err != nil {
		return nil, err
	}
	if err := checkFinite(name, "margin", l.Margin, true); err != nil {
		return nil, err
	}
	if err := checkFinite(name, "beta", l.Beta, false); err != nil {
		return nil, err
	}
	if err := checkFinite(name, "nu", l.Nu, true); err != nil {
		return nil, err
	}
	if b := l.BetaParam; b != nil && (!b.IsScalar() || b.Dtype() != emb.Dtype() || b.Graph() != emb.Graph()) {
		return nil, fmt.Errorf("losses: %s: BetaParam is %v %v; want a scalar %v node of the embeddings' graph", name, b.Dtype(), b.Shape(), emb.Dtype())
	}
	red, err := l.Reducer.or(Mean)
	if err != nil {
		return nil, err
	}
	dist := distanceOr(l.Distance, graph.Euclidean{})
	raw, pos, neg := pairs(name, e, dist, l.Miner, l.Ref, checked, labels, d)
	m, sign := orient(e, dist, raw)
	sb := e.Const(sign * l.Beta) // β in oriented units
	if l.BetaParam != nil {
		sb = e.Scale(l.BetaParam, sign)
	}
	pt := e.Relu(e.Add(e.Sub(m, sb), e.Const(l.Margin))) // [α + D − β]₊
	nt := e.Relu(e.Add(e.Sub(sb, m), e.Const(l.Margin))) // [α + β − D]₊
	if l.TripletWeighted {
		posSet, negSet := e.Indicator(pos, 0), e.Indicator(neg, 0)
		pos = e.MulCol(pos, e.Sum(negSet, 1)) // once per negative of the anchor
		neg = e.MulCol(neg, e.Sum(posSet, 1)) // once per positive
	}
	total := e.Add(e.Sum(e.Mul(pt, pos)), e.Sum(e.Mul(nt, neg)))
	var loss *G.Node
	switch red {
	case Sum:
		loss = total
	case Mean:
		loss = e.DivAtLeastOne(total, e.Add(e.Sum(pos), e.Sum(neg)))
	case MeanNonZero:
		count := e.Add(e.Sum(e.Mul(e.Indicator(pt, 0), pos)), e.Sum(e.Mul(e.Indicator(nt, 0), neg)))
		loss = e.DivAtLeastOne(total, count)
	}
	if l.BetaParam != nil && l.Nu != 0 {
		loss = e.Add(loss, e.Scale(l.BetaParam, l.Nu)) // ν·β
	}
	return end(name, e, loss)
}
