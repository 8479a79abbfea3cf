package losses

import (
	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// GeneralizedLifted is the generalised lifted structure loss of Hermans,
// Beyer & Leibe (2017, "In Defense of the Triplet Loss for Person
// Re-Identification", §2), per anchor rather than per positive pair, in the
// form of pytorch-metric-learning's GeneralizedLiftedStructureLoss:
//
//	L_i = max(0, log Σ_{p∈P(i)} e^{D_ip − m⁺} + log Σ_{n∈N(i)} e^{m⁻ − D_in})
//
// with D the distance (for a similarity the signs flip as in
// pytorch-metric-learning: e^{m⁺ − S_ip}, e^{S_in − m⁻}), reduced over the B
// anchors. Hermans et al. have m⁺ = 0.
//
// An empty log-sum-exp (an anchor without positives or without negatives)
// is −∞ in the formula, so the anchor contributes 0 with a zero gradient;
// with EmptyAsZero it counts 0 instead (pytorch-metric-learning), so that an
// anchor without positives still pays for its negatives.
//
// NewGeneralizedLifted takes Hermans et al.'s Euclidean distance with
// m⁺ = 0, m⁻ = 1; GeneralizedLiftedPML takes pytorch-metric-learning's
// defaults (Euclidean distance of L2-normalised embeddings, m⁺ = 0, m⁻ = 1,
// EmptyAsZero, the mean over anchors). The zero GeneralizedLifted is
// Euclidean with both margins 0.
type GeneralizedLifted struct {
	// Distance; nil means Euclidean{}.
	Distance graph.Distance
	// PosMargin m⁺ and NegMargin m⁻, in the distance's units.
	PosMargin, NegMargin float64
	// EmptyAsZero makes an empty log-sum-exp 0 rather than −∞.
	EmptyAsZero bool
	// Reducer over the anchors' values; DefaultReducer means Mean.
	Reducer Reducer
	// Miner, when set, selects the pairs each batch (as sets); nil uses
	// every pair.
	Miner mining.PairMiner
	// Ref, when set, adds a reference set (no gradient) to every anchor's
	// partners; it cannot be combined with a Miner.
	Ref *Ref
}

// NewGeneralizedLifted returns Hermans et al.'s form: Euclidean distance,
// m⁺ = 0, m⁻ = 1, the mean over anchors.
func NewGeneralizedLifted() GeneralizedLifted {
	return GeneralizedLifted{Distance: graph.Euclidean{}, NegMargin: 1}
}

// GeneralizedLiftedPML returns pytorch-metric-learning's
// GeneralizedLiftedStructureLoss defaults: Euclidean distance of
// L2-normalised embeddings, m⁺ = 0, m⁻ = 1, EmptyAsZero, the mean.
func GeneralizedLiftedPML() GeneralizedLifted {
	return GeneralizedLifted{Distance: graph.Euclidean{Normalize: true}, NegMargin: 1, EmptyAsZero: true}
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l GeneralizedLifted) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "generalized lifted structure"
	e, emb, d, err := begin(name, emb, labels)
	if err != nil {
		return nil, err
	}
	if err := checkFinite(name, "PosMargin", l.PosMargin, false); err != nil {
		return nil, err
	}
	if err := checkFinite(name, "NegMargin", l.NegMargin, false); err != nil {
		return nil, err
	}
	red, err := l.Reducer.or(Mean)
	if err != nil {
		return nil, err
	}
	dist := distanceOr(l.Distance, graph.Euclidean{})
	raw, pos, neg := pairs(name, e, dist, l.Miner, l.Ref, emb, labels, d)
	if l.Miner != nil { // mined pairs enter as sets
		pos, neg = e.Indicator(pos, 0), e.Indicator(neg, 0)
	}
	m, sign := orient(e, dist, raw)
	pl := e.MaskedLogSumExp(e.Sub(m, e.Const(sign*l.PosMargin)), pos) // log Σ_P e^{D − m⁺}; empty: 0
	nl := e.MaskedLogSumExp(e.Sub(e.Const(sign*l.NegMargin), m), neg) // log Σ_N e^{m⁻ − D}; empty: 0
	rows := e.Relu(e.Add(pl, nl))
	if !l.EmptyAsZero { // −∞ for an empty sum: the anchor drops out
		rows = e.Mul(rows, e.Mul(e.AnyInRow(pos), e.AnyInRow(neg)))
	}
	return end(name, e, reduce(e, red, rows, nil))
}
