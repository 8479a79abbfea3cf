package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// adamCase is one input of the kernel tests: n values drawn around the
// scales of a training step (weights ~0.1, gradients ~1e-3, moments of
// earlier steps), with decay and step number varied.
type adamCase struct {
	n     int
	decay float64
	t     int
}

func adamCases() []adamCase {
	var out []adamCase
	for _, n := range []int{0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 67, 1000} {
		out = append(out, adamCase{n, 0, 1}, adamCase{n, 1e-2, 7})
	}
	return out
}

// fill returns w, grad, m, v for a case, as T, from a fixed seed.
func fill[T Float](c adamCase, seed uint64) (w, g, m, v []T) {
	r := rand.New(rand.NewPCG(seed, uint64(c.n)))
	w, g, m, v = make([]T, c.n), make([]T, c.n), make([]T, c.n), make([]T, c.n)
	for i := range w {
		w[i] = T(0.1 * r.NormFloat64())
		g[i] = T(1e-3 * r.NormFloat64())
		if c.t > 1 {
			m[i] = T(1e-4 * r.NormFloat64())
			v[i] = T(1e-7 * r.Float64())
		}
	}
	return w, g, m, v
}

func clone[T any](s []T) []T { return append(make([]T, 0, len(s)), s...) }

// withPortable runs f with the assembly kernels off.
func withPortable(f func()) {
	old := useAVX
	useAVX = false
	defer func() { useAVX = old }()
	f()
}

// oracle is the update in float64 from values of T: what the kernel
// computes, up to T's rounding of each operation.
func oracle[T Float](c adamCase, w, g, m, v []T) (nw, nm, nv []float64) {
	const lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
	c1, c2 := 1-math.Pow(b1, float64(c.t)), 1-math.Pow(b2, float64(c.t))
	for i := range w {
		gi := float64(g[i]) + c.decay*float64(w[i])
		mi := b1*float64(m[i]) + (1-b1)*gi
		vi := b2*float64(v[i]) + (1-b2)*gi*gi
		nm = append(nm, mi)
		nv = append(nv, vi)
		nw = append(nw, float64(w[i])-lr/c1*mi/(math.Sqrt(vi)/math.Sqrt(c2)+eps))
	}
	return nw, nm, nv
}

// close64 is |got − want| ≤ abs + rel·|want|.
func close64(t *testing.T, want, got []float64, abs, rel float64, what string) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > abs+rel*math.Abs(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v (difference %v)", what, i, got[i], want[i], d)
		}
	}
}

func to64[T Float](s []T) []float64 {
	out := make([]float64, len(s))
	for i, e := range s {
		out[i] = float64(e)
	}
	return out
}

// testAdam checks one dtype: the update against the float64 oracle, the
// check pass (write false) against the write pass, and the assembly path
// against the portable one bit for bit.
func testAdam[T Float](t *testing.T, rel float64) {
	for _, c := range adamCases() {
		t.Run(fmt.Sprintf("n=%d/decay=%g/t=%d", c.n, c.decay, c.t), func(t *testing.T) {
			a := NewAdam[T](1e-3, 0.9, 0.999, 1e-8, c.decay, c.t)
			w, g, m, v := fill[T](c, 1)
			ww, wm, wv := oracle(c, w, g, m, v)

			// check pass: nothing changes
			w0, g0, m0, v0 := clone(w), clone(g), clone(m), clone(v)
			require.True(t, a.Update(w, g, m, v, false))
			require.Equal(t, w0, w)
			require.Equal(t, m0, m)
			require.Equal(t, v0, v)

			require.True(t, a.Update(w, g, m, v, true))
			require.Equal(t, g0, g, "the gradient changed")
			// m' and v' may cancel: their rounding is relative to the
			// scales of their terms (m ~1e-4, v ~1e-7), not to the result
			close64(t, wm, to64(m), rel*1e-4, rel, "m")
			close64(t, wv, to64(v), rel*1e-7, rel, "v")
			// the step is ~1e-3: its rounding is relative to it, not to w
			close64(t, ww, to64(w), rel*1e-2, rel, "w")

			// the portable loop gives the same bits
			pw, pm, pv := clone(w0), clone(m0), clone(v0)
			withPortable(func() { require.True(t, a.Update(pw, g0, pm, pv, true)) })
			require.Equal(t, w, pw, "weights: assembly and portable paths differ")
			require.Equal(t, m, pm, "first moments: assembly and portable paths differ")
			require.Equal(t, v, pv, "second moments: assembly and portable paths differ")
		})
	}
}

func TestAdamFloat32(t *testing.T) { testAdam[float32](t, 2e-6) }
func TestAdamFloat64(t *testing.T) { testAdam[float64](t, 1e-13) }

// TestAdamFirstStep pins Adam's first step: with m̂ = g and v̂ = g² the
// update is lr·g/(|g| + ε), for g = 2 and −0.5 (hand-derived from the
// formula in the package doc).
func TestAdamFirstStep(t *testing.T) {
	w, g := []float64{2, -0.5}, []float64{2, -0.5}
	m, v := make([]float64, 2), make([]float64, 2)
	require.True(t, NewAdam[float64](0.1, 0.9, 0.999, 1e-8, 0, 1).Update(w, g, m, v, true))
	require.InDelta(t, 2-0.1*2/(2+1e-8), w[0], 1e-15)
	require.InDelta(t, -0.5+0.1*0.5/(0.5+1e-8), w[1], 1e-15)
}

// TestAdamNotFinite: a NaN or infinite gradient, or one whose square
// overflows the second moment, at any position (a vector lane or the
// scalar tail), makes Update report false, in both paths and both passes.
func TestAdamNotFinite(t *testing.T) {
	for _, path := range []string{"asm", "portable"} {
		for _, n := range []int{1, 8, 13, 40} {
			for _, pos := range []int{0, n / 2, n - 1} {
				for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e30} {
					t.Run(fmt.Sprintf("%s/n=%d/pos=%d/%v", path, n, pos, bad), func(t *testing.T) {
						run := func(f func()) { f() }
						if path == "portable" {
							run = withPortable
						}
						run(func() {
							w, g, m, v := fill[float32](adamCase{n: n, t: 2}, 3)
							g[pos] = float32(bad) // 1e30² overflows float32
							a := NewAdam[float32](1e-3, 0.9, 0.999, 1e-8, 0, 2)
							require.False(t, a.Update(w, g, m, v, false))
							w64, g64, m64, v64 := fill[float64](adamCase{n: n, t: 2}, 3)
							g64[pos] = bad * bad * bad * bad * bad * bad * bad * bad * bad * bad * bad // 1e330: +Inf
							require.False(t, NewAdam[float64](1e-3, 0.9, 0.999, 1e-8, 0, 2).Update(w64, g64, m64, v64, false))
						})
					})
				}
			}
		}
	}
}

// FuzzAdamPaths: for any values the assembly and portable paths agree bit
// for bit (NaNs compared as NaNs) and report the same finiteness.
func FuzzAdamPaths(f *testing.F) {
	f.Add(uint64(1), 9, 1e-2, 3)
	f.Add(uint64(2), 33, 0.0, 1)
	f.Fuzz(func(t *testing.T, seed uint64, n int, decay float64, step int) {
		if n < 0 || n > 1<<12 || step < 1 || step > 1<<20 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 0))
		w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range w {
			w[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(9)-4)))
			g[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(9)-6)))
			m[i] = float32(r.NormFloat64() * 1e-3)
			v[i] = float32(r.Float64() * 1e-5)
		}
		a := NewAdam[float32](1e-3, 0.9, 0.999, 1e-8, decay, step)
		pw, pg, pm, pv := clone(w), clone(g), clone(m), clone(v)
		fa := a.Update(w, g, m, v, true)
		var fp bool
		withPortable(func() { fp = a.Update(pw, pg, pm, pv, true) })
		require.Equal(t, fp, fa)
		for i := range w {
			for _, p := range [][2]float32{{w[i], pw[i]}, {m[i], pm[i]}, {v[i], pv[i]}} {
				if p[0] != p[1] && !(p[0] != p[0] && p[1] != p[1]) {
					t.Fatalf("index %d: assembly %v, portable %v", i, p[0], p[1])
				}
			}
		}
	})
}
