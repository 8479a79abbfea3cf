package bench

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
)

// minedCase is one loss with one miner (or none). Every loss group has a
// "None" case, the baseline its mined cases are compared with.
type minedCase struct {
	loss, miner string // the two name levels below BenchmarkMined
	// dist is the loss's distance: the matrix the miner reads.
	dist graph.Distance
	// Exactly one of triplet and pair is set for a loss of that kind; a
	// pair loss with neither runs without a miner (label masks).
	triplet func(p, k int) mining.TripletMiner
	pair    func() mining.PairMiner
	// newLoss returns the loss with the distance dist and the miner.
	newLoss func(dist graph.Distance, tm mining.TripletMiner, pm mining.PairMiner) lossFn
}

// name is the case's name below BenchmarkMined, without the batch size.
func (c minedCase) name() string { return c.loss + "/" + c.miner }

// lossCase adapts the case to the helpers of losses_test.go (build).
func (c minedCase) lossCase() lossCase {
	return lossCase{name: c.name(), loss: func(p, k int) lossFn {
		var tm mining.TripletMiner
		var pm mining.PairMiner
		if c.triplet != nil {
			tm = c.triplet(p, k)
		}
		if c.pair != nil {
			pm = c.pair()
		}
		return c.newLoss(c.dist, tm, pm)
	}}
}

// minedMargin is the triplet loss's margin (NewTriplet's 0.2) and the
// margin of the triplet miners that take one, in the same units.
const minedMargin = 0.2

// minedCases lists the cases of BenchmarkMined; doc.go describes them.
func minedCases() []minedCase {
	triplet := func(dist graph.Distance, tm mining.TripletMiner, _ mining.PairMiner) lossFn {
		l := losses.NewTriplet()
		l.Distance, l.Miner = dist, tm
		return l
	}
	contrastive := func(dist graph.Distance, _ mining.TripletMiner, pm mining.PairMiner) lossFn {
		l := losses.NewContrastive()
		l.Distance, l.Miner = dist, pm
		return l
	}
	lifted := func(dist graph.Distance, _ mining.TripletMiner, pm mining.PairMiner) lossFn {
		l := losses.NewLifted()
		l.Distance, l.Miner = dist, pm
		return l
	}
	// NewTriplet's squared Euclidean; DistanceWeighted needs Euclidean
	// distances between L2-normalised rows, hence the TripletL2 group.
	sq, l2 := graph.SquaredEuclidean{}, graph.Euclidean{Normalize: true}
	all := func(p, k int) mining.TripletMiner {
		return mining.AllTriplets{Capacity: mining.PKTriplets(p, k)}
	}
	ofType := func(t mining.TripletType) func(p, k int) mining.TripletMiner {
		return func(p, k int) mining.TripletMiner {
			return mining.TripletsOfType{Type: t, Margin: minedMargin, Capacity: mining.PKTriplets(p, k)}
		}
	}
	// P×K batches have exactly p·k·(k−1) anchor–positive pairs, the most
	// SemiHard and DistanceWeighted can return; …DefaultCap keeps the
	// miners' worst-case capacity (b−1)(b−2) instead, mostly padding.
	semiHard := func(exact bool) func(p, k int) mining.TripletMiner {
		return func(p, k int) mining.TripletMiner {
			m := mining.SemiHard{Margin: minedMargin, Fallback: mining.FallbackFarthest}
			if exact {
				m.Capacity = p * k * (k - 1)
			}
			return m
		}
	}
	distWeighted := func(exact bool) func(p, k int) mining.TripletMiner {
		return func(p, k int) mining.TripletMiner {
			m := mining.NewDistanceWeighted(seed)
			if exact {
				m.Capacity = p * k * (k - 1)
			}
			return m
		}
	}
	cases := []minedCase{
		{loss: "Triplet", miner: "None", dist: sq, triplet: all, newLoss: triplet},
		{loss: "Triplet", miner: "BatchHard", dist: sq, triplet: func(int, int) mining.TripletMiner { return mining.BatchHard{} }, newLoss: triplet},
		{loss: "Triplet", miner: "SemiHard", dist: sq, triplet: semiHard(true), newLoss: triplet},
		{loss: "Triplet", miner: "SemiHardDefaultCap", dist: sq, triplet: semiHard(false), newLoss: triplet},
		{loss: "Triplet", miner: "TypeHard", dist: sq, triplet: ofType(mining.TypeHard), newLoss: triplet},
		{loss: "Triplet", miner: "TypeSemiHard", dist: sq, triplet: ofType(mining.TypeSemiHard), newLoss: triplet},
		{loss: "Triplet", miner: "TypeEasy", dist: sq, triplet: ofType(mining.TypeEasy), newLoss: triplet},
		{loss: "TripletL2", miner: "None", dist: l2, triplet: all, newLoss: triplet},
		{loss: "TripletL2", miner: "DistanceWeighted", dist: l2, triplet: distWeighted(true), newLoss: triplet},
		{loss: "TripletL2", miner: "DistanceWeightedDefaultCap", dist: l2, triplet: distWeighted(false), newLoss: triplet},
	}
	for _, pl := range []struct {
		name    string
		dist    graph.Distance
		newLoss func(graph.Distance, mining.TripletMiner, mining.PairMiner) lossFn
	}{
		// the losses' own default distance, Euclidean (not normalised)
		{"Contrastive", losses.NewContrastive().Distance, contrastive},
		{"Lifted", losses.NewLifted().Distance, lifted},
	} {
		cases = append(cases,
			minedCase{loss: pl.name, miner: "None", dist: pl.dist, newLoss: pl.newLoss},
			minedCase{loss: pl.name, miner: "MultiSimilarity", dist: pl.dist, newLoss: pl.newLoss,
				pair: func() mining.PairMiner { return mining.MultiSimilarityPML() }},
			minedCase{loss: pl.name, miner: "PairMargin", dist: pl.dist, newLoss: pl.newLoss,
				pair: func() mining.PairMiner { return mining.PairMarginPML() }},
		)
	}
	return cases
}

// BenchmarkMined times one forward+backward pass (graph.Run + Reset) of the
// triplet, contrastive and lifted losses with each miner and without one,
// on the data of BenchmarkLosses; the graph is built and compiled, and one
// warm-up step is run, before the timer starts.
func BenchmarkMined(b *testing.B) {
	runMinedCases(b, minedCases(), func(b *testing.B, c minedCase) {
		lc := c.lossCase()
		for _, n := range batchSizes {
			b.Run(fmt.Sprintf("B=%d", n), func(b *testing.B) {
				b.ReportAllocs()
				s, err := build(lc, n, benchDim, perClass, tensor.Float32)
				if err != nil {
					b.Fatal(err)
				}
				defer s.close()
				if err := s.run(); err != nil { // warm-up, and a setup check
					b.Fatal(err)
				}
				for b.Loop() {
					if err := graph.Run(s.m); err != nil {
						b.Fatal(err)
					}
					s.m.Reset()
				}
			})
		}
	})
}

// runMinedCases runs f for every case as the sub-benchmark loss/miner,
// one sub-benchmark per loss (cases of a loss are adjacent in minedCases).
func runMinedCases(b *testing.B, cases []minedCase, f func(b *testing.B, c minedCase)) {
	for i := 0; i < len(cases); {
		j := i + 1
		for j < len(cases) && cases[j].loss == cases[i].loss {
			j++
		}
		group := cases[i:j]
		b.Run(group[0].loss, func(b *testing.B) {
			for _, c := range group {
				b.Run(c.miner, func(b *testing.B) { f(b, c) })
			}
		})
		i = j
	}
}

// minerBatch returns the batch that the miner of case c sees inside the
// graph of BenchmarkMined at batch size b and dimension d: the loss's
// distance matrix of embeddings(b, d, Float32), computed by a Gorgonia graph
// in float32 and widened to float64 as the mining op does, and P×K labels.
func minerBatch(c minedCase, b, d, k int) (mining.Batch, error) {
	g := G.NewGraph()
	val := tensor.New(tensor.WithShape(b, d), tensor.WithBacking(embeddings(b, d, tensor.Float32)))
	emb := G.NewMatrix(g, tensor.Float32, G.WithShape(b, d), G.WithName("embeddings"), G.WithValue(val))
	m, err := c.dist.Matrix(emb, emb)
	if err != nil {
		return mining.Batch{}, err
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return mining.Batch{}, err
	}
	f32, ok := m.Value().Data().([]float32)
	if !ok {
		return mining.Batch{}, fmt.Errorf("bench: %s: matrix of type %T", c.name(), m.Value().Data())
	}
	dist := make([]float64, len(f32))
	for i, v := range f32 {
		dist[i] = float64(v)
	}
	batch := mining.Batch{Dist: dist, LargerIsCloser: c.dist.LargerIsCloser(), Labels: pkLabels(b/k, k), Dim: d}
	return batch, batch.Validate()
}

// minerAlone is the miner of case c alone on a fixed batch.
type minerAlone struct {
	mine func() error
	// mined is the number of selected triplets, or positive + negative
	// pairs, after the last call.
	mined func() int
}

// newMinerAlone sizes the output lists of the miner of case c for batch;
// it returns ok false for a case without a miner (a pair loss's None).
func newMinerAlone(c minedCase, batch mining.Batch, k int) (ma minerAlone, ok bool, err error) {
	n := batch.Len()
	switch {
	case c.triplet != nil:
		m := c.triplet(n/k, k)
		cp, err := m.TripletCapacity(n)
		if err != nil {
			return ma, false, err
		}
		out := mining.NewTripletList(cp)
		return minerAlone{
			mine:  func() error { return m.MineTriplets(batch, out) },
			mined: out.Len,
		}, true, nil
	case c.pair != nil:
		m := c.pair()
		cp, cn, err := m.PairCapacity(n)
		if err != nil {
			return ma, false, err
		}
		pos, neg := mining.NewPairList(cp), mining.NewPairList(cn)
		return minerAlone{
			mine:  func() error { return m.MinePairs(batch, pos, neg) },
			mined: func() int { return pos.Len() + neg.Len() },
		}, true, nil
	}
	return ma, false, nil
}

// BenchmarkMinerAlone times each miner of BenchmarkMined alone (one
// MineTriplets or MinePairs call, as mining's BenchmarkMiners does) on the
// very matrix it reads inside BenchmarkMined's graph, so that its cost can
// be set against the mined step like for like; "mined/op" is the number
// of triplets, or positive + negative pairs, selected. Triplet/None is
// AllTriplets, the miner the triplet loss runs without one.
func BenchmarkMinerAlone(b *testing.B) {
	var cases []minedCase
	for _, c := range minedCases() {
		if c.triplet != nil || c.pair != nil {
			cases = append(cases, c)
		}
	}
	runMinedCases(b, cases, func(b *testing.B, c minedCase) {
		for _, n := range batchSizes {
			b.Run(fmt.Sprintf("B=%d", n), func(b *testing.B) {
				batch, err := minerBatch(c, n, benchDim, perClass)
				if err != nil {
					b.Fatal(err)
				}
				ma, _, err := newMinerAlone(c, batch, perClass)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := ma.mine(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(ma.mined()), "mined/op")
			})
		}
	})
}

// TestMinedSetups exercises every case of BenchmarkMined cheaply: at B=8
// (two classes of four), D=4, float32, it builds the graph, runs one
// forward+backward step and checks that the loss is finite and ≥ 0 and the
// gradient finite; it also runs the case's miner once alone, as
// BenchmarkMinerAlone does.
func TestMinedSetups(t *testing.T) {
	const b, d = 8, 4
	for _, c := range minedCases() {
		t.Run(c.name(), func(t *testing.T) {
			s, err := build(c.lossCase(), b, d, perClass, tensor.Float32)
			require.NoError(t, err)
			defer s.close()
			require.NoError(t, s.m.RunAll())
			v, ok := scalar(s.loss.Value())
			require.True(t, ok, "loss value %v", s.loss.Value())
			require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "loss %v", v)
			require.True(t, v >= 0, "loss %v", v)
			g := s.grad.Value()
			require.NotNil(t, g)
			require.Equal(t, []int{b, d}, []int(g.Shape()))
			for _, x := range floats(g.Data()) {
				require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "gradient entry %v", x)
			}
			s.m.Reset()

			batch, err := minerBatch(c, b, d, perClass)
			require.NoError(t, err)
			ma, ok, err := newMinerAlone(c, batch, perClass)
			require.NoError(t, err)
			require.Equal(t, c.triplet != nil || c.pair != nil, ok)
			if ok {
				require.NoError(t, ma.mine())
			}
		})
	}
}
