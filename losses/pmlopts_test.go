package losses_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
)

// The options of issue 14 part 4 (what pytorch-metric-learning users can
// configure): triplet swap, N-pair with a distance, SupCon's PML preset and
// the Lp distances, each against a naive float64 oracle.

// dissim is an oracle distance: the oriented dissimilarity of two rows
// (smaller is closer; −s for a similarity).
type dissim func(a, b []float64) float64

func (f dissim) d(x [][]float64, i, j int) float64 { return f(x[i], x[j]) }

// fromMetric adapts the oracles' metric.
func fromMetric(m metric) dissim {
	return func(a, b []float64) float64 {
		v := m.between(a, b)
		if m.larger() {
			return -v
		}
		return v
	}
}

// lpOracle is the Lp distance, rows optionally divided by their Lp norm
// floored at 1e-12 (PyTorch's F.normalize(p=p)).
func lpOracle(p float64, normalize bool) dissim {
	norm := func(v []float64) []float64 {
		if !normalize {
			return v
		}
		s := 0.0
		for _, e := range v {
			s += math.Pow(math.Abs(e), p)
		}
		n := math.Max(math.Pow(s, 1/p), 1e-12)
		out := make([]float64, len(v))
		for i, e := range v {
			out[i] = e / n
		}
		return out
	}
	return func(a, b []float64) float64 {
		a, b = norm(a), norm(b)
		s := 0.0
		for k := range a {
			s += math.Pow(math.Abs(a[k]-b[k]), p)
		}
		return math.Pow(s, 1/p)
	}
}

// swapTripletOracle is the triplet loss over every valid triplet with
// d(a,n) replaced by min(d(a,n), d(p,n)) when swap is set.
type swapTripletOracle struct {
	d      dissim
	margin float64
	swap   bool
	red    string
}

func (o swapTripletOracle) loss(x [][]float64, labels []int) float64 {
	var terms []float64
	for a := range x {
		for p := range x {
			if p == a || labels[p] != labels[a] {
				continue
			}
			for n := range x {
				if labels[n] == labels[a] {
					continue
				}
				dan := o.d.d(x, a, n)
				if o.swap {
					dan = math.Min(dan, o.d.d(x, p, n))
				}
				terms = append(terms, relu(o.d.d(x, a, p)-dan+o.margin))
			}
		}
	}
	return reduceTerms(terms, o.red)
}

// npairDistOracle is Sohn's N-pair loss with logits −d(f_i, f_j⁺) (s for a
// similarity) and no penalty; tuples as npairOracle picks them.
type npairDistOracle struct{ d dissim }

func (o npairDistOracle) loss(x [][]float64, labels []int) float64 {
	first, done := map[int]int{}, map[int]bool{}
	var anc, pos []int
	for i, l := range labels {
		f, ok := first[l]
		if !ok {
			first[l] = i
			continue
		}
		if !done[l] {
			done[l] = true
			anc, pos = append(anc, f), append(pos, i)
		}
	}
	if len(anc) == 0 {
		return 0
	}
	sum := 0.0
	for i := range anc {
		var row []float64
		for j := range pos {
			row = append(row, -o.d(x[anc[i]], x[pos[j]]))
		}
		sum += logSumExp(row) - row[i] // cross-entropy against the diagonal
	}
	return sum / float64(len(anc))
}

// supconPMLOracle is pytorch-metric-learning's SupConLoss: 0 unless the
// batch has a positive and a negative pair; otherwise per row
// −1/|P(i)| Σ_p (z_ip − log Σ_{a≠i} e^{z_ia}) (0 for rows without a
// positive), averaged over the non-zero rows.
type supconPMLOracle struct {
	d   dissim
	tau float64
}

func (o supconPMLOracle) loss(x [][]float64, labels []int) float64 {
	anyPos, anyNeg := false, false
	for i := range labels {
		for j := range labels {
			if i != j && labels[i] == labels[j] {
				anyPos = true
			}
			if labels[i] != labels[j] {
				anyNeg = true
			}
		}
	}
	if !anyPos || !anyNeg {
		return 0
	}
	var terms []float64
	for i := range x {
		var all, pos []float64
		for a := range x {
			if a == i {
				continue
			}
			z := -o.d.d(x, i, a) / o.tau
			all = append(all, z)
			if labels[a] == labels[i] {
				pos = append(pos, z)
			}
		}
		t := 0.0
		for _, z := range pos {
			t -= z - logSumExp(all)
		}
		if len(pos) > 0 {
			t /= float64(len(pos))
		}
		terms = append(terms, t)
	}
	return reduceTerms(terms, "mean-nonzero")
}

// pmlOptionCases lists the new options with their oracles.
func pmlOptionCases() []lossCase {
	var out []lossCase
	for _, mt := range metrics {
		for _, swap := range []bool{false, true} {
			out = append(out, lossCase{
				name:   fmt.Sprintf("triplet/%s/swap=%t", mt.name, swap),
				loss:   losses.Triplet{Distance: mt.d, Margin: 0.3, Reducer: losses.MeanNonZero, Swap: swap},
				oracle: swapTripletOracle{fromMetric(mt.m), 0.3, swap, "mean-nonzero"}.loss,
			})
		}
		out = append(out,
			lossCase{"npair/" + mt.name, losses.NPair{Distance: mt.d}, npairDistOracle{fromMetric(mt.m)}.loss},
			lossCase{"supcon-pml/" + mt.name, losses.SupCon{Distance: mt.d, Temperature: 0.5, Reducer: losses.MeanNonZero, RequireNegatives: true}, supconPMLOracle{fromMetric(mt.m), 0.5}.loss},
		)
	}
	for _, p := range []float64{1, 1.5, 3} {
		for _, normalize := range []bool{false, true} {
			lp := graph.Lp{P: p, Normalize: normalize}
			d := lpOracle(p, normalize)
			out = append(out,
				lossCase{fmt.Sprintf("triplet/%v/swap", lp), losses.Triplet{Distance: lp, Margin: 0.3, Reducer: losses.Sum, Swap: true}, swapTripletOracle{d, 0.3, true, "sum"}.loss},
				lossCase{fmt.Sprintf("contrastive/%v", lp), losses.Contrastive{Distance: lp, NegMargin: 1.5, Reducer: losses.Mean},
					contrastiveDissimOracle{d, 0, 1.5}.loss},
				lossCase{fmt.Sprintf("npair/%v", lp), losses.NPair{Distance: lp}, npairDistOracle{d}.loss},
			)
		}
	}
	out = append(out,
		lossCase{"triplet/pml-swap", func() losses.Triplet { l := losses.TripletPML(); l.Swap = true; return l }(),
			swapTripletOracle{fromMetric(metric{"euclidean", true}), 0.05, true, "mean-nonzero"}.loss},
		lossCase{"npair/pml", losses.NPairPML(), npairDistOracle{fromMetric(metric{"cosine", true})}.loss},
		lossCase{"supcon/pml", losses.SupConPML(), supconPMLOracle{fromMetric(metric{"cosine", true}), 0.1}.loss},
	)
	return out
}

// contrastiveDissimOracle is the contrastive loss with unsquared hinges
// (PosMargin pm, NegMargin nm), the mean over ordered pairs i ≠ j.
type contrastiveDissimOracle struct {
	d      dissim
	pm, nm float64
}

func (o contrastiveDissimOracle) loss(x [][]float64, labels []int) float64 {
	var terms []float64
	for i := range x {
		for j := range x {
			if i == j {
				continue
			}
			if labels[i] == labels[j] {
				terms = append(terms, relu(o.d.d(x, i, j)-o.pm))
			} else {
				terms = append(terms, relu(o.nm-o.d.d(x, i, j)))
			}
		}
	}
	return reduceTerms(terms, "mean")
}

func TestPMLOptionsMatchOracle(t *testing.T) {
	for _, bt := range batches {
		x := randEmb(bt.seed, len(bt.labels), bt.d, bt.scale)
		for _, lc := range pmlOptionCases() {
			t.Run(bt.name+"/"+lc.name, func(t *testing.T) {
				res, err := graphtest.Eval(build(lc.loss, x, bt.labels, bt.d))
				require.NoError(t, err)
				graphtest.RequireClose(t, lc.oracle(rows(x, bt.d), bt.labels), res.Cost, 1e-10, 1e-9, "loss")
				for _, g := range res.Grads[0] {
					require.False(t, math.IsNaN(g) || math.IsInf(g, 0), "gradient %v", res.Grads[0])
				}
			})
		}
	}
}

func TestPMLOptionsGradients(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0}
	const d = 3
	x := randEmb(11, len(labels), d, 1)
	for _, lc := range pmlOptionCases() {
		t.Run(lc.name, func(t *testing.T) {
			graphtest.CheckGradient(t, build(lc.loss, x, labels, d), graphtest.GradOptions{})
		})
	}
}

// TestPMLOptionsDuplicates: equal rows (zero distances, every tie) keep the
// values right and every gradient finite.
func TestPMLOptionsDuplicates(t *testing.T) {
	labels := []int{0, 0, 1, 1, 0}
	const d = 2
	x := []float64{0.5, -1, 0.5, -1, 0.5, -1, 2, 0.3, 0.5, -1}
	for _, lc := range pmlOptionCases() {
		t.Run(lc.name, func(t *testing.T) {
			res, err := graphtest.Eval(build(lc.loss, x, labels, d))
			require.NoError(t, err)
			graphtest.RequireClose(t, lc.oracle(rows(x, d), labels), res.Cost, 1e-10, 1e-9, "loss")
			for _, g := range res.Grads[0] {
				require.False(t, math.IsNaN(g) || math.IsInf(g, 0), "gradient %v", res.Grads[0])
			}
		})
	}
}

func TestPMLOptionsFloat32(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0, 1}
	const d = 3
	x := randEmb(31, len(labels), d, 1)
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
		x[i] = float64(x32[i])
	}
	for _, lc := range pmlOptionCases() {
		t.Run(lc.name, func(t *testing.T) {
			g := G.NewGraph()
			emb := G.NewMatrix(g, tensor.Float32, G.WithShape(len(labels), d), G.WithName("emb"),
				G.WithValue(tensor.New(tensor.WithShape(len(labels), d), tensor.WithBacking(append([]float32(nil), x32...)))))
			lab := G.NewVector(g, tensor.Int, G.WithShape(len(labels)), G.WithName("labels"),
				G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
			cost, err := lc.loss.Loss(emb, lab)
			require.NoError(t, err)
			require.Equal(t, tensor.Float32, cost.Dtype())
			_, err = G.Grad(cost, emb)
			require.NoError(t, err)
			m := G.NewTapeMachine(g)
			defer m.Close()
			require.NoError(t, m.RunAll())
			graphtest.RequireClose(t, lc.oracle(rows(x, d), labels), float64(cost.Value().Data().(float32)), 2e-5, 2e-4, "loss")
		})
	}
}

// TestPMLOptionsEmptyGiveZero: nothing to compare gives exactly 0 with a
// zero gradient, including SupConPML on a single-class batch (where the
// paper's form, NewSupCon, is not 0).
func TestPMLOptionsEmptyGiveZero(t *testing.T) {
	x := randEmb(5, 4, 3, 1)
	swap := losses.TripletPML()
	swap.Swap = true
	for _, tc := range []struct {
		name   string
		loss   lossFn
		labels []int
	}{
		{"triplet-swap/distinct", swap, []int{0, 1, 2, 3}},
		{"triplet-swap/one-class", swap, []int{1, 1, 1, 1}},
		{"triplet-swap/batch-hard-one-class", losses.Triplet{Margin: 0.2, Swap: true, Miner: mining.BatchHard{}}, []int{1, 1, 1, 1}},
		{"npair-pml/distinct", losses.NPairPML(), []int{0, 1, 2, 3}},
		{"npair-lp/one-class", losses.NPair{Distance: graph.Lp{P: 1}}, []int{1, 1, 1, 1}},
		{"supcon-pml/one-class", losses.SupConPML(), []int{1, 1, 1, 1}},
		{"supcon-pml/distinct", losses.SupConPML(), []int{0, 1, 2, 3}},
		{"contrastive-lp/distinct-far", losses.Contrastive{Distance: graph.Lp{P: 1}}, []int{0, 1, 2, 3}},
		{"triplet-easy-hard/one-class", losses.Triplet{Margin: 0.2, Miner: mining.BatchEasyHardPML()}, []int{1, 1, 1, 1}},
		{"triplet-easy-hard-all/distinct", losses.Triplet{Margin: 0.2, Miner: mining.BatchEasyHard{Pos: mining.StrategyAll, Neg: mining.StrategyAll}}, []int{0, 1, 2, 3}},
		{"contrastive-easy-hard/one-class", losses.Contrastive{NegMargin: 1, Miner: mining.BatchEasyHard{Pos: mining.StrategyHard, Neg: mining.StrategyHard}}, []int{1, 1, 1, 1}},
		{"contrastive-cosine-miner/distinct", losses.Contrastive{NegMargin: 0.1, Miner: mining.MultiSimilarity{Distance: graph.Cosine{}}}, []int{0, 1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := graphtest.Eval(build(tc.loss, x, tc.labels, 3))
			require.NoError(t, err)
			require.Equal(t, 0.0, res.Cost)
			for _, g := range res.Grads[0] {
				require.Equal(t, 0.0, g)
			}
		})
	}
	// The paper's form is not 0 there: the reason for RequireNegatives.
	res, err := graphtest.Eval(build(losses.NewSupCon(), x, []int{1, 1, 1, 1}, 3))
	require.NoError(t, err)
	require.Greater(t, res.Cost, 0.0)
}

// TestTripletSwapPicksTheCloserPair: a hand-made batch where the positive
// is closer to the negative than the anchor is. Anchor 0 at 0, positive 1
// at 1, negative 2 at 1.5 (1-D, Euclidean): d(a,p) = 1, d(a,n) = 1.5,
// d(p,n) = 0.5, so with margin 1 the plain term is 1 − 1.5 + 1 = 0.5 and the
// swapped one 1 − 0.5 + 1 = 1.5 (anchor 1: d = 1, min(0.5, 1.5) → 1.5; the
// negative as anchor has no positive).
func TestTripletSwapPicksTheCloserPair(t *testing.T) {
	x := []float64{0, 1, 1.5}
	labels := []int{0, 0, 1}
	for _, tc := range []struct {
		swap bool
		want float64
	}{
		// anchor 0: relu(1 − 1.5 + 1) = 0.5; anchor 1: relu(1 − 0.5 + 1) = 1.5
		{false, 0.5 + 1.5},
		// anchor 0: relu(1 − min(1.5, 0.5) + 1) = 1.5; anchor 1: relu(1 − min(0.5, 1.5) + 1) = 1.5
		{true, 1.5 + 1.5},
	} {
		res, err := graphtest.Eval(build(losses.Triplet{Distance: graph.Euclidean{}, Margin: 1, Reducer: losses.Sum, Swap: tc.swap}, x, labels, 1))
		require.NoError(t, err)
		graphtest.RequireClose(t, tc.want, res.Cost, 1e-12, 1e-12, fmt.Sprint("swap=", tc.swap))
	}
}

func TestPMLOptionsErrors(t *testing.T) {
	x := randEmb(5, 4, 3, 1)
	for _, tc := range []struct {
		name string
		loss lossFn
		want string
	}{
		{"lp order 0.5", losses.Triplet{Distance: graph.Lp{P: 0.5}}, "graph: Lp.P is 0.5; want a finite value ≥ 1"},
		{"lp order NaN in npair", losses.NPair{Distance: graph.Lp{P: math.NaN()}}, "graph: Lp.P is NaN"},
		{"lp order Inf in supcon", losses.SupCon{Distance: graph.Lp{P: math.Inf(1)}}, "graph: Lp.P is +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := graphtest.Eval(build(tc.loss, x, []int{0, 0, 1, 1}, 3))
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "losses: ")
		})
	}
}

// TestMinerOwnDistance: PML's default pairing, ContrastiveLoss() with
// MultiSimilarityMiner() (which mines on cosine similarity while the loss
// uses Euclidean distances of the normalised embeddings), against an
// oracle that selects with the MS rule on cosine in plain loops; and a
// triplet loss whose batch-hard miner reads cosine similarities.
func TestMinerOwnDistance(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0, 1, 2}
	const d = 3
	x := randEmb(43, len(labels), d, 1)
	xr := rows(x, d)
	cos := fromMetric(metric{"cosine", true}) // −cos
	euc := fromMetric(metric{"euclidean", true})
	t.Run("contrastive-pml+multi-similarity-pml", func(t *testing.T) {
		const eps = 0.1
		var posT, negT []float64
		for i := range xr {
			// MS rule on similarities: keep negatives with S_ik + ε > min_pos S, positives with S_ij − ε < max_neg S
			minPos, maxNeg := math.Inf(1), math.Inf(-1)
			for j := range xr {
				if j == i {
					continue
				}
				if s := -cos.d(xr, i, j); labels[j] == labels[i] {
					minPos = math.Min(minPos, s)
				} else {
					maxNeg = math.Max(maxNeg, s)
				}
			}
			for j := range xr {
				if j == i {
					continue
				}
				s := -cos.d(xr, i, j)
				if labels[j] == labels[i] && s-eps < maxNeg {
					posT = append(posT, relu(euc.d(xr, i, j)-0))
				}
				if labels[j] != labels[i] && s+eps > minPos {
					negT = append(negT, relu(1-euc.d(xr, i, j)))
				}
			}
		}
		require.NotEmpty(t, posT)
		require.NotEmpty(t, negT)
		want := reduceTerms(posT, "mean-nonzero") + reduceTerms(negT, "mean-nonzero")
		l := losses.ContrastivePML()
		miner := mining.MultiSimilarityPML()
		miner.Distance = graph.Cosine{}
		l.Miner = miner
		res := graphtest.CheckGradient(t, build(l, x, labels, d), graphtest.GradOptions{})
		graphtest.RequireClose(t, want, res.Cost, 1e-12, 1e-10, "contrastive with a cosine miner")
		// the same miner on the loss's own (Euclidean) matrix selects otherwise
		l.Miner = mining.MultiSimilarityPML()
		other, err := graphtest.Eval(build(l, x, labels, d))
		require.NoError(t, err)
		require.NotEqual(t, res.Cost, other.Cost, "ε = 0.1 in Euclidean units selects different pairs")
	})
	t.Run("triplet+batch-hard-on-sqeuclidean", func(t *testing.T) {
		// batch-hard on squared Euclidean distances of the raw rows, terms on
		// cosine: the picks agree with Euclidean ones, so check against the
		// oracle with the picks made on the raw rows.
		raw := fromMetric(metric{"sqeuclidean", false})
		sum := 0.0
		for a := range xr {
			hp, hn := -1, -1
			for j := range xr {
				if j == a {
					continue
				}
				if labels[j] == labels[a] && (hp < 0 || raw.d(xr, a, j) > raw.d(xr, a, hp)) {
					hp = j
				}
				if labels[j] != labels[a] && (hn < 0 || raw.d(xr, a, j) < raw.d(xr, a, hn)) {
					hn = j
				}
			}
			sum += relu(cos.d(xr, a, hp) - cos.d(xr, a, hn) + 0.2)
		}
		l := losses.Triplet{Distance: graph.Cosine{}, Margin: 0.2, Reducer: losses.Sum, Miner: mining.BatchHard{Distance: graph.SquaredEuclidean{}}}
		res := graphtest.CheckGradient(t, build(l, x, labels, d), graphtest.GradOptions{})
		graphtest.RequireClose(t, sum, res.Cost, 1e-12, 1e-10, "triplet with its miner on squared Euclidean")
	})
	t.Run("warm-up with two distances", func(t *testing.T) {
		_, err := mining.NewWarmup(mining.AllTriplets{Distance: graph.Cosine{}}, mining.BatchHard{}, 5)
		require.ErrorContains(t, err, "mining: Warmup's miners read different distances")
		w, err := mining.NewWarmup(mining.AllTriplets{Distance: graph.Cosine{}}, mining.BatchHard{Distance: graph.Cosine{}}, 5)
		require.NoError(t, err)
		require.Equal(t, graph.Cosine{}, w.MinerDistance())
	})
	t.Run("easy-hard pair miner on its own distance", func(t *testing.T) {
		// float32 and float64 both build and run; the loss stays finite
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			g := G.NewGraph()
			vals := graph.DenseOf(dt, x, len(labels), d)
			emb := G.NewMatrix(g, dt, G.WithShape(len(labels), d), G.WithName("emb"), G.WithValue(vals))
			lab := G.NewVector(g, tensor.Int, G.WithShape(len(labels)), G.WithName("labels"),
				G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
			l := losses.ContrastivePML()
			l.Miner = mining.BatchEasyHard{Pos: mining.StrategyHard, Neg: mining.StrategyHard, Distance: graph.Lp{P: 1}}
			cost, err := l.Loss(emb, lab)
			require.NoError(t, err)
			_, err = G.Grad(cost, emb)
			require.NoError(t, err)
			m := G.NewTapeMachine(g)
			require.NoError(t, m.RunAll())
			v, err := graphtest.Float64s(cost.Value())
			require.NoError(t, err)
			require.False(t, math.IsNaN(v[0]) || math.IsInf(v[0], 0))
			m.Close()
		}
	})
}

// TestTripletSwapTie pins the documented tie rule: with d(a,n) = d(p,n)
// the gradient of min(d(a,n), d(p,n)) goes to d(a,n) alone. 1-D,
// Euclidean, margin 3, the single triplet (a, p, n) = (0, 2, 1) at
// x = (0, 1, 2): d(a,p) = 2, d(a,n) = d(p,n) = 1, loss 2 − 1 + 3 = 4. By
// the rule the gradient is that of |x0 − x2| − |x0 − x1|: (−1 + 1, −1, +1)
// = (0, −1, 1); to d(p,n) it would be (−1, 1, 0), split in halves
// (−0.5, 0, 0.5) (torch.min's rule).
func TestTripletSwapTie(t *testing.T) {
	x := []float64{0, 1, 2} // a, n, p
	labels := []int{0, 1, 0}
	one := mining.TripletFunc{
		Capacity: func(int) (int, error) { return 1, nil },
		Mine: func(_ mining.Batch, out *mining.TripletList) error {
			out.Reset()
			return out.Add(0, 2, 1, 1)
		},
	}
	res, err := graphtest.Eval(build(losses.Triplet{Distance: graph.Euclidean{}, Margin: 3, Reducer: losses.Sum, Swap: true, Miner: one}, x, labels, 1))
	require.NoError(t, err)
	graphtest.RequireClose(t, 4, res.Cost, 1e-12, 1e-12, "loss")
	graphtest.RequireAllClose(t, []float64{0, -1, 1}, res.Grads[0], 1e-12, 1e-12, "gradient")
}
