package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
)

// naiveActiveDot is the oracle: direct loops over all pairs of rows.
func naiveActiveDot(x, y, active []float64, c, d int) []float64 {
	out := make([]float64, c*c)
	for i := 0; i < c; i++ {
		for j := 0; j < c; j++ {
			var s float64
			for k := 0; k < d; k++ {
				s += x[i*d+k] * y[j*d+k]
			}
			out[i*c+j] = active[i] * active[j] * s
		}
	}
	return out
}

// TestActiveDot checks ActiveDot against the loops, in float64 and
// float32, for padding at the end (N-pair's layout), a hole inside the
// active prefix, nothing active and everything active, and both
// gradients against central differences.
func TestActiveDot(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	const c, d = 7, 5
	x, y := randMatrix(r, c, d, 1), randMatrix(r, c, d, 1)
	for _, tc := range []struct {
		name   string
		active []float64
	}{
		{"padded", []float64{1, 1, 1, 1, 0, 0, 0}},
		{"hole", []float64{1, 0, 1, 1, 1, 0, 0}},
		{"none", []float64{0, 0, 0, 0, 0, 0, 0}},
		{"all", []float64{1, 1, 1, 1, 1, 1, 1}},
	} {
		want := naiveActiveDot(x, y, tc.active, c, d)
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%s/%v", tc.name, dt), func(t *testing.T) {
				g := G.NewGraph()
				out, err := graph.ActiveDot(typedNode(g, dt, "x", x, c, d), typedNode(g, dt, "y", y, c, d), vecNode(g, dt, "a", tc.active))
				require.NoError(t, err)
				tol := 1e-14
				if dt == tensor.Float32 {
					tol = 1e-6
				}
				graphtest.RequireAllClose(t, want, run(t, g, out), tol, tol, "value")
			})
		}
		t.Run(tc.name+"/gradient", func(t *testing.T) {
			w := randMatrix(r, c, c, 1)
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn, yn := matNode(g, "x", c, d, x), matNode(g, "y", c, d, y)
				out, err := graph.ActiveDot(xn, yn, vecNode(g, tensor.Float64, "a", tc.active))
				if err != nil {
					return nil, nil, err
				}
				cost, err := linear(out, w)
				return cost, []*G.Node{xn, yn}, err
			}, graphtest.GradOptions{})
		})
	}
	g := G.NewGraph()
	_, err := graph.ActiveDot(matNode(g, "x", c, d, x), matNode(g, "y", c, d, y), vecNode(g, tensor.Float64, "a", make([]float64, 3)))
	require.ErrorContains(t, err, "graph: active dot: active must be")
}

// naiveGatherRows is the oracle: row k of the result is row idx[k] of x.
func naiveGatherRows(x []float64, idx []int, d int) []float64 {
	var out []float64
	for _, i := range idx {
		out = append(out, x[i*d:(i+1)*d]...)
	}
	return out
}

// TestGatherRows checks GatherRows against the loop in float64 and
// float32 (a repeated index, an unselected row), its derivative against
// central differences (repeated rows add up) and the float32 derivative
// against the float64 one, and refuses an index outside the rows when the
// graph runs.
func TestGatherRows(t *testing.T) {
	r := rand.New(rand.NewPCG(57, 58))
	const b, d = 5, 3
	x := randMatrix(r, b, d, 1)
	idx := []int{3, 0, 3, 1} // 3 twice, 2 and 4 never
	intVec := func(g *G.ExprGraph, v []int) *G.Node {
		return G.NewVector(g, tensor.Int, G.WithShape(len(v)), G.WithName("idx"), G.WithValue(tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]int(nil), v...)))))
	}
	want := naiveGatherRows(x, idx, d)
	w := randMatrix(r, len(idx), d, 1)
	grads := func(dt tensor.Dtype) []float64 {
		g := G.NewGraph()
		xn := typedNode(g, dt, "x", x, b, d)
		rows, err := graph.GatherRows(xn, intVec(g, idx))
		require.NoError(t, err)
		var val G.Value
		G.Read(rows, &val)
		p, err := G.HadamardProd(rows, G.NewConstant(graph.DenseOf(dt, w, len(idx), d)))
		require.NoError(t, err)
		cost, err := G.Sum(p) // Σ w ⊙ rows
		require.NoError(t, err)
		gs, err := G.Grad(cost, xn)
		require.NoError(t, err)
		var gv G.Value
		G.Read(gs[0], &gv)
		m := G.NewTapeMachine(g)
		defer m.Close()
		for run := 0; run < 2; run++ { // the buffers are reused: a second run gives the same
			require.NoError(t, m.RunAll())
			got, err := graphtest.Float64s(val)
			require.NoError(t, err)
			tol := 0.0 // a copy is exact, after the rounding of x to float32
			if dt == tensor.Float32 {
				tol = 1e-7
			}
			graphtest.RequireAllClose(t, want, got, tol, tol, "value")
			m.Reset()
		}
		out, err := graphtest.Float64s(gv)
		require.NoError(t, err)
		return out
	}
	// the derivative by hand: row b of dx is the sum of w's rows k with idx_k = b
	wantGrad := make([]float64, b*d)
	for k, i := range idx {
		for c := 0; c < d; c++ {
			wantGrad[i*d+c] += w[k*d+c]
		}
	}
	graphtest.RequireAllClose(t, wantGrad, grads(tensor.Float64), 1e-15, 0, "float64 gradient")
	graphtest.RequireAllClose(t, wantGrad, grads(tensor.Float32), 1e-6, 1e-6, "float32 gradient")
	graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", b, d, x)
		rows, err := graph.GatherRows(xn, intVec(g, idx))
		if err != nil {
			return nil, nil, err
		}
		sq, err := G.Square(rows) // non-linear, so repeated rows' gradients must add up
		if err != nil {
			return nil, nil, err
		}
		cost, err := linear(sq, w)
		return cost, []*G.Node{xn}, err
	}, graphtest.GradOptions{})

	g := G.NewGraph()
	rows, err := graph.GatherRows(matNode(g, "x", b, d, x), intVec(g, []int{0, b}))
	require.NoError(t, err)
	m := G.NewTapeMachine(g)
	defer m.Close()
	require.ErrorContains(t, m.RunAll(), "graph: gather rows: index 5 at position 1 is outside 5 rows")
	_ = rows
	_, err = graph.GatherRows(matNode(g, "y", b, d, x), vecNode(g, tensor.Float64, "f", []float64{0}))
	require.ErrorContains(t, err, "graph: gather rows: indices must be an int vector")
	_, err = graph.GatherRows(vecNode(g, tensor.Float64, "v", x), intVec(g, idx))
	require.ErrorContains(t, err, "graph: gather rows: x must be a B×D matrix")
}

// TestSqNormSum checks SqNormSum against the loop Σ_i w_i Σ_k x_ik² in
// float64 and float32, with weights that skip rows, are fractional and
// repeat, its derivative against central differences, and the float32
// derivative against the float64 one.
func TestSqNormSum(t *testing.T) {
	r := rand.New(rand.NewPCG(59, 60))
	const c, d = 6, 7 // d not a multiple of the four accumulators
	x := randMatrix(r, c, d, 1)
	w := []float64{1, 0, 2.5, 1, 0, 0.5}
	var want float64
	for i := 0; i < c; i++ {
		for k := 0; k < d; k++ {
			want += w[i] * x[i*d+k] * x[i*d+k]
		}
	}
	grad := func(dt tensor.Dtype) (float64, []float64) {
		g := G.NewGraph()
		xn := typedNode(g, dt, "x", x, c, d)
		s, err := graph.SqNormSum(xn, vecNode(g, dt, "w", w))
		require.NoError(t, err)
		var val G.Value
		G.Read(s, &val)
		gs, err := G.Grad(s, xn)
		require.NoError(t, err)
		dx := run(t, g, gs[0])
		v, err := graphtest.Float64s(val)
		require.NoError(t, err)
		return v[0], dx
	}
	v64, g64 := grad(tensor.Float64)
	graphtest.RequireClose(t, want, v64, 1e-13, 1e-13, "float64 value")
	v32, g32 := grad(tensor.Float32)
	graphtest.RequireClose(t, want, v32, 1e-5, 1e-5, "float32 value")
	graphtest.RequireAllClose(t, g64, g32, 1e-6, 1e-5, "float32 gradient")
	graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := matNode(g, "x", c, d, x)
		s, err := graph.SqNormSum(xn, vecNode(g, tensor.Float64, "w", w))
		return s, []*G.Node{xn}, err
	}, graphtest.GradOptions{})
	g := G.NewGraph()
	_, err := graph.SqNormSum(matNode(g, "x", c, d, x), vecNode(g, tensor.Float64, "w", w[:3]))
	require.ErrorContains(t, err, "graph: squared norm sum: w must be a float64 vector of length 6")
}
