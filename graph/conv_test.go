package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
)

// convCase is one convolution geometry.
type convCase struct {
	n, c, h, w, o, kh, kw int
	opt                   graph.ConvOptions
	bias                  bool
}

func (tc convCase) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d/w%dx%dx%d/s%d,%d/p%d,%d/bias=%t/relu=%t", tc.n, tc.c, tc.h, tc.w, tc.o, tc.kh, tc.kw,
		tc.opt.StrideH, tc.opt.StrideW, tc.opt.PadH, tc.opt.PadW, tc.bias, tc.opt.ReLU)
}

func convCases() []convCase {
	return []convCase{
		{n: 1, c: 1, h: 5, w: 5, o: 1, kh: 3, kw: 3},
		{n: 2, c: 1, h: 8, w: 8, o: 3, kh: 5, kw: 5, bias: true, opt: graph.ConvOptions{ReLU: true}},
		{n: 2, c: 3, h: 6, w: 7, o: 2, kh: 3, kw: 2, bias: true, opt: graph.ConvOptions{PadH: 1, PadW: 2}},
		{n: 3, c: 2, h: 7, w: 6, o: 4, kh: 3, kw: 3, bias: true, opt: graph.ConvOptions{StrideH: 2, StrideW: 3, PadH: 1, PadW: 1, ReLU: true}},
		{n: 2, c: 4, h: 3, w: 3, o: 2, kh: 1, kw: 1, bias: true}, // 1×1: no im2col
		{n: 1, c: 2, h: 4, w: 5, o: 3, kh: 1, kw: 1, opt: graph.ConvOptions{StrideH: 2, PadW: 1}},
		{n: 2, c: 2, h: 3, w: 4, o: 2, kh: 3, kw: 4, opt: graph.ConvOptions{ReLU: true}}, // kernel = image
		{n: 1, c: 1, h: 2, w: 2, o: 2, kh: 3, kw: 3, bias: true, opt: graph.ConvOptions{PadH: 2, PadW: 2, StrideH: 2}},
	}
}

// naiveConv is the oracle: the definition of Conv2D's doc comment as
// direct float64 loops.
func naiveConv(tc convCase, x, w, b []float64) ([]float64, int, int) {
	sh, sw := max(tc.opt.StrideH, 1), max(tc.opt.StrideW, 1)
	ph, pw := tc.opt.PadH, tc.opt.PadW
	oh, ow := (tc.h+2*ph-tc.kh)/sh+1, (tc.w+2*pw-tc.kw)/sw+1
	y := make([]float64, tc.n*tc.o*oh*ow)
	for n := 0; n < tc.n; n++ {
		for o := 0; o < tc.o; o++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					s := 0.0
					if b != nil {
						s = b[o]
					}
					for c := 0; c < tc.c; c++ {
						for u := 0; u < tc.kh; u++ {
							for v := 0; v < tc.kw; v++ {
								iy, ix := i*sh-ph+u, j*sw-pw+v
								if iy < 0 || iy >= tc.h || ix < 0 || ix >= tc.w {
									continue
								}
								s += w[((o*tc.c+c)*tc.kh+u)*tc.kw+v] * x[((n*tc.c+c)*tc.h+iy)*tc.w+ix]
							}
						}
					}
					if tc.opt.ReLU {
						s = math.Max(s, 0)
					}
					y[((n*tc.o+o)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return y, oh, ow
}

func randVals(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// tensorNode is a node of dtype dt holding v (converted) with the given shape.
func tensorNode(g *G.ExprGraph, dt tensor.Dtype, name string, v []float64, shape ...int) *G.Node {
	return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(graph.DenseOf(dt, v, shape...)))
}

// buildConv adds the case's convolution to g and returns the output and
// the x, w (and b) nodes.
func buildConv(g *G.ExprGraph, dt tensor.Dtype, tc convCase, x, w, b []float64) (*G.Node, G.Nodes, error) {
	xn := tensorNode(g, dt, "x", x, tc.n, tc.c, tc.h, tc.w)
	wn := tensorNode(g, dt, "w", w, tc.o, tc.c, tc.kh, tc.kw)
	nodes := G.Nodes{xn, wn}
	var bn *G.Node
	if tc.bias {
		bn = tensorNode(g, dt, "b", b, 1, tc.o, 1, 1)
		nodes = append(nodes, bn)
	}
	y, err := graph.Conv2D(xn, wn, bn, tc.opt)
	return y, nodes, err
}

func convInputs(r *rand.Rand, tc convCase) (x, w, b []float64) {
	x, w = randVals(r, tc.n*tc.c*tc.h*tc.w), randVals(r, tc.o*tc.c*tc.kh*tc.kw)
	if tc.bias {
		b = randVals(r, tc.o)
	}
	return x, w, b
}

func TestConv2DMatchesNaiveLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range convCases() {
		x, w, b := convInputs(r, tc)
		want, oh, ow := naiveConv(tc, x, w, b)
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(tc.String()+"/"+dt.String(), func(t *testing.T) {
				g := G.NewGraph()
				y, _, err := buildConv(g, dt, tc, x, w, b)
				require.NoError(t, err)
				require.Equal(t, tensor.Shape{tc.n, tc.o, oh, ow}, y.Shape())
				// two runs of one machine: the second reuses the buffers
				var v G.Value
				G.Read(y, &v)
				m := G.NewTapeMachine(g)
				defer m.Close()
				for run := 0; run < 2; run++ {
					require.NoError(t, m.RunAll())
					got, err := graphtest.Float64s(v)
					require.NoError(t, err)
					tol := 1e-12
					if dt == tensor.Float32 {
						tol = 1e-5
					}
					graphtest.RequireAllClose(t, want, got, tol, tol, "conv")
					m.Reset()
				}
			})
		}
	}
}

func TestConv2DGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range convCases() {
		x, w, b := convInputs(r, tc)
		_, oh, ow := naiveConv(tc, x, w, b)
		weights := randVals(r, tc.n*tc.o*oh*ow)
		for _, noDx := range []bool{false, true} {
			tc := tc
			tc.opt.NoInputGradient = noDx
			t.Run(fmt.Sprintf("%v/nodx=%t", tc, noDx), func(t *testing.T) {
				graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
					y, nodes, err := buildConv(g, tensor.Float64, tc, x, w, b)
					if err != nil {
						return nil, nil, err
					}
					// cost = Σ y ⊙ R with fixed random R, so every output
					// position has its own weight
					rn := tensorNode(g, tensor.Float64, "r", weights, tc.n, tc.o, oh, ow)
					p, err := G.HadamardProd(y, rn)
					if err != nil {
						return nil, nil, err
					}
					cost, err := G.Sum(p)
					if noDx {
						nodes = nodes[1:] // x is data: weights and bias only
					}
					return cost, nodes, err
				}, graphtest.GradOptions{Abs: 1e-6, Rel: 1e-6})
			})
		}
	}
}

func TestConv2DErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 3, 5, 5), G.WithName("x"))
	w := G.NewTensor(g, tensor.Float64, 4, G.WithShape(4, 3, 3, 3), G.WithName("w"))
	w2 := G.NewTensor(g, tensor.Float64, 4, G.WithShape(4, 2, 3, 3), G.WithName("w2"))
	w32 := G.NewTensor(g, tensor.Float32, 4, G.WithShape(4, 3, 3, 3), G.WithName("w32"))
	big := G.NewTensor(g, tensor.Float64, 4, G.WithShape(4, 3, 6, 3), G.WithName("big"))
	m := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("m"))
	b3 := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("b3"))
	xi := G.NewTensor(g, tensor.Int, 4, G.WithShape(2, 3, 5, 5), G.WithName("xi"))
	for _, tc := range []struct {
		name    string
		x, w, b *G.Node
		opt     graph.ConvOptions
		want    string
	}{
		{"int input", xi, w, nil, graph.ConvOptions{}, "dtype int"},
		{"matrix input", m, w, nil, graph.ConvOptions{}, "must be 4-D"},
		{"nil weights", x, nil, nil, graph.ConvOptions{}, "weights are nil"},
		{"dtypes", x, w32, nil, graph.ConvOptions{}, "dtype float32"},
		{"channels", x, w2, nil, graph.ConvOptions{}, "take 2 input channels, input has 3"},
		{"kernel too large", x, big, nil, graph.ConvOptions{}, "kernel 6 is larger than the padded input 5"},
		{"negative stride", x, w, nil, graph.ConvOptions{StrideW: -1}, "stride is -1"},
		{"negative padding", x, w, nil, graph.ConvOptions{PadH: -1}, "padding is -1"},
		{"bias size", x, w, b3, graph.ConvOptions{}, "bias has shape (3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := graph.Conv2D(tc.x, tc.w, tc.b, tc.opt)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "graph: ")
		})
	}
}

// poolCase is one max-pooling geometry.
type poolCase struct {
	n, c, h, w int
	opt        graph.PoolOptions
}

func poolCases() []poolCase {
	return []poolCase{
		{n: 2, c: 3, h: 8, w: 8, opt: graph.PoolOptions{KernelH: 2, KernelW: 2}},                         // the ConvNet's
		{n: 1, c: 2, h: 7, w: 9, opt: graph.PoolOptions{KernelH: 2, KernelW: 2}},                         // odd sizes drop the edge
		{n: 2, c: 1, h: 7, w: 7, opt: graph.PoolOptions{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2}}, // overlapping
		{n: 1, c: 2, h: 6, w: 5, opt: graph.PoolOptions{KernelH: 3, KernelW: 2, StrideH: 1, StrideW: 2, PadH: 1, PadW: 1}},
		{n: 1, c: 1, h: 4, w: 4, opt: graph.PoolOptions{KernelH: 4, KernelW: 1}},
	}
}

func (tc poolCase) geom() (sh, sw, oh, ow int) {
	sh, sw = tc.opt.StrideH, tc.opt.StrideW
	if sh == 0 {
		sh = tc.opt.KernelH
	}
	if sw == 0 {
		sw = tc.opt.KernelW
	}
	return sh, sw, (tc.h+2*tc.opt.PadH-tc.opt.KernelH)/sh + 1, (tc.w+2*tc.opt.PadW-tc.opt.KernelW)/sw + 1
}

// naivePool is the oracle: each window's maximum and, for the gradient,
// the flat index of its first maximum in row-major order.
func naivePool(tc poolCase, x []float64) (y []float64, arg []int) {
	sh, sw, oh, ow := tc.geom()
	for p := 0; p < tc.n*tc.c; p++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best, at := math.Inf(-1), -1
				for u := 0; u < tc.opt.KernelH; u++ {
					for v := 0; v < tc.opt.KernelW; v++ {
						iy, ix := i*sh-tc.opt.PadH+u, j*sw-tc.opt.PadW+v
						if iy < 0 || iy >= tc.h || ix < 0 || ix >= tc.w {
							continue
						}
						k := (p*tc.h+iy)*tc.w + ix
						if x[k] > best {
							best, at = x[k], k
						}
					}
				}
				y, arg = append(y, best), append(arg, at)
			}
		}
	}
	return y, arg
}

// poolInput draws values from a small set so that windows have ties.
func poolInput(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(r.IntN(5)) - 2
	}
	return x
}

func TestMaxPool2DMatchesNaiveLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range poolCases() {
		x := poolInput(r, tc.n*tc.c*tc.h*tc.w)
		want, arg := naivePool(tc, x)
		_, _, oh, ow := tc.geom()
		gy := randVals(r, len(want))
		// gradient oracle: each window's gradient to its first maximum
		wantGrad := make([]float64, len(x))
		for k, a := range arg {
			wantGrad[a] += gy[k]
		}
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%+v/%v", tc, dt), func(t *testing.T) {
				g := G.NewGraph()
				xn := tensorNode(g, dt, "x", x, tc.n, tc.c, tc.h, tc.w)
				y, err := graph.MaxPool2D(xn, tc.opt)
				require.NoError(t, err)
				require.Equal(t, tensor.Shape{tc.n, tc.c, oh, ow}, y.Shape())
				rn := tensorNode(g, dt, "r", gy, tc.n, tc.c, oh, ow)
				p, err := G.HadamardProd(y, rn)
				require.NoError(t, err)
				cost, err := G.Sum(p)
				require.NoError(t, err)
				grads, err := G.Grad(cost, xn)
				require.NoError(t, err)
				m := G.NewTapeMachine(g)
				defer m.Close()
				for run := 0; run < 2; run++ {
					require.NoError(t, m.RunAll())
					got, err := graphtest.Float64s(y.Value())
					require.NoError(t, err)
					graphtest.RequireAllClose(t, want, got, 0, 0, "max-pool")
					gx, err := graphtest.Float64s(grads[0].Value())
					require.NoError(t, err)
					graphtest.RequireAllClose(t, wantGrad, gx, 1e-6, 1e-6, "max-pool gradient")
					m.Reset()
				}
			})
		}
	}
}

func TestMaxPool2DGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range poolCases() {
		// distinct values: central differences are exact away from ties
		x := randVals(r, tc.n*tc.c*tc.h*tc.w)
		_, _, oh, ow := tc.geom()
		weights := randVals(r, tc.n*tc.c*oh*ow)
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				xn := tensorNode(g, tensor.Float64, "x", x, tc.n, tc.c, tc.h, tc.w)
				y, err := graph.MaxPool2D(xn, tc.opt)
				if err != nil {
					return nil, nil, err
				}
				p, err := G.HadamardProd(y, tensorNode(g, tensor.Float64, "r", weights, tc.n, tc.c, oh, ow))
				if err != nil {
					return nil, nil, err
				}
				cost, err := G.Sum(p)
				return cost, []*G.Node{xn}, err
			}, graphtest.GradOptions{})
		})
	}
}

func TestMaxPool2DErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 2, 5, 5), G.WithName("x"))
	m := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("m"))
	for _, tc := range []struct {
		name string
		x    *G.Node
		opt  graph.PoolOptions
		want string
	}{
		{"matrix", m, graph.PoolOptions{KernelH: 2, KernelW: 2}, "must be 4-D"},
		{"no kernel", x, graph.PoolOptions{}, "kernel is 0×0"},
		{"padding", x, graph.PoolOptions{KernelH: 2, KernelW: 2, PadW: 2}, "smaller than the kernel"},
		{"kernel too large", x, graph.PoolOptions{KernelH: 6, KernelW: 2}, "kernel 6 is larger than the padded input 5"},
		{"stride", x, graph.PoolOptions{KernelH: 2, KernelW: 2, StrideH: -2}, "stride is -2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := graph.MaxPool2D(tc.x, tc.opt)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "graph: ")
		})
	}
}

// TestConvOpHashIncludesParameters pins that convolutions and poolings of
// one input that differ only in a parameter stay separate nodes.
func TestConvOpHashIncludesParameters(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 1, 6, 6), G.WithName("x"))
	w := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 1, 3, 3), G.WithName("w"))
	var convs []*G.Node
	for _, opt := range []graph.ConvOptions{{}, {ReLU: true}, {PadH: 1}, {PadW: 1}, {StrideH: 2}, {StrideW: 2}, {NoInputGradient: true}} {
		y, err := graph.Conv2D(x, w, nil, opt)
		require.NoError(t, err)
		for _, prev := range convs {
			require.NotSame(t, prev, y, "%+v", opt)
		}
		convs = append(convs, y)
	}
	var pools []*G.Node
	for _, opt := range []graph.PoolOptions{{KernelH: 2, KernelW: 2}, {KernelH: 2, KernelW: 2, StrideH: 1}, {KernelH: 3, KernelW: 2}, {KernelH: 2, KernelW: 2, PadW: 1}} {
		y, err := graph.MaxPool2D(x, opt)
		require.NoError(t, err)
		for _, prev := range pools {
			require.NotSame(t, prev, y, "%+v", opt)
		}
		pools = append(pools, y)
	}
}

func TestLinearMatchesNaiveLoopsAndGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		b, i, o    int
		bias, relu bool
		noDx       bool
		bshape     []int
	}{
		{b: 1, i: 1, o: 1},
		{b: 5, i: 7, o: 3, bias: true, bshape: []int{1, 3}},
		{b: 4, i: 6, o: 5, bias: true, relu: true, bshape: []int{5}},
		{b: 3, i: 9, o: 2, relu: true},
		{b: 4, i: 6, o: 5, bias: true, relu: true, noDx: true, bshape: []int{1, 5}},
	} {
		x, w, b := randVals(r, tc.b*tc.i), randVals(r, tc.i*tc.o), randVals(r, tc.o)
		weights := randVals(r, tc.b*tc.o)
		// oracle: direct loops over the definition
		want := make([]float64, tc.b*tc.o)
		for n := 0; n < tc.b; n++ {
			for j := 0; j < tc.o; j++ {
				s := 0.0
				if tc.bias {
					s = b[j]
				}
				for k := 0; k < tc.i; k++ {
					s += x[n*tc.i+k] * w[k*tc.o+j]
				}
				if tc.relu {
					s = math.Max(s, 0)
				}
				want[n*tc.o+j] = s
			}
		}
		build := func(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, G.Nodes, error) {
			xn := tensorNode(g, dt, "x", x, tc.b, tc.i)
			wn := tensorNode(g, dt, "w", w, tc.i, tc.o)
			nodes := G.Nodes{xn, wn}
			var bn *G.Node
			if tc.bias {
				bn = tensorNode(g, dt, "b", b, tc.bshape...)
				nodes = append(nodes, bn)
			}
			y, err := graph.Linear(xn, wn, bn, graph.LinearOptions{ReLU: tc.relu, NoInputGradient: tc.noDx})
			if tc.noDx {
				nodes = nodes[1:] // x is a constant
			}
			return y, nodes, err
		}
		name := fmt.Sprintf("%+v", tc)
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				g := G.NewGraph()
				y, _, err := build(g, dt)
				require.NoError(t, err)
				tol := 1e-12
				if dt == tensor.Float32 {
					tol = 1e-5
				}
				graphtest.RequireAllClose(t, want, run(t, g, y), tol, tol, "linear")
			})
		}
		t.Run(name+"/gradient", func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				y, nodes, err := build(g, tensor.Float64)
				if err != nil {
					return nil, nil, err
				}
				p, err := G.HadamardProd(y, tensorNode(g, tensor.Float64, "r", weights, tc.b, tc.o))
				if err != nil {
					return nil, nil, err
				}
				cost, err := G.Sum(p)
				return cost, nodes, err
			}, graphtest.GradOptions{})
		})
	}
}

// TestLinearNoInputGradient: with NoInputGradient the input gets no
// gradient node (its product is never computed), while W and b get the
// same gradients as without it, bit for bit.
func TestLinearNoInputGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x, w, b := randVals(r, 4*6), randVals(r, 6*5), randVals(r, 5)
	grads := func(noDx bool) [][]float64 {
		g := G.NewGraph()
		xn := tensorNode(g, tensor.Float32, "x", x, 4, 6)
		wn := tensorNode(g, tensor.Float32, "w", w, 6, 5)
		bn := tensorNode(g, tensor.Float32, "b", b, 1, 5)
		y, err := graph.Linear(xn, wn, bn, graph.LinearOptions{ReLU: true, NoInputGradient: noDx})
		require.NoError(t, err)
		cost, err := G.Sum(y)
		require.NoError(t, err)
		gn, err := G.Grad(cost, wn, bn)
		require.NoError(t, err)
		dx := 0
		for _, n := range g.AllNodes() {
			if n.Op() != nil && strings.HasPrefix(n.Op().String(), "linear_dx") {
				dx++
			}
		}
		if noDx {
			require.Zero(t, dx, "the graph computes dx")
		} else {
			require.Equal(t, 1, dx, "the graph has no dx")
		}
		m := G.NewTapeMachine(g)
		defer m.Close()
		require.NoError(t, m.RunAll())
		var out [][]float64
		for _, n := range gn {
			v, err := graphtest.Float64s(n.Value())
			require.NoError(t, err)
			out = append(out, v)
		}
		return out
	}
	require.Equal(t, grads(false), grads(true))
}

func TestLinearErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 3), G.WithName("x"))
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("w"))
	w5 := G.NewMatrix(g, tensor.Float64, G.WithShape(5, 2), G.WithName("w5"))
	w32 := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 2), G.WithName("w32"))
	v := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("v"))
	b3 := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("b3"))
	for _, tc := range []struct {
		name    string
		x, w, b *G.Node
		want    string
	}{
		{"vector input", v, w, nil, "B×I matrix"},
		{"nil weights", x, nil, nil, "weights are nil"},
		{"dtypes", x, w32, nil, "dtype float32"},
		{"rows", x, w5, nil, "weights have 5 rows, input has 3 columns"},
		{"bias", x, w, b3, "bias has shape (3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := graph.Linear(tc.x, tc.w, tc.b, graph.LinearOptions{})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "graph: ")
		})
	}
}

func TestL2NormalizeValuesAndGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	const b, d = 4, 5
	x := randVals(r, b*d)
	copy(x[2*d:3*d], make([]float64, d)) // a zero row
	weights := randVals(r, b*d)
	want := make([]float64, b*d)
	for i := 0; i < b; i++ {
		s := 1e-24
		for _, e := range x[i*d : (i+1)*d] {
			s += e * e
		}
		for j := 0; j < d; j++ {
			want[i*d+j] = x[i*d+j] / math.Sqrt(s)
		}
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := G.NewGraph()
		y, err := graph.L2Normalize(tensorNode(g, dt, "x", x, b, d))
		require.NoError(t, err)
		tol := 1e-15
		if dt == tensor.Float32 {
			tol = 1e-6
		}
		graphtest.RequireAllClose(t, want, run(t, g, y), tol, tol, "l2normalize "+dt.String())
	}
	x[2*d] = 0.3 // no zero row for the finite differences
	graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
		xn := tensorNode(g, tensor.Float64, "x", x, b, d)
		y, err := graph.L2Normalize(xn)
		if err != nil {
			return nil, nil, err
		}
		p, err := G.HadamardProd(y, tensorNode(g, tensor.Float64, "r", weights, b, d))
		if err != nil {
			return nil, nil, err
		}
		cost, err := G.Sum(p)
		return cost, []*G.Node{xn}, err
	}, graphtest.GradOptions{})
}

// runConvPool builds the case's convolution with Pool fused (fused) or as
// Conv2D followed by MaxPool2D, and cost Σ y ⊙ R; it runs one machine
// twice (the second run reuses every buffer) and returns y and the
// gradients of x (unless NoInputGradient), w and b.
func runConvPool(t *testing.T, dt tensor.Dtype, tc convCase, pool int, fused bool, x, w, b, r []float64) [][]float64 {
	t.Helper()
	g := G.NewGraph()
	opt := tc.opt
	tc.opt.Pool = 0
	if fused {
		tc.opt.Pool = pool
	}
	y, nodes, err := buildConv(g, dt, tc, x, w, b)
	require.NoError(t, err)
	if !fused {
		y, err = graph.MaxPool2D(y, graph.PoolOptions{KernelH: pool, KernelW: pool})
		require.NoError(t, err)
	}
	rn := tensorNode(g, dt, "r", r, y.Shape()...)
	p, err := G.HadamardProd(y, rn)
	require.NoError(t, err)
	cost, err := G.Sum(p)
	require.NoError(t, err)
	if opt.NoInputGradient {
		nodes = nodes[1:]
	}
	grads, err := G.Grad(cost, nodes...)
	require.NoError(t, err)
	var yv G.Value
	G.Read(y, &yv)
	m := G.NewTapeMachine(g)
	defer m.Close()
	var out [][]float64
	for run := 0; run < 2; run++ {
		require.NoError(t, m.RunAll())
		out = out[:0]
		v, err := graphtest.Float64s(yv)
		require.NoError(t, err)
		out = append(out, v)
		for _, gn := range grads {
			gv, err := graphtest.Float64s(gn.Value())
			require.NoError(t, err)
			out = append(out, gv)
		}
		m.Reset()
	}
	return out
}

// TestConv2DPoolMatchesUnfused: ConvOptions.Pool gives the same values and
// gradients, bit for bit, as Conv2D followed by MaxPool2D (windows of 2 and
// 3, outputs that do and do not divide by the window, with and without
// bias and ReLU, both dtypes), including ties from ReLU's zeros.
func TestConv2DPoolMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	cases := []struct {
		tc   convCase
		pool int
	}{
		{convCase{n: 2, c: 1, h: 8, w: 8, o: 3, kh: 3, kw: 3, bias: true, opt: graph.ConvOptions{ReLU: true}}, 2},
		{convCase{n: 2, c: 1, h: 8, w: 8, o: 3, kh: 3, kw: 3, bias: true, opt: graph.ConvOptions{ReLU: true, NoInputGradient: true}}, 2},
		{convCase{n: 3, c: 2, h: 7, w: 9, o: 2, kh: 2, kw: 3, opt: graph.ConvOptions{ReLU: true}}, 2},
		{convCase{n: 2, c: 3, h: 6, w: 7, o: 2, kh: 3, kw: 2, bias: true, opt: graph.ConvOptions{PadH: 1, PadW: 2}}, 3},
		{convCase{n: 1, c: 2, h: 9, w: 9, o: 4, kh: 2, kw: 2, bias: true, opt: graph.ConvOptions{StrideH: 2, ReLU: true}}, 2},
		{convCase{n: 2, c: 1, h: 5, w: 5, o: 2, kh: 2, kw: 2}, 4},
	}
	for _, c := range cases {
		x, w, b := convInputs(r, c.tc)
		_, oh, ow := naiveConv(c.tc, x, w, b)
		rv := randVals(r, c.tc.n*c.tc.o*(oh/c.pool)*(ow/c.pool))
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%v/pool=%d/nodx=%t/%v", c.tc, c.pool, c.tc.opt.NoInputGradient, dt), func(t *testing.T) {
				want := runConvPool(t, dt, c.tc, c.pool, false, x, w, b, rv)
				got := runConvPool(t, dt, c.tc, c.pool, true, x, w, b, rv)
				require.Equal(t, len(want), len(got))
				for i := range want {
					require.Equal(t, want[i], got[i], "output %d (0: y, then the gradients)", i)
				}
			})
		}
	}
}

// TestConv2DPoolGradients checks the fused pooling's gradient against
// central differences.
func TestConv2DPoolGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []convCase{
		{n: 2, c: 2, h: 7, w: 7, o: 3, kh: 3, kw: 3, bias: true, opt: graph.ConvOptions{ReLU: true, Pool: 2}},
		{n: 1, c: 1, h: 8, w: 7, o: 2, kh: 2, kw: 2, bias: true, opt: graph.ConvOptions{Pool: 3}},
	} {
		x, w, b := convInputs(r, tc)
		_, oh, ow := naiveConv(tc, x, w, b)
		k := tc.opt.Pool
		weights := randVals(r, tc.n*tc.o*(oh/k)*(ow/k))
		t.Run(tc.String(), func(t *testing.T) {
			graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				y, nodes, err := buildConv(g, tensor.Float64, tc, x, w, b)
				if err != nil {
					return nil, nil, err
				}
				rn := tensorNode(g, tensor.Float64, "r", weights, tc.n, tc.o, oh/k, ow/k)
				p, err := G.HadamardProd(y, rn)
				if err != nil {
					return nil, nil, err
				}
				cost, err := G.Sum(p)
				return cost, nodes, err
			}, graphtest.GradOptions{Abs: 1e-6, Rel: 1e-6})
		})
	}
}

func TestConv2DPoolErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 1, 5, 5), G.WithName("x"))
	w := G.NewTensor(g, tensor.Float64, 4, G.WithShape(3, 1, 3, 3), G.WithName("w"))
	_, err := graph.Conv2D(x, w, nil, graph.ConvOptions{Pool: -2})
	require.ErrorContains(t, err, "graph: conv pooling is -2; want ≥ 0")
	_, err = graph.Conv2D(x, w, nil, graph.ConvOptions{Pool: 4})
	require.ErrorContains(t, err, "graph: conv pooling 4 is larger than the convolution's 3×3 output")
	y, err := graph.Conv2D(x, w, nil, graph.ConvOptions{Pool: 3})
	require.NoError(t, err)
	require.Equal(t, tensor.Shape{2, 3, 1, 1}, y.Shape())
	y1, err := graph.Conv2D(x, w, nil, graph.ConvOptions{Pool: 2})
	require.NoError(t, err)
	require.NotSame(t, y, y1, "the op hash must include Pool")
}

// TestConv2DPoolNaNMatchesUnfused: a NaN input makes some pooling windows
// wholly NaN and others NaN only in later positions (which never win the
// maximum); the fused pooling's values match Conv2D then MaxPool2D there
// too, NaN for NaN, in both dtypes, with and without ReLU.
func TestConv2DPoolNaNMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, relu := range []bool{true, false} {
		tc := convCase{n: 2, c: 1, h: 9, w: 9, o: 2, kh: 2, kw: 2, bias: true, opt: graph.ConvOptions{ReLU: relu}}
		x, w, b := convInputs(r, tc)
		x[3*9+4] = math.NaN()    // image 0: a NaN inside
		x[81+8*9+8] = math.NaN() // image 1: the last pixel, one window's last position
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			t.Run(fmt.Sprintf("relu=%t/%v", relu, dt), func(t *testing.T) {
				eval := func(fused bool) []float64 {
					g := G.NewGraph()
					c := tc
					if fused {
						c.opt.Pool = 2
					}
					y, _, err := buildConv(g, dt, c, x, w, b)
					require.NoError(t, err)
					if !fused {
						y, err = graph.MaxPool2D(y, graph.PoolOptions{KernelH: 2, KernelW: 2})
						require.NoError(t, err)
					}
					m := G.NewTapeMachine(g)
					defer m.Close()
					require.NoError(t, m.RunAll())
					v, err := graphtest.Float64s(y.Value())
					require.NoError(t, err)
					return v
				}
				want, got := eval(false), eval(true)
				nans := 0
				for i := range want {
					if math.IsNaN(want[i]) {
						nans++
						require.True(t, math.IsNaN(got[i]), "output %d: want NaN, got %v", i, got[i])
						continue
					}
					require.Equal(t, want[i], got[i], "output %d", i)
				}
				require.NotZero(t, nans, "the case must produce NaN windows")
			})
		}
	}
}
