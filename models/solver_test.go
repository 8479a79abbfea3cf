package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph/optim"
)

// stepOnce runs one optimizer step on w with the gradient of Σ w²/2 (= w).
func stepOnce(t *testing.T, o *optimizer, w []float64, lr float64) []float64 {
	t.Helper()
	g := G.NewGraph()
	n := G.NewVector(g, tensor.Float64, G.WithShape(len(w)), G.WithName("w"), G.WithValue(tensor.New(tensor.WithBacking(w))))
	sq, err := G.Square(n)
	require.NoError(t, err)
	s, err := G.Sum(sq)
	require.NoError(t, err)
	c, err := G.Mul(s, G.NewConstant(0.5))
	require.NoError(t, err)
	_, err = G.Grad(c, n)
	require.NoError(t, err)
	vm := G.NewTapeMachine(g, G.BindDualValues(n))
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	require.NoError(t, o.step(G.Nodes{n}, lr))
	return n.Value().Data().([]float64)
}

func TestAdamFirstStep(t *testing.T) {
	// Adam's first step is lr·g/(|g| + ε') after bias correction: with
	// m̂ = g and v̂ = g², the update is lr·g/(|g|+ε) ≈ lr·sign(g).
	w := stepOnce(t, newOptimizer(Adam, 0, 0), []float64{2, -0.5}, 0.1)
	require.InDelta(t, 2-0.1*2/(2+1e-8), w[0], 1e-15)
	require.InDelta(t, -0.5+0.1*0.5/(0.5+1e-8), w[1], 1e-15)
}

// TestGradientsDoNotAccumulate: Gorgonia adds every run's gradient into
// the learnables' gradient buffers, so a step must clear them. Two steps of
// plain SGD (no momentum) on Σ w²/2 with lr 0.5 halve w twice.
func TestGradientsDoNotAccumulate(t *testing.T) {
	g := G.NewGraph()
	n := G.NewVector(g, tensor.Float64, G.WithShape(1), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{8}))))
	sq, err := G.Square(n)
	require.NoError(t, err)
	c, err := G.Mul(sq, G.NewConstant(0.5))
	require.NoError(t, err)
	s, err := G.Sum(c)
	require.NoError(t, err)
	_, err = G.Grad(s, n)
	require.NoError(t, err)
	vm := G.NewTapeMachine(g, G.BindDualValues(n))
	defer vm.Close()
	o := newOptimizer(SGD, 0, 0)
	for i := 0; i < 2; i++ {
		require.NoError(t, vm.RunAll())
		require.NoError(t, o.step(G.Nodes{n}, 0.5))
		vm.Reset()
	}
	require.Equal(t, 2.0, n.Value().Data().([]float64)[0]) // 8 → 4 → 2
}

func TestSGDMomentumAndDecay(t *testing.T) {
	// g = w + 0.1·w (weight decay 0.1); velocity starts at g, so
	// w ← w − lr·1.1·w = w·(1 − 0.5·1.1) = 0.45·w.
	w := stepOnce(t, newOptimizer(SGD, 0.9, 0.1), []float64{2, -4}, 0.5)
	require.InDelta(t, 0.9, w[0], 1e-15)
	require.InDelta(t, -1.8, w[1], 1e-15)
}

func TestCosineSchedule(t *testing.T) {
	require.Equal(t, 0.1, Cosine.rateAt(0.1, 0, 100))
	require.InDelta(t, 0.05, Cosine.rateAt(0.1, 50, 100), 1e-15) // cos(π/2) = 0
	require.InDelta(t, 0.1*0.5*(1+math.Cos(math.Pi*0.99)), Cosine.rateAt(0.1, 99, 100), 1e-15)
	require.Equal(t, 0.1, Constant.rateAt(0.1, 99, 100))
}

// TestStepRefusesNonFiniteUpdate (issue 11, defect 2): an update that would
// write a non-finite weight or optimizer state, or a non-finite gradient,
// is refused with the parameter's name, and nothing changes.
func TestStepRefusesNonFiniteUpdate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    *optimizer
		w    []float64
		lr   float64
		want string
	}{
		// gradient of Σ w²/2 is w: SGD gives 1e307 − 100·1e307 = −Inf
		{"sgd-weight-overflow", newOptimizer(SGD, 0, 0), []float64{1, 1e307}, 100, "would make the weight of w -Inf at index 1; weights not updated"},
		// Adam squares the gradient: (1e200)² overflows the second moment
		{"adam-moment-overflow", newOptimizer(Adam, 0, 0), []float64{1e200}, 1e-3, "would make the second moment of w +Inf at index 0"},
		{"nan-weight-gives-nan-gradient", newOptimizer(Adam, 0, 0), []float64{0, math.NaN()}, 1e-3, "gradient of w is NaN at index 1; weights not updated"},
		{"decay-overflow", newOptimizer(SGD, 0, 1e300), []float64{1e10}, 1, "would make the first moment of w +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := G.NewGraph()
			w := append([]float64(nil), tc.w...)
			n := G.NewVector(g, tensor.Float64, G.WithShape(len(w)), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(len(w)), tensor.WithBacking(w))))
			sq, err := G.Square(n)
			require.NoError(t, err)
			s, err := G.Sum(sq)
			require.NoError(t, err)
			c, err := G.Mul(s, G.NewConstant(0.5))
			require.NoError(t, err)
			_, err = G.Grad(c, n)
			require.NoError(t, err)
			vm := G.NewTapeMachine(g, G.BindDualValues(n))
			defer vm.Close()
			_ = vm.RunAll() // the cost may overflow; the gradient is what counts
			err = tc.o.step(G.Nodes{n}, tc.lr)
			require.ErrorContains(t, err, tc.want)
			for i := range w {
				if math.IsNaN(tc.w[i]) {
					require.True(t, math.IsNaN(w[i]))
				} else {
					require.Equal(t, tc.w[i], w[i], "weight %d changed", i)
				}
			}
			require.Equal(t, 0, tc.o.t, "the optimizer counted a step")
		})
	}
}

// TestStepMatchesUpdate: step's two passes (the check, then the write)
// give the same bits as one reference pass of the rule on copies (Adam:
// package optim's kernel; SGD: PyTorch's formula written out here), for
// both dtypes, both solvers, with weight decay, over several steps, and
// clear the gradient.
func TestStepMatchesUpdate(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, kind := range []Solver{Adam, SGD} {
			t.Run(fmt.Sprintf("%v/%v", dt, kind), func(t *testing.T) {
				if dt == tensor.Float32 {
					testStepMatches[float32](t, kind)
				} else {
					testStepMatches[float64](t, kind)
				}
			})
		}
	}
}

func testStepMatches[T float32 | float64](t *testing.T, kind Solver) {
	r := rand.New(rand.NewPCG(7, 8))
	const n, decay, mom = 37, 1e-2, 0.9
	w := make([]T, n)
	for i := range w {
		w[i] = T(r.NormFloat64())
	}
	g := G.NewGraph()
	node := G.NewVector(g, tensor.Dtype{Type: reflect.TypeFor[T]()}, G.WithShape(n), G.WithName("w"), G.WithValue(tensor.New(tensor.WithBacking(append([]T(nil), w...)))))
	sq, err := G.Square(node)
	require.NoError(t, err)
	s, err := G.Sum(sq)
	require.NoError(t, err)
	c, err := G.Mul(s, G.NewConstant(T(0.5)))
	require.NoError(t, err)
	_, err = G.Grad(c, node)
	require.NoError(t, err)
	vm := G.NewTapeMachine(g, G.BindDualValues(node))
	defer vm.Close()

	o := newOptimizer(kind, mom, decay)
	refW, refM, refV := append([]T(nil), w...), make([]T, n), make([]T, n)
	for step := 1; step <= 5; step++ {
		lr := 0.01 * float64(step)
		require.NoError(t, vm.RunAll())
		// the gradient of Σ w²/2 is w itself
		grad := append([]T(nil), refW...)
		if kind == Adam {
			require.True(t, optim.NewAdam[T](lr, 0.9, 0.999, 1e-8, decay, step).Update(refW, grad, refM, refV, true))
		} else {
			for k := range refW {
				refM[k] = T(mom*refM[k]) + (grad[k] + T(decay*refW[k]))
				refW[k] -= T(T(lr) * refM[k])
			}
		}
		require.NoError(t, o.step(G.Nodes{node}, lr))
		vm.Reset()
		require.Equal(t, refW, node.Value().Data().([]T), "step %d", step)
		var m, v any = o.state[0].m32, o.state[0].v32
		if _, ok := any(refM).([]float64); ok {
			m, v = o.state[0].m64, o.state[0].v64
		}
		require.Equal(t, refM, m.([]T), "step %d: first moment", step)
		if kind == Adam {
			require.Equal(t, refV, v.([]T), "step %d: second moment", step)
		}
		gv, err := node.Grad()
		require.NoError(t, err)
		require.Equal(t, make([]T, n), gv.Data().([]T), "step %d: gradient not cleared", step)
	}
}

// TestStepGradsFromGradientNodes: the single-graph Trainer's way, a machine
// without dual values whose gradient nodes the solver reads: the update is
// the one step gives from dual values, bit for bit, and the gradient
// values are left as they are (the next run overwrites them).
func TestStepGradsFromGradientNodes(t *testing.T) {
	w0 := []float32{0.5, -1.25, 2, 0.125, -3, 1e-3, 7, -0.75, 0.3}
	build := func() (*G.ExprGraph, *G.Node, G.Nodes) {
		g := G.NewGraph()
		n := G.NewVector(g, tensor.Float32, G.WithShape(len(w0)), G.WithName("w"), G.WithValue(tensor.New(tensor.WithBacking(append([]float32(nil), w0...)))))
		sq, err := G.Square(n)
		require.NoError(t, err)
		s, err := G.Sum(sq)
		require.NoError(t, err)
		grads, err := G.Grad(s, n)
		require.NoError(t, err)
		return g, n, grads
	}
	// reference: dual values, step
	g1, n1, _ := build()
	vm1 := G.NewTapeMachine(g1, G.BindDualValues(n1))
	defer vm1.Close()
	ref := newOptimizer(Adam, 0, 1e-2)
	// gradient nodes, stepGrads without clearing
	g2, n2, grads := build()
	vm2 := G.NewTapeMachine(g2)
	defer vm2.Close()
	o := newOptimizer(Adam, 0, 1e-2)
	for step := 1; step <= 3; step++ {
		require.NoError(t, vm1.RunAll())
		require.NoError(t, ref.step(G.Nodes{n1}, 0.1))
		vm1.Reset()
		require.NoError(t, vm2.RunAll())
		before := append([]float32(nil), grads[0].Value().Data().([]float32)...)
		require.NoError(t, o.stepGrads(G.Nodes{n2}, []G.Value{grads[0].Value()}, 0.1, false))
		require.Equal(t, before, grads[0].Value().Data().([]float32), "step %d: the gradient changed", step)
		vm2.Reset()
		require.Equal(t, n1.Value().Data().([]float32), n2.Value().Data().([]float32), "step %d", step)
	}
	// a missing gradient is an error that names the parameter
	require.ErrorContains(t, o.stepGrads(G.Nodes{n2}, []G.Value{nil}, 0.1, false), "no gradient for w")
}
