package losses

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// NPair is the multi-class N-pair loss of Sohn (2016, "Improved Deep Metric
// Learning with Multi-class N-pair Loss Objective"). From a labelled batch it
// takes one (anchor, positive) tuple per class: the first two samples of
// each class in batch order; further samples of a class are not used, and a
// class with a single sample is skipped (as pytorch-metric-learning's
// NPairsLoss does). With N tuples, f_i the anchors and f_i⁺ the positives:
//
//	L = 1/N Σ_i log(1 + Σ_{j≠i} exp(f_iᵀf_j⁺ − f_iᵀf_i⁺))
//	    + L2 · ¼ · (1/N Σ_i ||f_i||² + 1/N Σ_i ||f_i⁺||²)
//
// with raw dot products, the other classes' positives as negatives, and the
// embedding penalty in TensorFlow's npairs_loss form (reg_lambda 0.002 is
// NewNPair's default; Sohn regularises the embeddings' norms the same way).
// With a Distance, f_iᵀf_j⁺ becomes its similarity s(f_i, f_j⁺), or −d for
// a distance, as pytorch-metric-learning's NPairsLoss computes it (its
// default DotProductSimilarity L2-normalises the embeddings: the cosine);
// the penalty stays on the raw embeddings.
// The selection is recomputed from the labels each batch inside the graph;
// fewer than two tuples leave only the penalty.
type NPair struct {
	// L2 is the weight λ ≥ 0 of the embedding-norm penalty.
	L2 float64
	// Distance between anchors and positives; nil means DotProduct{} (raw
	// dot products, Sohn's).
	Distance graph.Distance
}

// NewNPair returns Sohn's N-pair loss with λ = 0.002.
func NewNPair() NPair { return NPair{L2: 0.002} }

// NPairPML returns pytorch-metric-learning's NPairsLoss defaults: dot
// products of L2-normalised embeddings (its DotProductSimilarity normalises
// by default) and no embedding penalty.
func NPairPML() NPair { return NPair{Distance: graph.DotProduct{Normalize: true}} }

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l NPair) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "n-pair"
	b, _, dt, err := batch(name, emb, labels)
	if err != nil {
		return nil, err
	}
	if emb, err = finite(name, "embeddings", emb); err != nil {
		return nil, err
	}
	if err := checkFinite(name, "L2", l.L2, true); err != nil {
		return nil, err
	}
	c := b / 2 // at most B/2 classes have two samples
	// The tuples are recomputed from the labels by each forward-only op
	// (O(B) work), so every op returns its own dtype: Int indices, float masks.
	tuple := func(what string, out tensor.Dtype, dims int, shape tensor.Shape, f func(t npairSelection) any) (*G.Node, error) {
		return graph.ApplyForward(fmt.Sprintf("npair%s(cap=%d,%v)", what, c, out), out, dims,
			func([]tensor.Shape) (tensor.Shape, error) { return shape.Clone(), nil },
			func(in []G.Value) (G.Value, error) {
				v := f(npairTuples(in[0].Data().([]int), c))
				if w, ok := v.([]float64); ok {
					return graph.DenseOf(out, w, shape...), nil
				}
				return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v)), nil
			}, labels)
	}
	anchorIdx, err := tuple("anchors", tensor.Int, 1, tensor.Shape{c}, func(t npairSelection) any { return t.anchor })
	if err != nil {
		return nil, err
	}
	posIdx, err := tuple("positives", tensor.Int, 1, tensor.Shape{c}, func(t npairSelection) any { return t.positive })
	if err != nil {
		return nil, err
	}
	valid, err := tuple("valid", dt, 1, tensor.Shape{c}, func(t npairSelection) any { return t.valid() })
	if err != nil {
		return nil, err
	}
	e := graph.NewExpr(dt)
	anchors := e.GatherRows(emb, anchorIdx) // C×D, f_i
	positives := e.GatherRows(emb, posIdx)  // C×D, f_i⁺
	// logits: C×C, s(f_i, f_j⁺)
	var logits *G.Node
	if dist := distanceOr(l.Distance, graph.DotProduct{}); dist == (graph.DotProduct{}) {
		logits = e.ActiveDot(anchors, positives, valid) // f_iᵀf_j⁺ over the filled slots only
	} else if logits = e.Matrix(dist, anchors, positives); !dist.LargerIsCloser() {
		logits = e.Neg(logits) // −d(f_i, f_j⁺)
	}
	// log(1 + Σ_{j≠i} e^{f_iᵀf_j⁺ − f_iᵀf_i⁺}) = −log softmax_i(i): cross-entropy against the diagonal
	n := e.Sum(valid)                                                 // N
	loss := e.DivAtLeastOne(e.DiagonalCrossEntropy(logits, valid), n) // 1/N Σ_i
	if l.L2 != 0 {
		penalty := e.Add(e.SqNormSum(anchors, valid), e.SqNormSum(positives, valid)) // Σ_i ||f_i||² + ||f_i⁺||²
		loss = e.Add(loss, e.Scale(e.DivAtLeastOne(penalty, n), 0.25*l.L2))          // + ¼λ · 1/N Σ_i …
	}
	return end(name, e, loss)
}

// npairSelection is the tuples of one batch: the first two samples of each
// class in order of first appearance, n of them, padded to the capacity
// with index 0.
type npairSelection struct {
	anchor, positive []int
	n                int
}

// npairTuples selects the tuples for capacity c.
func npairTuples(labels []int, c int) npairSelection {
	t := npairSelection{anchor: make([]int, c), positive: make([]int, c)}
	// per label: 0 unseen, k+1 first seen at index k, −1 tuple taken; a
	// table for labels in [0, 4B) (class indices), a map for the others
	table := make([]int, 4*len(labels))
	var other map[int]int
	for i, l := range labels {
		inTable := l >= 0 && l < len(table)
		var st int
		if inTable {
			st = table[l]
		} else {
			st = other[l]
		}
		switch {
		case st == 0:
			st = i + 1
		case st > 0 && t.n < c:
			t.anchor[t.n], t.positive[t.n] = st-1, i
			t.n++
			st = -1
		}
		if inTable {
			table[l] = st
		} else {
			if other == nil {
				other = map[int]int{}
			}
			other[l] = st
		}
	}
	return t
}

// valid returns the C-vector 1 for a filled slot, 0 for padding.
func (t npairSelection) valid() []float64 {
	v := make([]float64, len(t.anchor))
	for i := 0; i < t.n; i++ {
		v[i] = 1
	}
	return v
}
