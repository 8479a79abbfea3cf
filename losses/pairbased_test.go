package losses_test

import (
	"fmt"
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

// Tests of the pair-based losses of issue 14 (multi-similarity, circle,
// generalised lifted structure, margin, debiased and hard-negative
// contrastive): the same checks as losses_test.go runs on the survey's losses,
// against naive float64 oracles written from the papers' formulas.

// lse returns log Σ e^{x}, or −Inf for no terms (naive, shifted by the max).
func lse(xs []float64) float64 {
	if len(xs) == 0 {
		return math.Inf(-1)
	}
	mx := math.Inf(-1)
	for _, v := range xs {
		mx = math.Max(mx, v)
	}
	s := 0.0
	for _, v := range xs {
		s += math.Exp(v - mx)
	}
	return mx + math.Log(s)
}

// log1pSumExp returns log(1 + Σ e^{x}) (with log1p when every x ≤ 0, so
// that tiny sums keep their digits).
func log1pSumExp(xs []float64) float64 {
	s := 0.0
	for _, v := range xs {
		if v > 0 {
			return lse(append([]float64{0}, xs...))
		}
		s += math.Exp(v)
	}
	return math.Log1p(s)
}

func signOf(m metric) float64 {
	if m.larger() {
		return -1
	}
	return 1
}

type msOracle struct {
	m                 metric
	alpha, beta, base float64
	red               string
}

func (o msOracle) loss(x [][]float64, labels []int) float64 {
	lam := signOf(o.m) * o.base
	var rows []float64
	for i := range x {
		var p, n []float64
		for j := range x {
			if j == i {
				continue
			}
			d := o.m.d(x, i, j)
			if labels[i] == labels[j] {
				p = append(p, o.alpha*(d-lam))
			} else {
				n = append(n, o.beta*(lam-d))
			}
		}
		rows = append(rows, log1pSumExp(p)/o.alpha+log1pSumExp(n)/o.beta)
	}
	return reduceTerms(rows, o.red)
}

type circleOracle struct {
	m             metric
	margin, gamma float64
	red           string
	frozen        [][]float64 // when set, α_p and α_n are taken from these embeddings
}

func (o circleOracle) loss(x [][]float64, labels []int) float64 {
	at := x
	if o.frozen != nil {
		at = o.frozen
	}
	var rows []float64
	for i := range x {
		var p, n []float64
		for j := range x {
			if j == i {
				continue
			}
			s, s0 := o.m.between(x[i], x[j]), o.m.between(at[i], at[j])
			if labels[i] == labels[j] {
				p = append(p, -o.gamma*relu(1+o.margin-s0)*(s-(1-o.margin)))
			} else {
				n = append(n, o.gamma*relu(s0+o.margin)*(s-o.margin))
			}
		}
		if len(p) == 0 || len(n) == 0 {
			rows = append(rows, 0)
			continue
		}
		rows = append(rows, softplus(lse(p)+lse(n)))
	}
	return reduceTerms(rows, o.red)
}

type genLiftedOracle struct {
	m         metric
	pm, nm    float64
	emptyZero bool
	red       string
}

func (o genLiftedOracle) loss(x [][]float64, labels []int) float64 {
	s := signOf(o.m)
	var rows []float64
	for i := range x {
		var p, n []float64
		for j := range x {
			if j == i {
				continue
			}
			d := o.m.d(x, i, j)
			if labels[i] == labels[j] {
				p = append(p, d-s*o.pm)
			} else {
				n = append(n, s*o.nm-d)
			}
		}
		lp, ln := lse(p), lse(n)
		if o.emptyZero { // pytorch-metric-learning: an empty log-sum-exp is 0
			if len(p) == 0 {
				lp = 0
			}
			if len(n) == 0 {
				ln = 0
			}
		}
		rows = append(rows, relu(lp+ln)) // relu(−Inf) = 0
	}
	return reduceTerms(rows, o.red)
}

type marginOracle struct {
	m           metric
	alpha, beta float64
	triplets    bool
	red         string
}

func (o marginOracle) loss(x [][]float64, labels []int) float64 {
	sb := signOf(o.m) * o.beta
	var total, count, nz float64
	for i := range x {
		np, nn := 0.0, 0.0
		for j := range x {
			if j != i && labels[j] == labels[i] {
				np++
			} else if labels[j] != labels[i] {
				nn++
			}
		}
		for j := range x {
			if j == i {
				continue
			}
			d := o.m.d(x, i, j)
			var term, w float64
			if labels[i] == labels[j] {
				term, w = relu(o.alpha+d-sb), 1
				if o.triplets { // (i, j, n) for every negative n
					w = nn
				}
			} else {
				term, w = relu(o.alpha+sb-d), 1
				if o.triplets { // (i, p, j) for every positive p
					w = np
				}
			}
			total += w * term
			count += w
			if term > 0 {
				nz += w
			}
		}
	}
	switch o.red {
	case "sum":
		return total
	case "mean":
		return total / math.Max(count, 1)
	}
	return total / math.Max(nz, 1)
}

// debiasedOracle is Chuang et al.'s estimator (Robinson et al.'s with beta
// > 0), per positive pair, written as in the papers' reference code:
// Ng = max((−τ⁺ N pos + R)/(1 − τ⁺), N e^{−1/t}), ℓ = −log(pos/(pos + Ng)),
// every exponential scaled by the same e^{−c} so that t = 1e-3 stays finite.
type debiasedOracle struct {
	t, tauPlus, beta float64
	red              string
}

func (o debiasedOracle) loss(x [][]float64, labels []int) float64 {
	cos := metric{"cosine", true}
	var terms []float64
	for i := range x {
		var zn, zb, zb1 []float64
		for k := range x {
			if labels[k] != labels[i] {
				z := cos.between(x[i], x[k]) / o.t
				zn = append(zn, z)
				zb = append(zb, o.beta*z)
				zb1 = append(zb1, (1+o.beta)*z)
			}
		}
		n := float64(len(zn))
		logR := lse(zn) // log Σ_n e^{z}
		if o.beta != 0 {
			logR = math.Log(n) + lse(zb1) - lse(zb) // log(N Σ e^{(1+β)z} / Σ e^{βz})
		}
		for j := range x {
			if j == i || labels[j] != labels[i] {
				continue
			}
			if len(zn) == 0 {
				terms = append(terms, 0)
				continue
			}
			z := cos.between(x[i], x[j]) / o.t
			c := math.Max(z, logR)
			ng := math.Max((math.Exp(logR-c)-o.tauPlus*n*math.Exp(z-c))/(1-o.tauPlus), n*math.Exp(-1/o.t-c))
			terms = append(terms, -(z-c)+math.Log(math.Exp(z-c)+ng))
		}
	}
	return reduceTerms(terms, o.red)
}

var reducers = []struct {
	r losses.Reducer
	s string
}{{losses.Mean, "mean"}, {losses.Sum, "sum"}, {losses.MeanNonZero, "mean-nonzero"}}

// pairCases enumerates the new losses with every distance and option they
// support.
func pairCases() []lossCase {
	var out []lossCase
	for _, mt := range metrics {
		base, beta := 1.0, 1.0
		if mt.m.larger() {
			base, beta = 0.5, 0.3
		}
		for _, red := range reducers {
			out = append(out,
				lossCase{fmt.Sprintf("ms/%s/%s", mt.name, red.s), losses.MultiSimilarity{Distance: mt.d, Alpha: 2, Beta: 10, Base: base, Reducer: red.r}, msOracle{mt.m, 2, 10, base, red.s}.loss},
				lossCase{fmt.Sprintf("genlifted/%s/%s", mt.name, red.s), losses.GeneralizedLifted{Distance: mt.d, PosMargin: 0.1, NegMargin: base, Reducer: red.r}, genLiftedOracle{mt.m, 0.1, base, false, red.s}.loss},
				lossCase{fmt.Sprintf("genlifted-emptyzero/%s/%s", mt.name, red.s), losses.GeneralizedLifted{Distance: mt.d, NegMargin: base, EmptyAsZero: true, Reducer: red.r}, genLiftedOracle{mt.m, 0, base, true, red.s}.loss},
			)
			for _, tw := range []bool{false, true} {
				out = append(out, lossCase{
					name:   fmt.Sprintf("margin/%s/triplets=%t/%s", mt.name, tw, red.s),
					loss:   losses.Margin{Distance: mt.d, Margin: 0.2, Beta: beta, TripletWeighted: tw, Reducer: red.r},
					oracle: marginOracle{mt.m, 0.2, beta, tw, red.s}.loss,
				})
			}
			if mt.m.larger() {
				out = append(out, lossCase{fmt.Sprintf("circle/%s/%s", mt.name, red.s), losses.Circle{Distance: mt.d, Margin: 0.25, Gamma: 16, Reducer: red.r}, circleOracle{mt.m, 0.25, 16, red.s, nil}.loss})
			}
		}
	}
	for _, red := range reducers {
		for _, tp := range []float64{0, 0.1, 0.3} {
			out = append(out,
				lossCase{fmt.Sprintf("dcl/tau+=%v/%s", tp, red.s), losses.DebiasedContrastive{Temperature: 0.2, TauPlus: tp, Reducer: red.r}, debiasedOracle{0.2, tp, 0, red.s}.loss},
				lossCase{fmt.Sprintf("hcl/tau+=%v/%s", tp, red.s), losses.HardNegative{Temperature: 0.2, TauPlus: tp, Beta: 0.7, Reducer: red.r}, debiasedOracle{0.2, tp, 0.7, red.s}.loss},
			)
		}
	}
	cos, eucN := metric{"cosine", true}, metric{"euclidean", true}
	out = append(out,
		lossCase{"ms/default", losses.NewMultiSimilarity(), msOracle{cos, 2, 50, 1, "mean"}.loss},
		lossCase{"ms/pml", losses.MultiSimilarityPML(), msOracle{cos, 2, 50, 0.5, "mean"}.loss},
		lossCase{"ms/zero-value", losses.MultiSimilarity{}, msOracle{cos, 2, 50, 0, "mean"}.loss},
		lossCase{"circle/default", losses.NewCircle(), circleOracle{cos, 0.4, 80, "mean", nil}.loss},
		lossCase{"circle/pml", losses.CirclePML(), circleOracle{cos, 0.4, 80, "mean-nonzero", nil}.loss},
		lossCase{"circle/zero-value", losses.Circle{}, circleOracle{cos, 0, 80, "mean", nil}.loss},
		lossCase{"genlifted/default", losses.NewGeneralizedLifted(), genLiftedOracle{metric{"euclidean", false}, 0, 1, false, "mean"}.loss},
		lossCase{"genlifted/pml", losses.GeneralizedLiftedPML(), genLiftedOracle{eucN, 0, 1, true, "mean"}.loss},
		lossCase{"margin/default", losses.NewMargin(), marginOracle{eucN, 0.2, 1.2, false, "mean"}.loss},
		lossCase{"margin/pml", losses.MarginPML(), marginOracle{eucN, 0.2, 1.2, true, "mean-nonzero"}.loss},
		lossCase{"dcl/default", losses.NewDebiasedContrastive(), debiasedOracle{0.5, 0.1, 0, "mean"}.loss},
		lossCase{"dcl/zero-value", losses.DebiasedContrastive{}, debiasedOracle{0.5, 0, 0, "mean"}.loss},
		lossCase{"hcl/default", losses.NewHardNegative(), debiasedOracle{0.5, 0.1, 1, "mean"}.loss},
		lossCase{"hcl/zero-value", losses.HardNegative{}, debiasedOracle{0.5, 0, 0, "mean"}.loss},
		// τ⁺ = 0, β = 0 is NT-Xent on cosine: the same value as NTXent's oracle.
		lossCase{"hcl/is-ntxent", losses.HardNegative{Temperature: 0.3}, ntxentOracle{cos, 0.3}.loss},
	)
	return out
}

func TestPairLossValuesMatchOracle(t *testing.T) {
	for _, bt := range batches {
		x := randEmb(bt.seed, len(bt.labels), bt.d, bt.scale)
		for _, lc := range pairCases() {
			t.Run(bt.name+"/"+lc.name, func(t *testing.T) {
				res, err := graphtest.Eval(build(lc.loss, x, bt.labels, bt.d))
				require.NoError(t, err)
				want := lc.oracle(rows(x, bt.d), bt.labels)
				graphtest.RequireClose(t, want, res.Cost, 1e-10, 1e-9, "loss")
				for _, g := range res.Grads[0] {
					require.False(t, math.IsNaN(g) || math.IsInf(g, 0), "gradient %v", res.Grads[0])
				}
			})
		}
	}
}

func TestPairLossGradients(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0}
	const d = 3
	x := randEmb(11, len(labels), d, 1)
	for _, lc := range pairCases() {
		if strings.HasPrefix(lc.name, "circle/") {
			continue // TestCircleGradient: its weights α carry no gradient
		}
		t.Run(lc.name, func(t *testing.T) {
			graphtest.CheckGradient(t, build(lc.loss, x, labels, d), graphtest.GradOptions{})
		})
	}
}

// TestCircleGradient: circle loss's weights α_p, α_n carry no gradient
// (pytorch-metric-learning detaches them), so central differences of the
// graph's value would not match; the symbolic gradient is checked against central differences of the
// oracle with α frozen at the unperturbed embeddings.
func TestCircleGradient(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0}
	const d, h = 3, 1e-6
	x := randEmb(11, len(labels), d, 1)
	for _, tc := range []struct {
		name string
		loss losses.Circle
		m    metric
		red  string
	}{
		{"cosine/mean", losses.Circle{Margin: 0.25, Gamma: 16}, metric{"cosine", true}, "mean"},
		{"dot/sum", losses.Circle{Distance: graph.DotProduct{}, Margin: 0.25, Gamma: 16, Reducer: losses.Sum}, metric{"dot", false}, "sum"},
		{"pml", losses.CirclePML(), metric{"cosine", true}, "mean-nonzero"},
		{"default", losses.NewCircle(), metric{"cosine", true}, "mean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := graphtest.Eval(build(tc.loss, x, labels, d))
			require.NoError(t, err)
			o := circleOracle{tc.m, tc.loss.Margin, tc.loss.Gamma, tc.red, rows(x, d)}
			if o.gamma == 0 {
				o.gamma = 80
			}
			for k := range x {
				xp, xm := append([]float64(nil), x...), append([]float64(nil), x...)
				xp[k] += h
				xm[k] -= h
				fd := (o.loss(rows(xp, d), labels) - o.loss(rows(xm, d), labels)) / (2 * h)
				graphtest.RequireClose(t, fd, res.Grads[0][k], 1e-6, 1e-5, fmt.Sprint("d/dx[", k, "]"))
			}
		})
	}
}

func TestPairLossDuplicateEmbeddings(t *testing.T) {
	labels := []int{0, 0, 1, 1, 0}
	const d = 2
	x := []float64{0.5, -1, 0.5, -1, 0.5, -1, 2, 0.3, 0.5, -1} // rows 0, 1, 2, 4 equal
	for _, lc := range pairCases() {
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

// TestPairLossEmptySelectionsGiveZero: without positives or without
// negatives the terms vanish: loss exactly 0 and a zero gradient.
func TestPairLossEmptySelectionsGiveZero(t *testing.T) {
	x := randEmb(5, 4, 3, 1)
	distinct, one := []int{0, 1, 2, 3}, []int{1, 1, 1, 1}
	for _, tc := range []struct {
		name   string
		loss   lossFn
		labels []int
	}{
		{"circle/distinct", losses.NewCircle(), distinct},
		{"circle/one-class", losses.CirclePML(), one},
		{"genlifted/distinct", losses.NewGeneralizedLifted(), distinct},
		{"genlifted/one-class", losses.NewGeneralizedLifted(), one},
		{"margin/distinct-triplets", losses.MarginPML(), distinct},
		{"margin/one-class-triplets", losses.MarginPML(), one},
		{"dcl/distinct", losses.NewDebiasedContrastive(), distinct},
		{"dcl/one-class", losses.NewDebiasedContrastive(), one},
		{"hcl/distinct", losses.NewHardNegative(), distinct},
		{"hcl/one-class", losses.NewHardNegative(), one},
		// multi-similarity has a term for each part, so a batch is empty
		// only when nothing is selected: its miner keeps negatives harder
		// than the hardest positive, and without positives there are none.
		{"ms/distinct-mined", losses.MultiSimilarity{Miner: mining.MultiSimilarityPML()}, distinct},
		{"ms/distinct-mined-pml", func() lossFn { l := losses.MultiSimilarityPML(); l.Miner = mining.MultiSimilarityPML(); return l }(), distinct},
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
}

func TestPairLossLowTemperature(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2}
	x := randEmb(21, len(labels), 4, 1)
	for _, tau := range []float64{0.05, 0.01, 1e-3} {
		for _, lc := range []lossCase{
			{"dcl", losses.DebiasedContrastive{Temperature: tau, TauPlus: 0.1}, debiasedOracle{tau, 0.1, 0, "mean"}.loss},
			{"hcl", losses.HardNegative{Temperature: tau, TauPlus: 0.1, Beta: 1}, debiasedOracle{tau, 0.1, 1, "mean"}.loss},
			// the scales of the other losses play the role of 1/τ
			{"ms", losses.MultiSimilarity{Alpha: 2 / tau, Beta: 50 / tau, Base: 0.5}, msOracle{metric{"cosine", true}, 2 / tau, 50 / tau, 0.5, "mean"}.loss},
			{"circle", losses.Circle{Margin: 0.4, Gamma: 80 / tau}, circleOracle{metric{"cosine", true}, 0.4, 80 / tau, "mean", nil}.loss},
			{"genlifted", losses.GeneralizedLifted{Distance: graph.Cosine{}, NegMargin: 1 / tau}, genLiftedOracle{metric{"cosine", true}, 0, 1 / tau, false, "mean"}.loss},
		} {
			t.Run(fmt.Sprint(lc.name, "/", tau), func(t *testing.T) {
				res, err := graphtest.Eval(build(lc.loss, x, labels, 4))
				require.NoError(t, err)
				graphtest.RequireClose(t, lc.oracle(rows(x, 4), labels), res.Cost, 1e-9, 1e-9, "loss")
				for _, g := range res.Grads[0] {
					require.False(t, math.IsNaN(g) || math.IsInf(g, 0))
				}
			})
		}
	}
}

func TestPairLossFloat32(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0, 1}
	const d = 3
	x := randEmb(31, len(labels), d, 1)
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
		x[i] = float64(x32[i])
	}
	for _, lc := range pairCases() {
		t.Run(lc.name, func(t *testing.T) {
			g := G.NewGraph()
			emb := G.NewMatrix(g, tensor.Float32, G.WithShape(len(labels), d), G.WithName("emb"),
				G.WithValue(tensor.New(tensor.WithShape(len(labels), d), tensor.WithBacking(append([]float32(nil), x32...)))))
			lab := G.NewVector(g, tensor.Int, G.WithShape(len(labels)), G.WithName("labels"),
				G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
			cost, err := lc.loss.Loss(emb, lab)
			require.NoError(t, err)
			require.Equal(t, tensor.Float32, cost.Dtype())
			grads, err := G.Grad(cost, emb)
			require.NoError(t, err)
			m := G.NewTapeMachine(g)
			defer m.Close()
			require.NoError(t, m.RunAll())
			// float32 rounding; the β = 50 exponent of multi-similarity
			// amplifies it most
			graphtest.RequireClose(t, lc.oracle(rows(x, d), labels), float64(cost.Value().Data().(float32)), 1e-4, 5e-4, "loss")
			for _, v := range grads[0].Value().Data().([]float32) {
				require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
			}
		})
	}
}

func TestPairLossNonFiniteEmbeddingsFail(t *testing.T) {
	all := []struct {
		name string
		loss lossFn
	}{
		{"multi-similarity", losses.NewMultiSimilarity()},
		{"multi-similarity", losses.MultiSimilarity{Miner: mining.MultiSimilarityPML()}},
		{"circle", losses.NewCircle()},
		{"generalized lifted structure", losses.NewGeneralizedLifted()},
		{"margin", losses.MarginPML()},
		{"debiased contrastive", losses.NewDebiasedContrastive()},
		{"hard-negative contrastive", losses.NewHardNegative()},
	}
	labels := []int{0, 0, 1, 1, 2, 2}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			for _, l := range all {
				t.Run(fmt.Sprintf("%s/%v/%v", l.name, bad, dt), func(t *testing.T) {
					x := randEmb(3, 6, 4, 1)
					x[2*4+3] = bad
					g := G.NewGraph()
					emb := G.NewMatrix(g, dt, G.WithShape(6, 4), G.WithName("emb"), G.WithValue(graph.DenseOf(dt, x, 6, 4)))
					lab := G.NewVector(g, tensor.Int, G.WithShape(6), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
					cost, err := l.loss.Loss(emb, lab)
					require.NoError(t, err)
					_, err = G.Grad(cost, emb)
					require.NoError(t, err)
					vm := G.NewTapeMachine(g)
					defer vm.Close()
					err = vm.RunAll()
					require.ErrorContains(t, err, fmt.Sprintf("losses: %s: embeddings row 2, column 3 is %v", l.name, bad))
				})
			}
		}
	}
}

func TestPairLossErrors(t *testing.T) {
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 3), G.WithName("emb"))
	lab := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("labels"))
	lab3 := G.NewVector(g, tensor.Int, G.WithShape(3), G.WithName("labels3"))
	vecBeta := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("vb"))
	f32Beta := G.NewScalar(g, tensor.Float32, G.WithName("fb"))
	for _, l := range []lossFn{losses.NewMultiSimilarity(), losses.NewCircle(), losses.NewGeneralizedLifted(), losses.NewMargin(), losses.NewDebiasedContrastive(), losses.NewHardNegative()} {
		_, err := l.Loss(emb, lab3)
		require.ErrorContains(t, err, "labels has shape (3), embeddings have 4 rows")
		_, err = l.Loss(nil, lab)
		require.ErrorContains(t, err, "embeddings is nil")
	}
	for _, tc := range []struct {
		name string
		loss lossFn
		want string
	}{
		{"ms-alpha", losses.MultiSimilarity{Alpha: -2}, "multi-similarity: alpha is -2; want a finite value > 0"},
		{"ms-beta-nan", losses.MultiSimilarity{Beta: math.NaN()}, "multi-similarity: beta is NaN"},
		{"ms-base-inf", losses.MultiSimilarity{Base: math.Inf(1)}, "multi-similarity: base is +Inf"},
		{"ms-reducer", losses.MultiSimilarity{Reducer: 9}, "unknown reduction 9"},
		{"ms-ref-and-miner", losses.MultiSimilarity{Miner: mining.MultiSimilarityPML(), Ref: &losses.Ref{Embeddings: emb, Labels: lab}}, "cannot be combined"},
		{"circle-distance", losses.Circle{Distance: graph.Euclidean{}}, "circle: distance graph.Euclidean is not a similarity"},
		{"circle-gamma", losses.Circle{Gamma: math.Inf(1)}, "circle: gamma is +Inf"},
		{"circle-margin", losses.Circle{Margin: math.NaN()}, "circle: margin is NaN"},
		{"genlifted-margin", losses.GeneralizedLifted{NegMargin: math.NaN()}, "generalized lifted structure: NegMargin is NaN"},
		{"margin-alpha", losses.Margin{Margin: -0.2}, "margin: margin is -0.2; want a finite value ≥ 0"},
		{"margin-beta", losses.Margin{Beta: math.Inf(-1)}, "margin: beta is -Inf"},
		{"margin-nu", losses.Margin{Nu: -1}, "margin: nu is -1"},
		{"margin-beta-vector", losses.Margin{BetaParam: vecBeta}, "margin: BetaParam is float64 (2); want a scalar float64 node"},
		{"margin-beta-dtype", losses.Margin{BetaParam: f32Beta}, "margin: BetaParam is float32"},
		{"dcl-tau-plus", losses.DebiasedContrastive{TauPlus: 1}, "debiased contrastive: TauPlus is 1; want a value in [0, 1)"},
		{"dcl-tau-plus-nan", losses.DebiasedContrastive{TauPlus: math.NaN()}, "TauPlus is NaN"},
		{"dcl-temperature", losses.DebiasedContrastive{Temperature: -1}, "debiased contrastive: temperature is -1"},
		{"hcl-beta", losses.HardNegative{Beta: -1}, "hard-negative contrastive: beta is -1"},
		{"hcl-temperature", losses.HardNegative{Temperature: math.Inf(1)}, "hard-negative contrastive: temperature is +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.loss.Loss(emb, lab)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "losses: ")
		})
	}
}

// TestMarginLearnableBeta: with BetaParam the loss is the fixed-β loss at
// β's value plus ν·β, and the gradient with respect to β and the embeddings
// matches central differences.
func TestMarginLearnableBeta(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0}
	const d, beta, nu = 3, 1.1, 0.05
	x := randEmb(41, len(labels), d, 1)
	for _, pml := range []bool{false, true} {
		base := losses.NewMargin()
		if pml {
			base = losses.MarginPML()
		}
		t.Run(fmt.Sprint("pml=", pml), func(t *testing.T) {
			b := func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				emb := G.NewMatrix(g, tensor.Float64, G.WithShape(len(labels), d), G.WithName("emb"),
					G.WithValue(tensor.New(tensor.WithShape(len(labels), d), tensor.WithBacking(append([]float64(nil), x...)))))
				lab := G.NewVector(g, tensor.Int, G.WithShape(len(labels)), G.WithName("labels"),
					G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
				bn := G.NewScalar(g, tensor.Float64, G.WithName("beta"), G.WithValue(beta))
				l := base
				l.BetaParam, l.Nu = bn, nu
				cost, err := l.Loss(emb, lab)
				return cost, []*G.Node{emb, bn}, err
			}
			red := "mean"
			if pml {
				red = "mean-nonzero"
			}
			f := func(beta float64) float64 {
				return marginOracle{metric{"euclidean", true}, 0.2, beta, pml, red}.loss(rows(x, d), labels) + nu*beta
			}
			g := G.NewGraph()
			cost, wrt, err := b(g)
			require.NoError(t, err)
			grads, err := G.Grad(cost, wrt...)
			require.NoError(t, err)
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			require.NoError(t, vm.RunAll())
			graphtest.RequireClose(t, f(beta), cost.Value().Data().(float64), 1e-12, 1e-12, "loss")
			const h = 1e-6
			gb := grads[1].Value().Data().(float64)
			graphtest.RequireClose(t, (f(beta+h)-f(beta-h))/(2*h), gb, 1e-6, 1e-5, "d/dβ")
			require.NotZero(t, gb, "β gets a gradient")
			// and the embeddings' gradient with β fixed at its value
			graphtest.CheckGradient(t, build(func() lossFn { l := base; l.Beta = beta; return l }(), x, labels, d), graphtest.GradOptions{})
		})
	}
}

// TestPairLossRefAndMiner: a reference set gives the loss of the batch with
// the reference rows appended, counting only the batch's rows as anchors
// (checked against the oracle on the concatenated batch, whose extra rows'
// terms are removed by giving them no partners in the sum), and a miner
// runs without error.
func TestPairLossMinerRuns(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0, 1}
	x := randEmb(51, len(labels), 3, 1)
	for _, l := range []lossFn{
		losses.MultiSimilarity{Miner: mining.MultiSimilarityPML()},
		losses.Circle{Miner: mining.MultiSimilarityPML()},
		losses.GeneralizedLifted{Miner: mining.PairMarginPML()},
		losses.Margin{Margin: 0.2, Beta: 1.2, Miner: mining.PairMarginPML()},
	} {
		res, err := graphtest.Eval(build(l, x, labels, 3))
		require.NoError(t, err)
		require.False(t, math.IsNaN(res.Cost))
	}
}

// TestPairLossRef: with a reference set the anchors are the batch's rows
// and their partners the other batch rows and the reference rows. For the
// per-anchor sums (Sum reducer) the loss of X against R plus the loss of R
// against X is therefore the loss of the concatenated batch, which the
// oracle gives; and the reference rows get no gradient.
func TestPairLossRef(t *testing.T) {
	const d = 3
	lx, lr := []int{0, 0, 1, 2, 1}, []int{1, 2, 0}
	x, r := randEmb(61, len(lx), d, 1), randEmb(62, len(lr), d, 1)
	all := append(append([]float64(nil), x...), r...)
	cos, euc := metric{"cosine", true}, metric{"euclidean", false}
	for _, tc := range []struct {
		name   string
		loss   func(ref *losses.Ref) lossFn
		oracle func(x [][]float64, labels []int) float64
	}{
		{"ms", func(ref *losses.Ref) lossFn {
			return losses.MultiSimilarity{Alpha: 2, Beta: 10, Base: 0.5, Reducer: losses.Sum, Ref: ref}
		}, msOracle{cos, 2, 10, 0.5, "sum"}.loss},
		{"circle", func(ref *losses.Ref) lossFn {
			return losses.Circle{Margin: 0.25, Gamma: 16, Reducer: losses.Sum, Ref: ref}
		}, circleOracle{cos, 0.25, 16, "sum", nil}.loss},
		{"genlifted", func(ref *losses.Ref) lossFn {
			return losses.GeneralizedLifted{PosMargin: 0.1, NegMargin: 1, Reducer: losses.Sum, Ref: ref}
		}, genLiftedOracle{euc, 0.1, 1, false, "sum"}.loss},
		{"margin", func(ref *losses.Ref) lossFn {
			return losses.Margin{Margin: 0.2, Beta: 1, Reducer: losses.Sum, Ref: ref}
		}, marginOracle{euc, 0.2, 1, false, "sum"}.loss},
	} {
		t.Run(tc.name, func(t *testing.T) {
			half := func(a []float64, la []int, b []float64, lb []int) float64 {
				g := G.NewGraph()
				emb := G.NewMatrix(g, tensor.Float64, G.WithShape(len(la), d), G.WithName("emb"), G.WithValue(graph.DenseOf(tensor.Float64, a, len(la), d)))
				lab := G.NewVector(g, tensor.Int, G.WithShape(len(la)), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), la...)))))
				remb := G.NewMatrix(g, tensor.Float64, G.WithShape(len(lb), d), G.WithName("ref"), G.WithValue(graph.DenseOf(tensor.Float64, b, len(lb), d)))
				rlab := G.NewVector(g, tensor.Int, G.WithShape(len(lb)), G.WithName("reflabels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), lb...)))))
				cost, err := tc.loss(&losses.Ref{Embeddings: remb, Labels: rlab}).Loss(emb, lab)
				require.NoError(t, err)
				// the reference rows are not differentiable at all
				_, err = G.Grad(cost, remb)
				require.ErrorContains(t, err, "Non Differentiable")
				_, err = G.Grad(cost, emb)
				require.NoError(t, err)
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				require.NoError(t, vm.RunAll())
				return cost.Value().Data().(float64)
			}
			a, b := half(x, lx, r, lr), half(r, lr, x, lx)
			want := tc.oracle(rows(all, d), append(append([]int(nil), lx...), lr...))
			graphtest.RequireClose(t, want, a+b, 1e-10, 1e-9, "loss(X; R) + loss(R; X)")
		})
	}
}
