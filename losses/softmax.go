package losses

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// Softmax-based objectives over a labelled batch. Each works on the logits
// z_ij = s_ij/τ of a similarity s (a distance is negated first) and builds
// its log-softmax from graph.MaskedLogSumExp: Gorgonia's SoftMax and
// LogSoftMax are merged into one node when applied to the same input (their
// op hash ignores the log flag) and the last-axis kernel can give NaN.

// NTXent is the normalised temperature-scaled cross-entropy of SimCLR (Chen
// et al. 2020), in the labelled form of pytorch-metric-learning's
// NTXentLoss (InfoNCE, van den Oord et al. 2018, with one positive per term).
// For every positive pair (i, j), i ≠ j,
//
//	ℓ_ij = −log( e^{z_ij} / (e^{z_ij} + Σ_{k: y_k ≠ y_i} e^{z_ik}) )
//
// averaged over positive pairs. For SimCLR give the two augmented views of
// an image the same label. A pair whose anchor has no negative gives 0.
//
// The zero NTXent is NewNTXent.
type NTXent struct {
	// Distance; nil means Cosine{}.
	Distance graph.Distance
	// Temperature τ > 0; 0 means 0.07.
	Temperature float64
	// Reducer over the per-term values; DefaultReducer means Mean.
	Reducer Reducer
	// Miner, when set, selects the positive pairs and the negatives each
	// batch (as sets: weights are ignored); nil uses every pair.
	Miner mining.PairMiner
	// Ref, when set, adds a reference set (no gradient) to every anchor's
	// positives and negatives; it cannot be combined with a Miner.
	Ref *Ref
}

// NewNTXent returns NT-Xent on cosine similarity with τ = 0.07
// (pytorch-metric-learning's default; SimCLR reports 0.1–0.5).
func NewNTXent() NTXent { return NTXent{Distance: graph.Cosine{}, Temperature: 0.07} }

// NTXentPML returns pytorch-metric-learning's NTXentLoss defaults (cosine
// similarity, τ = 0.07): the same as NewNTXent.
func NTXentPML() NTXent { return NewNTXent() }

// SupCon is the supervised contrastive loss of Khosla et al. (2020), the
// L^sup_out form: for each anchor i with positives P(i),
//
//	L_i = −1/|P(i)| Σ_{p∈P(i)} log( e^{z_ip} / Σ_{a≠i} e^{z_ia} )
//
// averaged over anchors that have a positive.
//
// A row without negatives keeps the positives in its denominator (the
// paper's A(i) is every other sample), so a single-class batch gives a
// non-zero loss. pytorch-metric-learning's SupConLoss instead returns 0
// when the batch's selection holds no negative pair at all (or no positive
// pair, which gives 0 here too), and averages with its AvgNonZeroReducer:
// SupConPML sets RequireNegatives and MeanNonZero for that. Without a Miner
// or Ref a row has no negative exactly when the batch has a single class,
// so then the two rules agree row by row.
//
// The zero SupCon is NewSupCon.
type SupCon struct {
	// Distance; nil means Cosine{}.
	Distance graph.Distance
	// Temperature τ > 0; 0 means 0.1.
	Temperature float64
	// Reducer over the per-term values; DefaultReducer means Mean.
	Reducer Reducer
	// Miner, when set, selects the positive pairs and the other samples
	// each batch (as sets); nil uses every pair.
	Miner mining.PairMiner
	// Ref, when set, adds a reference set (no gradient) to every anchor's
	// positives and other samples; it cannot be combined with a Miner.
	Ref *Ref
	// RequireNegatives makes the loss exactly 0, with a zero gradient, for a
	// batch whose selection (pairs or mined pairs, with the reference set)
	// holds no negative pair, as pytorch-metric-learning's SupConLoss does.
	RequireNegatives bool
}

// NewSupCon returns SupCon on cosine similarity with τ = 0.1 (Khosla et
// al.'s and pytorch-metric-learning's default).
func NewSupCon() SupCon { return SupCon{Distance: graph.Cosine{}, Temperature: 0.1} }

// SupConPML returns pytorch-metric-learning's SupConLoss: cosine
// similarity, τ = 0.1, 0 for a batch without a negative pair
// (RequireNegatives), and the mean over the anchors whose term is non-zero
// (its AvgNonZeroReducer; MeanNonZero).
func SupConPML() SupCon {
	return SupCon{Distance: graph.Cosine{}, Temperature: 0.1, Reducer: MeanNonZero, RequireNegatives: true}
}

// SoftNearestNeighbor is the soft nearest neighbour loss of Frosst,
// Papernot & Hinton (2019) with squared Euclidean distances d:
//
//	L = −1/B' Σ_i log( Σ_{j≠i, y_j=y_i} e^{−d_ij/T} / Σ_{k≠i} e^{−d_ik/T} )
//
// over the B' samples that have a same-label neighbour in the batch.
//
// The zero SoftNearestNeighbor is NewSoftNearestNeighbor.
type SoftNearestNeighbor struct {
	// Distance; nil means SquaredEuclidean{} (the paper's).
	Distance graph.Distance
	// Temperature T > 0; 0 means 1.
	Temperature float64
	// Reducer over the anchors' values; DefaultReducer means Mean.
	Reducer Reducer
}

// NewSoftNearestNeighbor returns the loss with squared Euclidean distances
// and T = 1.
func NewSoftNearestNeighbor() SoftNearestNeighbor {
	return SoftNearestNeighbor{Distance: graph.SquaredEuclidean{}, Temperature: 1}
}

// logits starts a softmax loss: it checks the batch and the temperature
// (0 means def), and returns the builder and z = s/τ (or −d/τ for a
// distance) with the masks of positives (same label, i ≠ j), negatives and
// all partners j ≠ i, over the batch and the reference set when one is set.
func logits(name string, d, defD graph.Distance, tau, defTau float64, miner mining.PairMiner, ref *Ref, emb, labels *G.Node) (e *graph.Expr, z, pos, neg *G.Node, err error) {
	e, emb, dim, err := begin(name, emb, labels)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if tau == 0 {
		tau = defTau
	}
	if !(tau > 0) || math.IsInf(tau, 0) {
		return nil, nil, nil, nil, fmt.Errorf("losses: %s: temperature is %v; want a finite value > 0 (0 means %v)", name, tau, defTau)
	}
	d = distanceOr(d, defD)
	sign := 1.0 // z = −d/τ, or s/τ for a similarity: one pass over the matrix
	if d.LargerIsCloser() {
		sign = -1
	}
	if miner == nil && ref == nil { // the batch alone: 1/τ is the matrix product's factor
		z = e.ScaledMatrix(d, emb, emb, -sign/tau)
		return e, z, e.LabelMask(labels, graph.SameLabel), e.LabelMask(labels, graph.DifferentLabel), nil
	}
	raw, pos, neg := pairs(name, e, d, miner, ref, emb, labels, dim)
	if miner != nil { // mined pairs enter as sets
		pos, neg = e.Indicator(pos, 0), e.Indicator(neg, 0)
	}
	return e, e.Scale(raw, -sign/tau), pos, neg, nil
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l NTXent) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "nt-xent"
	e, z, pos, neg, err := logits(name, l.Distance, graph.Cosine{}, l.Temperature, 0.07, l.Miner, l.Ref, emb, labels)
	if err != nil {
		return nil, err
	}
	red, err := l.Reducer.or(Mean)
	if err != nil {
		return nil, err
	}
	// ℓ_ij = log(1 + e^{lse_i − z_ij}) with lse_i = log Σ_neg e^{z_ik};
	// rows without negatives are masked out.
	lse := e.MaskedLogSumExp(z, neg)
	if red != MeanNonZero { // Σ_ij pos_ij·has_i·ℓ_ij in one op, over positive pairs
		sum := e.RowSoftplusSum(z, lse, pos, e.AnyInRow(neg))
		if red == Sum {
			return end(name, e, sum)
		}
		return end(name, e, e.DivAtLeastOne(sum, e.Sum(pos)))
	}
	terms := e.MulCol(e.Softplus(e.Neg(e.SubCol(z, lse))), e.AnyInRow(neg))
	return end(name, e, reduce(e, red, terms, pos)) // over positive pairs
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l SupCon) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "supcon"
	e, z, pos, neg, err := logits(name, l.Distance, graph.Cosine{}, l.Temperature, 0.1, l.Miner, l.Ref, emb, labels)
	if err != nil {
		return nil, err
	}
	others := e.Add(pos, neg) // every partner a ≠ i
	red, err := l.Reducer.or(Mean)
	if err != nil {
		return nil, err
	}
	has := e.AnyInRow(pos) // anchors with a positive
	if l.RequireNegatives {
		has = e.Mul(has, e.Do(func() (*G.Node, error) { return anyInBatch(neg) })) // … in a batch with a negative pair
	}
	count := e.Add(e.Sum(pos, 1), e.Sub(e.Const(1), has)) // |P(i)|, or 1 for rows without positives
	// L_i = log Σ_{a≠i} e^{z_ia} − 1/|P(i)| Σ_p z_ip, one op
	rows := e.MaskedCrossEntropy(z, others, pos, e.Div(e.Const(1), count))
	return end(name, e, reduce(e, red, rows, has)) // over anchors with a positive
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l SoftNearestNeighbor) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "soft nearest neighbour"
	e, z, pos, neg, err := logits(name, l.Distance, graph.SquaredEuclidean{}, l.Temperature, 1, nil, nil, emb, labels)
	if err != nil {
		return nil, err
	}
	others := e.Add(pos, neg) // every partner k ≠ i
	red, err := l.Reducer.or(Mean)
	if err != nil {
		return nil, err
	}
	rows := e.Sub(e.MaskedLogSumExp(z, others), e.MaskedLogSumExp(z, pos)) // −log(Σ_same / Σ_all)
	return end(name, e, reduce(e, red, rows, e.AnyInRow(pos)))             // over anchors with a neighbour
}

// anyInBatch returns, without gradient, the B-vector of ones when the B×R
// mask m has a non-zero entry, of zeros otherwise.
func anyInBatch(m *G.Node) (*G.Node, error) {
	b := m.Shape()[0]
	return graph.ApplyForward(fmt.Sprintf("anyinbatch(%v)", m.Shape()), m.Dtype(), 1,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b}, nil },
		func(in []G.Value) (G.Value, error) {
			found := false
			switch v := in[0].Data().(type) {
			case []float32:
				for _, x := range v {
					found = found || x != 0
				}
			case []float64:
				for _, x := range v {
					found = found || x != 0
				}
			default:
				return nil, fmt.Errorf("losses: mask of type %T", v)
			}
			out := make([]float64, b)
			if found {
				for i := range out {
					out[i] = 1
				}
			}
			return graph.DenseOf(m.Dtype(), out, b), nil
		}, m)
}
