package losses

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// Func adapts a function to the method that every loss of this package has,
// Loss(embeddings, labels), so a closure can stand wherever a loss does.
type Func func(embeddings, labels *G.Node) (*G.Node, error)

// Loss calls f.
func (f Func) Loss(embeddings, labels *G.Node) (*G.Node, error) { return f(embeddings, labels) }

// Reducer says how per-term losses become one scalar.
type Reducer int

const (
	// DefaultReducer stands for the loss's own documented default.
	DefaultReducer Reducer = iota
	// Sum adds the terms (the seed's triplet loss).
	Sum
	// Mean divides the sum by the number of terms considered (valid pairs or
	// triplets), or by 1 when there are none.
	Mean
	// MeanNonZero divides the sum by the number of strictly positive terms
	// (pytorch-metric-learning's AvgNonZeroReducer), or by 1.
	MeanNonZero
)

func (r Reducer) String() string {
	switch r {
	case DefaultReducer:
		return "default"
	case Sum:
		return "sum"
	case Mean:
		return "mean"
	case MeanNonZero:
		return "mean-nonzero"
	}
	return fmt.Sprintf("Reducer(%d)", int(r))
}

func (r Reducer) or(def Reducer) (Reducer, error) {
	switch r {
	case DefaultReducer:
		return def, nil
	case Sum, Mean, MeanNonZero:
		return r, nil
	}
	return 0, fmt.Errorf("losses: unknown reduction %d", int(r))
}

// reduce applies r to terms weighted by w (a constant 0/1 or weight tensor
// of terms' shape; nil means all ones).
func reduce(r Reducer, terms, w *G.Node) (*G.Node, error) {
	if r == Mean {
		if w == nil {
			return G.Mean(terms)
		}
		return graph.WeightedMean(terms, w) // Σ w·t / max(Σ w, 1)
	}
	var err error
	if w != nil {
		if terms, err = G.HadamardProd(terms, w); err != nil {
			return nil, err
		}
	}
	switch r {
	case Sum:
		return G.Sum(terms)
	case MeanNonZero:
		return graph.MeanNonZero(terms)
	}
	return nil, fmt.Errorf("losses: unknown reduction %v", r)
}

// batch checks the embeddings (B×D float) and labels (Int vector of length
// B) and returns B, D and the dtype.
func batch(name string, emb, labels *G.Node) (b, d int, dt tensor.Dtype, err error) {
	if emb == nil {
		return 0, 0, dt, fmt.Errorf("losses: %s: embeddings is nil", name)
	}
	dt = emb.Dtype()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return 0, 0, dt, fmt.Errorf("losses: %s: embeddings have dtype %v; want float32 or float64", name, dt)
	}
	s := emb.Shape()
	if len(s) != 2 {
		return 0, 0, dt, fmt.Errorf("losses: %s: embeddings must be 2-D (B×D); got shape %v", name, s)
	}
	b, d = s[0], s[1]
	if b < 2 || d < 1 {
		return 0, 0, dt, fmt.Errorf("losses: %s: embeddings have shape %v; want B ≥ 2 rows and D ≥ 1 columns", name, s)
	}
	if labels == nil {
		return 0, 0, dt, fmt.Errorf("losses: %s: labels is nil", name)
	}
	if labels.Dtype() != tensor.Int {
		return 0, 0, dt, fmt.Errorf("losses: %s: labels have dtype %v; want int", name, labels.Dtype())
	}
	if ls := labels.Shape(); len(ls) != 1 || ls[0] != b {
		return 0, 0, dt, fmt.Errorf("losses: %s: labels has shape %v, embeddings have %d rows", name, ls, b)
	}
	if emb.Graph() != labels.Graph() {
		return 0, 0, dt, fmt.Errorf("losses: %s: embeddings and labels belong to different graphs", name)
	}
	return b, d, dt, nil
}

// gather reads entries of the B×B matrix m at the flat indices idx (Int
// vector of length C) and returns a C-vector (graph.Gather, whose gradient
// is a scatter-add; G.ByIndices on the (B·B, 1) reshape gives the same values
// and gradient but costs an order of magnitude more at millions of indices).
func gather(m, idx *G.Node) (*G.Node, error) { return graph.Gather(m, idx) }

// orient returns the distance's matrix oriented so that smaller is closer,
// the raw matrix (what miners read) and the sign that maps a margin given in
// the distance's own units to the oriented units (−1 for similarities).
func orient(d graph.Distance, emb *G.Node) (oriented, raw *G.Node, sign float64, err error) {
	if raw, err = d.Matrix(emb, emb); err != nil {
		return nil, nil, 0, err
	}
	sign = 1
	if d.LargerIsCloser() {
		sign = -1
	}
	oriented, err = graph.Orient(d, raw)
	return oriented, raw, sign, err
}

// pairWeights returns the B×B weights of positive and negative pairs: the
// miner's selection when miner is set, otherwise the label masks (every
// ordered pair i ≠ j).
func pairWeights(miner mining.PairMiner, raw, labels *G.Node, larger bool, dim int) (pos, neg *G.Node, err error) {
	if miner != nil {
		return mining.PairOp(miner, raw, labels, larger, dim)
	}
	if pos, err = graph.LabelMask(labels, graph.SameLabel, raw.Dtype()); err != nil {
		return nil, nil, err
	}
	if neg, err = graph.LabelMask(labels, graph.DifferentLabel, raw.Dtype()); err != nil {
		return nil, nil, err
	}
	return pos, neg, nil
}

// hinge returns max(0, x), squared when squared is set.
func hinge(x *G.Node, squared bool) (*G.Node, error) {
	r, err := G.Rectify(x)
	if err != nil || !squared {
		return r, err
	}
	return G.Square(r)
}
