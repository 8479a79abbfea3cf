// Package graph is the Gorgonia toolkit that the losses, miners and models
// of this module share: pairwise distance matrices, label masks, stable
// masked reductions and the forward-only ops they are built from.
//
// # Shapes
//
// Embeddings are B×D float32 or float64 matrices; a reference set is R×D.
// Labels are Int vectors of length B, bound per batch with G.Let so that the
// graph is built and compiled once (the static-graph rule). Masks are B×B
// (or B×R) matrices of the embeddings' dtype holding 0 or 1.
//
// # Distances
//
// Every Distance computes its matrix in one op (after the optional
// normalisation, itself one op), all but Lp through one matrix product x·yᵀ:
//
//	SquaredEuclidean  max(0, ||x_i||² + ||y_j||² − 2 x_i·y_j)   (diagonal exactly 0 for a self matrix)
//	Euclidean         SafeSqrt of the above
//	DotProduct        x_i·y_j
//	Cosine            x_i·y_j / (||x_i|| ||y_j||)
//	Lp                (Σ_k |x_ik − y_jk|^P)^{1/P}, P ≥ 1, from the differences (no matrix product)
//
// each optionally on L2-normalised rows (Lp: rows divided by their Lp
// norm of the same order, as pytorch-metric-learning's LpDistance does).
// LargerIsCloser tells a loss whether an entry is a similarity; Orient
// flips similarities so that a loss can be written once for "smaller is
// closer".
//
// SafeSqrt returns exactly 0, with a zero gradient, for squared distances at
// or below ε (1e-10 in float32, 1e-20 in float64): below that the
// matrix-product form is rounding noise, and Gorgonia's Sqrt has an infinite
// derivative at 0.
//
// # Reductions
//
// MaskedRowMax/MaskedRowMin pass the gradient to one element per row (the
// first extreme by column), MaskedLogSumExp and MaskedLog1pSumExp shift by
// the masked row maximum so nothing overflows, and every reduction gives 0
// with a zero gradient for a row whose mask is empty, never NaN or ±Inf.
// WeightedMean and MeanNonZero divide by max(count, 1).
//
// # Fused loss kernels
//
// The B×B building blocks of the losses are single ops with derivative ops
// of their own (graph/fused.go), each one pass over its output into a
// buffer it owns, instead of the chains of Gorgonia ops (each copying its
// inputs and allocating a fresh B×B result) they replace: the pairwise
// matrix of every Distance (one matrix product plus one pass; its gradient
// one product per input), the masked row reductions above, PairwiseMax and
// PairwiseLogAddExp (no B×B operands), SubCol and MulCol (no repeated copy
// of the vector), Softplus, and two scalar sums a loss ends in: HingeSum
// (Σ w·max(0, a·x + c)^{1,2}, contrastive and lifted) and SoftplusSum
// (Σ w·softplus(s·(a·x − c)), NCE). Their passes run on all cores when the
// matrix has 2¹⁶ entries or more; the sums add per-block partial sums in
// block order, so results do not depend on the number of cores.
//
// The softmax losses have three more: RowSoftplusSum (Σ r_i·w_ij·
// softplus(v_i − z_ij), NT-Xent's per-pair terms, evaluated only where
// w ≠ 0), DiagonalCrossEntropy (each active row's softmax cross-entropy
// against its diagonal, N-pair) and ActiveDot (the dot products of the
// active rows of a fixed-capacity selection, the matrix product over the
// filled prefix only); MaskedRowSum is Σ_j mask_ij·x_ij per row; GatherRows
// selects rows by index (N-pair's anchors and positives) into a buffer it
// reuses, and scatters the gradient back into another; SqNormSum is
// Σ_i w_i·||x_i||² (N-pair's embedding penalty); ScaledMatrix is k·d(x, y)
// with k the factor of the matrix product for dot products and cosines
// (a softmax loss's 1/τ, no pass of its own); MaskedCrossEntropy is a
// row's log-sum-exp over a mask minus w_i·Σ_j target_ij·z_ij (SupCon's
// term per anchor) with a one-pass derivative. N-pair gathers its anchors
// over its positives with one GatherRows and reads the two halves with
// HalvesDot (ActiveDot of the halves, one derivative op for both);
// MeanDiagonalCrossEntropy and SqNormMean fold in the mean over the tuples
// (and SqNormMean the penalty's factor), rounding as the compositions do.
// GatherDiff is x[p] − x[n] for two index lists (a triplet's d(a,p) −
// d(a,n)), its derivative one scatter into a buffer it reuses; HingeSum of
// it is the summed hinge triplet loss. HingeSumAdd is HingeSum of x + y
// without the sum's matrix, PairAnyMask a mask times PairAny in one pass,
// and MaskedLogSumExpOf, MaskedLog1pSumExpOf and MaskedRowMaxOf reduce
// Affine(x, scale, offset) with the affine values formed a row at a time
// (the lifted losses' ε − D, ProxyNCA's and Proxy-Anchor's scaled
// similarities). RowSoftmaxMean is SoftTriple's Σ_k softmax(x/τ)_k·x_k per
// row in one op. DivAtLeastOne is one scalar op. The
// matrix products of the pairwise matrices and of ActiveDot split their
// rows over the cores when they are large (parallelProduct, the same
// values as one call). Expr's
// Add, Sub, Mul, Neg, Scale, Affine, Square and Sum (all entries or rows)
// of non-scalar float operands, and WeightedMean, are fused ops too (one
// pass into a reused buffer, where Gorgonia allocates a result, and a
// broadcast copy for a scalar operand, every run), and the forward-only
// masks (LabelMask, Indicator, PairAny) refill one buffer per run.
//
// In float32 the kernels that evaluate e^x or log over a whole matrix
// (masked log-sum-exp, SoftplusSum, PairwiseLogAddExp, DiagonalCrossEntropy)
// go through package graph/vmath a row at a time (the row maxima of the
// softmax rows too, and e^{x − max} in one pass): single-precision
// polynomials (Cephes, about 1 ulp) eight lanes wide with AVX2/FMA, or a
// portable loop (other architectures, the purego build tag). float64
// kernels call package math.
//
// # Memories
//
// A Queue is a ring buffer of the last Size rows of embeddings and their
// labels (cross-batch memory, Wang et al. 2020; MoCo's queue of keys, He
// et al. 2020), allocated once; Queue.Nodes reads it into a graph as a
// Size×D reference set and its Int labels (−1 for empty slots, which
// CrossLabelMask leaves out of every pair), with no gradient. NoGradient
// tells an op that an input carries none: the pairwise matrix of a
// Distance then builds no derivative for it (no R×D gradient product), and
// ConcatCols, Scale, the label masks and HingeCount write into buffers they
// reuse, so a step against a memory allocates nothing that grows with it.
//
// # Layers
//
// Conv2D (N×C×H×W input, O×C×KH×KW filters, stride, zero padding, bias and
// ReLU fused), MaxPool2D (k×k windows, stride, padding; the gradient goes
// to the first maximum of each window) and Linear (x·W + b, ReLU fused) are
// ops of this package with derivative ops of their own, so G.Grad
// differentiates through them. Their matrix products go through the BLAS
// that Gorgonia uses (G.WhichBLAS), so a faster one plugged in with G.Use
// serves them too. They write NCHW (or B×O) directly, and each op owns its
// output and scratch buffers and reuses them at every run of the machine
// (UsePreallocDo writes into a value Gorgonia hands it instead): a compiled
// graph allocates almost nothing for them once warm, and one graph must not
// be run by two machines at once.
//
// ConvOptions.Pool fuses k×k, stride-k max pooling into Conv2D (the
// ConvNet's conv–ReLU–pool blocks are one op each): the pooled output is
// taken straight from the convolution's product, each window's maximum is
// remembered, and the derivative writes the pooled gradient into the
// product's layout, so the full-size convolution output and its gradient
// never pass through memory. It gives the values and gradients of Conv2D
// followed by MaxPool2D bit for bit (TestConv2DPoolMatchesUnfused). The
// forward convolution unrolls, multiplies and pools a few images at a time
// (colChunkBytes), so that each block's im2col columns and product are
// still in cache when they are read back (TestConvForwardBlocksAgree); the
// input gradient builds and folds back its im2col block the same way, and
// the weight gradient multiplies col · gzᵀ, whose operands are both
// contiguous along the long batch dimension. Linear and Conv2D take
// NoInputGradient for the data at the bottom of a network, whose gradient
// nobody reads.
//
// # Running a machine
//
// Run(vm) runs a compiled TapeMachine to the end on the calling goroutine,
// as vm.RunAll does. RunAll locks its caller to the OS thread and starts a
// new goroutine for the tape on every call, so each run hands the
// processor from one OS thread to another and back; when several machines
// run at once on few cores (the data-parallel replicas of package models),
// each handoff waits for the OS scheduler. Package models runs all its
// machines with Run.
//
// # Gorgonia v0.9.18
//
// This package works around the following, each pinned by a test:
// LogSumExp is wrong (TestGorgoniaLogSumExpIsBroken), Max gives tied
// elements the full gradient each (TestGorgoniaMaxTieGradient), Sqrt has an
// infinite gradient at 0 (TestGorgoniaSqrtGradientAtZero), ByIndices is only
// right on axis 0 of a matrix (TestGorgoniaByIndicesAxis0Gradient) and slow
// at millions of indices, so Gather (flat indices, scatter-add gradient)
// replaces it (TestGather), custom ops
// are merged unless their hash covers every parameter
// (TestOpHashIncludesParameters), and constants must carry the graph's dtype
// (Const).
//
// # Backends
//
// Importing this package routes every Gorgonia matrix product (Sgemm and
// Dgemm under MatMul, Mul and the convolutions' im2col products) through
// graph/gemm: blocked, packed products with AVX-512 or AVX2+FMA assembly
// kernels chosen at run time and a portable Go kernel elsewhere (G.Use with
// gemm.Implementation, which keeps gonum's pure-Go BLAS for every other
// routine). Building with -tags openblas (Debian's libopenblas-dev, cgo)
// installs OpenBLAS instead. TestDefaultBLAS pins the default.
//
// Errors name the package and the problem ("graph: x has 2 columns, y has
// 4"); no function panics on bad input.
package graph
