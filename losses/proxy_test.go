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
)

// Tests of the proxy- and classifier-based losses of issue 14 (ProxyNCA,
// Proxy-Anchor, SoftTriple, ArcFace, CosFace), whose parameters the loss
// owns: naive float64 oracles written from the papers' formulas (ArcFace's
// from acos, not from the loss's √(1 − c²) form), gradients with respect to
// the embeddings and the parameters, and the edge cases.

// proxyOracle is a loss of embeddings x (B rows), parameter rows w and
// labels.
type proxyOracle func(x, w [][]float64, labels []int) float64

type proxyCase struct {
	name   string
	k      int // parameter rows per class
	mk     func(w *tensor.Dense) losses.Learner
	oracle proxyOracle
}

func ncaOracle(m metric, s float64, exclude bool) proxyOracle {
	return func(x, w [][]float64, labels []int) float64 {
		total := 0.0
		for i := range x {
			var zs []float64
			zy := 0.0
			for c := range w {
				z := -s * orientedBetween(m, x[i], w[c])
				if c == labels[i] {
					zy = z
					if exclude {
						continue
					}
				}
				zs = append(zs, z)
			}
			total += lse(zs) - zy
		}
		return total / float64(len(x))
	}
}

// orientedBetween is m between a and b, negated for a similarity.
func orientedBetween(m metric, a, b []float64) float64 {
	if m.larger() {
		return -m.between(a, b)
	}
	return m.between(a, b)
}

func anchorOracle(m metric, alpha, delta float64) proxyOracle {
	return func(x, w [][]float64, labels []int) float64 {
		var pos, neg float64
		withPos := 0
		for c := range w {
			var p, n []float64
			for i := range x {
				v := m.between(x[i], w[c])
				var pe, ne float64
				if m.larger() { // the paper: −α(s − δ), α(s + δ)
					pe, ne = -alpha*(v-delta), alpha*(v+delta)
				} else { // pytorch-metric-learning's distance.margin
					pe, ne = alpha*(v-delta), -alpha*(v+delta)
				}
				if labels[i] == c {
					p = append(p, pe)
				} else {
					n = append(n, ne)
				}
			}
			if len(p) > 0 {
				withPos++
				pos += log1pSumExp(p)
			}
			neg += log1pSumExp(n)
		}
		return pos/math.Max(float64(withPos), 1) + neg/float64(len(w))
	}
}

func softTripleOracle(k int, lambda, gamma, delta float64) proxyOracle {
	cos := metric{"cosine", true}
	return func(x, w [][]float64, labels []int) float64 {
		classes := len(w) / k
		total := 0.0
		for i := range x {
			logits := make([]float64, classes)
			for c := range classes {
				var num, den float64
				top := math.Inf(-1)
				for j := range k {
					top = math.Max(top, cos.between(x[i], w[c*k+j]))
				}
				for j := range k { // shifted by the largest similarity
					s := cos.between(x[i], w[c*k+j])
					num += math.Exp((s-top)/gamma) * s
					den += math.Exp((s - top) / gamma)
				}
				logits[c] = num / den
				if c == labels[i] {
					logits[c] -= delta
				}
				logits[c] *= lambda
			}
			total += lse(logits) - logits[labels[i]]
		}
		return total / float64(len(x))
	}
}

// marginSoftmaxOracle is ArcFace (arc: cos(acos(c) + m), c clamped to
// [−1, 1] as pytorch-metric-learning does) or CosFace (c − m).
func marginSoftmaxOracle(s, m float64, arc bool) proxyOracle {
	cos := metric{"cosine", true}
	return func(x, w [][]float64, labels []int) float64 {
		total := 0.0
		for i := range x {
			logits := make([]float64, len(w))
			for c := range w {
				v := cos.between(x[i], w[c])
				if c == labels[i] {
					if arc {
						v = math.Cos(math.Acos(math.Max(-1, math.Min(1, v))) + m)
					} else {
						v -= m
					}
				}
				logits[c] = s * v
			}
			total += lse(logits) - logits[labels[i]]
		}
		return total / float64(len(x))
	}
}

func proxyCases() []proxyCase {
	sq := metric{"sqeuclidean", true}
	cos := metric{"cosine", true}
	eucN := metric{"euclidean", true}
	nca := func(l losses.ProxyNCA) func(*tensor.Dense) losses.Learner {
		return func(w *tensor.Dense) losses.Learner { l.Proxies = w; return &l }
	}
	anchor := func(l losses.ProxyAnchor) func(*tensor.Dense) losses.Learner {
		return func(w *tensor.Dense) losses.Learner { l.Proxies = w; return &l }
	}
	st := func(l losses.SoftTriple) func(*tensor.Dense) losses.Learner {
		return func(w *tensor.Dense) losses.Learner { l.Centres = w; return &l }
	}
	arc := func(l losses.ArcFace) func(*tensor.Dense) losses.Learner {
		return func(w *tensor.Dense) losses.Learner { l.Weights = w; return &l }
	}
	cf := func(l losses.CosFace) func(*tensor.Dense) losses.Learner {
		return func(w *tensor.Dense) losses.Learner { l.Weights = w; return &l }
	}
	return []proxyCase{
		{"proxynca/default", 1, nca(losses.NewProxyNCA()), ncaOracle(sq, 1, true)},
		{"proxynca/pml", 1, nca(losses.ProxyNCAPML()), ncaOracle(sq, 1, false)},
		{"proxynca/zero-value", 1, nca(losses.ProxyNCA{}), ncaOracle(sq, 1, false)},
		{"proxynca/cosine-s=8", 1, nca(losses.ProxyNCA{Distance: graph.Cosine{}, Scale: 8}), ncaOracle(cos, 8, false)},
		{"proxynca/euclidean-norm-exclude", 1, nca(losses.ProxyNCA{Distance: graph.Euclidean{Normalize: true}, Scale: 3, ExcludePositive: true}), ncaOracle(eucN, 3, true)},
		{"proxyanchor/default", 1, anchor(losses.NewProxyAnchor()), anchorOracle(cos, 32, 0.1)},
		{"proxyanchor/pml", 1, anchor(losses.ProxyAnchorPML()), anchorOracle(cos, 32, 0.1)},
		{"proxyanchor/zero-value", 1, anchor(losses.ProxyAnchor{}), anchorOracle(cos, 32, 0)},
		{"proxyanchor/alpha=4", 1, anchor(losses.ProxyAnchor{Alpha: 4, Margin: 0.2}), anchorOracle(cos, 4, 0.2)},
		{"proxyanchor/euclidean-norm", 1, anchor(losses.ProxyAnchor{Distance: graph.Euclidean{Normalize: true}, Alpha: 4, Margin: 0.2}), anchorOracle(eucN, 4, 0.2)},
		{"softtriple/default", 10, st(losses.NewSoftTriple()), softTripleOracle(10, 20, 0.1, 0.01)},
		{"softtriple/pml", 10, st(losses.SoftTriplePML()), softTripleOracle(10, 20, 0.1, 0.01)},
		{"softtriple/zero-value", 10, st(losses.SoftTriple{}), softTripleOracle(10, 20, 0.1, 0)},
		{"softtriple/K=3", 3, st(losses.SoftTriple{Centers: 3, Lambda: 5, Gamma: 0.5, Margin: 0.1}), softTripleOracle(3, 5, 0.5, 0.1)},
		{"softtriple/K=1", 1, st(losses.SoftTriple{Centers: 1, Lambda: 5, Gamma: 0.5, Margin: 0.1}), softTripleOracle(1, 5, 0.5, 0.1)},
		{"arcface/default", 1, arc(losses.NewArcFace()), marginSoftmaxOracle(64, 0.5, true)},
		{"arcface/pml", 1, arc(losses.ArcFacePML()), marginSoftmaxOracle(64, 28.6*math.Pi/180, true)},
		{"arcface/zero-value", 1, arc(losses.ArcFace{}), marginSoftmaxOracle(64, 0, true)},
		{"arcface/s=4", 1, arc(losses.ArcFace{Scale: 4, Margin: 0.3}), marginSoftmaxOracle(4, 0.3, true)},
		{"cosface/default", 1, cf(losses.NewCosFace()), marginSoftmaxOracle(64, 0.35, false)},
		{"cosface/pml", 1, cf(losses.CosFacePML()), marginSoftmaxOracle(64, 0.35, false)},
		{"cosface/zero-value", 1, cf(losses.CosFace{}), marginSoftmaxOracle(64, 0, false)},
		{"cosface/s=4", 1, cf(losses.CosFace{Scale: 4, Margin: 0.2}), marginSoftmaxOracle(4, 0.2, false)},
	}
}

// buildParams is build for a loss with parameters: it returns the cost
// with the embeddings' and the parameters' nodes as the inputs to
// differentiate.
func buildParams(mk func(*tensor.Dense) losses.Learner, x, w []float64, labels []int, d int) graphtest.Build {
	return func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		b := len(labels)
		emb := G.NewMatrix(g, tensor.Float64, G.WithShape(b, d), G.WithName("emb"), G.WithValue(graph.DenseOf(tensor.Float64, append([]float64(nil), x...), b, d)))
		lab := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
		l := mk(graph.DenseOf(tensor.Float64, append([]float64(nil), w...), len(w)/d, d))
		cost, params, err := l.LossParams(emb, lab)
		if err != nil {
			return nil, nil, err
		}
		return cost, append([]*G.Node{emb}, params...), nil
	}
}

var proxyBatches = []struct {
	name    string
	labels  []int
	classes int
	d       int
	scale   float64 // of the embeddings
	wscale  float64 // of the parameters
	seed    uint64
}{
	{"mixed", []int{0, 0, 1, 1, 2, 2, 0, 1}, 4, 3, 1, 1, 1}, // class 3 has no sample
	{"one-class", []int{2, 2, 2, 2}, 3, 3, 1, 1, 2},
	{"all-distinct", []int{0, 1, 2, 3, 4}, 5, 3, 1, 0.5, 3},
	{"B=2", []int{1, 0}, 2, 2, 1, 1, 4},
	{"large-norms", []int{0, 1, 0, 1, 2, 2}, 3, 4, 1e6, 1e3, 6},
	{"small-norms", []int{0, 1, 0, 1, 2, 2}, 3, 4, 1e-4, 1e-3, 7},
}

func TestProxyLossValuesMatchOracle(t *testing.T) {
	for _, bt := range proxyBatches {
		x := randEmb(bt.seed, len(bt.labels), bt.d, bt.scale)
		for _, pc := range proxyCases() {
			w := randEmb(bt.seed+100, bt.classes*pc.k, bt.d, bt.wscale)
			t.Run(bt.name+"/"+pc.name, func(t *testing.T) {
				res, err := graphtest.Eval(buildParams(pc.mk, x, w, bt.labels, bt.d))
				require.NoError(t, err)
				want := pc.oracle(rows(x, bt.d), rows(w, bt.d), bt.labels)
				graphtest.RequireClose(t, want, res.Cost, 1e-10, 1e-9, "loss")
				for k, g := range res.Grads {
					for _, v := range g {
						require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "gradient %d: %v", k, g)
					}
				}
			})
		}
	}
}

// TestProxyLossGradients checks the symbolic gradients with respect to the
// embeddings and to the loss's own parameters against central differences.
func TestProxyLossGradients(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0}
	const d, classes = 3, 4
	x := randEmb(11, len(labels), d, 1)
	for _, pc := range proxyCases() {
		w := randEmb(12, classes*pc.k, d, 1)
		t.Run(pc.name, func(t *testing.T) {
			res := graphtest.CheckGradient(t, buildParams(pc.mk, x, w, labels, d), graphtest.GradOptions{})
			nz := false
			for _, v := range res.Grads[1] {
				nz = nz || v != 0
			}
			require.True(t, nz, "the parameters get a gradient")
		})
	}
}

// TestProxyLossDuplicates: equal embeddings, equal parameter rows and
// embeddings equal to a parameter row (cosine exactly 1, where ArcFace's
// √(1 − c²) has an infinite derivative) keep the oracle's value and a
// finite gradient.
func TestProxyLossDuplicates(t *testing.T) {
	labels := []int{0, 0, 1, 1, 0}
	const d = 2
	x := []float64{0.5, -1, 0.5, -1, 0.5, -1, 2, 0.3, 0.5, -1} // rows 0, 1, 2, 4 equal
	w := []float64{0.5, -1, 0.5, -1, 1, 1}                     // classes 0 and 1 equal, and equal to x_0
	for _, pc := range proxyCases() {
		if pc.k != 1 {
			continue
		}
		t.Run(pc.name, func(t *testing.T) {
			res, err := graphtest.Eval(buildParams(pc.mk, x, w, labels, d))
			require.NoError(t, err)
			graphtest.RequireClose(t, pc.oracle(rows(x, d), rows(w, d), labels), res.Cost, 1e-10, 1e-9, "loss")
			for _, g := range res.Grads {
				for _, v := range g {
					require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "gradient %v", res.Grads)
				}
			}
		})
	}
}

func TestProxyLossFloat32(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0, 1}
	const d, classes = 3, 3
	x := randEmb(31, len(labels), d, 1)
	for i := range x {
		x[i] = float64(float32(x[i]))
	}
	for _, pc := range proxyCases() {
		w := randEmb(32, classes*pc.k, d, 1)
		for i := range w {
			w[i] = float64(float32(w[i]))
		}
		t.Run(pc.name, func(t *testing.T) {
			g := G.NewGraph()
			emb := G.NewMatrix(g, tensor.Float32, G.WithShape(len(labels), d), G.WithName("emb"), G.WithValue(graph.DenseOf(tensor.Float32, x, len(labels), d)))
			lab := G.NewVector(g, tensor.Int, G.WithShape(len(labels)), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
			l := pc.mk(graph.DenseOf(tensor.Float32, w, len(w)/d, d))
			cost, params, err := l.LossParams(emb, lab)
			require.NoError(t, err)
			require.Equal(t, tensor.Float32, cost.Dtype())
			grads, err := G.Grad(cost, append([]*G.Node{emb}, params...)...)
			require.NoError(t, err)
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			require.NoError(t, vm.RunAll())
			// float32 rounding, amplified by the scales (s = 64, λ/γ = 200)
			graphtest.RequireClose(t, pc.oracle(rows(x, d), rows(w, d), labels), float64(cost.Value().Data().(float32)), 2e-4, 1e-3, "loss")
			for _, gn := range grads {
				for _, v := range gn.Value().Data().([]float32) {
					require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
				}
			}
		})
	}
}

// TestProxyLossInitParams: the initialisations are deterministic in the
// seed, have the documented shapes and spread (sample moments of 32,768
// draws, well within their sampling error), and feed the loss.
func TestProxyLossInitParams(t *testing.T) {
	const dim, classes = 64, 16
	for _, tc := range []struct {
		name      string
		l         losses.Learner
		rows      int
		std, mean float64
		bound     float64 // > 0: every value within ±bound
	}{
		{"proxynca", &losses.ProxyNCA{}, classes, 1, 0, 0},
		{"proxyanchor", &losses.ProxyAnchor{}, classes, math.Sqrt(2.0 / classes), 0, 0},
		{"softtriple", &losses.SoftTriple{}, classes * 10, 1 / math.Sqrt(3*classes*10), 0, 1 / math.Sqrt(classes*10)},
		{"arcface", &losses.ArcFace{}, classes, 1, 0, 0},
		{"cosface", &losses.CosFace{}, classes, 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.l.InitParams(dim, classes, tensor.Float64, 7))
			names, vals := tc.l.Params()
			require.Len(t, names, 1)
			require.Equal(t, []int{tc.rows, dim}, []int(vals[0].Shape()))
			v := vals[0].Data().([]float64)
			var s, s2 float64
			for _, x := range v {
				s += x
				s2 += x * x
				if tc.bound > 0 {
					require.LessOrEqual(t, math.Abs(x), tc.bound)
				}
			}
			n := float64(len(v))
			mean := s / n
			std := math.Sqrt(s2/n - mean*mean)
			require.InDelta(t, 0, mean, 5*tc.std/math.Sqrt(n))
			require.InDelta(t, tc.std, std, 0.05*tc.std)
			first := append([]float64(nil), v...)
			require.NoError(t, tc.l.InitParams(dim, classes, tensor.Float64, 7))
			_, again := tc.l.Params()
			require.Equal(t, first, again[0].Data().([]float64), "same seed, same values")
			require.NoError(t, tc.l.InitParams(dim, classes, tensor.Float32, 8))
			_, f32 := tc.l.Params()
			require.Equal(t, tensor.Float32, f32[0].Dtype())
		})
	}
}

func TestProxyLossErrors(t *testing.T) {
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 3), G.WithName("emb"))
	lab := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("labels"))
	w3 := graph.DenseOf(tensor.Float64, make([]float64, 9), 3, 3)
	w2 := graph.DenseOf(tensor.Float64, make([]float64, 6), 3, 2)
	w32 := graph.DenseOf(tensor.Float32, make([]float64, 9), 3, 3)
	for _, tc := range []struct {
		name string
		loss losses.Learner
		want string
	}{
		{"nca-no-proxies", &losses.ProxyNCA{}, "proxy-nca: no proxies; call InitParams"},
		{"nca-dim", &losses.ProxyNCA{Proxies: w2}, "proxy-nca: proxies are float64 (3, 2); want (C·1)×3 float64"},
		{"nca-dtype", &losses.ProxyNCA{Proxies: w32}, "proxies are float32"},
		{"nca-scale", &losses.ProxyNCA{Proxies: w3, Scale: -1}, "proxy-nca: scale is -1; want a finite value > 0"},
		{"anchor-no-proxies", &losses.ProxyAnchor{}, "proxy-anchor: no proxies"},
		{"anchor-alpha", &losses.ProxyAnchor{Proxies: w3, Alpha: math.NaN()}, "proxy-anchor: alpha is NaN"},
		{"anchor-margin", &losses.ProxyAnchor{Proxies: w3, Margin: -0.1}, "proxy-anchor: margin is -0.1; want a finite value ≥ 0"},
		{"softtriple-no-centres", &losses.SoftTriple{}, "softtriple: no centres"},
		{"softtriple-rows", &losses.SoftTriple{Centres: w3}, "softtriple: centres are float64 (3, 3); want (C·10)×3"},
		{"softtriple-centers", &losses.SoftTriple{Centers: -1, Centres: w3}, "softtriple: centers is -1"},
		{"softtriple-gamma", &losses.SoftTriple{Centers: 3, Centres: w3, Gamma: math.Inf(1)}, "softtriple: gamma is +Inf"},
		{"softtriple-lambda", &losses.SoftTriple{Centers: 3, Centres: w3, Lambda: -2}, "softtriple: lambda is -2"},
		{"arcface-no-weights", &losses.ArcFace{}, "arcface: no weights"},
		{"arcface-margin", &losses.ArcFace{Weights: w3, Margin: math.NaN()}, "arcface: margin is NaN"},
		{"cosface-scale", &losses.CosFace{Weights: w3, Scale: math.Inf(1)}, "cosface: scale is +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.loss.Loss(emb, lab)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "losses: ")
		})
	}

	// InitParams and SetParams check what they are given.
	l := &losses.ProxyAnchor{}
	require.ErrorContains(t, l.InitParams(0, 10, tensor.Float64, 1), "proxy-anchor: 10 classes × 1 vectors of dimension 0; want each ≥ 1")
	require.ErrorContains(t, l.InitParams(1<<14, 1<<14, tensor.Float64, 1), "the limit is MaxParamEntries")
	require.ErrorContains(t, l.InitParams(4, 2, tensor.Int, 1), "parameter dtype int")
	require.ErrorContains(t, l.SetParams([]string{"weights"}, []*tensor.Dense{w3}), `parameters ["weights"]; want one tensor "proxies"`)
	require.ErrorContains(t, l.SetParams([]string{"proxies"}, []*tensor.Dense{graph.DenseOf(tensor.Float64, []float64{1, math.NaN()}, 1, 2)}), "proxies holds NaN at index 1")
	require.ErrorContains(t, (&losses.SoftTriple{}).SetParams([]string{"centres"}, []*tensor.Dense{w3}), "centres has shape (3, 3); want (C·10)×D")
	names, vals := l.Params()
	require.Nil(t, names)
	require.Nil(t, vals)
	require.NoError(t, l.SetParams([]string{"proxies"}, []*tensor.Dense{w3}))
	_, vals = l.Params()
	require.Same(t, w3, vals[0])
}

// TestProxyLossLabelOutOfRange: a label with no parameters fails the run
// with an error that names it, for every loss.
func TestProxyLossLabelOutOfRange(t *testing.T) {
	for _, pc := range proxyCases() {
		for _, bad := range []int{3, -1} {
			t.Run(fmt.Sprint(pc.name, "/", bad), func(t *testing.T) {
				w := randEmb(5, 3*pc.k, 2, 1)
				_, err := graphtest.Eval(buildParams(pc.mk, randEmb(4, 4, 2, 1), w, []int{0, 1, bad, 2}, 2))
				require.ErrorContains(t, err, fmt.Sprintf("label %d of row 2 is outside [0, 3)", bad))
			})
		}
	}
}

// TestProxyLossParamsShareMemory: the parameter node reads the loss's
// tensor, so updating the tensor in place changes the next run's loss (the
// contract models.Trainer relies on).
func TestProxyLossParamsShareMemory(t *testing.T) {
	labels := []int{0, 1, 0, 1}
	x := randEmb(9, 4, 3, 1)
	l := losses.ProxyAnchorPML()
	require.NoError(t, l.InitParams(3, 2, tensor.Float64, 1))
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 3), G.WithName("emb"), G.WithValue(graph.DenseOf(tensor.Float64, x, 4, 3)))
	lab := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking(labels))))
	cost, _, err := l.LossParams(emb, lab)
	require.NoError(t, err)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	before := cost.Value().Data().(float64)
	_, vals := l.Params()
	p := vals[0].Data().([]float64)
	for i := range p {
		p[i] = -p[i]
	}
	vm.Reset()
	require.NoError(t, vm.RunAll())
	after := cost.Value().Data().(float64)
	want := anchorOracle(metric{"cosine", true}, 32, 0.1)(rows(x, 3), rows(p, 3), labels)
	require.NotEqual(t, before, after)
	graphtest.RequireClose(t, want, after, 1e-10, 1e-9, "loss after the update")
}

// TestProxyLossLargeScales: the scales play the role of 1/τ; at the
// equivalent of τ = 1e-3 (scales of 1,000 and more) the losses keep the
// oracle's value and a finite gradient.
func TestProxyLossLargeScales(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2}
	const d = 4
	x := randEmb(21, len(labels), d, 1)
	cos, sq := metric{"cosine", true}, metric{"sqeuclidean", true}
	for _, tau := range []float64{0.05, 0.01, 1e-3} {
		for _, pc := range []proxyCase{
			{"proxynca", 1, func(w *tensor.Dense) losses.Learner { return &losses.ProxyNCA{Scale: 1 / tau, Proxies: w} }, ncaOracle(sq, 1/tau, false)},
			{"proxyanchor", 1, func(w *tensor.Dense) losses.Learner {
				return &losses.ProxyAnchor{Alpha: 1 / tau, Margin: 0.1, Proxies: w}
			}, anchorOracle(cos, 1/tau, 0.1)},
			{"softtriple", 3, func(w *tensor.Dense) losses.Learner {
				return &losses.SoftTriple{Centers: 3, Lambda: 1 / tau, Gamma: tau, Margin: 0.01, Centres: w}
			}, softTripleOracle(3, 1/tau, tau, 0.01)},
			{"arcface", 1, func(w *tensor.Dense) losses.Learner { return &losses.ArcFace{Scale: 1 / tau, Margin: 0.5, Weights: w} }, marginSoftmaxOracle(1/tau, 0.5, true)},
			{"cosface", 1, func(w *tensor.Dense) losses.Learner { return &losses.CosFace{Scale: 1 / tau, Margin: 0.35, Weights: w} }, marginSoftmaxOracle(1/tau, 0.35, false)},
		} {
			t.Run(fmt.Sprint(pc.name, "/", tau), func(t *testing.T) {
				w := randEmb(22, 3*pc.k, d, 1)
				res, err := graphtest.Eval(buildParams(pc.mk, x, w, labels, d))
				require.NoError(t, err)
				graphtest.RequireClose(t, pc.oracle(rows(x, d), rows(w, d), labels), res.Cost, 1e-9, 1e-9, "loss")
				for _, g := range res.Grads {
					for _, v := range g {
						require.False(t, math.IsNaN(v) || math.IsInf(v, 0))
					}
				}
			})
		}
	}
}

// TestProxyLossRerunWithNewLabels: one compiled graph run again with other
// labels gives each batch's oracle value, and the first labels again give
// the first value; nothing of a run (the class mask, the label indices, a
// constant an op might write into) leaks into the next.
func TestProxyLossRerunWithNewLabels(t *testing.T) {
	batches := [][]int{{0, 0, 1, 1, 2, 2, 0, 1}, {2, 1, 1, 0, 0, 2, 2, 2}, {0, 0, 1, 1, 2, 2, 0, 1}}
	const d, classes = 3, 3
	x := randEmb(41, len(batches[0]), d, 1)
	for _, pc := range proxyCases() {
		w := randEmb(42, classes*pc.k, d, 1)
		t.Run(pc.name, func(t *testing.T) {
			g := G.NewGraph()
			emb := G.NewMatrix(g, tensor.Float64, G.WithShape(len(batches[0]), d), G.WithName("emb"), G.WithValue(graph.DenseOf(tensor.Float64, x, len(batches[0]), d)))
			lab := G.NewVector(g, tensor.Int, G.WithShape(len(batches[0])), G.WithName("labels"))
			l := pc.mk(graph.DenseOf(tensor.Float64, w, len(w)/d, d))
			cost, params, err := l.LossParams(emb, lab)
			require.NoError(t, err)
			_, err = G.Grad(cost, append([]*G.Node{emb}, params...)...)
			require.NoError(t, err)
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			var got []float64
			for _, labels := range batches {
				require.NoError(t, G.Let(lab, tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
				vm.Reset()
				require.NoError(t, graph.Run(vm))
				got = append(got, cost.Value().Data().(float64))
				graphtest.RequireClose(t, pc.oracle(rows(x, d), rows(w, d), labels), got[len(got)-1], 1e-10, 1e-9, fmt.Sprintf("loss with labels %v", labels))
			}
			require.Equal(t, got[0], got[2], "the first labels again")
		})
	}
}
