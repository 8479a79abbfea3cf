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
// The selection is recomputed from the labels each batch inside the graph;
// fewer than two tuples leave only the penalty.
type NPair struct {
	// L2 is the weight λ ≥ 0 of the embedding-norm penalty.
	L2 float64
}

// NewNPair returns Sohn's N-pair loss with λ = 0.002.
func NewNPair() NPair { return NPair{L2: 0.002} }

// NPairPML returns pytorch-metric-learning's NPairsLoss defaults: no
// embedding penalty (the zero NPair).
func NPairPML() NPair { return NPair{} }

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
	tuples, err := graph.ApplyForward(fmt.Sprintf("npairtuples(cap=%d)", c), tensor.Float64, 2,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{3, c}, nil },
		func(in []G.Value) (G.Value, error) {
			return tensor.New(tensor.WithShape(3, c), tensor.WithBacking(npairTuples(in[0].Data().([]int), c))), nil
		}, labels)
	if err != nil {
		return nil, err
	}
	anchorIdx, err := graph.ApplyForward("npairrow(0)", tensor.Int, 1, vecShape(c), intRow(0, c), tuples)
	if err != nil {
		return nil, err
	}
	posIdx, err := graph.ApplyForward("npairrow(1)", tensor.Int, 1, vecShape(c), intRow(1, c), tuples)
	if err != nil {
		return nil, err
	}
	valid, err := graph.ApplyForward(fmt.Sprintf("npairvalid(%v)", dt), dt, 1, vecShape(c), floatRow(2, c, dt), tuples)
	if err != nil {
		return nil, err
	}
	e := graph.NewExpr(dt)
	anchors := e.Do(func() (*G.Node, error) { return G.ByIndices(emb, anchorIdx, 0) }) // C×D, f_i
	positives := e.Do(func() (*G.Node, error) { return G.ByIndices(emb, posIdx, 0) })  // C×D, f_i⁺
	logits := e.Matrix(graph.DotProduct{}, anchors, positives)                         // C×C, f_iᵀf_j⁺
	x := e.SubCol(logits, e.Sum(e.Mul(anchors, positives), 1))                         // f_iᵀf_j⁺ − f_iᵀf_i⁺
	negMask := e.Do(func() (*G.Node, error) { return npairNegatives(tuples, c, dt) })  // valid j ≠ i of a valid row i
	loss := e.WeightedMean(e.MaskedLog1pSumExp(x, negMask), valid)                     // 1/N Σ_i log(1 + Σ_j e^{x_ij})
	if l.L2 != 0 {
		sqNorm := func(f *G.Node) *G.Node { return e.WeightedMean(e.Sum(e.Square(f), 1), valid) } // 1/N Σ_i ||f_i||²
		loss = e.Add(loss, e.Scale(e.Add(sqNorm(anchors), sqNorm(positives)), 0.25*l.L2))
	}
	return end(name, e, loss)
}

// npairNegatives returns the C×C mask of valid j ≠ i of a valid row i.
func npairNegatives(tuples *G.Node, c int, dt tensor.Dtype) (*G.Node, error) {
	return graph.ApplyForward(fmt.Sprintf("npairneg(%v)", dt), dt, 2,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{c, c}, nil },
		func(in []G.Value) (G.Value, error) {
			v := in[0].Data().([]float64)[2*c : 3*c]
			out := make([]float64, c*c)
			for i := 0; i < c; i++ {
				for j := 0; j < c; j++ {
					if i != j && v[i] != 0 && v[j] != 0 {
						out[i*c+j] = 1
					}
				}
			}
			return graph.DenseOf(dt, out, c, c), nil
		}, tuples)
}

// npairTuples packs (anchor, positive, valid) rows for capacity c: the first
// two samples of each class in order of first appearance.
func npairTuples(labels []int, c int) []float64 {
	out := make([]float64, 3*c)
	first := map[int]int{}
	used := map[int]bool{}
	n := 0
	for i, l := range labels {
		f, seen := first[l]
		if !seen {
			first[l] = i
			continue
		}
		if used[l] || n == c {
			continue
		}
		used[l] = true
		out[n], out[c+n], out[2*c+n] = float64(f), float64(i), 1
		n++
	}
	return out
}

func vecShape(c int) func([]tensor.Shape) (tensor.Shape, error) {
	return func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{c}, nil }
}

func intRow(k, c int) func([]G.Value) (G.Value, error) {
	return func(in []G.Value) (G.Value, error) {
		src := in[0].Data().([]float64)[k*c : (k+1)*c]
		out := make([]int, c)
		for i, v := range src {
			out[i] = int(v)
		}
		return tensor.New(tensor.WithShape(c), tensor.WithBacking(out)), nil
	}
}

func floatRow(k, c int, dt tensor.Dtype) func([]G.Value) (G.Value, error) {
	return func(in []G.Value) (G.Value, error) {
		return graph.DenseOf(dt, append([]float64(nil), in[0].Data().([]float64)[k*c:(k+1)*c]...), c), nil
	}
}
