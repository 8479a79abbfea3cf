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
