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

func randMatrix(r *rand.Rand, rows, cols int, scale float64) []float64 {
	out := make([]float64, rows*cols)
	for i := range out {
		out[i] = scale * r.NormFloat64()
	}
	return out
}

func matNode(g *G.ExprGraph, name string, rows, cols int, v []float64) *G.Node {
	return G.NewMatrix(g, tensor.Float64, G.WithShape(rows, cols), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float64(nil), v...)))))
}

func labelNode(g *G.ExprGraph, name string, labels []int) *G.Node {
	return G.NewVector(g, tensor.Int, G.WithShape(len(labels)), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(len(labels)), tensor.WithBacking(append([]int(nil), labels...)))))
}

// run evaluates node n of graph g (no gradients) and returns its values.
func run(t *testing.T, g *G.ExprGraph, n *G.Node) []float64 {
	t.Helper()
	var v G.Value
	G.Read(n, &v)
	m := G.NewTapeMachine(g)
	defer m.Close()
	require.NoError(t, m.RunAll())
	out, err := graphtest.Float64s(v)
	require.NoError(t, err)
	return out
}

// naivePairwise is the oracle: direct float64 loops over all pairs.
func naivePairwise(x, y []float64, b, r, d int, kind string, normalize bool) []float64 {
	norm := func(v []float64) []float64 {
		if !normalize {
			return v
		}
		s := 0.0
		for _, e := range v {
			s += e * e
		}
		s = math.Sqrt(s)
		out := make([]float64, len(v))
		for i, e := range v {
			out[i] = e / s
		}
		return out
	}
	out := make([]float64, b*r)
	for i := 0; i < b; i++ {
		xi := norm(x[i*d : (i+1)*d])
		for j := 0; j < r; j++ {
			yj := norm(y[j*d : (j+1)*d])
			var sq, dot float64
			for k := 0; k < d; k++ {
				sq += (xi[k] - yj[k]) * (xi[k] - yj[k])
				dot += xi[k] * yj[k]
			}
			switch kind {
			case "euclidean":
				out[i*r+j] = math.Sqrt(sq)
			case "sqeuclidean":
				out[i*r+j] = sq
			default:
				out[i*r+j] = dot
			}
		}
	}
	return out
}

func distances() []struct {
	name      string
	d         graph.Distance
	kind      string
	normalize bool
} {
	return []struct {
		name      string
		d         graph.Distance
		kind      string
		normalize bool
	}{
		{"euclidean", graph.Euclidean{}, "euclidean", false},
		{"euclidean-normalized", graph.Euclidean{Normalize: true}, "euclidean", true},
		{"sqeuclidean", graph.SquaredEuclidean{}, "sqeuclidean", false},
		{"sqeuclidean-normalized", graph.SquaredEuclidean{Normalize: true}, "sqeuclidean", true},
		{"cosine", graph.Cosine{}, "dot", true},
		{"dot", graph.DotProduct{}, "dot", false},
		{"dot-normalized", graph.DotProduct{Normalize: true}, "dot", true},
	}
}

func TestDistanceMatrixMatchesNaiveLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const b, ref, d = 5, 4, 3
	x := randMatrix(r, b, d, 1)
	y := randMatrix(r, ref, d, 1)
	for _, tc := range distances() {
		t.Run(tc.name+"/self", func(t *testing.T) {
			g := G.NewGraph()
			xn := matNode(g, "x", b, d, x)
			m, err := tc.d.Matrix(xn, xn)
			require.NoError(t, err)
			graphtest.RequireAllClose(t, naivePairwise(x, x, b, b, d, tc.kind, tc.normalize), run(t, g, m), 1e-12, 1e-10, tc.name)
		})
		t.Run(tc.name+"/cross", func(t *testing.T) {
			g := G.NewGraph()
			m, err := tc.d.Matrix(matNode(g, "x", b, d, x), matNode(g, "y", ref, d, y))
			require.NoError(t, err)
			graphtest.RequireAllClose(t, naivePairwise(x, y, b, ref, d, tc.kind, tc.normalize), run(t, g, m), 1e-12, 1e-10, tc.name)
		})
	}
}

func TestDistanceGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const b, d = 4, 3
	x := randMatrix(r, b, d, 1)
	w := randMatrix(r, b, b, 1)
	for _, tc := range distances() {
		t.Run(tc.name, func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", b, d, x)
				m, err := tc.d.Matrix(xn, xn)
				if err != nil {
					return nil, nil, err
				}
				// a random linear functional of the matrix exercises every entry
				p, err := G.HadamardProd(m, G.NewConstant(tensor.New(tensor.WithShape(b, b), tensor.WithBacking(w))))
				if err != nil {
					return nil, nil, err
				}
				c, err := G.Sum(p)
				return c, []*G.Node{xn}, err
			}, graphtest.GradOptions{})
		})
	}
}

// TestDistanceDuplicateRows: two equal rows are at distance 0 off the
// diagonal, where √ has an infinite derivative and finite differences do
// not converge (a kink). The value must be 0 and every gradient finite.
func TestDistanceDuplicateRows(t *testing.T) {
	x := []float64{0.3, -1.2, 2, 0.3, -1.2, 2, 1, 1, 1}
	for _, tc := range distances() {
		t.Run(tc.name, func(t *testing.T) {
			res, err := graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", 3, 3, x)
				m, err := tc.d.Matrix(xn, xn)
				if err != nil {
					return nil, nil, err
				}
				c, err := G.Sum(m)
				return c, []*G.Node{xn}, err
			})
			require.NoError(t, err)
			for _, v := range res.Grads[0] {
				require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "gradient %v", res.Grads[0])
			}
		})
	}
	g := G.NewGraph()
	xn := matNode(g, "x", 3, 3, x)
	m, err := graph.Euclidean{}.Matrix(xn, xn)
	require.NoError(t, err)
	// Equal rows: ||a||² + ||b||² − 2a·b cancels to within the rounding of
	// the three dot products, |error| ≤ 4·D·u·||a||² (u = 2⁻⁵³), so the
	// distance is at most √(4·3·u·||x0||²). With gonum's kernels the
	// summation orders agree and it is exactly 0; other BLAS (-tags
	// openblas) may leave that rounding.
	n2 := 0.3*0.3 + 1.2*1.2 + 2*2
	require.LessOrEqual(t, run(t, g, m)[1], math.Sqrt(4*3*0x1p-53*n2), "d(x0, x1) for equal rows")
}

func TestDistanceFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const b, d = 6, 4
	x := randMatrix(r, b, d, 1)
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
		x[i] = float64(x32[i]) // oracle on the same rounded inputs
	}
	for _, tc := range distances() {
		t.Run(tc.name, func(t *testing.T) {
			g := G.NewGraph()
			xn := G.NewMatrix(g, tensor.Float32, G.WithShape(b, d), G.WithName("x"),
				G.WithValue(tensor.New(tensor.WithShape(b, d), tensor.WithBacking(append([]float32(nil), x32...)))))
			m, err := tc.d.Matrix(xn, xn)
			require.NoError(t, err)
			require.Equal(t, tensor.Float32, m.Dtype())
			// float32 matrix-product form: absolute error ~ 1e-6 × norms²
			graphtest.RequireAllClose(t, naivePairwise(x, x, b, b, d, tc.kind, tc.normalize), run(t, g, m), 1e-5, 1e-5, tc.name)
		})
	}
}

func TestDistanceErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("x"))
	y := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 4), G.WithName("y"))
	y32 := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 2), G.WithName("y32"))
	v := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("v"))
	xi := G.NewMatrix(g, tensor.Int, G.WithShape(3, 2), G.WithName("xi"))
	other := G.NewMatrix(G.NewGraph(), tensor.Float64, G.WithShape(3, 2), G.WithName("other"))
	cases := []struct {
		name string
		x, y *G.Node
		want string
	}{
		{"columns", x, y, "x has 2 columns, y has 4"},
		{"dtype", x, y32, "x is float64, y is float32"},
		{"vector", v, v, "must be 2-D"},
		{"int", xi, xi, "want float32 or float64"},
		{"nil", nil, x, "x is nil"},
		{"graphs", x, other, "another graph"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []graph.Distance{graph.Euclidean{}, graph.Cosine{}} {
				_, err := d.Matrix(tc.x, tc.y)
				require.ErrorContains(t, err, tc.want)
				require.ErrorContains(t, err, "graph: ")
			}
		})
	}
}

func TestLabelMasks(t *testing.T) {
	labels := []int{7, 3, 7, 7, 1}
	ref := []int{3, 7, 9}
	g := G.NewGraph()
	l := labelNode(g, "labels", labels)
	rl := labelNode(g, "ref", ref)
	same, err := graph.LabelMask(l, graph.SameLabel, tensor.Float64)
	require.NoError(t, err)
	diff, err := graph.LabelMask(l, graph.DifferentLabel, tensor.Float64)
	require.NoError(t, err)
	cross, err := graph.CrossLabelMask(l, rl, graph.SameLabel, tensor.Float64)
	require.NoError(t, err)
	var sv, dv, cv G.Value
	G.Read(same, &sv)
	G.Read(diff, &dv)
	G.Read(cross, &cv)
	m := G.NewTapeMachine(g)
	defer m.Close()
	require.NoError(t, m.RunAll())
	for i, li := range labels {
		for j, lj := range labels {
			wantSame, wantDiff := 0.0, 0.0
			if li == lj && i != j {
				wantSame = 1
			}
			if li != lj {
				wantDiff = 1
			}
			require.Equal(t, wantSame, sv.Data().([]float64)[i*len(labels)+j], "same[%d,%d]", i, j)
			require.Equal(t, wantDiff, dv.Data().([]float64)[i*len(labels)+j], "diff[%d,%d]", i, j)
		}
		for j, lj := range ref {
			want := 0.0
			if li == lj {
				want = 1
			}
			require.Equal(t, want, cv.Data().([]float64)[i*len(ref)+j], "cross[%d,%d]", i, j)
		}
	}
}

// TestLabelsRebindWithoutRebuild pins the static-graph rule: the graph is
// compiled once and the mask follows new labels bound with Let.
func TestLabelsRebindWithoutRebuild(t *testing.T) {
	g := G.NewGraph()
	l := G.NewVector(g, tensor.Int, G.WithShape(3), G.WithName("labels"))
	same, err := graph.LabelMask(l, graph.SameLabel, tensor.Float32)
	require.NoError(t, err)
	s, err := G.Sum(same)
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()
	for _, tc := range []struct {
		labels []int
		want   float32 // ordered same-label pairs, counted by hand
	}{{[]int{1, 1, 1}, 6}, {[]int{1, 2, 3}, 0}, {[]int{4, 2, 4}, 2}} {
		require.NoError(t, G.Let(l, tensor.New(tensor.WithBacking(tc.labels))))
		require.NoError(t, m.RunAll())
		require.Equal(t, tc.want, s.Value().Data().(float32), "labels %v", tc.labels)
		m.Reset()
	}
}

// naive masked reductions, row by row
func naiveReduce(x, mask []float64, r, c int, kind string) []float64 {
	out := make([]float64, r)
	for i := 0; i < r; i++ {
		var vals []float64
		for j := 0; j < c; j++ {
			if mask[i*c+j] != 0 {
				vals = append(vals, x[i*c+j])
			}
		}
		switch kind {
		case "max", "min":
			if len(vals) == 0 {
				continue
			}
			best := vals[0]
			for _, v := range vals {
				if (kind == "max" && v > best) || (kind == "min" && v < best) {
					best = v
				}
			}
			out[i] = best
		case "sum":
			for _, v := range vals {
				out[i] += v
			}
		case "lse", "log1p":
			s := 0.0
			if kind == "log1p" {
				s = 1
			}
			if len(vals) == 0 {
				continue
			}
			for _, v := range vals {
				s += math.Exp(v)
			}
			out[i] = math.Log(s)
		}
	}
	return out
}

type reduction struct {
	name string
	fn   func(x, mask *G.Node) (*G.Node, error)
}

var reductions = []reduction{
	{"max", graph.MaskedRowMax},
	{"min", graph.MaskedRowMin},
	{"lse", graph.MaskedLogSumExp},
	{"log1p", graph.MaskedLog1pSumExp},
	{"sum", graph.MaskedRowSum},
}

func TestMaskedReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const rows, cols = 5, 6
	mask := make([]float64, rows*cols)
	for i := range mask {
		if r.IntN(2) == 0 {
			mask[i] = 1
		}
	}
	for j := 0; j < cols; j++ { // row 2 empty: must give 0 and no NaN
		mask[2*cols+j] = 0
	}
	for _, scale := range []float64{1, 1e3} { // 1e3: exp overflows without the shift
		x := randMatrix(r, rows, cols, scale)
		x[0] = 800 * scale // an unmasked huge value must not leak in
		mask[0] = 0
		for _, red := range reductions {
			t.Run(fmt.Sprintf("%s/scale=%g", red.name, scale), func(t *testing.T) {
				g := G.NewGraph()
				out, err := red.fn(matNode(g, "x", rows, cols, x), matNode(g, "mask", rows, cols, mask))
				require.NoError(t, err)
				want := naiveReduce(x, mask, rows, cols, red.name)
				got := run(t, g, out)
				for i, w := range want {
					if math.IsInf(w, 0) { // naive overflow: compare to shifted value
						continue
					}
					graphtest.RequireClose(t, w, got[i], 1e-12, 1e-12, fmt.Sprintf("row %d", i))
				}
				require.Equal(t, 0.0, got[2], "empty row")
			})
		}
	}
}

func TestMaskedReductionGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const rows, cols = 4, 5
	x := randMatrix(r, rows, cols, 1)
	mask := make([]float64, rows*cols)
	for i := range mask {
		if r.IntN(3) > 0 {
			mask[i] = 1
		}
	}
	for j := 0; j < cols; j++ {
		mask[cols+j] = 0 // an empty row
	}
	for _, red := range reductions {
		t.Run(red.name, func(t *testing.T) {
			res := graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", rows, cols, x)
				out, err := red.fn(xn, matNode(g, "mask", rows, cols, mask))
				if err != nil {
					return nil, nil, err
				}
				w := G.NewConstant(tensor.New(tensor.WithShape(rows), tensor.WithBacking([]float64{1, -2, 3, 0.5})))
				p, err := G.HadamardProd(out, w)
				if err != nil {
					return nil, nil, err
				}
				c, err := G.Sum(p)
				return c, []*G.Node{xn}, err
			}, graphtest.GradOptions{})
			for j := 0; j < cols; j++ {
				require.Equal(t, 0.0, res.Grads[0][cols+j], "empty row gradient")
			}
		})
	}
}

// TestMaskedRowMaxTieGetsOneGradient pins the workaround for Gorgonia's Max,
// which gives each tied element the full gradient: our row max passes the
// gradient to exactly one element (the first).
func TestMaskedRowMaxTieGetsOneGradient(t *testing.T) {
	x := []float64{2, 5, 5, 1}
	mask := []float64{1, 1, 1, 1}
	res, err := graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", 1, 4, x)
		out, err := graph.MaskedRowMax(xn, matNode(g, "mask", 1, 4, mask))
		if err != nil {
			return nil, nil, err
		}
		c, err := G.Sum(out)
		return c, []*G.Node{xn}, err
	})
	require.NoError(t, err)
	require.Equal(t, 5.0, res.Cost)
	require.Equal(t, []float64{0, 1, 0, 0}, res.Grads[0])
}

// TestGorgoniaMaxTieGradient documents the Gorgonia v0.9.18 behaviour that
// MaskedRowMax works around. If it starts failing, Gorgonia changed: revisit.
func TestGorgoniaMaxTieGradient(t *testing.T) {
	res, err := graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", 1, 4, []float64{2, 5, 5, 1})
		out, err := G.Max(xn, 1)
		if err != nil {
			return nil, nil, err
		}
		c, err := G.Sum(out)
		return c, []*G.Node{xn}, err
	})
	require.NoError(t, err)
	require.Equal(t, []float64{0, 1, 1, 0}, res.Grads[0], "Gorgonia's Max tie gradient changed")
}

// TestGorgoniaLogSumExpIsBroken documents why MaskedLogSumExp is built from
// max, exp, sum and log: Gorgonia's LogSumExp gives a wrong value on a
// vector. log(e^1 + e^2 + e^3) = 3.40760596444438 (computed by hand).
func TestGorgoniaLogSumExpIsBroken(t *testing.T) {
	g := G.NewGraph()
	v := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("v"),
		G.WithValue(tensor.New(tensor.WithBacking([]float64{1, 2, 3}))))
	out, err := G.LogSumExp(v, 0)
	if err != nil {
		return // an error is also "broken"; our own version is tested above
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		return
	}
	got, err := graphtest.Float64s(out.Value())
	require.NoError(t, err)
	require.False(t, graphtest.Close(3.40760596444438, got[0], 1e-9, 1e-9),
		"Gorgonia's LogSumExp now gives the right value; MaskedLogSumExp may use it")
}

// TestGorgoniaSqrtGradientAtZero documents why distances use SafeSqrt.
func TestGorgoniaSqrtGradientAtZero(t *testing.T) {
	res, err := graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithBacking([]float64{0, 4}))))
		s, err := G.Sqrt(xn)
		if err != nil {
			return nil, nil, err
		}
		c, err := G.Sum(s)
		return c, []*G.Node{xn}, err
	})
	require.NoError(t, err)
	require.True(t, math.IsInf(res.Grads[0][0], 1), "Gorgonia's Sqrt gradient at 0 is now %v", res.Grads[0][0])

	res, err = graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithBacking([]float64{0, 4}))))
		s, err := graph.SafeSqrt(xn)
		if err != nil {
			return nil, nil, err
		}
		c, err := G.Sum(s)
		return c, []*G.Node{xn}, err
	})
	require.NoError(t, err)
	require.Equal(t, 2.0, res.Cost)
	require.Equal(t, []float64{0, 0.25}, res.Grads[0]) // d√x/dx at 4 = 1/(2·2)
}

// TestGorgoniaByIndicesAxis0Gradient pins the gather that losses use: axis
// 0 of a matrix, whose gradient is right in v0.9.18 (axis 1 and vectors are
// not), including a repeated index whose gradients must add up.
func TestGorgoniaByIndicesAxis0Gradient(t *testing.T) {
	graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", 4, 1, []float64{1, -2, 3, 0.5})
		idx := G.NewVector(g, tensor.Int, G.WithShape(3), G.WithName("idx"),
			G.WithValue(tensor.New(tensor.WithBacking([]int{2, 0, 2}))))
		gth, err := G.ByIndices(xn, idx, 0)
		if err != nil {
			return nil, nil, err
		}
		sq, err := G.Square(gth)
		if err != nil {
			return nil, nil, err
		}
		c, err := G.Sum(sq)
		return c, []*G.Node{xn}, err
	}, graphtest.GradOptions{})
}

func TestSoftplus(t *testing.T) {
	xs := []float64{-800, -30, -1, 0, 1e-8, 2, 30, 800}
	g := G.NewGraph()
	xn := G.NewVector(g, tensor.Float64, G.WithShape(len(xs)), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithBacking(append([]float64(nil), xs...)))))
	sp, err := graph.Softplus(xn)
	require.NoError(t, err)
	got := run(t, g, sp)
	for i, x := range xs {
		// oracle: log1p(exp(x)) for x < 30, x + log1p(exp(−x)) above
		want := math.Log1p(math.Exp(x))
		if x > 30 {
			want = x + math.Log1p(math.Exp(-x))
		}
		graphtest.RequireClose(t, want, got[i], 1e-300, 1e-14, fmt.Sprintf("softplus(%g)", x))
	}
	graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := G.NewVector(g, tensor.Float64, G.WithShape(4), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithBacking([]float64{-3, 0, 0.5, 4}))))
		sp, err := graph.Softplus(xn)
		if err != nil {
			return nil, nil, err
		}
		c, err := G.Sum(sp)
		return c, []*G.Node{xn}, err
	}, graphtest.GradOptions{})
}

func TestMeans(t *testing.T) {
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float64, G.WithShape(5), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithBacking([]float64{0, 2, 0, 4, 3}))))
	w := G.NewVector(g, tensor.Float64, G.WithShape(5), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithBacking([]float64{1, 1, 0, 0, 1}))))
	zero := G.NewVector(g, tensor.Float64, G.WithShape(5), G.WithName("zero"),
		G.WithValue(tensor.New(tensor.WithBacking(make([]float64, 5)))))
	nz, err := graph.MeanNonZero(x)
	require.NoError(t, err)
	wm, err := graph.WeightedMean(x, w)
	require.NoError(t, err)
	nz0, err := graph.MeanNonZero(zero)
	require.NoError(t, err)
	wm0, err := graph.WeightedMean(x, zero)
	require.NoError(t, err)
	var a, b, c, d G.Value
	G.Read(nz, &a)
	G.Read(wm, &b)
	G.Read(nz0, &c)
	G.Read(wm0, &d)
	m := G.NewTapeMachine(g)
	defer m.Close()
	require.NoError(t, m.RunAll())
	require.Equal(t, 3.0, a.Data())   // (2+4+3)/3
	require.Equal(t, 5.0/3, b.Data()) // (0+2+3)/3
	require.Equal(t, 0.0, c.Data())   // nothing non-zero: 0, not NaN
	require.Equal(t, 0.0, d.Data())   // no weight: 0, not NaN
}

// TestOpHashIncludesParameters pins that two forward-only ops that differ
// only in a parameter are not merged by Gorgonia's node deduplication.
func TestOpHashIncludesParameters(t *testing.T) {
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithBacking([]float64{0.5, 1.5, 2.5}))))
	a, err := graph.Indicator(x, 1)
	require.NoError(t, err)
	b, err := graph.Indicator(x, 2)
	require.NoError(t, err)
	require.NotSame(t, a, b)
	require.Equal(t, []float64{0, 1, 1}, run(t, g, a))
	require.Equal(t, []float64{0, 0, 1}, run(t, g, b))
}

func TestConstDtype(t *testing.T) {
	require.Equal(t, tensor.Float32, graph.NewExpr(tensor.Float32).Const(2).Dtype())
	require.Equal(t, tensor.Float64, graph.NewExpr(tensor.Float64).Const(2).Dtype())
}

func TestL2NormalizeZeroRow(t *testing.T) {
	res, err := graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", 2, 2, []float64{3, 4, 0, 0})
		n, err := graph.L2Normalize(xn)
		if err != nil {
			return nil, nil, err
		}
		w := G.NewConstant(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 2, 3, 4})))
		p, err := G.HadamardProd(n, w)
		if err != nil {
			return nil, nil, err
		}
		c, err := G.Sum(p)
		return c, []*G.Node{xn}, err
	})
	require.NoError(t, err)
	graphtest.RequireClose(t, 0.6+2*0.8, res.Cost, 1e-12, 1e-12, "cost") // (3,4)/5 · (1,2); the zero row adds 0
	// d/dx of x/√(|x|²+1e-24) at x = 0 is 1e12 times the weights (3, 4)
	graphtest.RequireAllClose(t, []float64{3e12, 4e12}, res.Grads[0][2:], 0, 1e-9, "zero-row gradient")
	graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", 2, 2, []float64{3, 4, -1, 0.5})
		n, err := graph.L2Normalize(xn)
		if err != nil {
			return nil, nil, err
		}
		w := G.NewConstant(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 2, 3, 4})))
		p, err := G.HadamardProd(n, w)
		if err != nil {
			return nil, nil, err
		}
		c, err := G.Sum(p)
		return c, []*G.Node{xn}, err
	}, graphtest.GradOptions{})
}

func TestPairwise(t *testing.T) {
	v := []float64{0.5, 2, -1, 2}
	has := []float64{1, 1, 0, 1}
	g := G.NewGraph()
	vn := G.NewVector(g, tensor.Float64, G.WithShape(4), G.WithName("v"), G.WithValue(tensor.New(tensor.WithBacking(v))))
	hn := G.NewVector(g, tensor.Float64, G.WithShape(4), G.WithName("has"), G.WithValue(tensor.New(tensor.WithBacking(has))))
	mx, err := graph.PairwiseMax(vn, hn)
	require.NoError(t, err)
	lae, err := graph.PairwiseLogAddExp(vn, hn)
	require.NoError(t, err)
	var mv, lv G.Value
	G.Read(mx, &mv)
	G.Read(lae, &lv)
	m := G.NewTapeMachine(g)
	defer m.Close()
	require.NoError(t, m.RunAll())
	for i := range v {
		for j := range v {
			var wantMax, wantLAE float64 // oracle: direct definition
			switch {
			case has[i] != 0 && has[j] != 0:
				wantMax = math.Max(v[i], v[j])
				wantLAE = math.Log(math.Exp(v[i]) + math.Exp(v[j]))
			case has[i] != 0:
				wantMax, wantLAE = v[i], v[i]
			case has[j] != 0:
				wantMax, wantLAE = v[j], v[j]
			}
			graphtest.RequireClose(t, wantMax, mv.Data().([]float64)[i*4+j], 0, 0, fmt.Sprintf("max(%d,%d)", i, j))
			graphtest.RequireClose(t, wantLAE, lv.Data().([]float64)[i*4+j], 1e-15, 1e-15, fmt.Sprintf("logaddexp(%d,%d)", i, j))
		}
	}
	for _, fn := range []func(v, has *G.Node) (*G.Node, error){graph.PairwiseMax, graph.PairwiseLogAddExp} {
		graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
			vn := G.NewVector(g, tensor.Float64, G.WithShape(4), G.WithName("v"), G.WithValue(tensor.New(tensor.WithBacking([]float64{0.5, 2.5, -1, 2}))))
			hn := G.NewVector(g, tensor.Float64, G.WithShape(4), G.WithName("has"), G.WithValue(tensor.New(tensor.WithBacking(has))))
			out, err := fn(vn, hn)
			if err != nil {
				return nil, nil, err
			}
			w := G.NewConstant(tensor.New(tensor.WithShape(4, 4), tensor.WithBacking(randMatrix(rand.New(rand.NewPCG(1, 1)), 4, 4, 1))))
			p, err := G.HadamardProd(out, w)
			if err != nil {
				return nil, nil, err
			}
			c, err := G.Sum(p)
			return c, []*G.Node{vn}, err
		}, graphtest.GradOptions{})
	}
}

func TestGather(t *testing.T) {
	x := []float64{1, -2, 3, 0.5, 4, -1}
	idx := []int{2, 0, 2, 5} // 2 repeats: its gradients add up
	res := graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", 2, 3, x)
		in := G.NewVector(g, tensor.Int, G.WithShape(len(idx)), G.WithName("idx"), G.WithValue(tensor.New(tensor.WithBacking(idx))))
		gth, err := graph.Gather(xn, in)
		if err != nil {
			return nil, nil, err
		}
		w := G.NewConstant(tensor.New(tensor.WithShape(4), tensor.WithBacking([]float64{1, 2, 3, 4})))
		sq, err := G.Square(gth)
		if err != nil {
			return nil, nil, err
		}
		p, err := G.HadamardProd(sq, w)
		if err != nil {
			return nil, nil, err
		}
		c, err := G.Sum(p)
		return c, []*G.Node{xn}, err
	}, graphtest.GradOptions{})
	// value: 1·3² + 2·1² + 3·3² + 4·(−1)² = 42; gradient of x[2] = (1+3)·2·3
	require.Equal(t, 42.0, res.Cost)
	require.Equal(t, []float64{4, 0, 24, 0, 0, -8}, res.Grads[0])

	g := G.NewGraph()
	xn := matNode(g, "x", 2, 3, x)
	bad := G.NewVector(g, tensor.Int, G.WithShape(1), G.WithName("bad"), G.WithValue(tensor.New(tensor.WithShape(1), tensor.WithBacking([]int{6}))))
	gth, err := graph.Gather(xn, bad)
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()
	_ = gth
	require.ErrorContains(t, m.RunAll(), "index 6 at position 0 is outside 6 entries")
}
