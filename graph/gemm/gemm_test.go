package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas"
)

// naive is the float64 triple loop C = alpha·op(A)·op(B) + beta·C (beta = 0
// does not read C), and the bound Σ|alpha·a·b| + |beta·c| per element that
// scales the rounding error of a float32 or float64 product.
func naive[T float](tA, tB bool, m, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) (want, bound []float64) {
	want = make([]float64, m*n)
	bound = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, mag float64
			for p := range k {
				ia, ib := i*lda+p, p*ldb+j
				if tA {
					ia = p*lda + i
				}
				if tB {
					ib = j*ldb + p
				}
				av, bv := a[ia], b[ib]
				s += float64(av) * float64(bv)
				mag += math.Abs(float64(av) * float64(bv))
			}
			s *= alpha
			mag *= math.Abs(alpha)
			if beta != 0 {
				s += beta * float64(c[i*ldc+j])
				mag += math.Abs(beta * float64(c[i*ldc+j]))
			}
			want[i*n+j], bound[i*n+j] = s, mag
		}
	}
	return want, bound
}

// problem is one product with padded strides and random operands.
type problem struct {
	tA, tB       bool
	m, n, k      int
	padA, padB   int // extra elements per row beyond the stored width
	padC         int
	alpha, beta  float64
	nanC         bool // fill C with NaN (only meaningful with beta = 0)
	seed1, seed2 uint64
}

func (p problem) String() string {
	return fmt.Sprintf("tA=%v/tB=%v/m=%d/n=%d/k=%d/pad=%d,%d,%d/alpha=%g/beta=%g/nan=%v",
		p.tA, p.tB, p.m, p.n, p.k, p.padA, p.padB, p.padC, p.alpha, p.beta, p.nanC)
}

// check runs p through kernel kn and compares every element of C with the
// float64 oracle, and every padding element of C with its old value.
func check[T float](t testing.TB, kn *kernel[T], p problem) {
	t.Helper()
	r := rand.New(rand.NewPCG(p.seed1, p.seed2))
	rowsA, colsA := p.m, p.k
	if p.tA {
		rowsA, colsA = p.k, p.m
	}
	rowsB, colsB := p.k, p.n
	if p.tB {
		rowsB, colsB = p.n, p.k
	}
	lda, ldb, ldc := max(1, colsA+p.padA), max(1, colsB+p.padB), max(1, p.n+p.padC)
	fill := func(rows, ld int) []T {
		s := make([]T, rows*ld)
		for i := range s {
			s[i] = T(r.Float64()*2 - 1)
		}
		return s
	}
	a, b, c := fill(rowsA, lda), fill(rowsB, ldb), fill(p.m, ldc)
	if p.nanC {
		for i := range c {
			c[i] = T(math.NaN())
		}
	}
	want, bound := naive(p.tA, p.tB, p.m, p.n, p.k, p.alpha, a, lda, b, ldb, p.beta, c, ldc)
	old := append([]T(nil), c...)
	gemm(kn, p.tA, p.tB, p.m, p.n, p.k, T(p.alpha), a, lda, b, ldb, T(p.beta), c, ldc)

	var z T
	eps := 0x1p-52
	if any(z) == any(float32(0)) {
		eps = 0x1p-23
	}
	for i := range p.m {
		for j := range ldc {
			got := float64(c[i*ldc+j])
			if j >= p.n {
				if !(got == float64(old[i*ldc+j]) || p.nanC) {
					t.Fatalf("%s %v: C[%d][%d] outside the product changed: %g → %g", kn.name, p, i, j, old[i*ldc+j], got)
				}
				continue
			}
			w, bd := want[i*p.n+j], bound[i*p.n+j]
			// Rounding error of a k-term dot product plus the scaling:
			// at most (k+2)·eps·Σ|terms| (Higham 2002, §3.1); 1e-30
			// absolute for exact zeros.
			tol := float64(p.k+2)*eps*bd + 1e-30
			if math.IsNaN(got) || math.Abs(got-w) > tol {
				t.Fatalf("%s %v: C[%d][%d] = %g, want %g ± %g", kn.name, p, i, j, got, w, tol)
			}
		}
	}
}

// small returns copies of ks with tiny cache blocks, so that products of a
// few dozen rows cross every loop of the blocking (several mc, kc and nc
// blocks, partial blocks, edge tiles).
func small[T float](ks []*kernel[T]) []*kernel[T] {
	out := append([]*kernel[T](nil), ks...)
	for _, k := range ks {
		s := *k
		s.name += "/small-blocks"
		s.mc, s.kc, s.nc = 2*s.mr, 7, 2*s.nr
		out = append(out, &s)
	}
	return out
}

// sizes samples 1..67: every size up to 9, around the tile multiples, and
// the largest.
var sizes = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 33, 47, 48, 49, 64, 67}

func problems(seed uint64) []problem {
	r := rand.New(rand.NewPCG(seed, 1))
	pick := func() int { return sizes[r.IntN(len(sizes))] }
	scalars := []struct {
		alpha, beta float64
		nan         bool
	}{{1, 0, true}, {1, 1, false}, {-0.5, 2.5, false}, {0, 0.5, false}, {0, 0, true}, {2, 0, false}}
	var ps []problem
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, s := range scalars {
				for range 12 {
					ps = append(ps, problem{tA: tA, tB: tB, m: pick(), n: pick(), k: pick(),
						padA: r.IntN(3) * 3, padB: r.IntN(3) * 5, padC: r.IntN(3),
						alpha: s.alpha, beta: s.beta, nanC: s.nan, seed1: r.Uint64(), seed2: r.Uint64()})
				}
			}
		}
	}
	return ps
}

func TestGemmFloat32(t *testing.T) {
	ks := small(kernels32())
	for _, p := range problems(1) {
		for _, kn := range ks {
			check(t, kn, p)
		}
	}
}

func TestGemmFloat64(t *testing.T) {
	ks := small(kernels64())
	for _, p := range problems(2) {
		for _, kn := range ks {
			check(t, kn, p)
		}
	}
}

// TestKernels pins that this machine's tests cover the assembly and the
// portable paths: on amd64 with AVX2 at least two kernels run.
func TestKernels(t *testing.T) {
	k32, k64 := kernels32(), kernels64()
	require.Equal(t, "go4x4", k32[len(k32)-1].name)
	require.Equal(t, "go4x4", k64[len(k64)-1].name)
	n32, n64 := Kernel()
	require.Equal(t, names(usable(k32)), n32)
	require.Equal(t, names(usable(k64)), n64)
	t.Logf("kernels: float32 %v, float64 %v", names(k32), names(k64))
}

func TestChoose(t *testing.T) {
	a := &kernel[float32]{name: "a", mr: 24, nr: 16}
	b := &kernel[float32]{name: "b", mr: 6, nr: 16}
	ks := []*kernel[float32]{a, b}
	require.Equal(t, "b", choose(ks, 100, 64).name)  // 102 rows < 120
	require.Equal(t, "a", choose(ks, 4800, 32).name) // a tie goes to the first
	require.Equal(t, "a", choose(ks[:1], 1, 1).name)
}

// TestEdges covers the sizes around every register tile for both types,
// each transpose pair, through the public entry points and the kernels.
func TestEdges(t *testing.T) {
	for _, kn := range kernels32() {
		for _, d := range []int{kn.mr - 1, kn.mr, kn.mr + 1, 2*kn.mr + 1} {
			for _, e := range []int{kn.nr - 1, kn.nr, kn.nr + 1} {
				for _, tt := range [4][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					check(t, kn, problem{tA: tt[0], tB: tt[1], m: d, n: e, k: 13, padA: 1, padB: 2, padC: 3, alpha: 1, nanC: true, seed1: uint64(d), seed2: uint64(e)})
				}
			}
		}
	}
	for _, kn := range kernels64() {
		for _, d := range []int{kn.mr - 1, kn.mr + 1} {
			for _, e := range []int{kn.nr - 1, kn.nr + 1} {
				check(t, kn, problem{tA: true, tB: true, m: d, n: e, k: 300, alpha: 1, beta: 1, seed1: uint64(d), seed2: uint64(e)})
			}
		}
	}
}

// TestLarge crosses the real blocking (several kc, mc and nc blocks) of
// the kernels in use.
func TestLarge(t *testing.T) {
	kn := kernels32()[0]
	check(t, kn, problem{m: kn.mc + 7, n: kn.nc + 5, k: kn.kc + 3, alpha: 1, beta: 0.5, padC: 1, seed1: 3, seed2: 4})
	kd := kernels64()[0]
	check(t, kd, problem{tA: true, tB: true, m: kd.mc + 1, n: 40, k: 2*kd.kc + 1, alpha: -1, nanC: true, seed1: 5, seed2: 6})
}

func TestPublic(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6} // 2×3
	b := []float32{1, 0, 0, 1, 1, 1} // 3×2
	c := []float32{float32(math.NaN()), 9, 9, 9}
	Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	// [1 2 3; 4 5 6]·[1 0; 0 1; 1 1] by hand.
	require.Equal(t, []float32{4, 5, 10, 11}, c)
	d := []float64{1, 1, 1, 1}
	Implementation{}.Dgemm(blas.Trans, blas.NoTrans, 2, 2, 3, 2, []float64{1, 4, 2, 5, 3, 6}, 2, []float64{1, 0, 0, 1, 1, 1}, 2, -1, d, 2)
	// 2·the same product − 1.
	require.Equal(t, []float64{7, 9, 19, 21}, d)
}

func TestCheck(t *testing.T) {
	N, T := blas.NoTrans, blas.Trans
	cases := []struct {
		name                               string
		tA, tB                             blas.Transpose
		m, n, k, la, lda, lb, ldb, lc, ldc int
		want                               string
	}{
		{"ok", N, N, 2, 3, 4, 8, 4, 12, 3, 6, 3, ""},
		{"ok-empty", N, N, 0, 3, 4, 0, 4, 12, 3, 0, 3, ""},
		{"transpose", 'x', N, 2, 3, 4, 8, 4, 12, 3, 6, 3, "gemm: bad transpose of A"},
		{"transpose-B", N, 'x', 2, 3, 4, 8, 4, 12, 3, 6, 3, "gemm: bad transpose of B"},
		{"m", N, N, -1, 3, 4, 8, 4, 12, 3, 6, 3, "gemm: m < 0"},
		{"n", N, N, 2, -3, 4, 8, 4, 12, 3, 6, 3, "gemm: n < 0"},
		{"k", N, N, 2, 3, -4, 8, 4, 12, 3, 6, 3, "gemm: k < 0"},
		{"lda", N, N, 2, 3, 4, 8, 3, 12, 3, 6, 3, "gemm: lda is shorter than a row of A"},
		{"lda-trans", T, N, 2, 3, 4, 8, 1, 12, 3, 6, 3, "gemm: lda is shorter than a row of A"},
		{"ldb", N, N, 2, 3, 4, 8, 4, 12, 2, 6, 3, "gemm: ldb is shorter than a row of B"},
		{"ldc", N, N, 2, 3, 4, 8, 4, 12, 3, 6, 2, "gemm: ldc is shorter than a row of C"},
		{"a", N, N, 2, 3, 4, 7, 4, 12, 3, 6, 3, "gemm: a is too short for A"},
		{"b", N, T, 2, 3, 4, 8, 4, 11, 4, 6, 3, "gemm: b is too short for B"},
		{"c", N, N, 2, 3, 4, 8, 4, 12, 3, 5, 3, "gemm: c is too short for C"},
		{"overflow", N, N, 2, 3, 4, 8, math.MaxInt, 12, 3, 6, 3, "gemm: a is too short for A"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.la, tc.lda, tc.lb, tc.ldb, tc.lc, tc.ldc)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.want)
			require.PanicsWithValue(t, tc.want, func() {
				Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, 1, make([]float32, tc.la), tc.lda, make([]float32, tc.lb), tc.ldb, 0, make([]float32, tc.lc), tc.ldc)
			})
		})
	}
}

// FuzzGemm compares every kernel (with the real and with tiny cache
// blocks) against the float64 loops on fuzzed shapes, strides and scalars.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(5), uint8(7), uint8(3), uint8(0), uint8(1), int8(2), int8(0), true, uint64(1))
	f.Add(uint8(25), uint8(17), uint8(40), uint8(3), uint8(0), int8(-1), int8(1), false, uint64(2))
	f.Fuzz(func(t *testing.T, m, n, k, trans, pad uint8, alpha, beta int8, f64 bool, seed uint64) {
		p := problem{tA: trans&1 != 0, tB: trans&2 != 0, m: int(m % 70), n: int(n % 70), k: int(k % 70),
			padA: int(pad % 4), padB: int(pad / 4 % 4), padC: int(pad / 16 % 4),
			alpha: float64(alpha) / 4, beta: float64(beta) / 4, seed1: seed, seed2: seed >> 7}
		p.nanC = p.beta == 0
		if f64 {
			for _, kn := range small(kernels64()) {
				check(t, kn, p)
			}
			return
		}
		for _, kn := range small(kernels32()) {
			check(t, kn, p)
		}
	})
}

// TestWarmCallsDoNotAllocate pins that the packed panels are reused: once
// a product of some size has run, the next allocates nothing, even after
// garbage collections (which would empty a sync.Pool).
func TestWarmCallsDoNotAllocate(t *testing.T) {
	mallocs := func(f func()) uint64 {
		runtime.GC()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	a, b, c := make([]float32, 300*200), make([]float32, 200*100), make([]float32, 300*100)
	run := func() { Sgemm(blas.NoTrans, blas.NoTrans, 300, 100, 200, 1, a, 200, b, 100, 0, c, 100) }
	run()
	require.Zero(t, mallocs(run))
	ad, bd, cd := make([]float64, 50*100), make([]float64, 50*300), make([]float64, 100*300)
	runD := func() { Dgemm(blas.Trans, blas.NoTrans, 100, 300, 50, 1, ad, 100, bd, 300, 0, cd, 300) }
	runD()
	require.Zero(t, mallocs(runD))
}
