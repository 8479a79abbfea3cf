package losses

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

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
// meaning: s(a,n) − s(a,p) + Margin). With Swap, d(a,n) is replaced by
// min(d(a,n), d(p,n)): the distance swap of Balntas, Riba, Ponsa &
// Mikolajczyk (2016, "Learning local feature descriptors with triplets and
// shallow convolutional neural networks"), pytorch-metric-learning's
// TripletMarginLoss(swap=True), whose smallest_dist is the minimum distance
// or the maximum similarity, as min on d = −s gives.
//
// NewTriplet is FaceNet's form: squared Euclidean distance, margin 0.2
// (FaceNet's α), summed over triplets.
// pytorch-metric-learning's TripletMarginLoss is TripletPML.
//
// Without a Miner every valid triplet of the batch is used
// (mining.AllTriplets, whose capacity grows as B³/4: set Miner to
// mining.AllTriplets{Capacity: mining.PKTriplets(p, k)} for large P×K
// batches). With a miner, its triplets and slot weights are used; a batch in
// which nothing is mined gives 0 with a zero gradient. A miner with a
// Distance of its own (mining.DistanceMiner) mines on that distance's
// matrix while the terms use the loss's. The zero Triplet is NewTriplet
// with margin 0.
type Triplet struct {
	// Distance; nil means SquaredEuclidean{}.
	Distance graph.Distance
	// Margin ε ≥ 0.
	Margin float64
	// SoftMargin replaces the hinge by softplus.
	SoftMargin bool
	// Reducer over triplets; DefaultReducer means Sum (FaceNet).
	Reducer Reducer
	// Ref, when set, adds a reference set (no gradient; a cross-batch
	// memory) to every anchor's partners. Each batch row is then an anchor
	// with one triplet: its farthest positive and its closest negative
	// among the other batch rows and the reference rows (batch hard,
	// Hermans et al. 2017, over B + R partners), so Miner must be nil or
	// mining.BatchHard{}. Ties go to the lowest column, batch rows first,
	// as in mining.BatchHard; with an empty reference set the loss equals
	// the one with Miner mining.BatchHard{}.
	Ref *Ref
	// Miner selects triplets per batch; nil means all valid triplets.
	Miner mining.TripletMiner
	// Swap uses min(d(a,n), d(p,n)) as the negative's distance (the
	// positive takes the anchor's place when it is closer to the
	// negative). On a tie the gradient goes to d(a,n) alone (PyTorch's
	// torch.min splits it in two halves).
	Swap bool
}

// NewTriplet returns FaceNet's triplet loss: squared Euclidean distance,
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
	e, emb, d, err := begin(name, emb, labels)
	if err != nil {
		return nil, err
	}
	dist := distanceOr(t.Distance, graph.SquaredEuclidean{})
	if t.Ref != nil {
		return t.refLoss(e, dist, emb, labels, d)
	}
	miner := t.Miner
	if miner == nil {
		miner = mining.AllTriplets{}
	}
	raw := e.Matrix(dist, emb, emb)
	mm, larger := mineMatrix(e, dist, miner, emb, raw) // the miner's own distance, when it has one
	if e.Err() != nil {
		return end(name, e, nil)
	}
	mined, err := mining.TripletOp(miner, mm, labels, larger, d)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %w", name, err)
	}
	return t.FromMined(raw, mined)
}

// FromMined is the triplet loss on triplets mined elsewhere: raw is the
// B×B matrix of t's Distance (what the miner read, e.g. with
// mining.TripletOp) and mined the miner's triplets; the terms are weighted
// by the slots' weights. It lets a user pair any matrix with any miner.
func (t Triplet) FromMined(raw *G.Node, mined *mining.MinedTriplets) (*G.Node, error) {
	const name = "triplet"
	if err := checkFinite(name, "margin", t.Margin, true); err != nil {
		return nil, err
	}
	red, err := t.Reducer.or(Sum)
	if err != nil {
		return nil, err
	}
	if raw == nil || mined == nil {
		return nil, fmt.Errorf("losses: %s: nil matrix or mined triplets", name)
	}
	e := graph.NewExpr(raw.Dtype())
	m, _ := orient(e, distanceOr(t.Distance, graph.SquaredEuclidean{}), raw)
	var v *G.Node // d(a,p) − d(a,n) + ε
	switch {
	case t.Swap:
		dan := e.Gather(m, mined.AN)                                                         // d(a,n)
		dpn := e.Gather(m, e.Do(func() (*G.Node, error) { return swapIndices(raw, mined) })) // d(p,n)
		dan = e.Sub(dpn, e.Relu(e.Sub(dpn, dan)))                                            // min(d(a,n), d(p,n)); Rectify has slope 1 at 0, so a tie goes to d(a,n)
		v = e.Add(e.Sub(e.Gather(m, mined.AP), dan), e.Const(t.Margin))
	case !t.SoftMargin && red == Sum: // Σ_k w_k·max(0, d(a,p) − d(a,n) + ε), in two ops
		diff := e.GatherDiff(m, mined.AP, mined.AN)
		return end(name, e, e.Do(func() (*G.Node, error) { return graph.HingeSum(diff, mined.Weight, 1, t.Margin, false) }))
	default:
		v = e.Add(e.GatherDiff(m, mined.AP, mined.AN), e.Const(t.Margin))
	}
	terms := e.Relu(v)
	if t.SoftMargin {
		terms = e.Softplus(v)
	}
	return end(name, e, reduce(e, red, terms, mined.Weight))
}

// swapIndices returns, without gradient, the flat indices p·B+n of the
// mined triplets' positive–negative pairs, from a·B+p and a·B+n (padding
// slots point at entry 0).
func swapIndices(raw *G.Node, mined *mining.MinedTriplets) (*G.Node, error) {
	s := raw.Shape()
	if len(s) != 2 || s[0] != s[1] {
		return nil, fmt.Errorf("swap needs the square B×B matrix the miner read; got shape %v", s)
	}
	b := s[0]
	return graph.ApplyForward(fmt.Sprintf("tripletswap(b=%d,cap=%d)", b, mined.Capacity), tensor.Int, 1,
		func(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil },
		func(in []G.Value) (G.Value, error) {
			ap, ok1 := in[0].Data().([]int)
			an, ok2 := in[1].Data().([]int)
			if !ok1 || !ok2 || len(ap) != len(an) {
				return nil, fmt.Errorf("losses: triplet: swap: mined indices are %T and %T", in[0].Data(), in[1].Data())
			}
			pn := make([]int, len(ap))
			for k := range ap {
				pn[k] = (ap[k]%b)*b + an[k]%b
			}
			return tensor.New(tensor.WithShape(len(pn)), tensor.WithBacking(pn)), nil
		}, mined.AP, mined.AN)
}
