package graph

import (
	"fmt"
	"hash"
	"math"
	"unsafe"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConvOptions configures Conv2D. The zero value is a valid (unpadded),
// stride-1 convolution without ReLU.
type ConvOptions struct {
	// StrideH, StrideW: the step between output positions; 0 means 1.
	StrideH, StrideW int
	// PadH, PadW: zero rows above and below, zero columns left and right.
	PadH, PadW int
	// ReLU applies max(0, ·) to the output in the same pass (the derivative
	// ops mask the incoming gradient with output > 0).
	ReLU bool
	// NoInputGradient declares x a constant for differentiation (the data
	// at the bottom of a network): no gradient flows to it, which saves its
	// computation; Gorgonia computes every gradient an op offers.
	NoInputGradient bool
	// Pool > 1 fuses Pool×Pool max pooling with stride Pool (no padding)
	// into the same op, after the bias and the ReLU: the output is
	// N×O×⌊OH/Pool⌋×⌊OW/Pool⌋, the value and gradient of
	// MaxPool2D(Conv2D(x, w, b, opt), PoolOptions{KernelH: Pool, KernelW: Pool})
	// (the first maximum of each window gets its gradient). The full
	// convolution output is never written out, and the derivative lays the
	// pooled gradient straight into the layout of the product. 0 and 1 mean
	// no pooling.
	Pool int
}

// convGeom is the full geometry of one convolution: input N×C×H×W, weights
// O×C×KH×KW, output N×O×OH×OW.
type convGeom struct {
	n, c, h, w     int
	o, kh, kw      int
	sh, sw, ph, pw int
	oh, ow         int
	pool           int // fused max pooling (ConvOptions.Pool); ≤ 1: none
}

func (g convGeom) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d,w%dx%dx%dx%d,s%d,%d,p%d,%d,pool%d", g.n, g.c, g.h, g.w, g.o, g.c, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.pool)
}

// pooled reports whether max pooling is fused into the op.
func (g convGeom) pooled() bool { return g.pool > 1 }

// poolH and poolW are the pooled output's height and width.
func (g convGeom) poolH() int { return g.oh / g.pool }
func (g convGeom) poolW() int { return g.ow / g.pool }

// yShape is the op's output: outShape, or the pooled N×O×PH×PW.
func (g convGeom) yShape() tensor.Shape {
	if g.pooled() {
		return tensor.Shape{g.n, g.o, g.poolH(), g.poolW()}
	}
	return g.outShape()
}

func (g convGeom) xShape() tensor.Shape   { return tensor.Shape{g.n, g.c, g.h, g.w} }
func (g convGeom) wShape() tensor.Shape   { return tensor.Shape{g.o, g.c, g.kh, g.kw} }
func (g convGeom) outShape() tensor.Shape { return tensor.Shape{g.n, g.o, g.oh, g.ow} }

// rows is C·KH·KW, the height of an image's im2col matrix; cols is OH·OW.
func (g convGeom) rows() int { return g.c * g.kh * g.kw }
func (g convGeom) cols() int { return g.oh * g.ow }

// windowSize returns the number of output positions along one axis and an
// error naming the problem.
func windowSize(what string, in, k, s, p int) (int, error) {
	if s < 1 {
		return 0, fmt.Errorf("graph: %s stride is %d; want ≥ 1", what, s)
	}
	if p < 0 {
		return 0, fmt.Errorf("graph: %s padding is %d; want ≥ 0", what, p)
	}
	if k < 1 {
		return 0, fmt.Errorf("graph: %s kernel size is %d; want ≥ 1", what, k)
	}
	if in+2*p < k {
		return 0, fmt.Errorf("graph: %s kernel %d is larger than the padded input %d (input %d, padding %d)", what, k, in+2*p, in, p)
	}
	return (in+2*p-k)/s + 1, nil
}

func orOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// Conv2D returns the 2-D cross-correlation of a batch of images x
// (N×C×H×W) with the filters w (O×C×KH×KW), plus the bias b (O values,
// shaped O or 1×O×1×1; nil for none), followed by ReLU when opt.ReLU:
//
//	y[n,o,i,j] = b[o] + Σ_{c,u,v} w[o,c,u,v] · x[n, c, i·sh − ph + u, j·sw − pw + v]
//
// with x read as 0 outside the image. The output is N×O×OH×OW with
// OH = (H + 2·PadH − KH)/StrideH + 1 (likewise OW), the layout and
// definition of PyTorch's torch.nn.functional.conv2d (and Gorgonia's
// Conv2d). The batch is unrolled (im2col, Chellapilla et al. 2006) into a
// reused buffer and multiplied by the filter matrix, a cache-sized block of
// images per product, with the BLAS that Gorgonia uses (G.WhichBLAS); the
// O × (images·OH·OW) product goes to the NCHW output in contiguous rows of
// OH·OW (no transpose), with bias and ReLU applied in that same pass (and
// max pooling, with opt.Pool).
// Gradients with respect to x, w and b are ops of their own (one product
// for the batch, or for a few images at a time for x), so G.Grad
// differentiates through Conv2D; NoInputGradient skips the one for x.
// Dilation and groups are not supported.
//
// The ops of one graph own their output and scratch buffers and reuse them
// at every run, so a graph's machine must not run concurrently with
// another machine of the same graph.
func Conv2D(x, w, b *G.Node, opt ConvOptions) (*G.Node, error) {
	dt, err := FloatDtype("conv input", x)
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("graph: conv weights are nil")
	}
	if w.Dtype() != dt {
		return nil, fmt.Errorf("graph: conv weights have dtype %v, input %v", w.Dtype(), dt)
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 {
		return nil, fmt.Errorf("graph: conv input must be 4-D (N×C×H×W); got shape %v", xs)
	}
	if len(ws) != 4 {
		return nil, fmt.Errorf("graph: conv weights must be 4-D (O×C×KH×KW); got shape %v", ws)
	}
	if ws[1] != xs[1] {
		return nil, fmt.Errorf("graph: conv weights take %d input channels, input has %d", ws[1], xs[1])
	}
	for i, s := range xs {
		if s < 1 {
			return nil, fmt.Errorf("graph: conv input has empty shape %v (axis %d)", xs, i)
		}
	}
	if ws[0] < 1 {
		return nil, fmt.Errorf("graph: conv weights have empty shape %v", ws)
	}
	g := convGeom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], o: ws[0], kh: ws[2], kw: ws[3],
		sh: orOne(opt.StrideH), sw: orOne(opt.StrideW), ph: opt.PadH, pw: opt.PadW}
	if g.oh, err = windowSize("conv height", g.h, g.kh, g.sh, g.ph); err != nil {
		return nil, err
	}
	if g.ow, err = windowSize("conv width", g.w, g.kw, g.sw, g.pw); err != nil {
		return nil, err
	}
	if opt.Pool < 0 {
		return nil, fmt.Errorf("graph: conv pooling is %d; want ≥ 0", opt.Pool)
	}
	if g.pool = opt.Pool; g.pooled() && (g.pool > g.oh || g.pool > g.ow) {
		return nil, fmt.Errorf("graph: conv pooling %d is larger than the convolution's %d×%d output", g.pool, g.oh, g.ow)
	}
	inputs := []*G.Node{x, w}
	var bshape tensor.Shape
	if b != nil {
		if b.Dtype() != dt {
			return nil, fmt.Errorf("graph: conv bias has dtype %v, input %v", b.Dtype(), dt)
		}
		bshape = b.Shape().Clone()
		okShape := (len(bshape) == 1 && bshape[0] == g.o) ||
			(len(bshape) == 4 && bshape[0] == 1 && bshape[1] == g.o && bshape[2] == 1 && bshape[3] == 1)
		if !okShape {
			return nil, fmt.Errorf("graph: conv bias has shape %v; want (%d) or (1, %d, 1, 1)", bshape, g.o, g.o)
		}
		inputs = append(inputs, b)
	}
	if err := sameGraph(inputs...); err != nil {
		return nil, err
	}
	n, err := G.ApplyOp(&convOp{opBase: opBase{dt: dt, shape: g.yShape()}, geom: g, relu: opt.ReLU, noDx: opt.NoInputGradient, bshape: bshape}, inputs...)
	if err != nil {
		return nil, fmt.Errorf("graph: conv: %w", err)
	}
	return n, nil
}

// opBase holds what every op of this file shares: its dtype, its output
// shape and the output buffer it reuses from one run to the next.
type opBase struct {
	dt    tensor.Dtype
	shape tensor.Shape
	out   *tensor.Dense
}

func (o *opBase) ReturnsPtr() bool     { return false }
func (o *opBase) CallsExtern() bool    { return false }
func (o *opBase) OverwritesInput() int { return -1 }
func (o *opBase) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return o.shape.Clone(), nil
}

// buffer returns the op's output buffer with its shape restored (a later
// in-place reshape may have changed it), allocating it on first use.
func (o *opBase) buffer() *tensor.Dense {
	if o.out == nil {
		o.out = tensor.New(tensor.WithShape(o.shape...), tensor.Of(o.dt))
	} else if !o.out.Shape().Eq(o.shape) {
		_ = o.out.Reshape(o.shape...) // same size: cannot fail
	}
	return o.out
}

// target checks a preallocated value (UsePreallocDo) against the op's
// output dtype and shape.
func (o *opBase) target(prealloc G.Value, name string) (*tensor.Dense, error) {
	d, ok := prealloc.(*tensor.Dense)
	if !ok || d.Dtype() != o.dt || !d.Shape().Eq(o.shape) || !d.IsNativelyAccessible() || d.RequiresIterator() {
		return nil, fmt.Errorf("graph: %s: preallocated value does not fit %v %v", name, o.shape, o.dt)
	}
	return d, nil
}

// floats returns the float slices of values of dtype dt (T's dtype), or an
// error naming the op.
func floats[T float](name string, vals ...G.Value) ([][]T, error) {
	out := make([][]T, len(vals))
	for i, v := range vals {
		s, ok := data(v).([]T)
		if !ok {
			return nil, fmt.Errorf("graph: %s: input %d holds %T", name, i, data(v))
		}
		out[i] = s
	}
	return out, nil
}

func float4(dt tensor.Dtype) hm.Type { return G.TensorType{Dims: 4, Of: dt} }

// scratch is a reused float buffer of either dtype.
type scratch struct {
	f32 []float32
	f64 []float64
}

// get returns a buffer of n values of T, reusing the previous one when it
// has that size.
func get[T float](s *scratch, n int) []T {
	var zero T
	if _, ok := any(zero).(float32); ok {
		if len(s.f32) != n {
			s.f32 = make([]float32, n)
		}
		return any(s.f32).([]T)
	}
	if len(s.f64) != n {
		s.f64 = make([]float64, n)
	}
	return any(s.f64).([]T)
}

// convOp is the forward convolution (+ bias, + ReLU). The images go
// through one matrix product per block of images (colChunkBytes): the
// block's im2col matrices side by side, (C·KH·KW) × (nb·OH·OW), are
// multiplied by the O × (C·KH·KW) filter matrix; the O × (nb·OH·OW)
// product is then copied into the NCHW output in rows of OH·OW (a block
// copy, not a transpose), adding the bias and applying ReLU on the way (or
// pooled).
type convOp struct {
	opBase
	geom   convGeom
	relu   bool
	noDx   bool         // x gets no gradient
	bshape tensor.Shape // nil: no bias
	col    scratch      // the batch's im2col matrix, reused by the weight gradient
	prod   scratch
	arg    []int32 // pooled: each output's window maximum, as an index in its OH×OW plane
	ran    bool    // col (and arg) hold the last run's
}

func (o *convOp) Arity() int {
	if o.bshape != nil {
		return 3
	}
	return 2
}

func (o *convOp) Type() hm.Type {
	t := float4(o.dt)
	if o.bshape != nil {
		return hm.NewFnType(t, t, nodeType(o.dt, len(o.bshape)), t)
	}
	return hm.NewFnType(t, t, t)
}

func (o *convOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "conv2d(%v,relu=%t,nodx=%t,bias=%v,%v)", o.geom, o.relu, o.noDx, o.bshape, o.dt)
}
func (o *convOp) Hashcode() uint32 { return hashOf(o) }
func (o *convOp) String() string   { return fmt.Sprintf("conv2d(%v,relu=%t)", o.geom, o.relu) }

func (o *convOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}

// UsePreallocDo implements G.UsePreallocDoer.
func (o *convOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != o.Arity() {
		return nil, fmt.Errorf("graph: conv2d: %d inputs; want %d", len(in), o.Arity())
	}
	o.ran = false
	v, err := doFloat(&o.opBase, "conv2d", prealloc,
		func(out []float32) error { return convForward(o, in, out) },
		func(out []float64) error { return convForward(o, in, out) })
	o.ran = err == nil
	return v, err
}

func convForward[T float](o *convOp, in []G.Value, y []T) error {
	g := o.geom
	v, err := floats[T]("conv2d", in...)
	if err != nil {
		return err
	}
	x, w := v[0], v[1]
	if len(x) != g.n*g.c*g.h*g.w || len(w) != g.o*g.rows() {
		return fmt.Errorf("graph: conv2d: inputs hold %d and %d values; want %v and %v", len(x), len(w), g.xShape(), g.wShape())
	}
	var b []T
	if len(v) == 3 {
		if b = v[2]; len(b) != g.o {
			return fmt.Errorf("graph: conv2d: bias holds %d values; want %d", len(b), g.o)
		}
	}
	rows, cols := g.rows(), g.cols()
	ld := g.n * cols
	col := get[T](&o.col, rows*ld)
	if g.pooled() {
		if n := len(y); len(o.arg) != n {
			o.arg = make([]int32, n)
		}
	}
	// A block of images at a time (colChunkBytes): its im2col columns are
	// still in cache when the product reads them, and its product when the
	// pooling (or the copy into NCHW) reads it. col keeps the whole batch
	// for the weight gradient.
	var zero T
	chunk := max(1, min(g.n, colChunkBytes/(max(rows, g.o)*cols*int(unsafe.Sizeof(zero)))))
	prod := get[T](&o.prod, g.o*chunk*cols)
	img, out := g.c*g.h*g.w, len(y)/g.n
	for n0 := 0; n0 < g.n; n0 += chunk {
		nb := min(chunk, g.n-n0)
		for n := n0; n < n0+nb; n++ {
			im2col(g, x[n*img:(n+1)*img], col[n*cols:], ld)
		}
		lb := nb * cols
		// prod (O × nb·OH·OW) = W (O × C·KH·KW) · col (C·KH·KW × nb·OH·OW, images n0 onwards)
		product(false, false, g.o, lb, rows, 1, w, rows, col[n0*cols:], ld, 0, prod, lb)
		gb := g
		gb.n = nb
		yb := y[n0*out : (n0+nb)*out]
		if g.pooled() {
			poolForward(gb, prod, b, yb, o.arg[n0*out:(n0+nb)*out], o.relu)
			continue
		}
		copyOut(gb, prod, b, yb, o.relu)
	}
	return nil
}

// copyOut writes the product prod (O × N·OH·OW) plus the bias b (nil:
// none), then ReLU when relu, into y (N×O×OH×OW) in rows of OH·OW.
func copyOut[T float](g convGeom, prod, b, y []T, relu bool) {
	cols := g.cols()
	ld := g.n * cols
	for oc := 0; oc < g.o; oc++ {
		var bias T
		if b != nil {
			bias = b[oc]
		}
		for n := 0; n < g.n; n++ {
			src := prod[oc*ld+n*cols : oc*ld+(n+1)*cols]
			dst := y[(n*g.o+oc)*cols : (n*g.o+oc+1)*cols]
			switch {
			case relu:
				for i, e := range src {
					dst[i] = max(e+bias, 0)
				}
			case bias != 0:
				for i, e := range src {
					dst[i] = e + bias
				}
			default:
				copy(dst, src)
			}
		}
	}
}

// poolForward writes the fused max pooling of the product prod
// (O × N·OH·OW) plus the bias b (nil: none), then ReLU when relu, into y
// (N×O×PH×PW), and each window's first maximum (row-major) into arg as an
// index in its OH×OW plane. The window compares prod + bias, the values
// the unfused convolution would output: ReLU is monotone, so applying it
// after the maximum gives the same value, and where it matters (a
// positive maximum) the same first maximum.
func poolForward[T float](g convGeom, prod, b, y []T, arg []int32, relu bool) {
	k, cols, ld := g.pool, g.cols(), g.n*g.cols()
	ph, pw, ow := g.poolH(), g.poolW(), g.ow
	for oc := 0; oc < g.o; oc++ {
		var bias T
		if b != nil {
			bias = b[oc]
		}
		for n := 0; n < g.n; n++ {
			src := prod[oc*ld+n*cols : oc*ld+(n+1)*cols]
			base := (n*g.o + oc) * ph * pw
			dst, am := y[base:base+ph*pw], arg[base:base+ph*pw]
			for i := 0; i < ph; i++ {
				d, a := dst[i*pw:(i+1)*pw], am[i*pw:(i+1)*pw]
				if k == 2 {
					r0, r1 := src[2*i*ow:2*i*ow+2*pw], src[(2*i+1)*ow:(2*i+1)*ow+2*pw]
					if f0, ok := any(r0).([]float32); ok {
						if relu {
							pool2f32ReLU(f0, any(r1).([]float32), float32(bias), any(d).([]float32), a, 2*i*ow, ow)
						} else {
							pool2f32(f0, any(r1).([]float32), float32(bias), false, any(d).([]float32), a, 2*i*ow, ow)
						}
						continue
					}
					for j := range d {
						k0 := 2*i*ow + 2*j
						m, best := r0[2*j]+bias, k0
						if e := r0[2*j+1] + bias; e > m {
							m, best = e, k0+1
						}
						if e := r1[2*j] + bias; e > m {
							m, best = e, k0+ow
						}
						if e := r1[2*j+1] + bias; e > m {
							m, best = e, k0+ow+1
						}
						if relu {
							m = max(m, 0)
						}
						d[j], a[j] = m, int32(best)
					}
					continue
				}
				for j := range d {
					best := i*k*ow + j*k
					m := src[best] + bias
					for u := 0; u < k; u++ {
						row := src[(i*k+u)*ow+j*k : (i*k+u)*ow+j*k+k]
						for v, e := range row {
							if e += bias; e > m {
								m, best = e, (i*k+u)*ow+j*k+v
							}
						}
					}
					if relu {
						m = max(m, 0)
					}
					d[j], a[j] = m, int32(best)
				}
			}
		}
	}
}

// pool2f32 is poolForward's 2×2 case for one row of float32 windows
// (rows r0 and r1 of the product, the first at offset k0 in its plane,
// rows ow apart), written without data-dependent branches: the
// comparisons of a max pooling are unpredictable, and a mispredicted
// branch per window cost more than the rest of the pass. The selects keep
// the sequential rule of the generic loop exactly (e > m, first maximum
// wins, a later NaN never does).
func pool2f32(r0, r1 []float32, bias float32, relu bool, d []float32, a []int32, k0, ow int) {
	r0, r1 = r0[:2*len(d)], r1[:2*len(d)]
	a = a[:len(d)]
	for j := range d {
		e0, e1 := r0[2*j]+bias, r0[2*j+1]+bias
		e2, e3 := r1[2*j]+bias, r1[2*j+1]+bias
		mb, idx := math.Float32bits(e0), 0
		m := e0
		mask := -uint32(b2u(e1 > m))
		mb = mb&^mask | math.Float32bits(e1)&mask
		idx |= int(mask & 1)
		m = math.Float32frombits(mb)
		mask = -uint32(b2u(e2 > m))
		mb = mb&^mask | math.Float32bits(e2)&mask
		idx = idx&^int(mask&3) | int(mask&2)
		m = math.Float32frombits(mb)
		mask = -uint32(b2u(e3 > m))
		mb = mb&^mask | math.Float32bits(e3)&mask
		idx |= int(mask & 3)
		if relu {
			// max(m, 0) as the unfused ReLU computes it (NaN stays NaN,
			// −0 becomes +0), as a select
			mb &= -uint32(b2u(!(math.Float32frombits(mb) <= 0)))
		}
		m = math.Float32frombits(mb)
		// window position idx: 0, 1 in the first row, 2, 3 in the second
		d[j], a[j] = m, int32(k0+2*j+(idx>>1)*ow+idx&1)
	}
}

// pool2f32ReLU is pool2f32 with ReLU, faster: the window's maximum comes
// from max (no chain of selects), and its first position from equality
// tests. Where the maximum is ≤ 0 the output is 0 and the backward pass
// sends nothing to the window, so the position found there does not
// matter; a NaN anywhere in the window takes pool2f32's exact rule.
func pool2f32ReLU(r0, r1 []float32, bias float32, d []float32, a []int32, k0, ow int) {
	r0, r1 = r0[:2*len(d)], r1[:2*len(d)]
	a = a[:len(d)]
	for j := range d {
		e0, e1 := r0[2*j]+bias, r0[2*j+1]+bias
		e2, e3 := r1[2*j]+bias, r1[2*j+1]+bias
		m := max(max(e0, e1), max(e2, e3))
		if m != m {
			pool2f32(r0[2*j:2*j+2], r1[2*j:2*j+2], bias, true, d[j:j+1], a[j:j+1], k0+2*j, ow)
			continue
		}
		idx := 3
		if e2 == m {
			idx = 2
		}
		if e1 == m {
			idx = 1
		}
		if e0 == m {
			idx = 0
		}
		d[j] = math.Float32frombits(math.Float32bits(m) & -uint32(b2u(m > 0)))
		a[j] = int32(k0 + 2*j + (idx>>1)*ow + idx&1)
	}
}

// b2u is 1 for true and 0 for false (compiled without a branch).
func b2u(b bool) uint32 {
	var u uint32
	if b {
		u = 1
	}
	return u
}

// im2colBatch writes the im2col matrices of all N images side by side:
// (C·KH·KW) × (N·OH·OW), image n in columns n·OH·OW onwards.
func im2colBatch[T float](g convGeom, x, col []T) {
	img, cols, ld := g.c*g.h*g.w, g.cols(), g.n*g.cols()
	for n := 0; n < g.n; n++ {
		im2col(g, x[n*img:(n+1)*img], col[n*cols:], ld)
	}
}

// im2col writes the (C·KH·KW)×(OH·OW) matrix of one C×H×W image into col,
// whose rows are ld apart: row (c, u, v), column (i, j) holds
// x[c, i·sh − ph + u, j·sw − pw + v], or 0 in the padding.
func im2col[T float](g convGeom, x, col []T, ld int) {
	if x32, ok := any(x).([]float32); ok && g.ph == 0 && g.pw == 0 && g.sw == 1 {
		im2colNoPad32(g, x32, any(col).([]float32), ld)
		return
	}
	cols := g.cols()
	r := 0
	for c := 0; c < g.c; c++ {
		plane := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for u := 0; u < g.kh; u++ {
			for v := 0; v < g.kw; v++ {
				dst := col[r*ld : r*ld+cols]
				r++
				j0, j1 := validRange(g.ow, g.w, g.sw, v-g.pw)
				for i := 0; i < g.oh; i++ {
					seg := dst[i*g.ow : (i+1)*g.ow]
					iy := i*g.sh - g.ph + u
					if iy < 0 || iy >= g.h {
						clear(seg)
						continue
					}
					src := plane[iy*g.w : (iy+1)*g.w]
					if j0 > 0 {
						clear(seg[:j0])
					}
					if g.sw == 1 {
						copy(seg[j0:j1], src[j0+v-g.pw:])
					} else {
						for j := j0; j < j1; j++ {
							seg[j] = src[j*g.sw-g.pw+v]
						}
					}
					if j1 < g.ow {
						clear(seg[j1:])
					}
				}
			}
		}
	}
}

// im2colNoPad32 is im2col for float32 without padding and with horizontal
// stride 1, where every row segment is a plain copy of OW values. The
// segments are short (8 and 24 values on the ConvNet's layers), where a
// call of copy costs more than the copy: eight values move as four 64-bit
// words (an assignment of a [8]float32 compiles to a call of memmove too).
func im2colNoPad32(g convGeom, x, col []float32, ld int) {
	cols, ow := g.cols(), g.ow
	r := 0
	for c := 0; c < g.c; c++ {
		plane := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for u := 0; u < g.kh; u++ {
			for v := 0; v < g.kw; v++ {
				dst := col[r*ld : r*ld+cols]
				r++
				for i := 0; i < g.oh; i++ {
					d := dst[i*ow : (i+1)*ow]
					s := plane[(i*g.sh+u)*g.w+v:][:len(d)]
					for len(d) >= 8 {
						dd, ss := (*[4]uint64)(unsafe.Pointer(&d[0])), (*[4]uint64)(unsafe.Pointer(&s[0]))
						dd[0], dd[1], dd[2], dd[3] = ss[0], ss[1], ss[2], ss[3]
						d, s = d[8:], s[8:]
					}
					for j, e := range s {
						d[j] = e
					}
				}
			}
		}
	}
}

// col2im adds the (C·KH·KW)×(OH·OW) matrix col (rows ld apart) back into
// the C×H×W image dx (the adjoint of im2col); dx must be zeroed first.
func col2im[T float](g convGeom, col, dx []T, ld int) {
	if dx32, ok := any(dx).([]float32); ok && g.ph == 0 && g.pw == 0 && g.sw == 1 {
		col2imNoPad32(g, any(col).([]float32), dx32, ld)
		return
	}
	cols := g.cols()
	r := 0
	for c := 0; c < g.c; c++ {
		plane := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for u := 0; u < g.kh; u++ {
			for v := 0; v < g.kw; v++ {
				src := col[r*ld : r*ld+cols]
				r++
				j0, j1 := validRange(g.ow, g.w, g.sw, v-g.pw)
				for i := 0; i < g.oh; i++ {
					iy := i*g.sh - g.ph + u
					if iy < 0 || iy >= g.h {
						continue
					}
					seg := src[i*g.ow : (i+1)*g.ow]
					dst := plane[iy*g.w : (iy+1)*g.w]
					if g.sw == 1 {
						s := seg[j0:j1]
						d := dst[j0+v-g.pw:][:len(s)] // same length: no bounds checks below
						j := 0
						for ; j+4 <= len(s); j += 4 {
							d4, s4 := d[j:j+4:j+4], s[j:j+4:j+4]
							d4[0] += s4[0]
							d4[1] += s4[1]
							d4[2] += s4[2]
							d4[3] += s4[3]
						}
						for ; j < len(s); j++ {
							d[j] += s[j]
						}
					} else {
						for j := j0; j < j1; j++ {
							dst[j*g.sw-g.pw+v] += seg[j]
						}
					}
				}
			}
		}
	}
}

// col2imNoPad32 is col2im for float32 without padding and with horizontal
// stride 1 (im2colNoPad32's adjoint): every row segment adds OW values, in
// the general path's order, eight per array access.
func col2imNoPad32(g convGeom, col, dx []float32, ld int) {
	cols, ow := g.cols(), g.ow
	r := 0
	for c := 0; c < g.c; c++ {
		plane := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for u := 0; u < g.kh; u++ {
			for v := 0; v < g.kw; v++ {
				src := col[r*ld : r*ld+cols]
				r++
				for i := 0; i < g.oh; i++ {
					s := src[i*ow : (i+1)*ow]
					d := plane[(i*g.sh+u)*g.w+v:][:len(s)]
					for len(s) >= 8 {
						dd, ss := (*[8]float32)(d), (*[8]float32)(s)
						dd[0] += ss[0]
						dd[1] += ss[1]
						dd[2] += ss[2]
						dd[3] += ss[3]
						dd[4] += ss[4]
						dd[5] += ss[5]
						dd[6] += ss[6]
						dd[7] += ss[7]
						d, s = d[8:], s[8:]
					}
					for j, e := range s {
						d[j] += e
					}
				}
			}
		}
	}
}

// validRange returns the output columns [j0, j1) of ow whose input column
// j·s + off lies inside [0, w).
func validRange(ow, w, s, off int) (int, int) {
	j0 := 0
	if off < 0 {
		j0 = (-off + s - 1) / s
	}
	j1 := 0
	if w-1-off >= 0 {
		j1 = (w-1-off)/s + 1
	}
	j0, j1 = min(j0, ow), min(j1, ow)
	if j1 < j0 {
		j1 = j0
	}
	return j0, j1
}

// product computes c = alpha·op(a)·op(b) + beta·c (row-major, m×n result,
// inner size k) with the BLAS that Gorgonia uses (G.WhichBLAS), so a faster
// implementation plugged in with G.Use serves these ops too.
func product[T float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	tra, trb := blas.NoTrans, blas.NoTrans
	if ta {
		tra = blas.Trans
	}
	if tb {
		trb = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		G.WhichBLAS().Sgemm(tra, trb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		G.WhichBLAS().Dgemm(tra, trb, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// DiffWRT implements G.SDOp: w and b receive gradients, and x unless
// NoInputGradient.
func (o *convOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = i > 0 || !o.noDx
	}
	return out
}

// SymDiff implements G.SDOp. With gz the output gradient (masked by y > 0
// when the op applies ReLU) laid out O × (N·OH·OW) by one op, and col the
// batch's im2col matrix:
//
//	dx = col2im(Wᵀ · gz)    dW = gz · colᵀ    db = Σ_columns gz
func (o *convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g := o.geom
	gop := &convGradOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{g.o, g.n, g.oh, g.ow}}, geom: g, relu: o.relu, fwd: o}
	args := G.Nodes{grad}
	if o.relu {
		args = G.Nodes{output, grad}
	}
	gz, err := G.ApplyOp(gop, args...)
	if err != nil {
		return nil, err
	}
	res := make(G.Nodes, len(inputs))
	if !o.noDx {
		if res[0], err = G.ApplyOp(&convInputGradOp{opBase: opBase{dt: o.dt, shape: g.xShape()}, geom: g}, inputs[1], gz); err != nil {
			return nil, err
		}
	}
	if res[1], err = G.ApplyOp(&convWeightGradOp{opBase: opBase{dt: o.dt, shape: g.wShape()}, geom: g, fwd: o}, inputs[0], gz); err != nil {
		return nil, err
	}
	if o.bshape != nil {
		if res[2], err = G.ApplyOp(&convBiasGradOp{opBase: opBase{dt: o.dt, shape: o.bshape.Clone()}, geom: g}, gz); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// noDiff is embedded by the derivative ops: they are not differentiated
// again.
type noDiff struct{}

func (noDiff) DiffWRT(n int) []bool { return make([]bool, n) }
func (noDiff) SymDiff(inputs G.Nodes, _, _ *G.Node) (G.Nodes, error) {
	return make(G.Nodes, len(inputs)), nil
}

// doFloat runs f on the op's output buffer or on prealloc.
func doFloat(o *opBase, name string, prealloc G.Value, f32 func(out []float32) error, f64 func(out []float64) error) (G.Value, error) {
	out := o.buffer()
	if prealloc != nil {
		var err error
		if out, err = o.target(prealloc, name); err != nil {
			return nil, err
		}
	}
	var err error
	switch d := out.Data().(type) {
	case []float32:
		err = f32(d)
	case []float64:
		err = f64(d)
	default:
		err = fmt.Errorf("graph: %s: unsupported dtype %v", name, o.dt)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// convGradOp lays the output gradient of a convolution out as
// O × N × OH × OW (channel-major, so that every derivative is one matrix
// product over the batch) and, after a ReLU, keeps it only where y > 0.
// With fused pooling, each pooled gradient goes to its window's maximum
// (the forward op's arg of the same pass) and the rest is 0.
// Inputs: (y, grad) with ReLU, (grad) without.
type convGradOp struct {
	opBase
	noDiff
	geom convGeom
	relu bool
	fwd  *convOp
}

func (o *convGradOp) Arity() int {
	if o.relu {
		return 2
	}
	return 1
}
func (o *convGradOp) Type() hm.Type {
	t := float4(o.dt)
	if o.relu {
		return hm.NewFnType(t, t, t)
	}
	return hm.NewFnType(t, t)
}
func (o *convGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "conv2d_dy(%v,relu=%t,%v)", o.geom, o.relu, o.dt)
}
func (o *convGradOp) Hashcode() uint32 { return hashOf(o) }
func (o *convGradOp) String() string   { return fmt.Sprintf("conv2d_dy(%v,relu=%t)", o.geom, o.relu) }
func (o *convGradOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}
func (o *convGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "conv2d_dy", prealloc,
		func(out []float32) error { return convGrad(o, in, out) },
		func(out []float64) error { return convGrad(o, in, out) })
}

func convGrad[T float](o *convGradOp, in []G.Value, gz []T) error {
	g := o.geom
	v, err := floats[T]("conv2d_dy", in...)
	if err != nil {
		return err
	}
	var y []T
	grad := v[len(v)-1]
	if o.relu {
		y = v[0]
	}
	if g.pooled() {
		return poolGrad(o, y, grad, gz)
	}
	cols, total := g.cols(), g.n*g.o*g.cols()
	if len(grad) != total || (y != nil && len(y) != total) || len(gz) != total {
		return fmt.Errorf("graph: conv2d_dy: inputs hold %d values; want %v", len(grad), g.outShape())
	}
	for n := 0; n < g.n; n++ {
		for oc := 0; oc < g.o; oc++ {
			src := grad[(n*g.o+oc)*cols : (n*g.o+oc+1)*cols]
			dst := gz[(oc*g.n+n)*cols : (oc*g.n+n+1)*cols]
			if y == nil {
				copy(dst, src)
				continue
			}
			yy := y[(n*g.o+oc)*cols : (n*g.o+oc+1)*cols]
			for i, e := range src {
				if yy[i] > 0 {
					dst[i] = e
				} else {
					dst[i] = 0
				}
			}
		}
	}
	return nil
}

// poolGrad is convGrad with fused pooling: y and grad are N×O×PH×PW (y
// nil without ReLU), gz is O × N × OH × OW.
func poolGrad[T float](o *convGradOp, y, grad, gz []T) error {
	g := o.geom
	ph, pw, cols := g.poolH(), g.poolW(), g.cols()
	total := g.n * g.o * ph * pw
	if len(grad) != total || (y != nil && len(y) != total) || len(gz) != g.n*g.o*cols {
		return fmt.Errorf("graph: conv2d_dy: inputs hold %d values; want %v", len(grad), g.yShape())
	}
	if o.fwd == nil || !o.fwd.ran || len(o.fwd.arg) != total {
		return fmt.Errorf("graph: conv2d_dy: the pooled convolution has not run in this pass")
	}
	clear(gz)
	for n := 0; n < g.n; n++ {
		for oc := 0; oc < g.o; oc++ {
			base := (n*g.o + oc) * ph * pw
			src, am := grad[base:base+ph*pw], o.fwd.arg[base:base+ph*pw]
			dst := gz[(oc*g.n+n)*cols : (oc*g.n+n+1)*cols]
			if y == nil {
				for p, e := range src {
					dst[am[p]] = e
				}
				continue
			}
			yy := y[base : base+ph*pw]
			for p, e := range src {
				if yy[p] > 0 {
					dst[am[p]] = e
				}
			}
		}
	}
	return nil
}

// convInputGradOp is dL/dx of a convolution from the weights and the
// gradient of convGradOp: col2im(Wᵀ · gz), one product per block of
// images (colChunkBytes) so that col2im reads its block from cache.
type convInputGradOp struct {
	opBase
	noDiff
	geom convGeom
	col  scratch
}

func (o *convInputGradOp) Arity() int { return 2 }
func (o *convInputGradOp) Type() hm.Type {
	t := float4(o.dt)
	return hm.NewFnType(t, t, t)
}
func (o *convInputGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "conv2d_dx(%v,%v)", o.geom, o.dt) }
func (o *convInputGradOp) Hashcode() uint32      { return hashOf(o) }
func (o *convInputGradOp) String() string        { return fmt.Sprintf("conv2d_dx(%v)", o.geom) }
func (o *convInputGradOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}
func (o *convInputGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "conv2d_dx", prealloc,
		func(out []float32) error { return convInputGrad(o.geom, in, out, &o.col) },
		func(out []float64) error { return convInputGrad(o.geom, in, out, &o.col) })
}

func convInputGrad[T float](g convGeom, in []G.Value, dx []T, s *scratch) error {
	v, err := floats[T]("conv2d_dx", in...)
	if err != nil {
		return err
	}
	w, gz := v[0], v[1]
	rows, cols := g.rows(), g.cols()
	ld := g.n * cols
	if len(w) != g.o*rows || len(gz) != g.o*ld {
		return fmt.Errorf("graph: conv2d_dx: inputs hold %d and %d values; want %v and %v", len(w), len(gz), g.wShape(), g.outShape())
	}
	// A few images at a time, so that the part of col that col2im reads
	// back is still in the core's cache.
	var zero T
	chunk := max(1, min(g.n, colChunkBytes/(rows*cols*int(unsafe.Sizeof(zero)))))
	col := get[T](s, rows*chunk*cols)
	clear(dx)
	img := g.c * g.h * g.w
	for n0 := 0; n0 < g.n; n0 += chunk {
		nn := min(chunk, g.n-n0)
		lc := nn * cols
		// col (C·KH·KW × nn·OH·OW) = Wᵀ · gz (O × nn·OH·OW, images n0 onwards)
		product(true, false, rows, lc, g.o, 1, w, rows, gz[n0*cols:], ld, 0, col, lc)
		for n := 0; n < nn; n++ {
			col2im(g, col[n*cols:], dx[(n0+n)*img:(n0+n+1)*img], lc)
		}
	}
	return nil
}

// colChunkBytes bounds the im2col block that the input gradient builds and
// reads back at once, and the im2col and product blocks of the forward
// convolution: about half of a core's L2 cache on current x86.
var colChunkBytes = 512 << 10

// convWeightGradOp is dL/dW of a convolution from the input and the
// gradient of convGradOp: gz · colᵀ, one product for the batch. It reuses
// the im2col matrix of its forward op, which runs before it in every pass
// (the gradient depends on the output), and builds its own otherwise.
type convWeightGradOp struct {
	opBase
	noDiff
	geom convGeom
	fwd  *convOp
	col  scratch
	dwt  scratch
}

func (o *convWeightGradOp) Arity() int { return 2 }
func (o *convWeightGradOp) Type() hm.Type {
	t := float4(o.dt)
	return hm.NewFnType(t, t, t)
}
func (o *convWeightGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "conv2d_dw(%v,%v)", o.geom, o.dt) }
func (o *convWeightGradOp) Hashcode() uint32      { return hashOf(o) }
func (o *convWeightGradOp) String() string        { return fmt.Sprintf("conv2d_dw(%v)", o.geom) }
func (o *convWeightGradOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}
func (o *convWeightGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "conv2d_dw", prealloc,
		func(out []float32) error { return convWeightGrad(o, in, out) },
		func(out []float64) error { return convWeightGrad(o, in, out) })
}

func convWeightGrad[T float](o *convWeightGradOp, in []G.Value, dw []T) error {
	g := o.geom
	v, err := floats[T]("conv2d_dw", in...)
	if err != nil {
		return err
	}
	x, gz := v[0], v[1]
	rows, cols := g.rows(), g.cols()
	ld := g.n * cols
	if len(x) != g.n*g.c*g.h*g.w || len(gz) != g.o*ld {
		return fmt.Errorf("graph: conv2d_dw: inputs hold %d and %d values; want %v and %v", len(x), len(gz), g.xShape(), g.outShape())
	}
	var col []T
	if o.fwd != nil && o.fwd.ran {
		col = get[T](&o.fwd.col, rows*ld)
	} else {
		col = get[T](&o.col, rows*ld)
		im2colBatch(g, x, col)
	}
	// dWᵀ (C·KH·KW × O) = col · gzᵀ, then transposed into dW: the long
	// inner dimension N·OH·OW is contiguous in both operands
	dwt := get[T](&o.dwt, rows*g.o)
	product(false, true, rows, g.o, ld, 1, col, ld, gz, ld, 0, dwt, g.o)
	for r := 0; r < rows; r++ {
		for oc, e := range dwt[r*g.o : (r+1)*g.o] {
			dw[oc*rows+r] = e
		}
	}
	return nil
}

// convBiasGradOp is dL/db of a convolution: the gradient of convGradOp
// summed over images and positions, one value per output channel.
type convBiasGradOp struct {
	opBase
	noDiff
	geom convGeom
}

func (o *convBiasGradOp) Arity() int { return 1 }
func (o *convBiasGradOp) Type() hm.Type {
	return hm.NewFnType(float4(o.dt), nodeType(o.dt, len(o.shape)))
}
func (o *convBiasGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "conv2d_db(%v,%v,%v)", o.geom, o.shape, o.dt)
}
func (o *convBiasGradOp) Hashcode() uint32 { return hashOf(o) }
func (o *convBiasGradOp) String() string   { return fmt.Sprintf("conv2d_db(%v)", o.geom) }
func (o *convBiasGradOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}
func (o *convBiasGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "conv2d_db", prealloc,
		func(out []float32) error { return convBiasGrad(o.geom, in, out) },
		func(out []float64) error { return convBiasGrad(o.geom, in, out) })
}

func convBiasGrad[T float](g convGeom, in []G.Value, db []T) error {
	v, err := floats[T]("conv2d_db", in...)
	if err != nil {
		return err
	}
	gz := v[0]
	ld := g.n * g.cols()
	if len(gz) != g.o*ld || len(db) != g.o {
		return fmt.Errorf("graph: conv2d_db: gradient holds %d values; want %v", len(gz), g.outShape())
	}
	for oc := 0; oc < g.o; oc++ {
		// float64 partial sums per image keep float32 rounding small;
		// within an image, four running sums (positions mod 4) keep four
		// additions in flight instead of one chain
		var s float64
		for n := 0; n < g.n; n++ {
			row := gz[oc*ld+n*g.cols() : oc*ld+(n+1)*g.cols()]
			var p0, p1, p2, p3 T
			k := 0
			for ; k+4 <= len(row); k += 4 {
				q := row[k : k+4 : k+4]
				p0 += q[0]
				p1 += q[1]
				p2 += q[2]
				p3 += q[3]
			}
			for ; k < len(row); k++ {
				p0 += row[k]
			}
			s += float64((p0 + p1) + (p2 + p3))
		}
		db[oc] = T(s)
	}
	return nil
}
