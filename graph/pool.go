package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PoolOptions configures MaxPool2D.
type PoolOptions struct {
	// KernelH, KernelW: the window size (both ≥ 1).
	KernelH, KernelW int
	// StrideH, StrideW: the step between windows; 0 means the kernel size
	// (non-overlapping windows, PyTorch's default).
	StrideH, StrideW int
	// PadH, PadW: implicit padding on each side, which never wins the max
	// (PyTorch's -∞ padding); each must be smaller than the kernel.
	PadH, PadW int
}

// poolGeom is the geometry of one pooling: input N×C×H×W, output
// N×C×OH×OW.
type poolGeom struct {
	n, c, h, w     int
	kh, kw         int
	sh, sw, ph, pw int
	oh, ow         int
}

func (g poolGeom) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d,k%d,%d,s%d,%d,p%d,%d", g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw)
}

// MaxPool2D returns the maximum of x (N×C×H×W) over KernelH×KernelW
// windows of each channel:
//
//	y[n,c,i,j] = max_{u,v} x[n, c, i·sh − ph + u, j·sw − pw + v]
//
// over the positions inside the image, N×C×OH×OW with
// OH = (H + 2·PadH − KernelH)/StrideH + 1 (likewise OW), as PyTorch's
// torch.nn.functional.max_pool2d. Its gradient goes to one element per
// window, the first maximum in row-major order (ties are not shared), and
// overlapping windows add up. Like Conv2D, the ops own their output buffers
// and reuse them at every run.
func MaxPool2D(x *G.Node, opt PoolOptions) (*G.Node, error) {
	dt, err := FloatDtype("max-pool input", x)
	if err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) != 4 {
		return nil, fmt.Errorf("graph: max-pool input must be 4-D (N×C×H×W); got shape %v", xs)
	}
	for i, s := range xs {
		if s < 1 {
			return nil, fmt.Errorf("graph: max-pool input has empty shape %v (axis %d)", xs, i)
		}
	}
	g := poolGeom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], kh: opt.KernelH, kw: opt.KernelW,
		sh: opt.StrideH, sw: opt.StrideW, ph: opt.PadH, pw: opt.PadW}
	if g.kh < 1 || g.kw < 1 {
		return nil, fmt.Errorf("graph: max-pool kernel is %d×%d; want both ≥ 1", g.kh, g.kw)
	}
	if g.sh == 0 {
		g.sh = g.kh
	}
	if g.sw == 0 {
		g.sw = g.kw
	}
	if g.ph >= g.kh || g.pw >= g.kw {
		return nil, fmt.Errorf("graph: max-pool padding %d×%d must be smaller than the kernel %d×%d", g.ph, g.pw, g.kh, g.kw)
	}
	if g.oh, err = windowSize("max-pool height", g.h, g.kh, g.sh, g.ph); err != nil {
		return nil, err
	}
	if g.ow, err = windowSize("max-pool width", g.w, g.kw, g.sw, g.pw); err != nil {
		return nil, err
	}
	n, err := G.ApplyOp(&maxPoolOp{opBase: opBase{dt: dt, shape: tensor.Shape{g.n, g.c, g.oh, g.ow}}, geom: g}, x)
	if err != nil {
		return nil, fmt.Errorf("graph: max-pool: %w", err)
	}
	return n, nil
}

// pair reports the common 2×2 stride-2 unpadded pooling, which has a
// fast path.
func (g poolGeom) pair() bool {
	return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0
}

// window returns the rows [i0, i1) and columns [j0, j1) of output (i, j)'s
// window that lie inside the image.
func (g poolGeom) window(i, j int) (i0, i1, j0, j1 int) {
	i0, j0 = i*g.sh-g.ph, j*g.sw-g.pw
	i1, j1 = min(i0+g.kh, g.h), min(j0+g.kw, g.w)
	return max(i0, 0), i1, max(j0, 0), j1
}

// argmax returns the flat index in plane of the first maximum of output
// (i, j)'s window. Padding (pad < kernel) leaves every window at least one
// image position. A later NaN never wins (a NaN in a window's first
// position is kept).
func argmax[T float](g poolGeom, plane []T, i, j int) int {
	i0, i1, j0, j1 := g.window(i, j)
	best := i0*g.w + j0
	m := plane[best]
	for y := i0; y < i1; y++ {
		row := plane[y*g.w : (y+1)*g.w]
		for x := j0; x < j1; x++ {
			if row[x] > m {
				m, best = row[x], y*g.w+x
			}
		}
	}
	return best
}

// maxPoolOp is the forward max pooling.
type maxPoolOp struct {
	opBase
	geom poolGeom
}

func (o *maxPoolOp) Arity() int { return 1 }
func (o *maxPoolOp) Type() hm.Type {
	t := float4(o.dt)
	return hm.NewFnType(t, t)
}
func (o *maxPoolOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "maxpool2d(%v,%v)", o.geom, o.dt) }
func (o *maxPoolOp) Hashcode() uint32      { return hashOf(o) }
func (o *maxPoolOp) String() string        { return fmt.Sprintf("maxpool2d(%v)", o.geom) }
func (o *maxPoolOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}

// UsePreallocDo implements G.UsePreallocDoer.
func (o *maxPoolOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "maxpool2d", prealloc,
		func(out []float32) error { return maxPool(o.geom, in, out) },
		func(out []float64) error { return maxPool(o.geom, in, out) })
}

func maxPool[T float](g poolGeom, in []G.Value, y []T) error {
	v, err := floats[T]("maxpool2d", in...)
	if err != nil {
		return err
	}
	x := v[0]
	if len(x) != g.n*g.c*g.h*g.w {
		return fmt.Errorf("graph: maxpool2d: input holds %d values; want %dx%dx%dx%d", len(x), g.n, g.c, g.h, g.w)
	}
	plane, out := g.h*g.w, g.oh*g.ow
	for p := 0; p < g.n*g.c; p++ {
		xp, yp := x[p*plane:(p+1)*plane], y[p*out:(p+1)*out]
		if g.pair() {
			// the common 2×2/2 case without the window bookkeeping
			for i := 0; i < g.oh; i++ {
				r0, r1 := xp[2*i*g.w:], xp[(2*i+1)*g.w:]
				yr := yp[i*g.ow : (i+1)*g.ow]
				for j := range yr {
					a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
					m := a
					if b > m {
						m = b
					}
					if c > m {
						m = c
					}
					if d > m {
						m = d
					}
					yr[j] = m
				}
			}
			continue
		}
		for i := 0; i < g.oh; i++ {
			for j := 0; j < g.ow; j++ {
				yp[i*g.ow+j] = xp[argmax(g, xp, i, j)]
			}
		}
	}
	return nil
}

// DiffWRT implements G.SDOp.
func (o *maxPoolOp) DiffWRT(n int) []bool { return []bool{true} }

// SymDiff implements G.SDOp: the gradient of each window goes to its first
// maximum.
func (o *maxPoolOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&maxPoolGradOp{opBase: opBase{dt: o.dt, shape: inputs[0].Shape().Clone()}, geom: o.geom}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}

// maxPoolGradOp scatters the output gradient of a max pooling back to the
// first maximum of each window.
type maxPoolGradOp struct {
	opBase
	noDiff
	geom poolGeom
}

func (o *maxPoolGradOp) Arity() int { return 2 }
func (o *maxPoolGradOp) Type() hm.Type {
	t := float4(o.dt)
	return hm.NewFnType(t, t, t)
}
func (o *maxPoolGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "maxpool2d_dx(%v,%v)", o.geom, o.dt) }
func (o *maxPoolGradOp) Hashcode() uint32      { return hashOf(o) }
func (o *maxPoolGradOp) String() string        { return fmt.Sprintf("maxpool2d_dx(%v)", o.geom) }
func (o *maxPoolGradOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}
func (o *maxPoolGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, "maxpool2d_dx", prealloc,
		func(out []float32) error { return maxPoolGrad(o.geom, in, out) },
		func(out []float64) error { return maxPoolGrad(o.geom, in, out) })
}

func maxPoolGrad[T float](g poolGeom, in []G.Value, dx []T) error {
	v, err := floats[T]("maxpool2d_dx", in...)
	if err != nil {
		return err
	}
	x, gy := v[0], v[1]
	plane, out := g.h*g.w, g.oh*g.ow
	if len(x) != g.n*g.c*plane || len(gy) != g.n*g.c*out || len(dx) != len(x) {
		return fmt.Errorf("graph: maxpool2d_dx: inputs hold %d and %d values; want %d and %d", len(x), len(gy), g.n*g.c*plane, g.n*g.c*out)
	}
	clear(dx)
	for p := 0; p < g.n*g.c; p++ {
		xp, gp, dp := x[p*plane:(p+1)*plane], gy[p*out:(p+1)*out], dx[p*plane:(p+1)*plane]
		if g.pair() {
			for i := 0; i < g.oh; i++ {
				o0, o1 := 2*i*g.w, (2*i+1)*g.w
				for j, e := range gp[i*g.ow : (i+1)*g.ow] {
					// first maximum in row-major order, as argmax
					k, m := o0+2*j, xp[o0+2*j]
					if xp[o0+2*j+1] > m {
						k, m = o0+2*j+1, xp[o0+2*j+1]
					}
					if xp[o1+2*j] > m {
						k, m = o1+2*j, xp[o1+2*j]
					}
					if xp[o1+2*j+1] > m {
						k = o1 + 2*j + 1
					}
					dp[k] += e
				}
			}
			continue
		}
		for i := 0; i < g.oh; i++ {
			for j := 0; j < g.ow; j++ {
				dp[argmax(g, xp, i, j)] += gp[i*g.ow+j]
			}
		}
	}
	return nil
}
