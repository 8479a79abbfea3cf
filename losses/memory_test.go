package losses_test

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
)

// refTripletHardOracle is the batch-hard triplet loss over the batch with
// the reference rows appended: for each of the first nq rows (anchors),
// its farthest positive and closest negative among all other rows.
func refTripletHardOracle(m metric, margin float64, red string, x [][]float64, labels []int, nq int) float64 {
	var terms []float64
	for a := 0; a < nq; a++ {
		dp, dn := math.Inf(-1), math.Inf(1)
		for j := range x {
			if j == a {
				continue
			}
			d := m.d(x, a, j)
			if labels[j] == labels[a] {
				dp = math.Max(dp, d)
			} else {
				dn = math.Min(dn, d)
			}
		}
		if math.IsInf(dp, 0) || math.IsInf(dn, 0) {
			continue
		}
		terms = append(terms, relu(dp-dn+margin))
	}
	return reduceTerms(terms, red)
}

// xbmCase is an inner loss with the oracle of the batch (first nq rows of
// x as anchors) against all rows of x.
type xbmCase struct {
	name   string
	inner  losses.Referenced
	oracle func(x [][]float64, labels []int, nq int) float64
}

func xbmCases() []xbmCase {
	euc, cos := metric{"euclidean", false}, metric{"cosine", true}
	return []xbmCase{
		{"contrastive", losses.Contrastive{Distance: graph.Euclidean{}, PosMargin: 0.2, NegMargin: 1.5, Squared: true},
			func(x [][]float64, l []int, nq int) float64 { return refContrastiveOracle(euc, 0.2, 1.5, x, l, nq) }},
		{"triplet", losses.Triplet{Distance: graph.Euclidean{}, Margin: 0.3, Reducer: losses.Mean},
			func(x [][]float64, l []int, nq int) float64 { return refTripletHardOracle(euc, 0.3, "mean", x, l, nq) }},
		{"triplet/cosine/mean-nonzero", losses.Triplet{Distance: graph.Cosine{}, Margin: 0.5, Reducer: losses.MeanNonZero, Miner: mining.BatchHard{}},
			func(x [][]float64, l []int, nq int) float64 {
				return refTripletHardOracle(cos, 0.5, "mean-nonzero", x, l, nq)
			}},
		{"ntxent", losses.NTXent{Temperature: 0.5},
			func(x [][]float64, l []int, nq int) float64 { return refNTXentOracle(cos, 0.5, x, l, nq) }},
	}
}

// xbmGraph builds the loss of x on a b×d batch bound per step, with the
// gradient with respect to the batch.
type xbmGraph struct {
	g         *G.ExprGraph
	emb, lab  *G.Node
	cost, grd *G.Node
	vm        G.VM
}

func newXBMGraph(t *testing.T, l lossFn, b, d int) *xbmGraph {
	t.Helper()
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(b, d), G.WithName("emb"))
	lab := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"))
	cost, err := l.Loss(emb, lab)
	require.NoError(t, err)
	grads, err := G.Grad(cost, emb)
	require.NoError(t, err)
	x := &xbmGraph{g: g, emb: emb, lab: lab, cost: cost, grd: grads[0], vm: G.NewTapeMachine(g)}
	t.Cleanup(func() { x.vm.Close() })
	return x
}

func (x *xbmGraph) run(t *testing.T, v []float64, labels []int) (float64, []float64) {
	t.Helper()
	b, d := len(labels), len(v)/len(labels)
	require.NoError(t, G.Let(x.emb, graph.DenseOf(tensor.Float64, append([]float64(nil), v...), b, d)))
	require.NoError(t, G.Let(x.lab, tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
	defer x.vm.Reset()
	require.NoError(t, x.vm.RunAll())
	return x.cost.Value().Data().(float64), append([]float64(nil), x.grd.Value().Data().([]float64)...)
}

// TestXBMEmptyMemoryEqualsPlainLoss: before anything is pushed, XBM's loss
// and gradient are the inner loss's on the batch alone.
func TestXBMEmptyMemoryEqualsPlainLoss(t *testing.T) {
	const d = 4
	labels := []int{0, 0, 1, 1, 2, 2, 0, 1}
	v := randEmb(71, len(labels), d, 1)
	for _, tc := range xbmCases() {
		t.Run(tc.name, func(t *testing.T) {
			x, err := losses.NewXBM(tc.inner, 16)
			require.NoError(t, err)
			got, gotGrad := newXBMGraph(t, x, len(labels), d).run(t, v, labels)
			plain := tc.inner.(lossFn)
			if tr, ok := plain.(losses.Triplet); ok { // the plain equivalent is batch hard
				tr.Miner = mining.BatchHard{}
				plain = tr
			}
			want, wantGrad := newXBMGraph(t, plain, len(labels), d).run(t, v, labels)
			graphtest.RequireClose(t, want, got, 1e-13, 1e-12, "loss")
			graphtest.RequireAllClose(t, wantGrad, gotGrad, 1e-13, 1e-12, "gradient")
			// and the oracle of the batch alone
			graphtest.RequireClose(t, tc.oracle(rows(v, d), labels, len(labels)), got, 1e-12, 1e-10, "oracle")
		})
	}
}

// TestXBMMatchesOracleOverSteps runs four steps of a memory of 6 rows with
// batches of 4 (it wraps at the second push) and checks every step's loss
// against the float64 oracle on the batch with the memory's rows appended,
// the memory being the last 6 rows of the earlier batches (a plain slice
// model of the FIFO).
func TestXBMMatchesOracleOverSteps(t *testing.T) {
	const d, size = 3, 6
	labels := [][]int{{0, 0, 1, 1}, {1, 2, 2, 0}, {0, 1, 2, 2}, {2, 0, 1, 0}}
	for _, tc := range xbmCases() {
		t.Run(tc.name, func(t *testing.T) {
			x, err := losses.NewXBM(tc.inner, size)
			require.NoError(t, err)
			xg := newXBMGraph(t, x, 4, d)
			var memX []float64 // every pushed row, oldest first
			var memL []int
			for s, l := range labels {
				v := randEmb(uint64(80+s), len(l), d, 1)
				got, _ := xg.run(t, v, l)
				from := max(0, len(memL)-size)
				all := append(append([]float64(nil), v...), memX[from*d:]...)
				allL := append(append([]int(nil), l...), memL[from:]...)
				graphtest.RequireClose(t, tc.oracle(rows(all, d), allL, len(l)), got, 1e-12, 1e-10, "step loss")
				require.NoError(t, x.AfterStep())
				memX, memL = append(memX, v...), append(memL, l...)
				rowsHeld, labelsHeld := x.Queue().Contents()
				from = max(0, len(memL)-size)
				require.Equal(t, memL[from:], labelsHeld, "memory labels after step %d", s)
				graphtest.RequireAllClose(t, memX[from*d:], rowsHeld, 0, 0, "memory rows")
			}
		})
	}
}

// TestXBMGradientWithMemory: finite differences of the loss with a full,
// wrapped memory agree with the symbolic gradient of the batch.
func TestXBMGradientWithMemory(t *testing.T) {
	const d = 3
	labels := []int{0, 0, 1, 2, 1, 3}
	v := randEmb(91, len(labels), d, 1)
	mem := randEmb(92, 9, d, 1)
	memL := []int{2, 0, 3, 3, 1, 0, 1, 2, 3}
	for _, tc := range xbmCases() {
		t.Run(tc.name, func(t *testing.T) {
			res := graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				x, err := losses.NewXBM(tc.inner, 7)
				if err != nil {
					return nil, nil, err
				}
				emb := G.NewMatrix(g, tensor.Float64, G.WithShape(len(labels), d), G.WithName("emb"), G.WithValue(graph.DenseOf(tensor.Float64, append([]float64(nil), v...), len(labels), d)))
				lab := G.NewVector(g, tensor.Int, G.WithShape(len(labels)), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
				cost, err := x.Loss(emb, lab)
				if err != nil {
					return nil, nil, err
				}
				return cost, []*G.Node{emb}, x.Queue().Push(mem, memL) // 9 rows into 7: the last 7 stay
			}, graphtest.GradOptions{})
			all := append(append([]float64(nil), v...), mem[2*d:]...)
			allL := append(append([]int(nil), labels...), memL[2:]...)
			graphtest.RequireClose(t, tc.oracle(rows(all, d), allL, len(labels)), res.Cost, 1e-12, 1e-10, "oracle")
		})
	}
}

// TestXBMNoGradientIntoMemory: the memory's values are not changed by a
// forward and backward pass, and the graph has no derivative op for the
// memory's side of the pairwise matrix (no Size×D gradient is computed).
func TestXBMNoGradientIntoMemory(t *testing.T) {
	const d = 3
	labels := []int{0, 0, 1, 1}
	for _, tc := range xbmCases() {
		t.Run(tc.name, func(t *testing.T) {
			x, err := losses.NewXBM(tc.inner, 5)
			require.NoError(t, err)
			xg := newXBMGraph(t, x, len(labels), d)
			require.NoError(t, x.Queue().Push(randEmb(3, 5, d, 1), []int{0, 1, 2, 0, 1}))
			before, _ := x.Queue().Contents()
			xg.run(t, randEmb(4, 4, d, 1), labels)
			after, _ := x.Queue().Contents()
			require.Equal(t, before, after)
			for _, n := range xg.g.AllNodes() {
				if n.Op() != nil {
					require.False(t, strings.HasPrefix(n.Op().String(), "pairmatrix_d1"), "derivative into the memory: %v", n.Op())
				}
			}
		})
	}
}

func TestXBMErrors(t *testing.T) {
	_, err := losses.NewXBM(nil, 4)
	require.ErrorContains(t, err, "losses: xbm: nil inner loss")
	_, err = losses.NewXBM(losses.NewContrastive(), 0)
	require.ErrorContains(t, err, "losses: xbm: memory size is 0")
	x, err := losses.NewXBM(losses.NewContrastive(), 4)
	require.NoError(t, err)
	require.ErrorContains(t, x.AfterStep(), "before the loss was built")
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 2))
	lab := G.NewVector(g, tensor.Int, G.WithShape(4))
	_, err = x.Loss(emb, lab)
	require.NoError(t, err)
	_, err = x.Loss(emb, lab)
	require.ErrorContains(t, err, "one XBM per trainer")
	// a triplet miner other than batch hard cannot read the memory
	y, err := losses.NewXBM(losses.Triplet{Miner: mining.AllTriplets{}}, 4)
	require.NoError(t, err)
	_, err = y.Loss(emb, lab)
	require.ErrorContains(t, err, "losses: triplet: with a reference set")
	// nor the swap, nor a batch-hard miner on its own distance
	for _, tl := range []losses.Triplet{{Swap: true}, {Miner: mining.BatchHard{Distance: graph.Cosine{}}}} {
		v, err := losses.NewXBM(tl, 4)
		require.NoError(t, err)
		_, err = v.Loss(emb, lab)
		require.ErrorContains(t, err, "losses: triplet: with a reference set")
	}
	// nor can a pair miner
	z, err := losses.NewXBM(losses.Contrastive{Miner: mining.PairMarginPML()}, 4)
	require.NoError(t, err)
	_, err = z.Loss(emb, lab)
	require.ErrorContains(t, err, "cannot be combined")
	// too large a memory is refused before allocating
	w, err := losses.NewXBM(losses.NewContrastive(), graph.MaxQueueValues)
	require.NoError(t, err)
	_, err = w.Loss(emb, lab)
	require.ErrorContains(t, err, "exceeds MaxQueueValues")
}

// TestXBMWarmup: the memory stays empty for Warmup steps.
func TestXBMWarmup(t *testing.T) {
	x, err := losses.NewXBM(losses.NewContrastive(), 8)
	require.NoError(t, err)
	x.Warmup = 2
	xg := newXBMGraph(t, x, 4, 2)
	for s := 0; s < 3; s++ {
		xg.run(t, randEmb(uint64(s), 4, 2, 1), []int{0, 0, 1, 1})
		require.NoError(t, x.AfterStep())
		want := 0
		if s == 2 {
			want = 4
		}
		require.Equal(t, want, x.Queue().Len(), "after step %d", s)
	}
}
