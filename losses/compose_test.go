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
	"github.com/contrastive-go/contrastive/mining"
)

// The reference-set oracles are the batch oracles' loops over the batch
// with the reference rows appended, with only the first nq rows (the
// batch) as anchors, as the Ref doc states.

func refContrastiveOracle(m metric, pm, nm float64, x [][]float64, labels []int, nq int) float64 {
	sum, n := 0.0, 0
	for i := 0; i < nq; i++ {
		for j := range x {
			if i == j {
				continue
			}
			d := m.d(x, i, j)
			if labels[i] == labels[j] {
				sum += relu(d-pm) * relu(d-pm)
			} else {
				sum += relu(nm-d) * relu(nm-d)
			}
			n++
		}
	}
	return sum / float64(n)
}

func refNTXentOracle(m metric, tau float64, x [][]float64, labels []int, nq int) float64 {
	sum, n := 0.0, 0
	for i := 0; i < nq; i++ {
		for j := range x {
			if i == j || labels[i] != labels[j] {
				continue
			}
			n++
			den := []float64{m.z(x, i, j, tau)}
			for k := range x {
				if labels[k] != labels[i] {
					den = append(den, m.z(x, i, k, tau))
				}
			}
			sum += logSumExp(den) - m.z(x, i, j, tau)
		}
	}
	return sum / float64(n)
}

// buildRef is build with a reference set (refX, refLabels) as plain input
// nodes; the gradient is checked with respect to the batch only.
func buildRef(mk func(*losses.Ref) lossFn, x []float64, labels []int, refX []float64, refLabels []int, d int) graphtest.Build {
	return func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		b, r := len(labels), len(refLabels)
		emb := G.NewMatrix(g, tensor.Float64, G.WithShape(b, d), G.WithName("emb"), G.WithValue(graph.DenseOf(tensor.Float64, append([]float64(nil), x...), b, d)))
		lab := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
		remb := G.NewMatrix(g, tensor.Float64, G.WithShape(r, d), G.WithName("ref"), G.WithValue(graph.DenseOf(tensor.Float64, append([]float64(nil), refX...), r, d)))
		rlab := G.NewVector(g, tensor.Int, G.WithShape(r), G.WithName("reflabels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), refLabels...)))))
		cost, err := mk(&losses.Ref{Embeddings: remb, Labels: rlab}).Loss(emb, lab)
		return cost, []*G.Node{emb}, err
	}
}

func TestReferenceSetMatchesOracle(t *testing.T) {
	const d = 3
	labels := []int{0, 0, 1, 2, 1, 3}
	refLabels := []int{2, 0, 3, 3, 1}
	x := randEmb(7, len(labels), d, 1)
	refX := randEmb(8, len(refLabels), d, 1)
	all := rows(append(append([]float64(nil), x...), refX...), d)
	allLabels := append(append([]int(nil), labels...), refLabels...)
	nq := len(labels)
	for _, tc := range []struct {
		name string
		mk   func(*losses.Ref) lossFn
		want float64
	}{
		{"contrastive/euclidean", func(r *losses.Ref) lossFn {
			return losses.Contrastive{Distance: graph.Euclidean{}, PosMargin: 0.2, NegMargin: 1.5, Squared: true, Ref: r}
		}, refContrastiveOracle(metric{"euclidean", false}, 0.2, 1.5, all, allLabels, nq)},
		{"ntxent/cosine", func(r *losses.Ref) lossFn { return losses.NTXent{Temperature: 0.5, Ref: r} },
			refNTXentOracle(metric{"cosine", true}, 0.5, all, allLabels, nq)},
		{"ntxent/sqeuclidean", func(r *losses.Ref) lossFn {
			return losses.NTXent{Distance: graph.SquaredEuclidean{}, Temperature: 2, Ref: r}
		}, refNTXentOracle(metric{"sqeuclidean", false}, 2, all, allLabels, nq)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := graphtest.CheckGradient(t, buildRef(tc.mk, x, labels, refX, refLabels, d), graphtest.GradOptions{})
			// want: the oracle over the batch with the reference rows appended
			graphtest.RequireClose(t, tc.want, res.Cost, 1e-12, 1e-10, tc.name)
		})
	}
}

func TestReferenceSetErrors(t *testing.T) {
	const d = 3
	labels := []int{0, 0, 1, 1}
	x := randEmb(9, len(labels), d, 1)
	for _, tc := range []struct {
		name      string
		refX      []float64
		refLabels []int
		rd        int
		want      string
	}{
		{"wrong width", randEmb(1, 4, 2, 1), []int{0, 1}, 2, "reference embeddings are"},
		{"labels short", randEmb(1, 6, 3, 1), []int{0}, 3, "reference set: graph: labels has 1 entries, embeddings have 6 rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := G.NewGraph()
			emb := G.NewMatrix(g, tensor.Float64, G.WithShape(len(labels), d), G.WithValue(graph.DenseOf(tensor.Float64, x, len(labels), d)))
			lab := G.NewVector(g, tensor.Int, G.WithShape(len(labels)), G.WithValue(tensor.New(tensor.WithBacking(labels))))
			r := len(tc.refX) / tc.rd
			remb := G.NewMatrix(g, tensor.Float64, G.WithShape(r, tc.rd), G.WithValue(graph.DenseOf(tensor.Float64, tc.refX, r, tc.rd)))
			rlab := G.NewVector(g, tensor.Int, G.WithShape(len(tc.refLabels)), G.WithValue(tensor.New(tensor.WithShape(len(tc.refLabels)), tensor.WithBacking(tc.refLabels))))
			_, err := losses.NTXent{Ref: &losses.Ref{Embeddings: remb, Labels: rlab}}.Loss(emb, lab)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "losses: nt-xent: ")
		})
	}
}

// TestZeroValuesAreDefaults: a zero softmax loss is its New… preset.
func TestZeroValuesAreDefaults(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2}
	x := randEmb(11, len(labels), 4, 1)
	for _, tc := range []struct {
		zero, preset lossFn
	}{
		{losses.NTXent{}, losses.NewNTXent()},
		{losses.SupCon{}, losses.NewSupCon()},
		{losses.NCE{}, losses.NewNCE()},
		{losses.SoftNearestNeighbor{}, losses.NewSoftNearestNeighbor()},
	} {
		t.Run(fmt.Sprintf("%T", tc.zero), func(t *testing.T) {
			z, err := graphtest.Eval(build(tc.zero, x, labels, 4))
			require.NoError(t, err)
			p, err := graphtest.Eval(build(tc.preset, x, labels, 4))
			require.NoError(t, err)
			require.Equal(t, p.Cost, z.Cost)
		})
	}
}

// TestNTXentWithMinerMatchesOracle: with mining.PairMargin on Euclidean
// distances, NT-Xent's positives are the positive pairs farther than
// PosMargin and each anchor's negatives those closer than NegMargin.
func TestNTXentWithMinerMatchesOracle(t *testing.T) {
	const d, pm, nm, tau = 3, 1.0, 2.0, 0.5
	labels := []int{0, 0, 1, 1, 2, 2, 0, 1}
	x := randEmb(42, len(labels), d, 1)
	m := metric{"euclidean", false}
	xr := rows(x, d)
	// oracle: the NT-Xent loop of ntxentOracle over the mined pairs only
	sum, n := 0.0, 0
	for i := range xr {
		for j := range xr {
			if i == j || labels[i] != labels[j] || !(m.d(xr, i, j) > pm) {
				continue
			}
			n++
			den := []float64{-m.d(xr, i, j) / tau}
			for k := range xr {
				if labels[k] != labels[i] && m.d(xr, i, k) < nm {
					den = append(den, -m.d(xr, i, k)/tau)
				}
			}
			sum += logSumExp(den) + m.d(xr, i, j)/tau
		}
	}
	require.Positive(t, n, "the batch must mine some positive pairs")
	l := losses.NTXent{Distance: graph.Euclidean{}, Temperature: tau, Miner: mining.PairMargin{PosMargin: pm, NegMargin: nm}}
	res := graphtest.CheckGradient(t, build(l, x, labels, d), graphtest.GradOptions{})
	graphtest.RequireClose(t, sum/float64(n), res.Cost, 1e-12, 1e-10, "nt-xent with pair-margin miner")
}

// TestSoftmaxLossesSumReducer: with Reducer Sum, NT-Xent is its mean
// oracle times the number of positive pairs, and SupCon and soft nearest
// neighbour their mean oracles times the number of anchors with a positive.
func TestSoftmaxLossesSumReducer(t *testing.T) {
	labels := []int{0, 0, 1, 1, 1, 2, 3}
	const d = 4
	x := randEmb(13, len(labels), d, 1)
	xr := rows(x, d)
	pairs, anchors := 0, 0
	for i := range labels {
		has := false
		for j := range labels {
			if i != j && labels[i] == labels[j] {
				pairs++
				has = true
			}
		}
		if has {
			anchors++
		}
	}
	cos := metric{"cosine", true}
	for _, tc := range []struct {
		name string
		loss lossFn
		want float64
	}{
		{"ntxent", losses.NTXent{Temperature: 0.5, Reducer: losses.Sum}, ntxentOracle{cos, 0.5}.loss(xr, labels) * float64(pairs)},
		{"supcon", losses.SupCon{Temperature: 0.5, Reducer: losses.Sum}, supconOracle{cos, 0.5}.loss(xr, labels) * float64(anchors)},
		{"snn", losses.SoftNearestNeighbor{Temperature: 2, Reducer: losses.Sum}, snnOracle{metric{"sqeuclidean", false}, 2}.loss(xr, labels) * float64(anchors)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := graphtest.CheckGradient(t, build(tc.loss, x, labels, d), graphtest.GradOptions{})
			graphtest.RequireClose(t, tc.want, res.Cost, 1e-12, 1e-10, tc.name)
		})
	}
}
