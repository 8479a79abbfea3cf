package losses

import (
	"fmt"
	"math"

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
// seed's formula, 1[y_i=y_j]·D² + 1[y_i≠y_j]·max(0, ε − D)², is NewContrastive:
// Euclidean D, PosMargin 0, NegMargin ε = 1, Squared, Mean over all pairs.
// pytorch-metric-learning's ContrastiveLoss is ContrastivePML.
//
// For a similarity (Cosine, DotProduct) the roles flip as in
// pytorch-metric-learning: positives pay h(PosMargin − s), negatives
// h(s − NegMargin).
//
// Each unordered pair appears twice, as (i, j) and (j, i); Mean and
// MeanNonZero are unaffected, Sum counts it twice. A batch without pairs of a
// kind contributes 0 for that kind, with a zero gradient.
type Contrastive struct {
	// Distance is the pairwise measure; nil means Euclidean{}.
	Distance graph.Distance
	// PosMargin: positive pairs closer than it cost nothing (seed: 0).
	PosMargin float64
	// NegMargin is ε: negative pairs farther than it cost nothing.
	NegMargin float64
	// Squared squares the hinges (seed, Hadsell et al.); pytorch-metric-learning does not.
	Squared bool
	// Reducer over the pair terms; DefaultReducer means Mean.
	Reducer Reducer
	// Balanced reduces the positive and the negative terms separately and
	// adds the two (pytorch-metric-learning); otherwise they are one pool.
	Balanced bool
	// Miner, when set, selects the pairs (and their weights) each batch;
	// nil uses every pair.
	Miner mining.PairMiner
}

// NewContrastive returns the seed's contrastive loss: Euclidean distance,
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
	_, d, dt, err := batch(name, emb, labels)
	if err != nil {
		return nil, err
	}
	for _, m := range []struct {
		what string
		v    float64
	}{{"PosMargin", c.PosMargin}, {"NegMargin", c.NegMargin}} {
		if math.IsNaN(m.v) || math.IsInf(m.v, 0) {
			return nil, fmt.Errorf("losses: %s: %s is %v; want a finite value", name, m.what, m.v)
		}
	}
	if emb, err = finite(name, "embeddings", emb); err != nil {
		return nil, err
	}
	dist := c.Distance
	if dist == nil {
		dist = graph.Euclidean{}
	}
	if !dist.LargerIsCloser() && (c.PosMargin < 0 || c.NegMargin < 0) {
		return nil, fmt.Errorf("losses: %s: margins must be ≥ 0 for a distance; got PosMargin %v, NegMargin %v", name, c.PosMargin, c.NegMargin)
	}
	red, err := c.Reducer.or(Mean)
	if err != nil {
		return nil, err
	}
	m, raw, sign, err := orient(dist, emb)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %w", name, err)
	}
	pos, neg, err := pairWeights(c.Miner, raw, labels, dist.LargerIsCloser(), d)
	if err != nil {
		return nil, err
	}
	// oriented units: positives h(m − sign·PosMargin), negatives h(sign·NegMargin − m)
	pt, err := G.Sub(m, graph.Const(dt, sign*c.PosMargin))
	if err != nil {
		return nil, err
	}
	if pt, err = hinge(pt, c.Squared); err != nil {
		return nil, err
	}
	nt, err := G.Sub(graph.Const(dt, sign*c.NegMargin), m)
	if err != nil {
		return nil, err
	}
	if nt, err = hinge(nt, c.Squared); err != nil {
		return nil, err
	}
	if c.Balanced {
		pl, err := reduce(red, pt, pos)
		if err != nil {
			return nil, err
		}
		nl, err := reduce(red, nt, neg)
		if err != nil {
			return nil, err
		}
		return G.Add(pl, nl)
	}
	// One pool: term_ij = pos_ij·pt_ij + neg_ij·nt_ij with weight pos+neg.
	a, err := G.HadamardProd(pt, pos)
	if err != nil {
		return nil, err
	}
	b, err := G.HadamardProd(nt, neg)
	if err != nil {
		return nil, err
	}
	terms, err := G.Add(a, b)
	if err != nil {
		return nil, err
	}
	w, err := G.Add(pos, neg)
	if err != nil {
		return nil, err
	}
	if red == Mean {
		sum, err := G.Sum(terms)
		if err != nil {
			return nil, err
		}
		sw, err := G.Sum(w)
		if err != nil {
			return nil, err
		}
		return graph.DivAtLeastOne(sum, sw)
	}
	return reduce(red, terms, nil)
}
