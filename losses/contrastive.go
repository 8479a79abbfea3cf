package losses

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// Contrastive is the pair loss of Chopra, Hadsell & LeCun (2005) and
// Hadsell, Chopra & LeCun (2006). Over the ordered pairs (i, j), i ≠ j, of a
// batch, with D the Distance:
//
//	same label:       h(D_ij − PosMargin)
//	different label:  h(NegMargin − D_ij)
//
// where h(x) = max(0, x)² when Squared is set and max(0, x) otherwise. The
// original formula, 1[y_i=y_j]·D² + 1[y_i≠y_j]·max(0, ε − D)², is NewContrastive:
// Euclidean D, PosMargin 0, NegMargin ε = 1, Squared, Mean over all pairs.
// pytorch-metric-learning's ContrastiveLoss is ContrastivePML.
//
// For a similarity (Cosine, DotProduct) the roles flip as in
// pytorch-metric-learning: positives pay h(PosMargin − s), negatives
// h(s − NegMargin).
//
// Each unordered pair appears twice, as (i, j) and (j, i); Mean and
// MeanNonZero are unaffected, Sum counts it twice. A batch without pairs of a
// kind contributes 0 for that kind, with a zero gradient. The zero
// Contrastive is NewContrastive with NegMargin 0 and unsquared hinges
// (Euclidean, Mean); set the fields you need.
type Contrastive struct {
	// Distance is the pairwise measure; nil means Euclidean{}.
	Distance graph.Distance
	// PosMargin: positive pairs closer than it cost nothing (Hadsell et al.: 0).
	PosMargin float64
	// NegMargin is ε: negative pairs farther than it cost nothing.
	NegMargin float64
	// Squared squares the hinges (Hadsell et al.); pytorch-metric-learning does not.
	Squared bool
	// Reducer over the pair terms; DefaultReducer means Mean.
	Reducer Reducer
	// Balanced reduces the positive and the negative terms separately and
	// adds the two (pytorch-metric-learning); otherwise they are one pool.
	Balanced bool
	// Miner, when set, selects the pairs (and their weights) each batch;
	// nil uses every pair.
	Miner mining.PairMiner
	// Ref, when set, adds a reference set (no gradient) to every anchor's
	// partners; it cannot be combined with a Miner.
	Ref *Ref
}

// NewContrastive returns Hadsell et al.'s contrastive loss: Euclidean distance,
// squared hinges, PosMargin 0, NegMargin 1, the mean over all pairs.
func NewContrastive() Contrastive {
	return Contrastive{Distance: graph.Euclidean{}, NegMargin: 1, Squared: true, Reducer: Mean}
}

// ContrastivePML returns pytorch-metric-learning's ContrastiveLoss defaults:
// Euclidean distance on L2-normalised embeddings, PosMargin 0, NegMargin 1,
// unsquared hinges, MeanNonZero applied to positive and negative terms
// separately, then added.
func ContrastivePML() Contrastive {
	return Contrastive{Distance: graph.Euclidean{Normalize: true}, NegMargin: 1, Reducer: MeanNonZero, Balanced: true}
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (c Contrastive) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "contrastive"
	e, emb, d, err := begin(name, emb, labels)
	if err != nil {
		return nil, err
	}
	dist := distanceOr(c.Distance, graph.Euclidean{})
	raw, pos, neg := pairs(name, e, dist, c.Miner, c.Ref, emb, labels, d)
	if e.Err() != nil {
		return end(name, e, nil)
	}
	return c.FromMined(raw, pos, neg)
}

// FromMined is the contrastive loss on pairs selected elsewhere: raw is a
// matrix of c's Distance and pos and neg the weights of the positive and
// negative pairs, of raw's shape (mining.PairOp's output, or label masks).
func (c Contrastive) FromMined(raw, pos, neg *G.Node) (*G.Node, error) {
	const name = "contrastive"
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
	if raw == nil || pos == nil || neg == nil {
		return nil, fmt.Errorf("losses: %s: nil matrix or pair weights", name)
	}
	e := graph.NewExpr(raw.Dtype())
	if red == Mean || red == Sum || red == MeanNonZero {
		return end(name, e, c.hingeSums(e, dist, red, raw, pos, neg))
	}
	m, sign := orient(e, dist, raw)                                // margins flip sign with a similarity
	pt := hinge(e, e.Sub(m, e.Const(sign*c.PosMargin)), c.Squared) // h(D − m⁺)
	nt := hinge(e, e.Sub(e.Const(sign*c.NegMargin), m), c.Squared) // h(m⁻ − D)
	if c.Balanced {
		return end(name, e, e.Add(reduce(e, red, pt, pos), reduce(e, red, nt, neg)))
	}
	// one pool: term_ij = pos_ij·pt_ij + neg_ij·nt_ij with weight pos + neg
	terms := e.Add(e.Mul(pt, pos), e.Mul(nt, neg))
	if red == Mean {
		return end(name, e, e.DivAtLeastOne(e.Sum(terms), e.Sum(e.Add(pos, neg))))
	}
	return end(name, e, reduce(e, red, terms, nil))
}

// hingeSums is FromMined for the Mean, Sum and MeanNonZero reducers (the
// last divided by graph.HingeCount), each pool's terms
// summed by one graph.HingeSum op on the raw matrix (the orientation and
// the margins folded into its scale and offset): the same value as the
// composition, without its B×B temporaries.
func (c Contrastive) hingeSums(e *graph.Expr, dist graph.Distance, red Reducer, raw, pos, neg *G.Node) *G.Node {
	sign := 1.0 // oriented m = sign·raw; margins flip sign with a similarity
	if dist.LargerIsCloser() {
		sign = -1
	}
	sum := func(w *G.Node, scale, offset float64) *G.Node {
		return e.Do(func() (*G.Node, error) { return graph.HingeSum(raw, w, scale, offset, c.Squared) })
	}
	ps := sum(pos, sign, -sign*c.PosMargin) // Σ pos·h(m − m⁺)
	ns := sum(neg, -sign, sign*c.NegMargin) // Σ neg·h(m⁻ − m)
	// MeanNonZero: each sum divided by the number of its positive terms
	if red == MeanNonZero {
		count := func(w *G.Node, scale, offset float64) *G.Node {
			return e.Do(func() (*G.Node, error) { return graph.HingeCount(raw, w, scale, offset, c.Squared) })
		}
		pc, nc := count(pos, sign, -sign*c.PosMargin), count(neg, -sign, sign*c.NegMargin)
		if c.Balanced {
			return e.Add(e.DivAtLeastOne(ps, pc), e.DivAtLeastOne(ns, nc))
		}
		return e.DivAtLeastOne(e.Add(ps, ns), e.Add(pc, nc))
	}
	switch {
	case red == Sum:
		return e.Add(ps, ns)
	case c.Balanced:
		return e.Add(e.DivAtLeastOne(ps, e.Sum(pos)), e.DivAtLeastOne(ns, e.Sum(neg)))
	}
	return e.DivAtLeastOne(e.Add(ps, ns), e.Add(e.Sum(pos), e.Sum(neg)))
}
