package losses

import (
	"fmt"
	"math"

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
// exactly as the seed writes it:
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

// NewLifted returns the seed's smooth lifted structured loss with Euclidean
// distance and margin 1.
func NewLifted() Lifted { return Lifted{Distance: graph.Euclidean{}, Margin: 1} }

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l Lifted) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "lifted structured"
	_, d, dt, err := batch(name, emb, labels)
	if err != nil {
		return nil, err
	}
	if emb, err = finite(name, "embeddings", emb); err != nil {
		return nil, err
	}
	if !(l.Margin >= 0) || math.IsInf(l.Margin, 0) {
		return nil, fmt.Errorf("losses: %s: margin is %v; want a finite value ≥ 0", name, l.Margin)
	}
	if l.Form != LiftedSmooth && l.Form != LiftedHard {
		return nil, fmt.Errorf("losses: %s: unknown form %d", name, int(l.Form))
	}
	dist := l.Distance
	if dist == nil {
		dist = graph.Euclidean{}
	}
	m, raw, _, err := orient(dist, emb)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %w", name, err)
	}
	pos, neg, err := pairWeights(l.Miner, raw, labels, dist.LargerIsCloser(), d)
	if err != nil {
		return nil, err
	}
	// Mined negatives enter as a set (weight > 0), as the masks must be 0/1.
	if neg, err = graph.Indicator(neg, 0); err != nil {
		return nil, err
	}
	// a_ik = ε − D_ik over the negatives of row i
	a, err := G.Sub(graph.Const(dt, l.Margin), m)
	if err != nil {
		return nil, err
	}
	has, err := graph.AnyInRow(neg)
	if err != nil {
		return nil, err
	}
	var pair *G.Node // B×B: the max or log-sum-exp term of L_ij
	if l.Form == LiftedHard {
		u, err := graph.MaskedRowMax(a, neg)
		if err != nil {
			return nil, err
		}
		if pair, err = graph.PairwiseMax(u, has); err != nil {
			return nil, err
		}
	} else {
		u, err := graph.MaskedLogSumExp(a, neg)
		if err != nil {
			return nil, err
		}
		if pair, err = graph.PairwiseLogAddExp(u, has); err != nil {
			return nil, err
		}
	}
	lij, err := G.Add(m, pair)
	if err != nil {
		return nil, err
	}
	terms, err := hinge(lij, true)
	if err != nil {
		return nil, err
	}
	// keep positive pairs where at least one side has a negative
	anyHas, err := graph.PairAny(has, has)
	if err != nil {
		return nil, err
	}
	w, err := G.HadamardProd(pos, anyHas)
	if err != nil {
		return nil, err
	}
	if terms, err = G.HadamardProd(terms, w); err != nil {
		return nil, err
	}
	sum, err := G.Sum(terms)
	if err != nil {
		return nil, err
	}
	np, err := G.Sum(pos)
	if err != nil {
		return nil, err
	}
	if np, err = G.Mul(np, graph.Const(dt, 2)); err != nil {
		return nil, err
	}
	return graph.DivAtLeastOne(sum, np)
}
