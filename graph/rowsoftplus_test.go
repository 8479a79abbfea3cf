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

// rowSoftplusInputs returns z (rows×cols), v, weights w (about a third
// non-zero, some 0.5) and row weights r (one row 0) from a fixed seed.
func rowSoftplusInputs(seed uint64, rows, cols int) (z, v, w, rw []float64) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	z, v = randMatrix(r, rows, cols, 3), randMatrix(r, rows, 1, 3)
	w = make([]float64, rows*cols)
	for i := range w {
		if r.IntN(3) == 0 {
			w[i] = 0.5 * float64(1+r.IntN(2))
		}
	}
	rw = make([]float64, rows)
	for i := range rw {
		rw[i] = 1
	}
	rw[1] = 0
	return z, v, w, rw
}

// naiveRowSoftplusSum is the oracle: the definition with log1p(exp(·))
// (|arguments| < 40 here).
func naiveRowSoftplusSum(z, v, w, rw []float64, rows, cols int) float64 {
	var s float64
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			s += rw[i] * w[i*cols+j] * math.Log1p(math.Exp(v[i]-z[i*cols+j]))
		}
	}
	return s
}

func vecNode(g *G.ExprGraph, dt tensor.Dtype, name string, v []float64) *G.Node {
	return G.NewVector(g, dt, G.WithShape(len(v)), G.WithName(name), G.WithValue(graph.DenseOf(dt, v, len(v))))
}

// TestRowSoftplusSum checks the value against the definition (float64 at
// 1e-12, float32 at 1e-5 relative) on the row-parallel path (300×240),
// and both gradients (z and v) against central differences on 5×6.
func TestRowSoftplusSum(t *testing.T) {
	const rows, cols = 300, 240
	z, v, w, rw := rowSoftplusInputs(41, rows, cols)
	want := naiveRowSoftplusSum(z, v, w, rw, rows, cols)
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		t.Run(fmt.Sprint(dt), func(t *testing.T) {
			g := G.NewGraph()
			s, err := graph.RowSoftplusSum(typedNode(g, dt, "z", z, rows, cols), vecNode(g, dt, "v", v),
				typedNode(g, dt, "w", w, rows, cols), vecNode(g, dt, "r", rw))
			require.NoError(t, err)
			got := run(t, g, s)
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-5
			}
			graphtest.RequireClose(t, want, got[0], tol, tol, "value")
		})
	}
	const sr, sc = 5, 6
	z, v, w, rw = rowSoftplusInputs(43, sr, sc)
	res := graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		zn, vn := matNode(g, "z", sr, sc, z), vecNode(g, tensor.Float64, "v", v)
		s, err := graph.RowSoftplusSum(zn, vn, matNode(g, "w", sr, sc, w), vecNode(g, tensor.Float64, "r", rw))
		return s, []*G.Node{zn, vn}, err
	}, graphtest.GradOptions{})
	graphtest.RequireClose(t, naiveRowSoftplusSum(z, v, w, rw, sr, sc), res.Cost, 1e-12, 1e-12, "small value")
}

// TestRowSoftplusSumFloat32Gradient compares the float32 derivative ops
// with the float64 ones.
func TestRowSoftplusSumFloat32Gradient(t *testing.T) {
	const rows, cols = 7, 9
	z, v, w, rw := rowSoftplusInputs(45, rows, cols)
	grads := func(dt tensor.Dtype) [][]float64 {
		g := G.NewGraph()
		zn, vn := typedNode(g, dt, "z", z, rows, cols), vecNode(g, dt, "v", v)
		s, err := graph.RowSoftplusSum(zn, vn, typedNode(g, dt, "w", w, rows, cols), vecNode(g, dt, "r", rw))
		require.NoError(t, err)
		gs, err := G.Grad(s, zn, vn)
		require.NoError(t, err)
		vals := make([]G.Value, len(gs))
		for i, n := range gs {
			G.Read(n, &vals[i])
		}
		m := G.NewTapeMachine(g)
		defer m.Close()
		require.NoError(t, m.RunAll())
		out := make([][]float64, len(vals))
		for i, val := range vals {
			out[i], err = graphtest.Float64s(val)
			require.NoError(t, err)
		}
		return out
	}
	want, got := grads(tensor.Float64), grads(tensor.Float32)
	for i := range want {
		graphtest.RequireAllClose(t, want[i], got[i], 1e-6, 1e-5, fmt.Sprintf("gradient %d", i))
	}
}

// TestRowSoftplusSumErrors: shapes and dtypes that do not fit are refused
// with the op's name.
func TestRowSoftplusSumErrors(t *testing.T) {
	g := G.NewGraph()
	z := matNode(g, "z", 3, 4, make([]float64, 12))
	w := matNode(g, "w", 3, 4, make([]float64, 12))
	v3, v2 := vecNode(g, tensor.Float64, "v3", make([]float64, 3)), vecNode(g, tensor.Float64, "v2", make([]float64, 2))
	v32 := vecNode(g, tensor.Float32, "v32", make([]float64, 3))
	for _, tc := range []struct {
		name       string
		z, v, w, r *G.Node
	}{
		{"short v", z, v2, w, v3},
		{"short r", z, v3, w, v2},
		{"dtype", z, v32, w, v3},
		{"w shape", z, v3, matNode(g, "w2", 4, 3, make([]float64, 12)), v3},
	} {
		_, err := graph.RowSoftplusSum(tc.z, tc.v, tc.w, tc.r)
		require.ErrorContains(t, err, "graph: row softplus sum", tc.name)
	}
}
