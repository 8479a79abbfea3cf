package losses

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
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
type NTXent struct {
	// Distance; nil means Cosine{}.
	Distance graph.Distance
	// Temperature τ > 0.
	Temperature float64
}

// NewNTXent returns NT-Xent on cosine similarity with τ = 0.07
// (pytorch-metric-learning's default; SimCLR reports 0.1–0.5).
func NewNTXent() NTXent { return NTXent{Distance: graph.Cosine{}, Temperature: 0.07} }

// SupCon is the supervised contrastive loss of Khosla et al. (2020), the
// L^sup_out form: for each anchor i with positives P(i),
//
//	L_i = −1/|P(i)| Σ_{p∈P(i)} log( e^{z_ip} / Σ_{a≠i} e^{z_ia} )
//
// averaged over anchors that have a positive.
type SupCon struct {
	// Distance; nil means Cosine{}.
	Distance graph.Distance
	// Temperature τ > 0.
	Temperature float64
}

// NewSupCon returns SupCon on cosine similarity with τ = 0.1 (Khosla et
// al.'s and pytorch-metric-learning's default).
func NewSupCon() SupCon { return SupCon{Distance: graph.Cosine{}, Temperature: 0.1} }

// SoftNearestNeighbor is the soft nearest neighbour loss of Frosst,
// Papernot & Hinton (2019) with squared Euclidean distances d:
//
//	L = −1/B' Σ_i log( Σ_{j≠i, y_j=y_i} e^{−d_ij/T} / Σ_{k≠i} e^{−d_ik/T} )
//
// over the B' samples that have a same-label neighbour in the batch.
type SoftNearestNeighbor struct {
	// Distance; nil means SquaredEuclidean{} (the paper's).
	Distance graph.Distance
	// Temperature T > 0.
	Temperature float64
}

// NewSoftNearestNeighbor returns the loss with squared Euclidean distances
// and T = 1.
func NewSoftNearestNeighbor() SoftNearestNeighbor {
	return SoftNearestNeighbor{Distance: graph.SquaredEuclidean{}, Temperature: 1}
}

// logits returns z = s/τ (or −d/τ for a distance) and the masks: positives
// (same label, i ≠ j), negatives, and all pairs i ≠ j.
func logits(name string, d graph.Distance, def graph.Distance, tau float64, emb, labels *G.Node) (z, pos, neg, others *G.Node, dt tensor.Dtype, err error) {
	if _, _, dt, err = batch(name, emb, labels); err != nil {
		return
	}
	if emb, err = finite(name, "embeddings", emb); err != nil {
		return
	}
	if !(tau > 0) || math.IsInf(tau, 0) {
		err = fmt.Errorf("losses: %s: temperature is %v; want a finite value > 0", name, tau)
		return
	}
	if d == nil {
		d = def
	}
	m, e := d.Matrix(emb, emb)
	if e != nil {
		err = fmt.Errorf("losses: %s: %w", name, e)
		return
	}
	scale := 1 / tau
	if !d.LargerIsCloser() {
		scale = -scale
	}
	if z, err = G.Mul(m, graph.Const(dt, scale)); err != nil {
		return
	}
	if pos, err = graph.LabelMask(labels, graph.SameLabel, dt); err != nil {
		return
	}
	if neg, err = graph.LabelMask(labels, graph.DifferentLabel, dt); err != nil {
		return
	}
	others, err = G.Add(pos, neg)
	return
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l NTXent) Loss(emb, labels *G.Node) (*G.Node, error) {
	z, pos, neg, _, _, err := logits("nt-xent", l.Distance, graph.Cosine{}, l.Temperature, emb, labels)
	if err != nil {
		return nil, err
	}
	// ℓ_ij = log(1 + e^{lse_i − z_ij}) with lse_i = log Σ_neg e^{z_ik};
	// rows without negatives are masked out.
	lse, err := graph.MaskedLogSumExp(z, neg)
	if err != nil {
		return nil, err
	}
	has, err := graph.AnyInRow(neg)
	if err != nil {
		return nil, err
	}
	diff, err := graph.SubCol(z, lse) // z_ij − lse_i
	if err != nil {
		return nil, err
	}
	ndiff, err := G.Neg(diff)
	if err != nil {
		return nil, err
	}
	terms, err := graph.Softplus(ndiff)
	if err != nil {
		return nil, err
	}
	if terms, err = graph.MulCol(terms, has); err != nil {
		return nil, err
	}
	return graph.WeightedMean(terms, pos)
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l SupCon) Loss(emb, labels *G.Node) (*G.Node, error) {
	z, pos, _, others, _, err := logits("supcon", l.Distance, graph.Cosine{}, l.Temperature, emb, labels)
	if err != nil {
		return nil, err
	}
	lse, err := graph.MaskedLogSumExp(z, others) // log Σ_{a≠i} e^{z_ia}
	if err != nil {
		return nil, err
	}
	zp, err := G.HadamardProd(z, pos)
	if err != nil {
		return nil, err
	}
	sumPos, err := G.Sum(zp, 1)
	if err != nil {
		return nil, err
	}
	count, err := G.Sum(pos, 1)
	if err != nil {
		return nil, err
	}
	has, err := graph.AnyInRow(pos)
	if err != nil {
		return nil, err
	}
	// |P(i)|, or 1 for rows without positives (masked out below)
	none, err := G.Sub(graph.Const(z.Dtype(), 1), has)
	if err != nil {
		return nil, err
	}
	den, err := G.Add(count, none)
	if err != nil {
		return nil, err
	}
	meanPos, err := G.HadamardDiv(sumPos, den)
	if err != nil {
		return nil, err
	}
	rows, err := G.Sub(lse, meanPos)
	if err != nil {
		return nil, err
	}
	return graph.WeightedMean(rows, has)
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l SoftNearestNeighbor) Loss(emb, labels *G.Node) (*G.Node, error) {
	z, pos, _, others, _, err := logits("soft nearest neighbour", l.Distance, graph.SquaredEuclidean{}, l.Temperature, emb, labels)
	if err != nil {
		return nil, err
	}
	lp, err := graph.MaskedLogSumExp(z, pos)
	if err != nil {
		return nil, err
	}
	la, err := graph.MaskedLogSumExp(z, others)
	if err != nil {
		return nil, err
	}
	rows, err := G.Sub(la, lp)
	if err != nil {
		return nil, err
	}
	has, err := graph.AnyInRow(pos)
	if err != nil {
		return nil, err
	}
	return graph.WeightedMean(rows, has)
}
