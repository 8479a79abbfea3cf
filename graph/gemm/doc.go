// Package gemm is a general matrix product for float32 and float64,
//
//	C = alpha·op(A)·op(B) + beta·C,   op(A) m×k, op(B) k×n, C m×n,
//
// on row-major matrices with any row strides (lda, ldb, ldc) and every
// transpose pair, with the arguments and semantics of gonum's blas.Float32
// Sgemm and blas.Float64 Dgemm. With beta = 0, C is only written (NaN or
// garbage in C never reaches the result); with alpha = 0 or k = 0, A and B
// are not read. Implementation wraps gonum's pure-Go BLAS with these two
// routines, for Gorgonia's G.Use; package graph installs it by default. The
// package imports neither Gorgonia nor cgo.
//
// # Blocking
//
// The loop nest is BLIS's (Van Zee and van de Geijn, "BLIS: A Framework
// for Rapidly Instantiating BLAS Functionality", ACM TOMS 41(3), 2015;
// Goto and van de Geijn, "Anatomy of High-Performance Matrix
// Multiplication", ACM TOMS 34(3), 2008):
//
//	for jc in steps of nc over n:           panel of B, kept in L3
//	  for pc in steps of kc over k:
//	    pack op(B)[pc:pc+kc, jc:jc+nc] into slivers of nr columns
//	    for ic in steps of mc over m:       block of A, kept in L2
//	      pack alpha·op(A)[ic:ic+mc, pc:pc+kc] into slivers of mr rows
//	      for jr in steps of nr:            one sliver of B, kept in L1
//	        for ir in steps of mr:
//	          micro-kernel: the mr×nr tile of C += sliver A · sliver B
//
// Packing copies each block once into k-major slivers (mr values of A, nr
// values of B per k step) in buffers kept on a free list (not emptied by
// garbage collections, unlike a sync.Pool), so a warm call allocates
// nothing. Packing absorbs the transposes and the strides
// (the kernels only see packed data) and alpha (scaled into A). beta is
// applied to C before the first slab (or, for beta = 0, by storing the
// first slab's tiles instead of adding them). Tiles that C's right edge
// cuts are loaded and stored under a lane mask (AVX-512 opmask registers,
// AVX2 VMASKMOVPS/PD); tiles that its bottom edge cuts are computed whole
// into a small buffer (the packed slivers are zero-padded) and only their
// inside is stored.
//
// Narrow products (n ≤ 64, alpha = 1) skip packing A: each packed element
// of A would serve at most four slivers of B, so packing it costs about as
// much as the arithmetic. Their kernels read A in place instead, a direct
// kernel the mr rows of an untransposed A (row i at a + i·lda) and a
// strided kernel mr columns of a transposed one (k step p at a + p·lda);
// only a last partial sliver of rows is packed. The im2col products of the
// ConvNet's forward pass (n = 16 and 32 channels) and the MLP's last layer
// take this path. Likewise short products (m ≤ 64) read full slivers of an
// untransposed B in place (row p at b + p·ldb), as in the convolutions'
// filter gradients (m = 16 and 32 channels, k = 57600 and 6400).
//
// # Kernels and dispatch
//
// The instruction sets are detected once at start-up
// (golang.org/x/sys/cpu); Kernel names the kernels in use. Each call then
// takes the kernel whose tiles pad its m×n least (ties to the first listed
// below): on AMD Zen 4, which splits a 512-bit FMA into two 256-bit halves,
// the AVX2 6×16 tile runs as fast per element as the AVX-512 24×16 one,
// so padding decides (B = 100 rows fill 102 rows of 6-row tiles but 120 of
// 24-row ones).
//
//	kernel         tile (mr×nr)   registers              mc × kc × nc
//	avx512-24x16   24×16 float32  24 zmm accumulators    240 × 256 × 3072
//	avx512-24x8    24×8  float64  24 zmm accumulators    240 × 256 × 3072
//	avx2-6x16      6×16  float32  12 ymm accumulators    240 × 256 × 3072
//	avx2-6x8       6×8   float64  12 ymm accumulators    120 × 256 × 3072
//	go4x4          4×4   either   16 scalars (portable)  128 × 256 × 2048
//
// The assembly kernels need AVX-512 (F and DQ) or AVX2 with FMA; the
// portable Go kernel serves other CPUs and architectures and builds with
// -tags purego. The tile shapes follow the register files: AVX-512's 32
// registers hold 24 accumulators and one vector of B, each k step
// multiplying it by 24 values of A broadcast from memory (embedded
// broadcast); AVX2's 16 registers hold BLIS's 6×16 Haswell tile. One
// vector per row keeps nr at 16 float32 so that the 16-channel
// convolution of the default ConvNet wastes no lanes. kc = 256 keeps one
// sliver of B (16 KiB) in the 32 KiB L1 cache, mc = 240 a block of A
// (240 KiB float32) in the 1 MiB L2 of AMD Zen 4, the CPU these sizes were
// tuned on.
//
// The assembly (kernels_amd64.s) is generated from internal/asmgen, a
// separate module using github.com/mmcloughlin/avo, by go generate; users
// never build it. The tests run every kernel the CPU supports plus the
// portable one, with the real and with tiny cache blocks, against float64
// loops (gemm_test.go, FuzzGemm).
//
// # Errors
//
// Sgemm, Dgemm and Implementation's methods panic on bad arguments, as
// BLAS routines do and as Gorgonia expects; Check returns the same
// conditions as an error for callers that want one.
//
// Products run on the calling goroutine: parallelism belongs to the
// caller (data-parallel training, models/eval's workers).
package gemm
