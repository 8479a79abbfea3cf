package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LinearOptions configures Linear.
type LinearOptions struct {
	// ReLU applies max(0, ·) to the output in the same pass.
	ReLU bool
	// NoInputGradient declares x a constant for differentiation (the data
	// at the bottom of a network, as ConvOptions.NoInputGradient): no
	// gradient flows to it, which saves the B×I×O product of dx;
	// Gorgonia computes every gradient an op offers.
	NoInputGradient bool
}

// Linear returns the fully connected layer x·W + b for x B×I, W I×O and the
// bias b (O values, shaped 1×O or O; nil for none), followed by ReLU when
// opt.ReLU: B×O. It is one matrix product with the BLAS that Gorgonia uses
// (G.WhichBLAS) and a pass adding the bias; its gradients
//
//	dx = gz·Wᵀ    dW = xᵀ·gz    db = Σ_rows gz
//
// (gz the output gradient, masked by y > 0 after ReLU) are ops of their
// own that read the operands transposed in place, without materialising a
// transpose; opt.NoInputGradient skips dx. Like Conv2D, the ops own their output buffers and reuse them
// at every run.
func Linear(x, w, b *G.Node, opt LinearOptions) (*G.Node, error) {
	dt, err := FloatDtype("linear input", x)
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("graph: linear weights are nil")
	}
	if w.Dtype() != dt {
		return nil, fmt.Errorf("graph: linear weights have dtype %v, input %v", w.Dtype(), dt)
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || xs[0] < 1 || xs[1] < 1 {
		return nil, fmt.Errorf("graph: linear input must be a non-empty B×I matrix; got shape %v", xs)
	}
	if len(ws) != 2 || ws[1] < 1 {
		return nil, fmt.Errorf("graph: linear weights must be a non-empty I×O matrix; got shape %v", ws)
	}
	if ws[0] != xs[1] {
		return nil, fmt.Errorf("graph: linear weights have %d rows, input has %d columns", ws[0], xs[1])
	}
	g := linGeom{b: xs[0], i: xs[1], o: ws[1]}
	inputs := []*G.Node{x, w}
	var bshape tensor.Shape
	if b != nil {
		if b.Dtype() != dt {
			return nil, fmt.Errorf("graph: linear bias has dtype %v, input %v", b.Dtype(), dt)
		}
		bshape = b.Shape().Clone()
		if !((len(bshape) == 1 && bshape[0] == g.o) || (len(bshape) == 2 && bshape[0] == 1 && bshape[1] == g.o)) {
			return nil, fmt.Errorf("graph: linear bias has shape %v; want (%d) or (1, %d)", bshape, g.o, g.o)
		}
		inputs = append(inputs, b)
	}
	if err := sameGraph(inputs...); err != nil {
		return nil, err
	}
	n, err := G.ApplyOp(&linearOp{opBase: opBase{dt: dt, shape: tensor.Shape{g.b, g.o}}, geom: g, relu: opt.ReLU, noDx: opt.NoInputGradient, bshape: bshape}, inputs...)
	if err != nil {
		return nil, fmt.Errorf("graph: linear: %w", err)
	}
	return n, nil
}

// linGeom is a linear layer's geometry: B rows, I inputs, O outputs.
type linGeom struct{ b, i, o int }

func (g linGeom) String() string { return fmt.Sprintf("%dx%d,%dx%d", g.b, g.i, g.i, g.o) }

func mat(dt tensor.Dtype) hm.Type { return G.TensorType{Dims: 2, Of: dt} }

// linearOp is x·W (+ b) (+ ReLU).
type linearOp struct {
	opBase
	geom   linGeom
	relu   bool
	noDx   bool // x gets no gradient
	bshape tensor.Shape
}

func (o *linearOp) Arity() int {
	if o.bshape != nil {
		return 3
	}
	return 2
}
func (o *linearOp) Type() hm.Type {
	t := mat(o.dt)
	if o.bshape != nil {
		return hm.NewFnType(t, t, nodeType(o.dt, len(o.bshape)), t)
	}
	return hm.NewFnType(t, t, t)
}
func (o *linearOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "linear(%v,relu=%t,nodx=%t,bias=%v,%v)", o.geom, o.relu, o.noDx, o.bshape, o.dt)
}
func (o *linearOp) Hashcode() uint32 { return hashOf(o) }
func (o *linearOp) String() string   { return fmt.Sprintf("linear(%v,relu=%t)", o.geom, o.relu) }
func (o *linearOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}

// UsePreallocDo implements G.UsePreallocDoer.
func (o *linearOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != o.Arity() {
		return nil, fmt.Errorf("graph: linear: %d inputs; want %d", len(in), o.Arity())
	}
	return doFloat(&o.opBase, "linear", prealloc,
		func(out []float32) error { return linearForward(o, in, out) },
		func(out []float64) error { return linearForward(o, in, out) })
}

func linearForward[T float](o *linearOp, in []G.Value, y []T) error {
	g := o.geom
	v, err := floats[T]("linear", in...)
	if err != nil {
		return err
	}
	x, w := v[0], v[1]
	if len(x) != g.b*g.i || len(w) != g.i*g.o {
		return fmt.Errorf("graph: linear: inputs hold %d and %d values; want %dx%d and %dx%d", len(x), len(w), g.b, g.i, g.i, g.o)
	}
	var b []T
	if len(v) == 3 {
		if b = v[2]; len(b) != g.o {
			return fmt.Errorf("graph: linear: bias holds %d values; want %d", len(b), g.o)
		}
	}
	product(false, false, g.b, g.o, g.i, 1, x, g.i, w, g.o, 0, y, g.o)
	if b == nil && !o.relu {
		return nil
	}
	for r := 0; r < g.b; r++ {
		row := y[r*g.o : (r+1)*g.o]
		switch {
		case b != nil && o.relu:
			for j, e := range row {
				row[j] = max(e+b[j], 0)
			}
		case b != nil:
			for j := range row {
				row[j] += b[j]
			}
		default:
			for j, e := range row {
				row[j] = max(e, 0)
			}
		}
	}
	return nil
}

// DiffWRT implements G.SDOp: W and b receive gradients, and x unless
// NoInputGradient.
func (o *linearOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = i > 0 || !o.noDx
	}
	return out
}

// SymDiff implements G.SDOp.
func (o *linearOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g := o.geom
	gz := grad
	var err error
	if o.relu {
		if gz, err = G.ApplyOp(&reluMaskOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{g.b, g.o}}}, output, grad); err != nil {
			return nil, err
		}
	}
	res := make(G.Nodes, len(inputs))
	if !o.noDx {
		if res[0], err = G.ApplyOp(&linearGradOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{g.b, g.i}}, geom: g, wrt: 0}, inputs[1], gz); err != nil {
			return nil, err
		}
	}
	if res[1], err = G.ApplyOp(&linearGradOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{g.i, g.o}}, geom: g, wrt: 1}, inputs[0], gz); err != nil {
		return nil, err
	}
	if o.bshape != nil {
		if res[2], err = G.ApplyOp(&linearGradOp{opBase: opBase{dt: o.dt, shape: o.bshape.Clone()}, geom: g, wrt: 2}, gz); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// reluMaskOp is grad · 1[y > 0] for a ReLU output y.
type reluMaskOp struct {
	opBase
	noDiff
}

func (o *reluMaskOp) Arity() int { return 2 }
func (o *reluMaskOp) Type() hm.Type {
	t := nodeType(o.dt, len(o.shape))
	return hm.NewFnType(t, t, t)
}
func (o *reluMaskOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "relumask%v%v", o.shape, o.dt) }
func (o *reluMaskOp) Hashcode() uint32      { return hashOf(o) }
func (o *reluMaskOp) String() string        { return "relumask" }
func (o *reluMaskOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}
func (o *reluMaskOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "relumask", prealloc,
		func(out []float32) error { return reluMask(in, out) },
		func(out []float64) error { return reluMask(in, out) })
}

func reluMask[T float](in []G.Value, out []T) error {
	v, err := floats[T]("relumask", in...)
	if err != nil {
		return err
	}
	y, g := v[0], v[1]
	if len(y) != len(out) || len(g) != len(out) {
		return fmt.Errorf("graph: relumask: inputs hold %d and %d values; want %d", len(y), len(g), len(out))
	}
	for i, e := range y {
		if e > 0 {
			out[i] = g[i]
		} else {
			out[i] = 0
		}
	}
	return nil
}

// linearGradOp is one derivative of a linear layer from its output
// gradient gz (B×O): dx = gz·Wᵀ from (W, gz) (wrt 0), dW = xᵀ·gz from
// (x, gz) (wrt 1), db = Σ_rows gz from (gz) (wrt 2).
type linearGradOp struct {
	opBase
	noDiff
	geom linGeom
	wrt  int
}

func (o *linearGradOp) Arity() int {
	if o.wrt == 2 {
		return 1
	}
	return 2
}
func (o *linearGradOp) Type() hm.Type {
	t := mat(o.dt)
	if o.wrt == 2 {
		return hm.NewFnType(t, nodeType(o.dt, len(o.shape)))
	}
	return hm.NewFnType(t, t, t)
}
func (o *linearGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "linear_d%d(%v,%v,%v)", o.wrt, o.geom, o.shape, o.dt)
}
func (o *linearGradOp) Hashcode() uint32 { return hashOf(o) }
func (o *linearGradOp) String() string {
	return fmt.Sprintf("linear_d%s(%v)", [3]string{"x", "w", "b"}[o.wrt], o.geom)
}
func (o *linearGradOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}
func (o *linearGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "linear_grad", prealloc,
		func(out []float32) error { return linearGrad(o, in, out) },
		func(out []float64) error { return linearGrad(o, in, out) })
}

func linearGrad[T float](o *linearGradOp, in []G.Value, out []T) error {
	g := o.geom
	v, err := floats[T]("linear_grad", in...)
	if err != nil {
		return err
	}
	gz := v[len(v)-1]
	if len(gz) != g.b*g.o {
		return fmt.Errorf("graph: linear_grad: gradient holds %d values; want %dx%d", len(gz), g.b, g.o)
	}
	switch o.wrt {
	case 0:
		w := v[0]
		if len(w) != g.i*g.o {
			return fmt.Errorf("graph: linear_grad: weights hold %d values; want %dx%d", len(w), g.i, g.o)
		}
		product(false, true, g.b, g.i, g.o, 1, gz, g.o, w, g.o, 0, out, g.i)
	case 1:
		x := v[0]
		if len(x) != g.b*g.i {
			return fmt.Errorf("graph: linear_grad: input holds %d values; want %dx%d", len(x), g.b, g.i)
		}
		product(true, false, g.i, g.o, g.b, 1, x, g.i, gz, g.o, 0, out, g.o)
	default:
		clear(out)
		for r := 0; r < g.b; r++ {
			for j, e := range gz[r*g.o : (r+1)*g.o] {
				out[j] += e
			}
		}
	}
	return nil
}
