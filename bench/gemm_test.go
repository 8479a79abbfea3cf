package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/contrastive-go/contrastive/graph/gemm"
)

// gemmShape is one float32 matrix product C (m×n) = op(A) (m×k) · op(B)
// (k×n) that the models run.
type gemmShape struct {
	name    string
	tA, tB  blas.Transpose
	m, n, k int
}

// gemmShapes lists the products of one training step of the default
// models and of the MNIST evaluation, with the transposes Gorgonia passes
// (gorgonia v0.9.18: Conv2d multiplies the im2col patches by the flattened
// filter transposed, and matMulDiffExpr gives the derivatives below; the
// list was checked by logging the Sgemm calls of one BenchmarkTrainStep
// step of each model). The losses' 100×100×64 distance products are left
// out.
func gemmShapes() []gemmShape {
	N, T := blas.NoTrans, blas.Trans
	s := []gemmShape{
		// ConvNet, B = 100, 1×28×28 inputs, 5×5 valid convolutions.
		// conv1: patches (100·24·24)×(1·25), filter 16×25.
		{"Conv1/Fwd", N, T, 57600, 16, 25}, // patches·Wᵀ
		{"Conv1/dX", N, N, 57600, 25, 16},  // dY·W (computed although the input is not learnable)
		{"Conv1/dW", T, N, 16, 25, 57600},  // dYᵀ·patches
		// conv2 on the pooled 16×12×12 maps: patches (100·8·8)×(16·25), filter 32×400.
		{"Conv2/Fwd", N, T, 6400, 32, 400},   // patches·Wᵀ
		{"Conv2/dX", N, N, 6400, 400, 32},    // dY·W (to col2im)
		{"Conv2/dW", T, N, 32, 400, 6400},    // dYᵀ·patches
		{"ConvProj/Fwd", N, N, 100, 64, 512}, // 32·4·4 features → 64
		{"ConvProj/dX", N, T, 100, 512, 64},
		{"ConvProj/dW", T, N, 512, 64, 100},
	}
	// MLP 784–256–128–64: x·W, dX = dY·Wᵀ, dW = Xᵀ·dY per layer.
	for _, bs := range []int{100, 256} {
		for _, l := range [][2]int{{784, 256}, {256, 128}, {128, 64}} {
			in, out := l[0], l[1]
			name := fmt.Sprintf("MLP%d-%d/B=%d", in, out, bs)
			s = append(s,
				gemmShape{name + "/Fwd", N, N, bs, out, in},
				gemmShape{name + "/dX", N, T, bs, in, out},
				gemmShape{name + "/dW", T, N, in, out, bs})
		}
	}
	// MNIST evaluation: 10,000 test queries × 60,000 references × D = 64;
	// a block of 128 queries against every reference (queries·refsᵀ), and
	// the tile models/eval multiplies per call (64 queries × 192 moved
	// references, transposed beforehand).
	return append(s,
		gemmShape{"Eval/128x60000x64", N, T, 128, 60000, 64},
		gemmShape{"EvalTile/64x192x64", N, N, 64, 192, 64})
}

// sgemmer is one float32 BLAS to compare.
type sgemmer struct {
	name string
	f    func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// sgemmers are the implementations BenchmarkGemm runs; gemm_openblas_test.go
// adds OpenBLAS under -tags openblas.
var sgemmers = []sgemmer{
	{"gemm", gemm.Sgemm},
	{"gonum", gonum.Implementation{}.Sgemm},
}

// BenchmarkGemm times each float32 product of gemmShapes with this
// module's graph/gemm and with gonum (and OpenBLAS under -tags openblas),
// interleaved per shape, reporting GFLOP/s (2mnk flops per product). Run
// it on one thread: gonum spreads large products over GOMAXPROCS
// goroutines and OpenBLAS over OPENBLAS_NUM_THREADS threads.
//
//	OPENBLAS_NUM_THREADS=1 go test -run '^$' -bench Gemm -cpu 1 -count 5 ./bench
func BenchmarkGemm(b *testing.B) {
	r := rand.New(rand.NewPCG(seed, 7))
	for _, s := range gemmShapes() {
		lda, ldb := s.k, s.n
		if s.tA != blas.NoTrans {
			lda = s.m
		}
		if s.tB != blas.NoTrans {
			ldb = s.k
		}
		a, bm := randFloat32s(r, s.m*s.k), randFloat32s(r, s.k*s.n)
		c := make([]float32, s.m*s.n)
		for _, impl := range sgemmers {
			b.Run(fmt.Sprintf("%s/m=%d/n=%d/k=%d/%s", s.name, s.m, s.n, s.k, impl.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					impl.f(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func randFloat32s(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}
