package losses

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
)

// The losses of a batch against a reference set (a memory) without the
// B×(B+R) matrices of the general composition: graph.RefContrastive and
// graph.RefNTXent read the batch's B×B matrix and the B×R matrix against
// the reference set with the labels, and differentiate with respect to
// the batch side only. LossRef takes them when they apply (no Miner; for
// NT-Xent a Mean or Sum reducer) and the composition otherwise; both give
// the same value and gradient (TestRefFastMatchesComposition).

// refMatrices returns the loss's matrices of the batch against itself and
// against ref (no gradient into it), or fails e with ref's error.
func refMatrices(e *graph.Expr, dist graph.Distance, ref *Ref, emb *G.Node) (a, r *G.Node) {
	if err := ref.check(emb); err != nil {
		e.Fail(err)
		return nil, nil
	}
	y := ref.Embeddings
	if !graph.NoGradient(y) {
		y = e.StopGradient(y)
	}
	return e.Matrix(dist, emb, emb), e.Matrix(dist, emb, y)
}

// refFast is the contrastive loss against c.Ref (no Miner) in one
// graph.RefContrastive op.
func (c Contrastive) refFast(emb, labels *G.Node) (*G.Node, error) {
	const name = "contrastive"
	e, emb, _, err := begin(name, emb, labels)
	if err != nil {
		return nil, err
	}
	if err := checkFinite(name, "PosMargin", c.PosMargin, false); err != nil {
		return nil, err
	}
	if err := checkFinite(name, "NegMargin", c.NegMargin, false); err != nil {
		return nil, err
	}
	dist := distanceOr(c.Distance, graph.Euclidean{})
	if !dist.LargerIsCloser() && (c.PosMargin < 0 || c.NegMargin < 0) {
		return nil, fmt.Errorf("losses: %s: margins must be ≥ 0 for a distance; got PosMargin %v, NegMargin %v", name, c.PosMargin, c.NegMargin)
	}
	red, err := c.Reducer.or(Mean)
	if err != nil {
		return nil, err
	}
	a, r := refMatrices(e, dist, c.Ref, emb)
	if e.Err() != nil {
		return end(name, e, nil)
	}
	sign := 1.0 // oriented m = sign·raw; margins flip sign with a similarity
	if dist.LargerIsCloser() {
		sign = -1
	}
	h := graph.RefHinges{
		PosScale: sign, PosOffset: -sign * c.PosMargin, // h(m − m⁺)
		NegScale: -sign, NegOffset: sign * c.NegMargin, // h(m⁻ − m)
		Squared: c.Squared, Balanced: c.Balanced,
	}
	switch red {
	case Sum:
		h.Reduction = graph.RefSum
	case Mean:
		h.Reduction = graph.RefMean
	default:
		h.Reduction = graph.RefMeanNonZero
	}
	return end(name, e, e.Do(func() (*G.Node, error) { return graph.RefContrastive(a, r, labels, c.Ref.Labels, h) }))
}

// refFast is NT-Xent against l.Ref (no Miner, Mean or Sum) in one
// graph.RefNTXent op; ok is false when it does not apply.
func (l NTXent) refFast(emb, labels *G.Node) (n *G.Node, ok bool, err error) {
	const name = "nt-xent"
	red, err := l.Reducer.or(Mean)
	if err != nil || red == MeanNonZero {
		return nil, false, nil // the composition reports or handles it
	}
	e, emb, _, err := begin(name, emb, labels)
	if err != nil {
		return nil, true, err
	}
	tau := l.Temperature
	if tau == 0 {
		tau = 0.07
	}
	if !(tau > 0) || math.IsInf(tau, 0) {
		return nil, true, fmt.Errorf("losses: %s: temperature is %v; want a finite value > 0 (0 means %v)", name, tau, 0.07)
	}
	dist := distanceOr(l.Distance, graph.Cosine{})
	a, r := refMatrices(e, dist, l.Ref, emb)
	if e.Err() != nil {
		n, err = end(name, e, nil)
		return n, true, err
	}
	sign := 1.0 // z = −d/τ, or s/τ for a similarity
	if dist.LargerIsCloser() {
		sign = -1
	}
	n, err = end(name, e, e.Do(func() (*G.Node, error) {
		return graph.RefNTXent(a, r, labels, l.Ref.Labels, -sign/tau, red == Mean)
	}))
	return n, true, err
}
