package losses_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
	"github.com/contrastive-go/contrastive/losses"
)

// refValueGrad returns the loss of the batch x (b×d) against the
// reference rows ref (with refLabels) and its gradient with respect to
// x, through LossRef (fast: the fused reference ops) or through Loss with
// the Ref field set (the general composition over the concatenated
// matrix and masks).
func refValueGrad(t *testing.T, l losses.Referenced, fast bool, dt tensor.Dtype, x []float64, labels []int, ref []float64, refLabels []int) (float64, []float64) {
	t.Helper()
	b, r := len(labels), len(refLabels)
	d := len(x) / b
	g := G.NewGraph()
	emb := G.NewMatrix(g, dt, G.WithShape(b, d), G.WithName("emb"), G.WithValue(graph.DenseOf(dt, x, b, d)))
	lab := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
	re := G.NewMatrix(g, dt, G.WithShape(r, d), G.WithName("ref"), G.WithValue(graph.DenseOf(dt, ref, r, d)))
	rl := G.NewVector(g, tensor.Int, G.WithShape(r), G.WithName("reflabels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), refLabels...)))))
	set := &losses.Ref{Embeddings: re, Labels: rl}
	var cost *G.Node
	var err error
	if fast {
		cost, err = l.LossRef(emb, lab, set)
	} else {
		switch v := l.(type) {
		case losses.Contrastive:
			v.Ref = set
			cost, err = v.Loss(emb, lab)
		case losses.NTXent:
			v.Ref = set
			cost, err = v.Loss(emb, lab)
		default:
			t.Fatalf("no composition for %T", l)
		}
	}
	require.NoError(t, err)
	grads, err := G.Grad(cost, emb)
	require.NoError(t, err)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	v, err := graphtest.Float64s(cost.Value())
	require.NoError(t, err)
	gr, err := graphtest.Float64s(grads[0].Value())
	require.NoError(t, err)
	return v[0], gr
}

// TestRefFastMatchesComposition: the fused reference ops (graph.RefNTXent,
// graph.RefContrastive, taken by LossRef) give the value and gradient of
// the general composition over the B×(B+R) matrix and label masks, to
// ~1e-12 in float64 and ~1e-4 in float32, for full memories (the fast
// path), memories with empty slots, labels beyond the lookup table, rows
// without negatives or positives, and τ = 1e-3 (a positive dominates some
// rows: the exact fallback).
func TestRefFastMatchesComposition(t *testing.T) {
	const b, d, r = 12, 5, 40
	full := make([]int, r)
	for j := range full {
		full[j] = j % 5
	}
	partial := append([]int(nil), full...)
	for j := 30; j < r; j++ {
		partial[j] = -1
	}
	huge := make([]int, r)
	for j := range huge {
		huge[j] = 1_000_000_007 * (j % 3)
	}
	single := make([]int, r) // every reference row has class 0
	labelSets := []struct {
		name      string
		batch     []int
		refLabels []int
	}{
		{"full", []int{0, 0, 1, 1, 2, 2, 3, 3, 4, 0, 1, 7}, full},
		{"partial", []int{0, 0, 1, 1, 2, 2, 3, 3, 4, 0, 1, 7}, partial},
		{"huge-labels", []int{0, 0, 1_000_000_007, 1_000_000_007, 0, 2_000_000_014, 5, 5, 0, 0, 0, 9}, huge},
		{"single-class", make([]int, b), single}, // no negatives anywhere
	}
	cases := []struct {
		name string
		loss losses.Referenced
	}{
		{"ntxent/cosine", losses.NewNTXent()},
		{"ntxent/tau=0.5/sum", losses.NTXent{Temperature: 0.5, Reducer: losses.Sum}},
		{"ntxent/tau=1e-3", losses.NTXent{Temperature: 1e-3}},
		{"ntxent/euclidean", losses.NTXent{Distance: graph.Euclidean{}, Temperature: 0.3}},
		{"ntxent/sqeuclidean/sum", losses.NTXent{Distance: graph.SquaredEuclidean{}, Temperature: 2, Reducer: losses.Sum}},
		{"contrastive/pml", losses.ContrastivePML()},
		{"contrastive/hadsell", losses.NewContrastive()},
		{"contrastive/cosine/sum", losses.Contrastive{Distance: graph.Cosine{}, PosMargin: 0.8, NegMargin: 0.1, Reducer: losses.Sum}},
		{"contrastive/euclidean/mean-nonzero/pooled", losses.Contrastive{Distance: graph.Euclidean{}, PosMargin: 0.3, NegMargin: 2, Squared: true, Reducer: losses.MeanNonZero}},
		{"contrastive/sqeuclidean/mean/balanced", losses.Contrastive{Distance: graph.SquaredEuclidean{}, NegMargin: 3, Reducer: losses.Mean, Balanced: true}},
	}
	x := randEmb(201, b, d, 1)
	ref := randEmb(202, r, d, 1)
	for _, ls := range labelSets {
		for _, tc := range cases {
			for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
				t.Run(fmt.Sprintf("%s/%s/%v", ls.name, tc.name, dt), func(t *testing.T) {
					want, wantGrad := refValueGrad(t, tc.loss, false, dt, x, ls.batch, ref, ls.refLabels)
					got, gotGrad := refValueGrad(t, tc.loss, true, dt, x, ls.batch, ref, ls.refLabels)
					abs, rel := 1e-12, 1e-12
					if dt == tensor.Float32 {
						abs, rel = 1e-4, 1e-4
					}
					graphtest.RequireClose(t, want, got, abs, rel, "loss")
					graphtest.RequireAllClose(t, wantGrad, gotGrad, abs, rel, "gradient")
				})
			}
		}
	}
}

// TestRefFastGradient: finite differences of the fused reference losses
// agree with their gradient, on a full memory (the fast path).
func TestRefFastGradient(t *testing.T) {
	const b, d, r = 6, 3, 10
	labels := []int{0, 0, 1, 2, 1, 3}
	refLabels := []int{2, 0, 3, 3, 1, 0, 1, 2, 3, 4}
	x := randEmb(211, b, d, 1)
	ref := randEmb(212, r, d, 1)
	for _, tc := range []struct {
		name string
		loss losses.Referenced
	}{
		{"ntxent", losses.NTXent{Temperature: 0.5}},
		{"ntxent/euclidean/sum", losses.NTXent{Distance: graph.Euclidean{}, Temperature: 0.7, Reducer: losses.Sum}},
		{"contrastive/pml", losses.ContrastivePML()},
		{"contrastive/hadsell", losses.NewContrastive()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				emb := G.NewMatrix(g, tensor.Float64, G.WithShape(b, d), G.WithName("emb"), G.WithValue(graph.DenseOf(tensor.Float64, x, b, d)))
				lab := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
				re := G.NewMatrix(g, tensor.Float64, G.WithShape(r, d), G.WithName("ref"), G.WithValue(graph.DenseOf(tensor.Float64, ref, r, d)))
				rl := G.NewVector(g, tensor.Int, G.WithShape(r), G.WithName("reflabels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), refLabels...)))))
				cost, err := tc.loss.LossRef(emb, lab, &losses.Ref{Embeddings: re, Labels: rl})
				return cost, []*G.Node{emb}, err
			}, graphtest.GradOptions{})
		})
	}
}

// TestRefFastParallelRows: on a memory large enough for the row-parallel
// kernels (40 rows × 2,040 partners, over graph's parallel threshold) the
// fused losses still match the composition.
func TestRefFastParallelRows(t *testing.T) {
	const b, d, r = 40, 4, 2000
	labels := make([]int, b)
	for i := range labels {
		labels[i] = i % 7
	}
	refLabels := make([]int, r)
	for j := range refLabels {
		refLabels[j] = (3 * j) % 9
	}
	x, ref := randEmb(221, b, d, 1), randEmb(222, r, d, 1)
	for _, l := range []losses.Referenced{losses.NewNTXent(), losses.ContrastivePML(), losses.TripletPML()} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%T/%v", l, dt), func(t *testing.T) {
				abs, rel := 1e-12, 1e-12
				if dt == tensor.Float32 {
					abs, rel = 1e-4, 1e-4
				}
				got, gotGrad := refValueGrad(t, l, true, dt, x, labels, ref, refLabels)
				if _, ok := l.(losses.Triplet); ok { // the oracle: the loss of the batch with the memory appended
					all := append(append([]float64(nil), x...), ref...)
					allL := append(append([]int(nil), labels...), refLabels...)
					want := refTripletHardOracle(metric{"euclidean", true}, 0.05, "mean-nonzero", rows(all, d), allL, b)
					graphtest.RequireClose(t, want, got, abs, rel, "loss")
					return
				}
				want, wantGrad := refValueGrad(t, l, false, dt, x, labels, ref, refLabels)
				graphtest.RequireClose(t, want, got, abs, rel, "loss")
				graphtest.RequireAllClose(t, wantGrad, gotGrad, abs, rel, "gradient")
			})
		}
	}
}
