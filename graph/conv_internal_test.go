package graph

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph/graphtest"
)

// TestConvWeightGradWithoutForward pins the weight gradient's own im2col
// path, taken when its forward op has not run in the same pass: against
// direct loops over dW[o,c,u,v] = Σ gz[n,o,i,j]·x[n,c,i·sh−ph+u,j·sw−pw+v].
func TestConvWeightGradWithoutForward(t *testing.T) {
	g := convGeom{n: 2, c: 2, h: 5, w: 6, o: 3, kh: 3, kw: 2, sh: 2, sw: 1, ph: 1, pw: 1}
	g.oh, g.ow = (g.h+2*g.ph-g.kh)/g.sh+1, (g.w+2*g.pw-g.kw)/g.sw+1
	r := rand.New(rand.NewPCG(13, 14))
	x := make([]float64, g.n*g.c*g.h*g.w)
	gz := make([]float64, g.o*g.n*g.oh*g.ow) // channel-major, as convGradOp writes it
	for i := range x {
		x[i] = r.NormFloat64()
	}
	for i := range gz {
		gz[i] = r.NormFloat64()
	}
	want := make([]float64, g.o*g.c*g.kh*g.kw)
	for o := 0; o < g.o; o++ {
		for c := 0; c < g.c; c++ {
			for u := 0; u < g.kh; u++ {
				for v := 0; v < g.kw; v++ {
					s := 0.0
					for n := 0; n < g.n; n++ {
						for i := 0; i < g.oh; i++ {
							for j := 0; j < g.ow; j++ {
								iy, ix := i*g.sh-g.ph+u, j*g.sw-g.pw+v
								if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
									s += gz[((o*g.n+n)*g.oh+i)*g.ow+j] * x[((n*g.c+c)*g.h+iy)*g.w+ix]
								}
							}
						}
					}
					want[((o*g.c+c)*g.kh+u)*g.kw+v] = s
				}
			}
		}
	}
	op := &convWeightGradOp{opBase: opBase{dt: tensor.Float64, shape: g.wShape()}, geom: g}
	for _, fwd := range []*convOp{nil, {ran: false}} {
		op.fwd = fwd
		v, err := op.Do(dense(x, g.n, g.c, g.h, g.w), dense(gz, g.o, g.n, g.oh, g.ow))
		require.NoError(t, err)
		graphtest.RequireAllClose(t, want, v.Data().([]float64), 1e-12, 1e-12, "dW")
	}
}

// TestConvForwardBlocksAgree: the forward convolution, run a block of
// images at a time (colChunkBytes), gives the same bits with one image per
// block as with the whole batch in one block, pooled or not, with bias and
// ReLU, for both dtypes; and its im2col matrix (kept for the weight
// gradient) is the whole batch's.
func TestConvForwardBlocksAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, pool := range []int{0, 2} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			g := convGeom{n: 5, c: 2, h: 9, w: 8, o: 3, kh: 3, kw: 2, sh: 1, sw: 1, ph: 1, pw: 0, pool: pool}
			g.oh, g.ow = (g.h+2*g.ph-g.kh)/g.sh+1, (g.w+2*g.pw-g.kw)/g.sw+1
			vals := func(n int) []float64 {
				v := make([]float64, n)
				for i := range v {
					v[i] = r.NormFloat64()
				}
				return v
			}
			x, w, b := vals(g.n*g.c*g.h*g.w), vals(g.o*g.c*g.kh*g.kw), vals(g.o)
			cast := func(v []float64, shape ...int) *tensor.Dense {
				d := dense(v, shape...)
				if dt == tensor.Float32 {
					f := make([]float32, len(v))
					for i, e := range v {
						f[i] = float32(e)
					}
					d = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
				}
				return d
			}
			var args [][]int32
			run := func(chunk int) (y, col []float64) {
				defer func(b int) { colChunkBytes = b }(colChunkBytes)
				colChunkBytes = chunk // 1 byte: one image per block
				op := &convOp{opBase: opBase{dt: dt, shape: g.yShape()}, geom: g, relu: true, bshape: tensor.Shape{g.o}}
				v, err := op.Do(cast(x, g.n, g.c, g.h, g.w), cast(w, g.o, g.c, g.kh, g.kw), cast(b, g.o))
				require.NoError(t, err)
				y, err = graphtest.Float64s(v)
				require.NoError(t, err)
				args = append(args, append([]int32(nil), op.arg...))
				if dt == tensor.Float32 {
					for _, e := range op.col.f32 {
						col = append(col, float64(e))
					}
				} else {
					col = append(col, op.col.f64...)
				}
				return y, col
			}
			yw, cw := run(1 << 30)
			y1, c1 := run(1)
			require.Equal(t, yw, y1, "pool %d, %v: output", pool, dt)
			require.Equal(t, cw, c1, "pool %d, %v: im2col", pool, dt)
			require.Equal(t, args[0], args[1], "pool %d, %v: window maxima", pool, dt)
		}
	}
}

// TestIm2colNoPad: the float32 copy path of im2col (no padding, horizontal
// stride 1) writes the same matrix as the general path (run on float64 and
// rounded: a copy is exact), and col2im's float32 path adds the same
// values in the same order as direct loops, for row lengths below, at and
// above the eight-value moves, with vertical stride 1 and 2.
func TestIm2colNoPad(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, tc := range []struct{ c, h, w, kh, kw, sh int }{
		{1, 28, 28, 5, 5, 1}, {3, 12, 12, 5, 5, 1}, {2, 7, 9, 3, 2, 1}, {2, 9, 20, 3, 4, 2}, {1, 4, 4, 4, 4, 1},
	} {
		g := convGeom{n: 2, c: tc.c, h: tc.h, w: tc.w, o: 1, kh: tc.kh, kw: tc.kw, sh: tc.sh, sw: 1}
		g.oh, g.ow = (g.h-g.kh)/g.sh+1, g.w-g.kw+1
		x64 := make([]float64, g.n*g.c*g.h*g.w)
		x32 := make([]float32, len(x64))
		for i := range x64 {
			x32[i] = r.Float32()
			x64[i] = float64(x32[i])
		}
		ld := g.n * g.cols()
		c64 := make([]float64, g.rows()*ld)
		c32 := make([]float32, len(c64))
		im2colBatch(g, x64, c64)
		im2colBatch(g, x32, c32)
		for i := range c64 {
			require.Equal(t, c64[i], float64(c32[i]), "%+v: index %d", tc, i)
		}
		// col2im's float32 path adds in the general path's order, so it
		// gives the same float32 bits as direct loops in that order
		img := g.c * g.h * g.w
		d32 := make([]float32, len(x32))
		want := make([]float32, len(x32))
		for n := 0; n < g.n; n++ {
			col2im(g, c32[n*g.cols():], d32[n*img:(n+1)*img], ld)
			// the general path's order: rows (c, u, v), then i, then j
			row := 0
			for c := 0; c < g.c; c++ {
				for u := 0; u < g.kh; u++ {
					for v := 0; v < g.kw; v++ {
						for i := 0; i < g.oh; i++ {
							for j := 0; j < g.ow; j++ {
								want[n*img+(c*g.h+i*g.sh+u)*g.w+j+v] += c32[row*ld+n*g.cols()+i*g.ow+j]
							}
						}
						row++
					}
				}
			}
		}
		require.Equal(t, want, d32, "%+v: col2im", tc)
	}
}

// TestConvInputGradBlocksAgree: the input gradient, built a block of images
// at a time (colChunkBytes), gives the same values with one image per
// block as with the whole batch in one block.
func TestConvInputGradBlocksAgree(t *testing.T) {
	g := convGeom{n: 3, c: 2, h: 7, w: 6, o: 4, kh: 3, kw: 3, sh: 1, sw: 2, ph: 1, pw: 0}
	g.oh, g.ow = (g.h+2*g.ph-g.kh)/g.sh+1, (g.w+2*g.pw-g.kw)/g.sw+1
	r := rand.New(rand.NewPCG(15, 16))
	vals := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		return v
	}
	w, gz := vals(g.o*g.c*g.kh*g.kw), vals(g.o*g.n*g.oh*g.ow)
	defer func(b int) { colChunkBytes = b }(colChunkBytes)
	run := func(chunk int) []float64 {
		colChunkBytes = chunk // 1 byte: one image per block
		op := &convInputGradOp{opBase: opBase{dt: tensor.Float64, shape: g.xShape()}, geom: g}
		v, err := op.Do(dense(w, g.o, g.c, g.kh, g.kw), dense(gz, g.o, g.n, g.oh, g.ow))
		require.NoError(t, err)
		return append([]float64(nil), v.Data().([]float64)...)
	}
	whole, one := run(1<<30), run(1)
	graphtest.RequireAllClose(t, whole, one, 1e-12, 1e-12, "dx")
	// and both are the adjoint of the forward convolution: ⟨conv(x), gz⟩ = ⟨x, dx⟩
	x := vals(g.n * g.c * g.h * g.w)
	fwd := &convOp{opBase: opBase{dt: tensor.Float64, shape: g.outShape()}, geom: g}
	y, err := fwd.Do(dense(x, g.n, g.c, g.h, g.w), dense(w, g.o, g.c, g.kh, g.kw))
	require.NoError(t, err)
	yv := y.Data().([]float64) // N×O×OH×OW; gz is O×N×OH×OW
	lhs, rhs := 0.0, 0.0
	cols := g.oh * g.ow
	for n := 0; n < g.n; n++ {
		for o := 0; o < g.o; o++ {
			for k := 0; k < cols; k++ {
				lhs += yv[(n*g.o+o)*cols+k] * gz[(o*g.n+n)*cols+k]
			}
		}
	}
	for i := range x {
		rhs += x[i] * one[i]
	}
	graphtest.RequireClose(t, lhs, rhs, 1e-10, 1e-10, "adjoint")
}
