package losses

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// Triplet is the triplet loss of Schroff, Kalenichenko & Philbin (2015,
// FaceNet). For each selected triplet (anchor a, positive p with a's label,
// negative n with another label):
//
//	max(0, d(a,p) − d(a,n) + Margin)          (hinge)
//	softplus(d(a,p) − d(a,n) + Margin)        (SoftMargin; Hermans et al. 2017 use Margin 0)
//
// with d the Distance (for a similarity s, d = −s, so the margin keeps its
// meaning: s(a,n) − s(a,p) + Margin). NewTriplet is the seed's form: squared
// Euclidean distance, margin 0.2 (FaceNet's α), summed over triplets.
// pytorch-metric-learning's TripletMarginLoss is TripletPML.
//
// Without a Miner every valid triplet of the batch is used
// (mining.AllTriplets, whose capacity grows as B³/4: set Miner to
// mining.AllTriplets{Capacity: mining.PKTriplets(p, k)} for large P×K
// batches). With a miner, its triplets and slot weights are used; a batch in
// which nothing is mined gives 0 with a zero gradient.
type Triplet struct {
	// Distance; nil means SquaredEuclidean{}.
	Distance graph.Distance
	// Margin ε ≥ 0.
	Margin float64
	// SoftMargin replaces the hinge by softplus.
	SoftMargin bool
	// Reducer over triplets; DefaultReducer means Sum (the seed).
	Reducer Reducer
	// Miner selects triplets per batch; nil means all valid triplets.
	Miner mining.TripletMiner
}

// NewTriplet returns the seed's triplet loss: squared Euclidean distance,
// Margin 0.2, Sum over all valid triplets.
func NewTriplet() Triplet {
	return Triplet{Distance: graph.SquaredEuclidean{}, Margin: 0.2, Reducer: Sum}
}

// TripletPML returns pytorch-metric-learning's TripletMarginLoss defaults:
// Euclidean distance on L2-normalised embeddings, Margin 0.05, MeanNonZero.
func TripletPML() Triplet {
	return Triplet{Distance: graph.Euclidean{Normalize: true}, Margin: 0.05, Reducer: MeanNonZero}
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (t Triplet) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "triplet"
	_, d, _, err := batch(name, emb, labels)
	if err != nil {
		return nil, err
	}
	if emb, err = finite(name, "embeddings", emb); err != nil {
		return nil, err
	}
	if !(t.Margin >= 0) || math.IsInf(t.Margin, 0) {
		return nil, fmt.Errorf("losses: %s: margin is %v; want a finite value ≥ 0", name, t.Margin)
	}
	red, err := t.Reducer.or(Sum)
	if err != nil {
		return nil, err
	}
	dist := t.Distance
	if dist == nil {
		dist = graph.SquaredEuclidean{}
	}
	miner := t.Miner
	if miner == nil {
		miner = mining.AllTriplets{}
	}
	m, raw, _, err := orient(dist, emb)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %w", name, err)
	}
	mined, err := mining.TripletOp(miner, raw, labels, dist.LargerIsCloser(), d)
	if err != nil {
		return nil, err
	}
	return TripletFromMined(m, mined, t.Margin, t.SoftMargin, red)
}

// TripletFromMined is the triplet loss on an oriented B×B matrix m (smaller
// is closer) and triplets mined from the same batch; DefaultReducer means
// Sum. The terms are weighted by the slots' weights. It lets a user combine any matrix with any miner.
func TripletFromMined(m *G.Node, mined *mining.MinedTriplets, margin float64, soft bool, red Reducer) (*G.Node, error) {
	red, err := red.or(Sum)
	if err != nil {
		return nil, err
	}
	dap, err := gather(m, mined.AP)
	if err != nil {
		return nil, err
	}
	dan, err := gather(m, mined.AN)
	if err != nil {
		return nil, err
	}
	v, err := G.Sub(dap, dan)
	if err != nil {
		return nil, err
	}
	if v, err = G.Add(v, graph.Const(m.Dtype(), margin)); err != nil {
		return nil, err
	}
	var terms *G.Node
	if soft {
		terms, err = graph.Softplus(v)
	} else {
		terms, err = G.Rectify(v)
	}
	if err != nil {
		return nil, err
	}
	return reduce(red, terms, mined.Weight)
}
