package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
)

// typedNode is a matrix input of dtype dt holding v.
func typedNode(g *G.ExprGraph, dt tensor.Dtype, name string, v []float64, rows, cols int) *G.Node {
	return G.NewMatrix(g, dt, G.WithShape(rows, cols), G.WithName(name), G.WithValue(graph.DenseOf(dt, v, rows, cols)))
}

// linear returns Σ m ⊙ w for a constant w of m's shape: a random linear
// functional that gives every entry of m its own gradient.
func linear(m *G.Node, w []float64) (*G.Node, error) {
	c := G.NewConstant(tensor.New(tensor.WithShape(m.Shape()...), tensor.WithBacking(w)))
	p, err := G.HadamardProd(m, c)
	if err != nil {
		return nil, err
	}
	return G.Sum(p)
}

// TestDistanceCrossGradients checks the fused pairwise op's two derivative
// ops (x and a reference set y) against central differences.
func TestDistanceCrossGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const b, ref, d = 4, 3, 5
	x := randMatrix(r, b, d, 1)
	y := randMatrix(r, ref, d, 1)
	w := randMatrix(r, b, ref, 1)
	for _, tc := range distances() {
		t.Run(tc.name, func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn, yn := matNode(g, "x", b, d, x), matNode(g, "y", ref, d, y)
				m, err := tc.d.Matrix(xn, yn)
				if err != nil {
					return nil, nil, err
				}
				c, err := linear(m, w)
				return c, []*G.Node{xn, yn}, err
			}, graphtest.GradOptions{})
		})
	}
}

// TestDistanceLargeBatch runs the row-parallel path (B·R ≥ 2¹⁶) against
// the naive loops, twice on one machine (the op's buffers are reused), and
// checks the gradient of a random functional against central differences
// (D = 2 keeps that cheap).
func TestDistanceLargeBatch(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	const b, d = 260, 2 // 260² ≥ 2¹⁶
	x := randMatrix(r, b, d, 1)
	for _, tc := range distances() {
		t.Run(tc.name, func(t *testing.T) {
			g := G.NewGraph()
			xn := matNode(g, "x", b, d, x)
			m, err := tc.d.Matrix(xn, xn)
			require.NoError(t, err)
			var v G.Value
			G.Read(m, &v)
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			want := naivePairwise(x, x, b, b, d, tc.kind, tc.normalize)
			for run := 0; run < 2; run++ {
				require.NoError(t, vm.RunAll())
				got, err := graphtest.Float64s(v)
				require.NoError(t, err)
				graphtest.RequireAllClose(t, want, got, 1e-10, 1e-8, fmt.Sprintf("%s run %d", tc.name, run))
				vm.Reset()
			}
		})
	}
	w := randMatrix(r, b, b, 1)
	for _, tc := range []int{0, 5} { // euclidean (through the squared form), dot
		tc := distances()[tc]
		t.Run(tc.name+"/gradient", func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", b, d, x)
				m, err := tc.d.Matrix(xn, xn)
				if err != nil {
					return nil, nil, err
				}
				c, err := linear(m, w)
				return c, []*G.Node{xn}, err
			}, graphtest.GradOptions{Abs: 1e-5, Rel: 1e-5})
		})
	}
}

// TestMaskedReductionWeights: a mask with weights w gives
// log Σ w_ij e^{x_ij} (the composition it replaces multiplied by the mask),
// and the gradients agree with central differences, on a batch large
// enough for the row-parallel path.
func TestMaskedReductionWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	const rows, cols = 300, 240
	x := randMatrix(r, rows, cols, 2)
	mask := make([]float64, rows*cols)
	for i := range mask {
		if r.IntN(3) == 0 {
			mask[i] = 0.5 + r.Float64()
		}
	}
	for j := 0; j < cols; j++ {
		mask[7*cols+j] = 0 // an empty row
	}
	g := G.NewGraph()
	lse, err := graph.MaskedLogSumExp(matNode(g, "x", rows, cols, x), matNode(g, "mask", rows, cols, mask))
	require.NoError(t, err)
	got := run(t, g, lse)
	for i := 0; i < rows; i++ {
		s := 0.0
		for j := 0; j < cols; j++ {
			s += mask[i*cols+j] * math.Exp(x[i*cols+j]) // oracle: direct sum (|x| ≤ ~10, no overflow)
		}
		want := 0.0
		if s > 0 {
			want = math.Log(s)
		}
		graphtest.RequireClose(t, want, got[i], 1e-12, 1e-12, fmt.Sprintf("row %d", i))
	}
	// the gradient on a small corner (finite differences on 300×240 would be slow)
	const sr, sc = 6, 5
	for _, red := range reductions {
		t.Run(red.name, func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", sr, sc, x[:sr*sc])
				out, err := red.fn(xn, matNode(g, "mask", sr, sc, mask[:sr*sc]))
				if err != nil {
					return nil, nil, err
				}
				c, err := linear(out, []float64{1, -2, 3, 0.5, 1.5, -1})
				return c, []*G.Node{xn}, err
			}, graphtest.GradOptions{})
		})
	}
}

// TestFusedFloat32 runs the fused ops in float32 against their float64
// values.
func TestFusedFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	const b, d = 6, 4
	x := randMatrix(r, b, d, 1)
	mask := make([]float64, b*b)
	for i := range mask {
		mask[i] = float64(r.IntN(2))
	}
	build := func(g *G.ExprGraph, dt tensor.Dtype) []*G.Node {
		xn := typedNode(g, dt, "x", x, b, d)
		mn := typedNode(g, dt, "mask", mask, b, b)
		var out []*G.Node
		for _, tc := range distances() {
			m, err := tc.d.Matrix(xn, xn)
			require.NoError(t, err)
			out = append(out, m)
		}
		for _, red := range reductions {
			v, err := red.fn(out[0], mn)
			require.NoError(t, err)
			out = append(out, v)
		}
		sp, err := graph.Softplus(out[len(out)-1])
		require.NoError(t, err)
		return append(out, sp)
	}
	eval := func(dt tensor.Dtype) [][]float64 {
		g := G.NewGraph()
		nodes := build(g, dt)
		vals := make([]G.Value, len(nodes))
		for i, n := range nodes {
			G.Read(n, &vals[i])
		}
		m := G.NewTapeMachine(g)
		defer m.Close()
		require.NoError(t, m.RunAll())
		res := make([][]float64, len(vals))
		for i, v := range vals {
			f, err := graphtest.Float64s(v)
			require.NoError(t, err)
			res[i] = f
		}
		return res
	}
	want, got := eval(tensor.Float64), eval(tensor.Float32)
	for i := range want {
		graphtest.RequireAllClose(t, want[i], got[i], 1e-5, 1e-5, fmt.Sprintf("output %d", i))
	}
}

// TestSoftplusScalar: a scalar input takes the composition path.
func TestSoftplusScalar(t *testing.T) {
	for _, x := range []float64{-40, -1, 0, 3, 40} {
		graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
			xn := G.NewVector(g, tensor.Float64, G.WithShape(1), G.WithName("x"),
				G.WithValue(tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{x}))))
			s, err := G.Sum(xn) // a scalar node
			if err != nil {
				return nil, nil, err
			}
			sp, err := graph.Softplus(s)
			return sp, []*G.Node{xn}, err
		}, graphtest.GradOptions{})
	}
}

// TestPairwiseLargeBatch checks the fused pairwise max and log-add-exp
// gradients on the row-parallel path (B² ≥ 2¹⁶), with unflagged rows,
// against central differences, and the max's gradient at a tie (a kink,
// where differences do not converge) against the definition.
func TestPairwiseLargeBatch(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	const b = 260
	v := randMatrix(r, 1, b, 2)
	has := make([]float64, b)
	for i := range has {
		if r.IntN(4) > 0 {
			has[i] = 1
		}
	}
	has[5], has[9] = 1, 1
	w := randMatrix(r, b, b, 1)
	vec := func(g *G.ExprGraph, name string, x []float64) *G.Node {
		return G.NewVector(g, tensor.Float64, G.WithShape(b), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(b), tensor.WithBacking(append([]float64(nil), x...)))))
	}
	build := func(fn func(v, has *G.Node) (*G.Node, error), v []float64) graphtest.Build {
		return func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
			vn := vec(g, "v", v)
			out, err := fn(vn, vec(g, "has", has))
			if err != nil {
				return nil, nil, err
			}
			c, err := linear(out, w)
			return c, []*G.Node{vn}, err
		}
	}
	t.Run("max", func(t *testing.T) {
		graphtest.CheckGradient(t, build(graph.PairwiseMax, v), graphtest.GradOptions{Abs: 1e-5, Rel: 1e-5})
		tied := append([]float64(nil), v...)
		tied[9] = tied[5]
		res, err := graphtest.Eval(build(graph.PairwiseMax, tied))
		require.NoError(t, err)
		// oracle: entry (p, q) goes to p if q is unflagged or v_p ≥ v_q
		// (ties to the row), else to q
		var want float64
		for q := 0; q < b; q++ {
			if has[q] == 0 || tied[5] >= tied[q] {
				want += w[5*b+q]
			}
			if q != 5 && (has[q] == 0 || tied[q] < tied[5]) {
				want += w[q*b+5]
			}
		}
		graphtest.RequireClose(t, want, res.Grads[0][5], 1e-9, 1e-9, "tie gradient")
	})
	t.Run("logaddexp", func(t *testing.T) {
		graphtest.CheckGradient(t, build(graph.PairwiseLogAddExp, v), graphtest.GradOptions{Abs: 1e-5, Rel: 1e-5})
	})
	t.Run("logaddexp/all flagged", func(t *testing.T) { // the derivative's loop without flag tests
		saved := append([]float64(nil), has...)
		defer copy(has, saved)
		for i := range has {
			has[i] = 1
		}
		graphtest.CheckGradient(t, build(graph.PairwiseLogAddExp, v), graphtest.GradOptions{Abs: 1e-5, Rel: 1e-5})
	})
}

// TestPairwiseLogAddExpUnderflow: two values far below the largest flagged
// one (their shifted exponentials underflow) still combine exactly.
func TestPairwiseLogAddExpUnderflow(t *testing.T) {
	v := []float64{0, -1000, -1001}
	g := G.NewGraph()
	vn := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("v"), G.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking(v))))
	hn := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("has"), G.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{1, 1, 1}))))
	out, err := graph.PairwiseLogAddExp(vn, hn)
	require.NoError(t, err)
	got := run(t, g, out)
	// oracle: log(e^a + e^c) = a + log1p(e^{c−a}) for a ≥ c
	graphtest.RequireClose(t, -1000+math.Log1p(math.Exp(-1)), got[1*3+2], 1e-12, 1e-14, "(1,2)")
	graphtest.RequireClose(t, -1000+math.Log(2), got[1*3+1], 1e-12, 1e-14, "(1,1)")
	graphtest.RequireClose(t, math.Log1p(math.Exp(-1000)), got[0*3+1], 1e-300, 1e-14, "(0,1)")
}

// TestHingeSum checks the value against the definition and the gradient
// against central differences, squared and not, with weights and a
// negative scale.
func TestHingeSum(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	const rows, cols = 5, 4
	x := randMatrix(r, rows, cols, 1)
	w := make([]float64, rows*cols)
	for i := range w {
		w[i] = float64(r.IntN(3)) * 0.75
	}
	for _, tc := range []struct {
		scale, offset float64
		squared       bool
	}{{1, -0.3, false}, {-1, 0.5, true}, {2, 0.1, true}} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			var want float64 // oracle: the definition
			for i := range x {
				if h := tc.scale*x[i] + tc.offset; h > 0 {
					if tc.squared {
						h *= h
					}
					want += w[i] * h
				}
			}
			res := graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", rows, cols, x)
				c, err := graph.HingeSum(xn, matNode(g, "w", rows, cols, w), tc.scale, tc.offset, tc.squared)
				return c, []*G.Node{xn}, err
			}, graphtest.GradOptions{})
			graphtest.RequireClose(t, want, res.Cost, 1e-12, 1e-12, "value")
		})
	}
	g := G.NewGraph()
	_, err := graph.HingeSum(matNode(g, "x", 2, 2, x[:4]), matNode(g, "w", 2, 2, w[:4]), math.NaN(), 0, false)
	require.ErrorContains(t, err, "graph: hinge sum")
}

// TestSoftplusSum checks the value against the definition and the gradient
// against central differences, with weighted data and noise pairs (some
// both, some neither).
func TestSoftplusSum(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	const rows, cols = 4, 5
	x := randMatrix(r, rows, cols, 3)
	p, n := make([]float64, rows*cols), make([]float64, rows*cols)
	for i := range p {
		p[i] = float64(r.IntN(3)) * 0.5
		n[i] = float64(r.IntN(2))
	}
	const c, scale = 0.7, -2.5
	var want float64 // oracle: the definition, log1p(exp(·)) (|args| < 30)
	for i := range x {
		z := scale*x[i] - c
		want += p[i]*math.Log1p(math.Exp(-z)) + n[i]*math.Log1p(math.Exp(z))
	}
	res := graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", rows, cols, x)
		cn := G.NewScalar(g, tensor.Float64, G.WithName("c"), G.WithValue(c))
		sum, err := graph.SoftplusSum(xn, matNode(g, "p", rows, cols, p), matNode(g, "n", rows, cols, n), cn, scale)
		return sum, []*G.Node{xn}, err
	}, graphtest.GradOptions{})
	graphtest.RequireClose(t, want, res.Cost, 1e-12, 1e-12, "value")
}

// TestColumnBroadcasts checks SubCol and MulCol (one op each) against the
// definition and both inputs' gradients against central differences, on
// the row-parallel path (B·C ≥ 2¹⁶).
func TestColumnBroadcasts(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	const rows, cols = 300, 220
	x := randMatrix(r, rows, cols, 1)
	v := randMatrix(r, 1, rows, 1)
	w := randMatrix(r, rows, cols, 1)
	for name, fn := range map[string]func(x, v *G.Node) (*G.Node, error){"sub": graph.SubCol, "mul": graph.MulCol} {
		t.Run(name, func(t *testing.T) {
			g := G.NewGraph()
			out, err := fn(matNode(g, "x", rows, cols, x), G.NewVector(g, tensor.Float64, G.WithShape(rows), G.WithName("v"),
				G.WithValue(tensor.New(tensor.WithShape(rows), tensor.WithBacking(append([]float64(nil), v...))))))
			require.NoError(t, err)
			got := run(t, g, out)
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					want := x[i*cols+j] - v[i] // oracle: the definition
					if name == "mul" {
						want = x[i*cols+j] * v[i]
					}
					require.Equal(t, want, got[i*cols+j])
				}
			}
			// full-size gradients against their closed forms: dx = w (·v_i),
			// dv_i = −Σ_j w_ij (Σ_j w_ij·x_ij)
			res, err := graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", rows, cols, x)
				vn := G.NewVector(g, tensor.Float64, G.WithShape(rows), G.WithName("v"),
					G.WithValue(tensor.New(tensor.WithShape(rows), tensor.WithBacking(append([]float64(nil), v...)))))
				out, err := fn(xn, vn)
				if err != nil {
					return nil, nil, err
				}
				c, err := linear(out, w)
				return c, []*G.Node{xn, vn}, err
			})
			require.NoError(t, err)
			for i := 0; i < rows; i++ {
				var dv float64
				for j := 0; j < cols; j++ {
					k := i*cols + j
					dx := w[k]
					if name == "mul" {
						dx, dv = w[k]*v[i], dv+w[k]*x[k]
					} else {
						dv -= w[k]
					}
					graphtest.RequireClose(t, dx, res.Grads[0][k], 1e-12, 1e-12, "dx")
				}
				graphtest.RequireClose(t, dv, res.Grads[1][i], 1e-10, 1e-10, "dv")
			}
			// gradients on a small corner (differences on 300×220 would be slow)
			const sr, sc = 5, 4
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", sr, sc, x[:sr*sc])
				vn := G.NewVector(g, tensor.Float64, G.WithShape(sr), G.WithName("v"),
					G.WithValue(tensor.New(tensor.WithShape(sr), tensor.WithBacking(append([]float64(nil), v[:sr]...)))))
				out, err := fn(xn, vn)
				if err != nil {
					return nil, nil, err
				}
				c, err := linear(out, w[:sr*sc])
				return c, []*G.Node{xn, vn}, err
			}, graphtest.GradOptions{})
		})
	}
}

// TestSumsLargeBatch runs HingeSum and SoftplusSum on the block-parallel
// path (300×300) against the definitions, value and gradient.
func TestSumsLargeBatch(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	const n = 300
	x := randMatrix(r, n, n, 1)
	w, pn := make([]float64, n*n), make([]float64, n*n) // hinge weights; −1 data, +1 noise pair
	for i := range w {
		w[i] = float64(r.IntN(2))
		pn[i] = float64(r.IntN(3) - 1)
	}
	pos, neg := make([]float64, n*n), make([]float64, n*n)
	for i, v := range pn {
		pos[i], neg[i] = math.Max(-v, 0), math.Max(v, 0)
	}
	const scale, c = 1.5, 0.2
	var wantH, wantS float64 // oracles: the definitions
	dH, dS := make([]float64, n*n), make([]float64, n*n)
	for i := range x {
		if h := scale*x[i] - c; h > 0 {
			wantH += w[i] * h * h
			dH[i] = w[i] * 2 * h * scale
		}
		if pn[i] != 0 { // a data pair pays softplus(−z), a noise pair softplus(z)
			a := pn[i] * (scale*x[i] - c)
			wantS += math.Log1p(math.Exp(a))
			dS[i] = pn[i] * scale / (1 + math.Exp(-a))
		}
	}
	for name, tc := range map[string]struct {
		want float64
		d    []float64
		fn   func(g *G.ExprGraph, xn *G.Node) (*G.Node, error)
	}{
		"hinge": {wantH, dH, func(g *G.ExprGraph, xn *G.Node) (*G.Node, error) {
			return graph.HingeSum(xn, matNode(g, "w", n, n, w), scale, -c, true)
		}},
		"softplus": {wantS, dS, func(g *G.ExprGraph, xn *G.Node) (*G.Node, error) {
			cn := G.NewScalar(g, tensor.Float64, G.WithName("c"), G.WithValue(c))
			return graph.SoftplusSum(xn, matNode(g, "p", n, n, pos), matNode(g, "n", n, n, neg), cn, scale)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", n, n, x)
				out, err := tc.fn(g, xn)
				return out, []*G.Node{xn}, err
			})
			require.NoError(t, err)
			graphtest.RequireClose(t, tc.want, res.Cost, 1e-9, 1e-12, "value")
			graphtest.RequireAllClose(t, tc.d, res.Grads[0], 1e-12, 1e-12, "gradient")
		})
	}
}

// TestScaledMatrix checks k·d(x, y) against k times the naive loops for
// every distance (the dot products fold k into the product, the others
// scale after), self and cross, in float64 and float32 (the float32
// gradient against the float64 one), both gradients against central
// differences, and refuses a factor that is not finite.
func TestScaledMatrix(t *testing.T) {
	r := rand.New(rand.NewPCG(75, 76))
	const b, ref, d, k = 5, 4, 3, -1 / 0.07
	x, y := randMatrix(r, b, d, 1), randMatrix(r, ref, d, 1)
	wSelf, wCross := randMatrix(r, b, b, 1), randMatrix(r, b, ref, 1)
	for _, tc := range distances() {
		for _, self := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/self=%t", tc.name, self), func(t *testing.T) {
				rows, yv, w := ref, y, wCross
				if self {
					rows, yv, w = b, x, wSelf
				}
				want := naivePairwise(x, yv, b, rows, d, tc.kind, tc.normalize)
				for i := range want {
					want[i] *= k
				}
				grads := func(dt tensor.Dtype) (val []float64, gs [][]float64) {
					g := G.NewGraph()
					xn := typedNode(g, dt, "x", x, b, d)
					yn, wrt := xn, []*G.Node{xn}
					if !self {
						yn = typedNode(g, dt, "y", y, ref, d)
						wrt = append(wrt, yn)
					}
					m, err := graph.ScaledMatrix(tc.d, xn, yn, k)
					require.NoError(t, err)
					var mv G.Value
					G.Read(m, &mv)
					p, err := G.HadamardProd(m, G.NewConstant(graph.DenseOf(dt, w, b, rows)))
					require.NoError(t, err)
					cost, err := G.Sum(p)
					require.NoError(t, err)
					gn, err := G.Grad(cost, wrt...)
					require.NoError(t, err)
					vals := make([]G.Value, len(gn))
					for i, n := range gn {
						G.Read(n, &vals[i])
					}
					mach := G.NewTapeMachine(g)
					defer mach.Close()
					require.NoError(t, mach.RunAll())
					val, err = graphtest.Float64s(mv)
					require.NoError(t, err)
					for _, v := range vals {
						f, err := graphtest.Float64s(v)
						require.NoError(t, err)
						gs = append(gs, f)
					}
					return val, gs
				}
				v64, g64 := grads(tensor.Float64)
				graphtest.RequireAllClose(t, want, v64, 1e-10, 1e-10, "float64 value")
				v32, g32 := grads(tensor.Float32)
				graphtest.RequireAllClose(t, want, v32, 1e-4, 1e-5, "float32 value")
				for i := range g64 {
					graphtest.RequireAllClose(t, g64[i], g32[i], 1e-3, 1e-4, "float32 gradient")
				}
				graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
					xn := matNode(g, "x", b, d, x)
					yn, wrt := xn, []*G.Node{xn}
					if !self {
						yn = matNode(g, "y", ref, d, y)
						wrt = append(wrt, yn)
					}
					m, err := graph.ScaledMatrix(tc.d, xn, yn, k)
					if err != nil {
						return nil, nil, err
					}
					c, err := linear(m, w)
					return c, wrt, err
				}, graphtest.GradOptions{})
			})
		}
	}
	g := G.NewGraph()
	xn := matNode(g, "x", b, d, x)
	_, err := graph.ScaledMatrix(graph.Cosine{}, xn, xn, math.Inf(1))
	require.ErrorContains(t, err, "graph: scaled matrix: factor +Inf must be finite")
}
