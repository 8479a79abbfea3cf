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
	// (O(B) work, into buffers the op keeps), so every op returns its own
	// dtype: Int indices, a float mask.
	tuple := func(what string, out tensor.Dtype, n int, f func(t *npairSelection, dst any)) (*G.Node, error) {
		var sel npairScratch
		var buf *tensor.Dense
		return graph.ApplyForward(fmt.Sprintf("npair%s(cap=%d,%v)", what, c, out), out, 1,
			func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{n}, nil },
			func(in []G.Value) (G.Value, error) {
				sel.fill(in[0].Data().([]int), c)
				if buf == nil || !buf.Shape().Eq(tensor.Shape{n}) {
					buf = tensor.New(tensor.WithShape(n), tensor.Of(out))
				}
				f(&sel.npairSelection, buf.Data())
				return buf, nil
			}, labels)
	}
	valid, err := tuple("valid", dt, c, func(t *npairSelection, dst any) { t.valid(dst) })
	if err != nil {
		return nil, err
	}
	e := graph.NewExpr(dt)
	var logits, penalty *G.Node // C×C s(f_i, f_j⁺); ¼λ·1/N Σ_i ||f_i||² + ||f_i⁺||²
	if dist := distanceOr(l.Distance, graph.DotProduct{}); dist == (graph.DotProduct{}) {
		// f_1 … f_C over f_1⁺ … f_C⁺, one gather (and one scatter back)
		both, err := tuple("rows", tensor.Int, 2*c, func(t *npairSelection, dst any) {
			r := dst.([]int)
			copy(r, t.anchor)
			copy(r[c:], t.positive)
		})
		if err != nil {
			return nil, err
		}
		rows := e.GatherRows(emb, both)
		logits = e.HalvesDot(rows, valid) // f_iᵀf_j⁺ over the filled slots only
		if l.L2 != 0 {
			penalty = e.SqNormMean(rows, valid, 0.25*l.L2)
		}
	} else {
		anchorIdx, err := tuple("anchors", tensor.Int, c, func(t *npairSelection, dst any) { copy(dst.([]int), t.anchor) })
		if err != nil {
			return nil, err
		}
		posIdx, err := tuple("positives", tensor.Int, c, func(t *npairSelection, dst any) { copy(dst.([]int), t.positive) })
		if err != nil {
			return nil, err
		}
		anchors := e.GatherRows(emb, anchorIdx) // C×D, f_i
		positives := e.GatherRows(emb, posIdx)  // C×D, f_i⁺
		if logits = e.Matrix(dist, anchors, positives); !dist.LargerIsCloser() {
			logits = e.Neg(logits) // −d(f_i, f_j⁺)
		}
		if l.L2 != 0 {
			both := e.Add(e.SqNormSum(anchors, valid), e.SqNormSum(positives, valid)) // Σ_i ||f_i||² + ||f_i⁺||²
			penalty = e.Scale(e.DivAtLeastOne(both, e.Sum(valid)), 0.25*l.L2)         // ¼λ · 1/N Σ_i …
		}
	}
	// log(1 + Σ_{j≠i} e^{f_iᵀf_j⁺ − f_iᵀf_i⁺}) = −log softmax_i(i): cross-entropy against the diagonal
	loss := e.MeanDiagonalCrossEntropy(logits, valid) // 1/N Σ_i
	if penalty != nil {
		loss = e.Add(loss, penalty)
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

// npairScratch is a selection and the label table that fills it, kept by a
// forward-only op from run to run.
type npairScratch struct {
	npairSelection
	table []int
}

// npairTuples selects the tuples for capacity c.
func npairTuples(labels []int, c int) npairSelection {
	var t npairScratch
	t.fill(labels, c)
	return t.npairSelection
}

// fill selects the tuples of labels for capacity c into t, reusing its
// buffers.
func (t *npairScratch) fill(labels []int, c int) {
	t.anchor, t.positive, t.n = resize(t.anchor, c), resize(t.positive, c), 0
	// per label: 0 unseen, k+1 first seen at index k, −1 tuple taken; a
	// table for labels in [0, 4B) (class indices), a map for the others
	t.table = resize(t.table, 4*len(labels))
	table := t.table
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
}

// resize returns s with n zeros, reusing its backing when it is large
// enough.
func resize(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// valid writes into dst (a []float32 or []float64 of length C) 1 for a
// filled slot, 0 for padding.
func (t *npairSelection) valid(dst any) {
	switch v := dst.(type) {
	case []float32:
		clear(v)
		for i := 0; i < t.n; i++ {
			v[i] = 1
		}
	case []float64:
		clear(v)
		for i := 0; i < t.n; i++ {
			v[i] = 1
		}
	}
}
