package losses

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// MultiSimilarity is the multi-similarity loss of Wang, Han, Huang, Dong &
// Scott (2019, "Multi-Similarity Loss with General Pair Weighting for Deep
// Metric Learning"). For each anchor i with positives P(i) and negatives
// N(i) under a similarity S,
//
//	L_i = 1/α · log(1 + Σ_{p∈P(i)} e^{−α(S_ip − λ)}) + 1/β · log(1 + Σ_{n∈N(i)} e^{β(S_in − λ)})
//
// reduced over the B anchors (an anchor without positives or negatives
// contributes 0 for that part, with a zero gradient). With a distance D the
// signs flip as in pytorch-metric-learning: e^{α(D_ip − λ)} and
// e^{β(λ − D_in)}.
//
// NewMultiSimilarity takes the paper's α = 2, β = 50, λ = 1 on cosine
// similarity; MultiSimilarityPML takes pytorch-metric-learning's
// MultiSimilarityLoss defaults (λ = 0.5). The paper pairs the loss with its
// own miner (mining.MultiSimilarityPML); set Miner for it. The zero
// MultiSimilarity is α = 2, β = 50, λ = 0 on cosine similarity, the mean over
// anchors.
type MultiSimilarity struct {
	// Distance; nil means Cosine{}.
	Distance graph.Distance
	// Alpha α > 0 weights the positives; 0 means 2.
	Alpha float64
	// Beta β > 0 weights the negatives; 0 means 50.
	Beta float64
	// Base λ, the similarity (or distance) threshold, in the distance's units.
	Base float64
	// Reducer over the anchors' values; DefaultReducer means Mean.
	Reducer Reducer
	// Miner, when set, selects the pairs each batch (as sets); nil uses
	// every pair.
	Miner mining.PairMiner
	// Ref, when set, adds a reference set (no gradient) to every anchor's
	// partners; it cannot be combined with a Miner.
	Ref *Ref
}

// NewMultiSimilarity returns Wang et al.'s settings: cosine similarity,
// α = 2, β = 50, λ = 1, the mean over anchors.
func NewMultiSimilarity() MultiSimilarity {
	return MultiSimilarity{Distance: graph.Cosine{}, Alpha: 2, Beta: 50, Base: 1}
}

// MultiSimilarityPML returns pytorch-metric-learning's MultiSimilarityLoss
// defaults: cosine similarity, α = 2, β = 50, base 0.5, the mean over the B
// anchors.
func MultiSimilarityPML() MultiSimilarity {
	return MultiSimilarity{Distance: graph.Cosine{}, Alpha: 2, Beta: 50, Base: 0.5}
}

// positiveScale returns v, def for 0, or an error unless v is finite and > 0.
func positiveScale(name, what string, v, def float64) (float64, error) {
	if v == 0 {
		return def, nil
	}
	if err := checkFinite(name, what, v, false); err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("losses: %s: %s is %v; want a finite value > 0 (0 means %v)", name, what, v, def)
	}
	return v, nil
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l MultiSimilarity) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "multi-similarity"
	e, emb, d, err := begin(name, emb, labels)
	if err != nil {
		return nil, err
	}
	alpha, err := positiveScale(name, "alpha", l.Alpha, 2)
	if err != nil {
		return nil, err
	}
	beta, err := positiveScale(name, "beta", l.Beta, 50)
	if err != nil {
		return nil, err
	}
	if err := checkFinite(name, "base", l.Base, false); err != nil {
		return nil, err
	}
	red, err := l.Reducer.or(Mean)
	if err != nil {
		return nil, err
	}
	dist := distanceOr(l.Distance, graph.Cosine{})
	raw, pos, neg := pairs(name, e, dist, l.Miner, l.Ref, emb, labels, d)
	if l.Miner != nil { // mined pairs enter as sets
		pos, neg = e.Indicator(pos, 0), e.Indicator(neg, 0)
	}
	m, sign := orient(e, dist, raw)                                                 // smaller is closer: m = D, or −S
	lam := e.Const(sign * l.Base)                                                   // λ in oriented units
	pl := e.Scale(e.MaskedLog1pSumExp(e.Scale(e.Sub(m, lam), alpha), pos), 1/alpha) // 1/α log(1 + Σ_P e^{α(D − λ)})
	nl := e.Scale(e.MaskedLog1pSumExp(e.Scale(e.Sub(lam, m), beta), neg), 1/beta)   // 1/β log(1 + Σ_N e^{β(λ − D)})
	return end(name, e, reduce(e, red, e.Add(pl, nl), nil))
}
