// Package graphtest holds the test helpers shared by the packages of this
// module: a finite-difference gradient checker for Gorgonia graphs and
// float comparisons with an absolute plus relative tolerance.
//
// The gradient checker builds the graph in float64, asks Gorgonia for the
// symbolic gradient of a scalar cost with respect to some input nodes, and
// compares it element by element with central differences
//
//	(f(x + h·e_k) − f(x − h·e_k)) / 2h
//
// evaluated on the same compiled graph by rebinding the inputs. The test
// fails on any mismatch beyond the tolerance and on any NaN or Inf.
package graphtest

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Close reports whether |a − b| ≤ abs + rel·max(|a|, |b|). Unlike a pure
// relative test it works at 0; NaN is never close to anything, and an
// infinity only to itself.
func Close(a, b, abs, rel float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return false
	}
	if a == b { // also equal infinities
		return true
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) { // rel·∞ would let anything pass
		return false
	}
	return math.Abs(a-b) <= abs+rel*math.Max(math.Abs(a), math.Abs(b))
}

// RequireClose fails the test now unless Close(want, got, abs, rel).
func RequireClose(t testing.TB, want, got, abs, rel float64, what string) {
	t.Helper()
	if !Close(want, got, abs, rel) {
		t.Fatalf("%s: got %.17g, want %.17g (diff %.3g, tolerance abs %g rel %g)", what, got, want, got-want, abs, rel)
	}
}

// RequireAllClose fails the test unless the slices have one length and
// every pair of elements is Close.
func RequireAllClose(t testing.TB, want, got []float64, abs, rel float64, what string) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !Close(want[i], got[i], abs, rel) {
			t.Fatalf("%s[%d]: got %.17g, want %.17g (diff %.3g, tolerance abs %g rel %g)", what, i, got[i], want[i], got[i]-want[i], abs, rel)
		}
	}
}

// Float64s returns the elements of a Gorgonia value (scalar or tensor,
// float32 or float64) as float64.
func Float64s(v G.Value) ([]float64, error) {
	if v == nil {
		return nil, fmt.Errorf("graphtest: nil value")
	}
	switch d := v.Data().(type) {
	case float64:
		return []float64{d}, nil
	case float32:
		return []float64{float64(d)}, nil
	case []float64:
		return append([]float64(nil), d...), nil
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("graphtest: value of type %T is not float", v.Data())
}

// Build constructs a scalar cost on g and returns it with the input nodes to
// differentiate against. Those nodes must hold float64 values (G.WithValue);
// other inputs (labels) may be bound too.
type Build func(g *G.ExprGraph) (cost *G.Node, wrt []*G.Node, err error)

// GradOptions tunes CheckGradient. Zero fields take the defaults.
type GradOptions struct {
	Step float64 // central-difference step h; default 1e-6
	Abs  float64 // absolute tolerance; default 1e-6
	Rel  float64 // relative tolerance; default 1e-5
}

// Result is what one evaluation of a Build gives.
type Result struct {
	Cost  float64
	Grads [][]float64 // symbolic gradient per wrt node
}

// Eval builds the graph, runs it once and returns the cost and the symbolic
// gradients with respect to the wrt nodes.
func Eval(build Build) (Result, error) {
	g := G.NewGraph()
	cost, wrt, err := build(g)
	if err != nil {
		return Result{}, err
	}
	grads, err := G.Grad(cost, wrt...)
	if err != nil {
		return Result{}, fmt.Errorf("graphtest: symbolic gradient: %w", err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		return Result{}, fmt.Errorf("graphtest: run: %w", err)
	}
	c, err := Float64s(cost.Value())
	if err != nil {
		return Result{}, err
	}
	res := Result{Cost: c[0]}
	for _, gn := range grads {
		gv, err := Float64s(gn.Value())
		if err != nil {
			return Result{}, err
		}
		res.Grads = append(res.Grads, gv)
	}
	return res, nil
}

// CheckGradient fails the test unless the symbolic gradient of build's cost
// agrees with central differences for every element of every wrt node, and
// no value is NaN or Inf. It returns the evaluated cost and gradients.
func CheckGradient(t testing.TB, build Build, opts GradOptions) Result {
	t.Helper()
	if opts.Step == 0 {
		opts.Step = 1e-6
	}
	if opts.Abs == 0 {
		opts.Abs = 1e-6
	}
	if opts.Rel == 0 {
		opts.Rel = 1e-5
	}
	g := G.NewGraph()
	cost, wrt, err := build(g)
	if err != nil {
		t.Fatalf("graphtest: build: %v", err)
	}
	if cost.Dtype() != tensor.Float64 {
		t.Fatalf("graphtest: gradient checks run in float64; cost is %v", cost.Dtype())
	}
	grads, err := G.Grad(cost, wrt...)
	if err != nil {
		t.Fatalf("graphtest: symbolic gradient: %v", err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	run := func() float64 {
		t.Helper()
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatalf("graphtest: run: %v", err)
		}
		v, err := Float64s(cost.Value())
		if err != nil {
			t.Fatalf("graphtest: %v", err)
		}
		return v[0]
	}
	res := Result{Cost: run()}
	if math.IsNaN(res.Cost) || math.IsInf(res.Cost, 0) {
		t.Fatalf("graphtest: cost is %v", res.Cost)
	}
	for i, gn := range grads {
		gv, err := Float64s(gn.Value())
		if err != nil {
			t.Fatalf("graphtest: gradient %d: %v", i, err)
		}
		res.Grads = append(res.Grads, gv)
	}
	for i, n := range wrt {
		base, ok := n.Value().Data().([]float64)
		if !ok {
			t.Fatalf("graphtest: wrt node %q must hold a float64 tensor; has %T", n.Name(), n.Value().Data())
		}
		orig := append([]float64(nil), base...)
		shape := n.Shape().Clone()
		set := func(k int, v float64) {
			t.Helper()
			x := append([]float64(nil), orig...)
			x[k] = v
			if err := G.Let(n, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x))); err != nil {
				t.Fatalf("graphtest: rebind %q: %v", n.Name(), err)
			}
		}
		for k := range orig {
			set(k, orig[k]+opts.Step)
			fp := run()
			set(k, orig[k]-opts.Step)
			fm := run()
			num := (fp - fm) / (2 * opts.Step)
			sym := res.Grads[i][k]
			if math.IsNaN(sym) || math.IsInf(sym, 0) {
				t.Fatalf("graphtest: d cost/d %s[%d] is %v", n.Name(), k, sym)
			}
			if !Close(num, sym, opts.Abs, opts.Rel) {
				t.Fatalf("graphtest: d cost/d %s[%d]: symbolic %.10g, central difference %.10g", n.Name(), k, sym, num)
			}
		}
		if err := G.Let(n, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(orig))); err != nil {
			t.Fatalf("graphtest: rebind %q: %v", n.Name(), err)
		}
	}
	return res
}
