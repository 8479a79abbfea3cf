package mining_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
	"github.com/contrastive-go/contrastive/mining"
)

func denseOf(shape []int, backing any) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))
}

// TestMineTripletsOpFollowsRebinding builds the graph once (distance matrix
// and labels as inputs, BatchHard as an op, d(a,p) gathered with ByIndices
// on axis 0 of the flattened matrix), runs it, rebinds new labels and a new
// matrix with G.Let and runs it again on the same machine.
func TestMineTripletsOpFollowsRebinding(t *testing.T) {
	const b = 6
	g := G.NewGraph()
	dist := G.NewMatrix(g, tensor.Float64, G.WithShape(b, b), G.WithName("dist"),
		G.WithValue(denseOf([]int{b, b}, append([]float64(nil), tieDist...))))
	labels := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"),
		G.WithValue(denseOf([]int{b}, append([]int(nil), tieLabels...))))
	mt, err := mining.TripletOp(mining.BatchHard{}, dist, labels, false, 2)
	require.NoError(t, err)
	require.Equal(t, b, mt.Capacity)
	flat, err := G.Reshape(dist, tensor.Shape{b * b, 1})
	require.NoError(t, err)
	dap, err := G.ByIndices(flat, mt.AP, 0)
	require.NoError(t, err)
	dan, err := G.ByIndices(flat, mt.AN, 0)
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()

	check := func(v []float64, want []triplet) {
		t.Helper()
		ap := mt.AP.Value().Data().([]int)
		an := mt.AN.Value().Data().([]int)
		w := mt.Weight.Value().Data().([]float64)
		gotAP, gotAN := dap.Value().Data().([]float64), dan.Value().Data().([]float64)
		for k := 0; k < b; k++ {
			if k < len(want) {
				a, p, n := want[k][0], want[k][1], want[k][2]
				require.Equal(t, a*b+p, ap[k], "AP slot %d", k)
				require.Equal(t, a*b+n, an[k], "AN slot %d", k)
				require.Equal(t, 1.0, w[k], "weight slot %d", k)
				require.Equal(t, v[a*b+p], gotAP[k], "gathered d(a,p) slot %d", k)
				require.Equal(t, v[a*b+n], gotAN[k], "gathered d(a,n) slot %d", k)
			} else {
				require.Equal(t, 0, ap[k], "padding AP slot %d", k)
				require.Equal(t, 0, an[k], "padding AN slot %d", k)
				require.Equal(t, 0.0, w[k], "padding weight slot %d", k)
			}
		}
	}

	require.NoError(t, m.RunAll())
	// golden from TestTieRules, in anchor order
	check(tieDist, []triplet{{0, 1, 3}, {1, 0, 4}, {2, 0, 3}, {3, 4, 2}, {4, 3, 2}})
	m.Reset()

	// New labels: {0,3} {1,4} {2,5}. By hand from tieDist:
	// a=0: positive 3 (2); negatives 1,2 (3), 4 (2), 5 (5) → 4.
	// a=1: positive 4; negatives 0 (3), 2 (1), 3 (4), 5 (2) → 2.
	// a=2: positive 5; negatives 0 (3), 1 (1), 3 (1), 4 (1) → 1.
	// a=3: positive 0; negatives 1 (4), 2 (1), 4 (3), 5 (3) → 2.
	// a=4: positive 1; negatives 0 (2), 2 (1), 3 (3), 5 (2) → 2.
	// a=5: positive 2; negatives 0 (5), 1 (2), 3 (3), 4 (2) → 1.
	require.NoError(t, G.Let(labels, denseOf([]int{b}, []int{0, 1, 2, 0, 1, 2})))
	require.NoError(t, m.RunAll())
	check(tieDist, []triplet{{0, 3, 4}, {1, 4, 2}, {2, 5, 1}, {3, 0, 2}, {4, 1, 2}, {5, 2, 1}})
	m.Reset()

	// All labels distinct: nothing mined, every slot is padding.
	require.NoError(t, G.Let(labels, denseOf([]int{b}, []int{0, 1, 2, 3, 4, 5})))
	require.NoError(t, m.RunAll())
	check(tieDist, nil)
	m.Reset()

	// A new matrix with the original labels follows the oracle.
	doubled := make([]float64, len(tieDist))
	for i, v := range tieDist {
		doubled[i] = 2 * v
	}
	doubled[0*b+2], doubled[2*b+0] = 7, 7 // positive 2 now farthest for anchor 0
	require.NoError(t, G.Let(labels, denseOf([]int{b}, append([]int(nil), tieLabels...))))
	require.NoError(t, G.Let(dist, denseOf([]int{b, b}, doubled)))
	require.NoError(t, m.RunAll())
	check(doubled, oracleBatchHard(mat{v: doubled, labels: tieLabels}))
}

// TestMinePairsOpMatchesOracle runs MultiSimilarity on cosine similarities
// in float32 through the op and compares the weight matrices with the
// oracle, then rebinds the labels.
func TestMinePairsOpMatchesOracle(t *testing.T) {
	const b = 6
	sims := tenMinus(tieDist)
	s32 := make([]float32, len(sims))
	for i, v := range sims {
		s32[i] = float32(v) // integers: exact in float32
	}
	g := G.NewGraph()
	dist := G.NewMatrix(g, tensor.Float32, G.WithShape(b, b), G.WithName("sims"), G.WithValue(denseOf([]int{b, b}, s32)))
	labels := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"),
		G.WithValue(denseOf([]int{b}, append([]int(nil), tieLabels...))))
	pos, neg, err := mining.PairOp(mining.MultiSimilarityPML(), dist, labels, true, 2)
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()
	for _, l := range [][]int{tieLabels, {0, 1, 2, 0, 1, 2}, {5, 5, 5, 5, 5, 5}} {
		require.NoError(t, G.Let(labels, denseOf([]int{b}, append([]int(nil), l...))))
		require.NoError(t, m.RunAll())
		wantPos, wantNeg := oracleMultiSimilarity(mat{v: sims, larger: true, labels: l}, 0.1)
		for _, c := range []struct {
			node  *G.Node
			pairs []pair
		}{{pos, wantPos}, {neg, wantNeg}} {
			got, err := graphtest.Float64s(c.node.Value())
			require.NoError(t, err)
			want := make([]float64, b*b)
			for _, p := range c.pairs {
				want[p[0]*b+p[1]] = 1
			}
			require.Equal(t, want, got, "labels %v", l)
			require.Equal(t, tensor.Float32, c.node.Dtype())
		}
		m.Reset()
	}
}

// TestMineTripletsOpErrors: miner errors surface from RunAll, never as a
// panic, and bad graph inputs are refused when building.
func TestMineTripletsOpErrors(t *testing.T) {
	g := G.NewGraph()
	dist := G.NewMatrix(g, tensor.Float64, G.WithShape(6, 6), G.WithName("dist"),
		G.WithValue(denseOf([]int{6, 6}, append([]float64(nil), tieDist...))))
	labels := G.NewVector(g, tensor.Int, G.WithShape(6), G.WithName("labels"),
		G.WithValue(denseOf([]int{6}, append([]int(nil), tieLabels...))))
	// DistanceWeighted refuses similarities at run time
	_, err := mining.TripletOp(mining.NewDistanceWeighted(1), dist, labels, true, 8)
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()
	err = m.RunAll()
	require.Error(t, err)
	require.ErrorContains(t, err, "mining: DistanceWeighted needs Euclidean distances")

	g2 := G.NewGraph()
	rect := G.NewMatrix(g2, tensor.Float64, G.WithShape(6, 5), G.WithName("rect"))
	l2 := G.NewVector(g2, tensor.Int, G.WithShape(6), G.WithName("labels"))
	_, err = mining.TripletOp(mining.BatchHard{}, rect, l2, false, 2)
	require.ErrorContains(t, err, "square")
	_, err = mining.TripletOp(mining.TripletsOfType{}, G.NewMatrix(g2, tensor.Float64, G.WithShape(1024, 1024), G.WithName("big")),
		G.NewVector(g2, tensor.Int, G.WithShape(1024), G.WithName("l1024")), false, 2)
	require.ErrorContains(t, err, "set TripletsOfType.Capacity")
}

// TestDistanceWeightedThroughOp: the op passes the embedding dimension on.
func TestDistanceWeightedThroughOp(t *testing.T) {
	m := dwBatch(4, []float64{0.6, 1.5, 1.6}, 8)
	b := m.n()
	g := G.NewGraph()
	dist := G.NewMatrix(g, tensor.Float64, G.WithShape(b, b), G.WithName("dist"), G.WithValue(denseOf([]int{b, b}, m.v)))
	labels := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"), G.WithValue(denseOf([]int{b}, m.labels)))
	mt, err := mining.TripletOp(mining.NewDistanceWeighted(3), dist, labels, false, 8)
	require.NoError(t, err)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	an := mt.AN.Value().Data().([]int)
	w := mt.Weight.Value().Data().([]float64)
	for k := 0; k < 12; k++ { // 4·3 anchor–positive pairs, the only drawable negative is row 4
		require.Equal(t, 4, an[k]%b, "slot %d", k)
		require.Equal(t, 1.0, w[k])
	}
	for k := 12; k < mt.Capacity; k++ {
		require.Zero(t, w[k])
	}
}

// TestMineOpRefusesNonFiniteDistances: the op's copy of the matrix checks
// every entry as Batch.Validate does, in float64 and float32, and names the
// first NaN or ±Inf entry; the same graph runs again once the matrix is
// finite.
func TestMineOpRefusesNonFiniteDistances(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, bad := range []struct {
			v    float64
			want string
		}{{math.NaN(), "mining: distance (2, 3) is NaN"}, {math.Inf(-1), "mining: distance (2, 3) is -Inf"}} {
			g := G.NewGraph()
			d := append([]float64(nil), tieDist...)
			d[2*6+3] = bad.v
			dv := graph.DenseOf(dt, d, 6, 6)
			dist := G.NewMatrix(g, dt, G.WithShape(6, 6), G.WithName("dist"), G.WithValue(dv))
			labels := G.NewVector(g, tensor.Int, G.WithShape(6), G.WithName("labels"),
				G.WithValue(denseOf([]int{6}, append([]int(nil), tieLabels...))))
			mt, err := mining.TripletOp(mining.BatchHard{}, dist, labels, false, 2)
			require.NoError(t, err)
			m := G.NewTapeMachine(g)
			require.ErrorContains(t, m.RunAll(), bad.want, "%v", dt)
			m.Reset()
			require.NoError(t, G.Let(dist, graph.DenseOf(dt, tieDist, 6, 6)))
			require.NoError(t, m.RunAll(), "%v", dt)
			require.NotNil(t, mt.AP.Value())
			m.Close()
		}
	}
}
