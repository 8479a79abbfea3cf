package losses

import (
	"fmt"
	"math"
	"reflect"

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
	// Sum adds the terms (FaceNet's triplet loss, Schroff et al. 2015).
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
func reduce(e *graph.Expr, r Reducer, terms, w *G.Node) *G.Node {
	switch {
	case r == Mean && w == nil:
		return e.Mean(terms)
	case r == Mean:
		return e.WeightedMean(terms, w) // Σ w·t / max(Σ w, 1)
	case w != nil:
		terms = e.Mul(terms, w)
	}
	if r == MeanNonZero {
		return e.MeanNonZero(terms)
	}
	return e.Sum(terms)
}

// Ref is a reference set: embeddings (R×D, the batch's dtype and D) and
// their labels (Int, R) that a loss compares its batch against in addition
// to the batch itself, with no gradient flowing into them (a cross-batch
// memory, a MoCo-style queue). With a reference set the pairs are (i, j)
// with i a row of the batch and j a row of the batch (j ≠ i) or of the
// reference set: the loss of the batch with the reference rows appended,
// counting only the batch's rows as anchors. A negative reference label
// marks an empty slot (a graph.Queue that is not yet full), which pairs
// with nothing.
type Ref struct {
	Embeddings, Labels *G.Node
}

// begin checks the batch and starts the loss's expression: the builder and
// the embeddings read through the finiteness check.
func begin(name string, emb, labels *G.Node) (e *graph.Expr, checked *G.Node, d int, err error) {
	_, d, dt, err := batch(name, emb, labels)
	if err != nil {
		return nil, nil, 0, err
	}
	if checked, err = finite(name, "embeddings", emb); err != nil {
		return nil, nil, 0, err
	}
	return graph.NewExpr(dt), checked, d, nil
}

// end returns the loss node, or the builder's first error naming the loss.
func end(name string, e *graph.Expr, loss *G.Node) (*G.Node, error) {
	if err := e.Err(); err != nil {
		return nil, fmt.Errorf("losses: %s: %w", name, err)
	}
	return loss, nil
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

// check validates the reference set against the batch's embeddings (the
// caller names the loss).
func (r *Ref) check(emb *G.Node) error {
	if r.Embeddings == nil || r.Labels == nil {
		return fmt.Errorf("reference set needs both embeddings and labels")
	}
	s := r.Embeddings.Shape()
	if r.Embeddings.Dtype() != emb.Dtype() || len(s) != 2 || s[0] < 1 || s[1] != emb.Shape()[1] {
		return fmt.Errorf("reference embeddings are %v %v; want R×%d %v with R ≥ 1", r.Embeddings.Dtype(), s, emb.Shape()[1], emb.Dtype())
	}
	if err := graph.CheckLabels(r.Labels, s[0]); err != nil {
		return fmt.Errorf("reference set: %w", err)
	}
	if r.Embeddings.Graph() != emb.Graph() || r.Labels.Graph() != emb.Graph() {
		return fmt.Errorf("reference set belongs to another graph")
	}
	return nil
}

// pairs returns what a pair loss reads: the matrix raw of dist between the
// batch and its partners (the batch, then the reference rows), and the
// weights of the positive and negative pairs, of raw's shape: the miner's
// selection when miner is set, otherwise the label masks (every ordered
// pair i ≠ j).
func pairs(name string, e *graph.Expr, dist graph.Distance, miner mining.PairMiner, ref *Ref, emb, labels *G.Node, d int) (raw, pos, neg *G.Node) {
	raw = e.Matrix(dist, emb, emb)
	if ref == nil {
		if miner != nil {
			mm, larger := mineMatrix(e, dist, miner, emb, raw)
			pos, neg = e.Do2(func() (*G.Node, *G.Node, error) {
				return mining.PairOp(miner, mm, labels, larger, d)
			})
			return raw, pos, neg
		}
		return raw, e.LabelMask(labels, graph.SameLabel), e.LabelMask(labels, graph.DifferentLabel)
	}
	if err := ref.check(emb); err != nil {
		e.Fail(err)
		return nil, nil, nil
	}
	if miner != nil {
		e.Fail(fmt.Errorf("a Miner and a reference set cannot be combined (miners read a square batch matrix)"))
		return nil, nil, nil
	}
	r := ref.Embeddings
	if !graph.NoGradient(r) { // a Queue's rows need no copy
		r = e.StopGradient(r)
	}
	raw = e.ConcatCols(raw, e.Matrix(dist, emb, r))
	pos = e.ConcatCols(e.LabelMask(labels, graph.SameLabel), e.CrossLabelMask(labels, ref.Labels, graph.SameLabel))
	neg = e.ConcatCols(e.LabelMask(labels, graph.DifferentLabel), e.CrossLabelMask(labels, ref.Labels, graph.DifferentLabel))
	return raw, pos, neg
}

// mineMatrix returns the matrix a miner reads and whether larger entries
// are closer in it: raw, the loss's matrix of dist, unless the miner names
// a distance of its own (mining.DistanceMiner), whose matrix of the
// embeddings it computes without gradient (PML's miners take their own
// distance the same way).
func mineMatrix(e *graph.Expr, dist graph.Distance, miner any, emb, raw *G.Node) (*G.Node, bool) {
	md := mining.DistanceOf(miner)
	if md == nil || reflect.DeepEqual(md, dist) {
		return raw, dist.LargerIsCloser()
	}
	x := e.StopGradient(emb)
	return e.Matrix(md, x, x), md.LargerIsCloser()
}

// orient returns the matrix oriented so that smaller is closer
// (graph.Orient) and the sign that maps a margin given in the distance's own
// units to oriented units (−1 for similarities).
func orient(e *graph.Expr, d graph.Distance, raw *G.Node) (oriented *G.Node, sign float64) {
	sign = 1
	if d.LargerIsCloser() {
		sign = -1
	}
	return e.Do(func() (*G.Node, error) { return graph.Orient(d, raw) }), sign
}

// hinge returns max(0, x), squared when squared is set.
func hinge(e *graph.Expr, x *G.Node, squared bool) *G.Node {
	if squared {
		return e.Square(e.Relu(x))
	}
	return e.Relu(x)
}

// distanceOr returns d, or def when d is nil.
func distanceOr(d, def graph.Distance) graph.Distance {
	if d == nil {
		return def
	}
	return d
}

// checkFinite reports an error unless v is finite (and ≥ 0 when nonNeg).
func checkFinite(name, what string, v float64, nonNeg bool) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || (nonNeg && v < 0) {
		want := "a finite value"
		if nonNeg {
			want += " ≥ 0"
		}
		return fmt.Errorf("losses: %s: %s is %v; want %s", name, what, v, want)
	}
	return nil
}
