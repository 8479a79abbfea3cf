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

// naiveLp is the oracle of graph.Lp: rows optionally divided by their Lp
// norm (floored at 1e-12, F.normalize), then (Σ|x−y|^p)^{1/p} by direct
// float64 loops.
func naiveLp(x, y []float64, b, r, d int, p float64, normalize bool) []float64 {
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
	out := make([]float64, b*r)
	for i := 0; i < b; i++ {
		xi := norm(x[i*d : (i+1)*d])
		for j := 0; j < r; j++ {
			yj := norm(y[j*d : (j+1)*d])
			s := 0.0
			for k := 0; k < d; k++ {
				s += math.Pow(math.Abs(xi[k]-yj[k]), p)
			}
			out[i*r+j] = math.Pow(s, 1/p)
		}
	}
	return out
}

var lpOrders = []float64{1, 1.5, 2, 3, 7.5}

func TestLpMatchesNaiveLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const b, ref, d = 5, 4, 3
	x := randMatrix(r, b, d, 1)
	y := randMatrix(r, ref, d, 1)
	for _, p := range lpOrders {
		for _, normalize := range []bool{false, true} {
			dist := graph.Lp{P: p, Normalize: normalize}
			t.Run(fmt.Sprintf("p=%v/normalize=%t/self", p, normalize), func(t *testing.T) {
				g := G.NewGraph()
				xn := matNode(g, "x", b, d, x)
				m, err := dist.Matrix(xn, xn)
				require.NoError(t, err)
				got := run(t, g, m)
				graphtest.RequireAllClose(t, naiveLp(x, x, b, b, d, p, normalize), got, 1e-12, 1e-10, dist.String())
				for i := 0; i < b; i++ {
					require.Equal(t, 0.0, got[i*b+i], "diagonal")
				}
			})
			t.Run(fmt.Sprintf("p=%v/normalize=%t/cross", p, normalize), func(t *testing.T) {
				g := G.NewGraph()
				m, err := dist.Matrix(matNode(g, "x", b, d, x), matNode(g, "y", ref, d, y))
				require.NoError(t, err)
				graphtest.RequireAllClose(t, naiveLp(x, y, b, ref, d, p, normalize), run(t, g, m), 1e-12, 1e-10, dist.String())
			})
		}
	}
	// Lp{} is order 2: the Euclidean distance.
	g := G.NewGraph()
	xn := matNode(g, "x", b, d, x)
	m, err := graph.Lp{}.Matrix(xn, xn)
	require.NoError(t, err)
	graphtest.RequireAllClose(t, naivePairwise(x, x, b, b, d, "euclidean", false), run(t, g, m), 1e-12, 1e-10, "Lp{}")
}

func TestLpGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const b, ref, d = 4, 3, 3
	x := randMatrix(r, b, d, 1)
	y := randMatrix(r, ref, d, 1)
	w := randMatrix(r, b, b, 1)
	wc := randMatrix(r, b, ref, 1)
	functional := func(m *G.Node, w []float64, rows, cols int) (*G.Node, error) {
		p, err := G.HadamardProd(m, G.NewConstant(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(w))))
		if err != nil {
			return nil, err
		}
		return G.Sum(p)
	}
	for _, p := range lpOrders {
		for _, normalize := range []bool{false, true} {
			dist := graph.Lp{P: p, Normalize: normalize}
			t.Run(fmt.Sprintf("p=%v/normalize=%t/self", p, normalize), func(t *testing.T) {
				graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
					xn := matNode(g, "x", b, d, x)
					m, err := dist.Matrix(xn, xn)
					if err != nil {
						return nil, nil, err
					}
					c, err := functional(m, w, b, b)
					return c, []*G.Node{xn}, err
				}, graphtest.GradOptions{})
			})
			t.Run(fmt.Sprintf("p=%v/normalize=%t/cross", p, normalize), func(t *testing.T) {
				graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
					xn, yn := matNode(g, "x", b, d, x), matNode(g, "y", ref, d, y)
					m, err := dist.Matrix(xn, yn)
					if err != nil {
						return nil, nil, err
					}
					c, err := functional(m, wc, b, ref)
					return c, []*G.Node{xn, yn}, err
				}, graphtest.GradOptions{})
			})
		}
	}
}

// TestLpZeroDifferences: rows that share coordinates (zero differences, a
// kink for p = 1) or coincide (distance 0) give finite gradients, and the
// gradient of a shared coordinate is exactly what the formula gives:
// sign(0) = 0 for p = 1, |0|^{p−1} = 0 for p > 1; coincident rows get 0.
func TestLpZeroDifferences(t *testing.T) {
	// rows 0 and 1 equal; row 2 shares column 0 with them
	x := []float64{0.3, -1.2, 2, 0.3, -1.2, 2, 0.3, 1, 1}
	for _, p := range lpOrders {
		t.Run(fmt.Sprint("p=", p), func(t *testing.T) {
			res, err := graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := matNode(g, "x", 3, 3, x)
				m, err := graph.Lp{P: p}.Matrix(xn, xn)
				if err != nil {
					return nil, nil, err
				}
				c, err := G.Sum(m)
				return c, []*G.Node{xn}, err
			})
			require.NoError(t, err)
			// column 0 is the same in every row: no pair pulls it
			for i := 0; i < 3; i++ {
				require.Equal(t, 0.0, res.Grads[0][i*3], "row %d column 0", i)
			}
			for _, v := range res.Grads[0] {
				require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "gradient %v", res.Grads[0])
			}
			// d(x0, x1) = 0 contributes nothing: rows 0 and 1 are pulled by row 2 alone, equally
			graphtest.RequireAllClose(t, res.Grads[0][0:3], res.Grads[0][3:6], 0, 0, "rows 0 and 1")
		})
	}
}

// TestLpExtremeNorms: at norms of 1e150 and 1e-150 the naive Σ|t|^p
// overflows or underflows; the scaled forward pass does not.
func TestLpExtremeNorms(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const b, d = 4, 3
	base := randMatrix(r, b, d, 1)
	for _, scale := range []float64{1e150, 1e-150} {
		x := make([]float64, len(base))
		for i, v := range base {
			x[i] = v * scale
		}
		for _, p := range []float64{3, 7.5} {
			t.Run(fmt.Sprintf("scale=%g/p=%v", scale, p), func(t *testing.T) {
				g := G.NewGraph()
				xn := matNode(g, "x", b, d, x)
				m, err := graph.Lp{P: p}.Matrix(xn, xn)
				require.NoError(t, err)
				want := naiveLp(base, base, b, b, d, p, false)
				for i := range want {
					want[i] *= scale // homogeneous of degree 1
				}
				graphtest.RequireAllClose(t, want, run(t, g, m), 0, 1e-12, "scaled distances")
				res, err := graphtest.Eval(func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
					xn := matNode(g, "x", b, d, x)
					m, err := graph.Lp{P: p, Normalize: true}.Matrix(xn, xn)
					if err != nil {
						return nil, nil, err
					}
					c, err := G.Sum(m)
					return c, []*G.Node{xn}, err
				})
				require.NoError(t, err)
				require.False(t, math.IsNaN(res.Cost) || math.IsInf(res.Cost, 0))
				for _, v := range res.Grads[0] {
					require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "gradient %v", res.Grads[0])
				}
			})
		}
	}
}

func TestLpFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const b, d = 6, 4
	x := randMatrix(r, b, d, 1)
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
		x[i] = float64(x32[i])
	}
	for _, p := range lpOrders {
		for _, normalize := range []bool{false, true} {
			t.Run(fmt.Sprintf("p=%v/normalize=%t", p, normalize), func(t *testing.T) {
				g := G.NewGraph()
				xn := G.NewMatrix(g, tensor.Float32, G.WithShape(b, d), G.WithName("x"),
					G.WithValue(tensor.New(tensor.WithShape(b, d), tensor.WithBacking(append([]float32(nil), x32...)))))
				m, err := graph.Lp{P: p, Normalize: normalize}.Matrix(xn, xn)
				require.NoError(t, err)
				require.Equal(t, tensor.Float32, m.Dtype())
				_, err = G.Grad(must(G.Sum(m)), xn)
				require.NoError(t, err)
				// accumulated in float64, rounded once: float32 epsilon
				graphtest.RequireAllClose(t, naiveLp(x, x, b, b, d, p, normalize), run(t, g, m), 1e-6, 1e-6, "float32")
			})
		}
	}
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}

func TestLpErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("x"))
	for _, p := range []float64{0.5, -1, math.NaN(), math.Inf(1)} {
		_, err := graph.Lp{P: p}.Matrix(x, x)
		require.ErrorContains(t, err, fmt.Sprintf("graph: Lp.P is %v; want a finite value ≥ 1", p))
		_, err = graph.LpNormalize(x, p)
		require.ErrorContains(t, err, "graph: LpNormalize: p is")
	}
	y := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 4), G.WithName("y"))
	_, err := graph.Lp{P: 1}.Matrix(x, y)
	require.ErrorContains(t, err, "graph: x has 2 columns, y has 4")
}

// BenchmarkLpMatrix times the forward and backward pass of the self
// matrix (a random linear functional of it) for Lp of orders 1, 2 and 3
// beside Euclidean, whose matrix comes from one matrix product.
func BenchmarkLpMatrix(b *testing.B) {
	for _, n := range []int{256, 1024} {
		const d = 128
		r := rand.New(rand.NewPCG(15, 16))
		x := randMatrix(r, n, d, 1)
		for _, tc := range []struct {
			name string
			d    graph.Distance
		}{{"Euclidean", graph.Euclidean{}}, {"Lp1", graph.Lp{P: 1}}, {"Lp2", graph.Lp{P: 2}}, {"Lp3", graph.Lp{P: 3}}} {
			b.Run(fmt.Sprintf("%s/B=%d/D=%d", tc.name, n, d), func(b *testing.B) {
				g := G.NewGraph()
				xn := matNode(g, "x", n, d, x)
				m, err := tc.d.Matrix(xn, xn)
				if err != nil {
					b.Fatal(err)
				}
				c, err := G.Sum(m)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := G.Grad(c, xn); err != nil {
					b.Fatal(err)
				}
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := vm.RunAll(); err != nil {
						b.Fatal(err)
					}
					vm.Reset()
				}
			})
		}
	}
}
