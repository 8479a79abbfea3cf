package losses

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// Circle is the circle loss of Sun, Cheng, Zhang, Zhang, Zheng, Wang & Wei
// (2020, "Circle Loss: A Unified Perspective of Pair Similarity
// Optimization"), in its pair-wise (labelled batch) form. For each anchor i
// with positive similarities s_p and negative similarities s_n,
//
//	L_i = log(1 + Σ_{n} e^{γ α_n (s_n − Δ_n)} · Σ_{p} e^{−γ α_p (s_p − Δ_p)})
//	    = softplus(LSE_p(−γ α_p (s_p − Δ_p)) + LSE_n(γ α_n (s_n − Δ_n)))
//
// with α_p = max(0, 1 + m − s_p) and α_n = max(0, s_n + m) treated as
// constants (no gradient flows through them, as in pytorch-metric-learning's
// CircleLoss, which detaches them), Δ_p = 1 − m and Δ_n = m. An
// anchor without a positive or without a negative contributes 0, with a zero
// gradient. The loss needs a similarity (Cosine, DotProduct); a distance is
// refused.
//
// NewCircle takes the paper's setting for fine-grained image retrieval with
// pair-wise labels, m = 0.4, γ = 80, the mean over anchors; CirclePML takes
// pytorch-metric-learning's CircleLoss defaults (the same m and γ,
// MeanNonZero over anchors). The zero Circle is m = 0, γ = 80, the mean.
type Circle struct {
	// Distance, a similarity; nil means Cosine{}.
	Distance graph.Distance
	// Margin m, the relaxation.
	Margin float64
	// Gamma γ > 0, the scale; 0 means 80.
	Gamma float64
	// Reducer over the anchors' values; DefaultReducer means Mean.
	Reducer Reducer
	// Miner, when set, selects the pairs each batch (as sets); nil uses
	// every pair.
	Miner mining.PairMiner
	// Ref, when set, adds a reference set (no gradient) to every anchor's
	// partners; it cannot be combined with a Miner.
	Ref *Ref
}

// NewCircle returns circle loss with cosine similarity, m = 0.4, γ = 80
// (Sun et al., fine-grained retrieval), the mean over anchors.
func NewCircle() Circle { return Circle{Distance: graph.Cosine{}, Margin: 0.4, Gamma: 80} }

// CirclePML returns pytorch-metric-learning's CircleLoss defaults: cosine
// similarity, m = 0.4, γ = 80, MeanNonZero over anchors.
func CirclePML() Circle {
	return Circle{Distance: graph.Cosine{}, Margin: 0.4, Gamma: 80, Reducer: MeanNonZero}
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l Circle) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "circle"
	e, emb, d, err := begin(name, emb, labels)
	if err != nil {
		return nil, err
	}
	gamma, err := positiveScale(name, "gamma", l.Gamma, 80)
	if err != nil {
		return nil, err
	}
	if err := checkFinite(name, "margin", l.Margin, false); err != nil {
		return nil, err
	}
	red, err := l.Reducer.or(Mean)
	if err != nil {
		return nil, err
	}
	dist := distanceOr(l.Distance, graph.Cosine{})
	if !dist.LargerIsCloser() {
		return nil, fmt.Errorf("losses: %s: distance %T is not a similarity; circle loss needs one (Cosine, DotProduct)", name, dist)
	}
	s, pos, neg := pairs(name, e, dist, l.Miner, l.Ref, emb, labels, d)
	if l.Miner != nil { // mined pairs enter as sets
		pos, neg = e.Indicator(pos, 0), e.Indicator(neg, 0)
	}
	m := l.Margin
	sc := e.StopGradient(s)
	ap := e.Relu(e.Sub(e.Const(1+m), sc))                    // α_p = [1 + m − s]₊, no gradient
	an := e.Relu(e.Add(sc, e.Const(m)))                      // α_n = [s + m]₊, no gradient
	lp := e.Scale(e.Mul(ap, e.Sub(s, e.Const(1-m))), -gamma) // −γ α_p (s − Δ_p)
	ln := e.Scale(e.Mul(an, e.Sub(s, e.Const(m))), gamma)    // γ α_n (s − Δ_n)
	both := e.Mul(e.AnyInRow(pos), e.AnyInRow(neg))          // anchors with a positive and a negative
	rows := e.Softplus(e.Add(e.MaskedLogSumExp(lp, pos), e.MaskedLogSumExp(ln, neg)))
	return end(name, e, reduce(e, red, e.Mul(rows, both), nil))
}
