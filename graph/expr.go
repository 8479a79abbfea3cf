package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Expr builds an expression on a Gorgonia graph and keeps the first error,
// so that a formula reads as one line per step instead of one error check
// per operation (the style of bufio.Scanner and of GoMLX's ops):
//
//	e := graph.NewExpr(dt)
//	v := e.Add(e.Sub(dap, dan), e.Const(margin)) // d(a,p) − d(a,n) + ε
//	loss := e.Sum(e.Relu(v))
//	if err := e.Err(); err != nil { … }
//
// After the first failure every method returns nil and does nothing; Err
// returns that failure. Binary operations broadcast a scalar operand
// (Mul and Div are elementwise otherwise, never matrix products). Every
// method also accepts nil nodes and records an error for them, so a
// missing input surfaces from Err, never as a panic.
type Expr struct {
	dt  tensor.Dtype
	err error
}

// NewExpr returns a builder whose constants have dtype dt (float32 or
// float64: Gorgonia requires a constant to have the dtype of the nodes it
// meets).
func NewExpr(dt tensor.Dtype) *Expr { return &Expr{dt: dt} }

// Err returns the first error met, or nil.
func (e *Expr) Err() error { return e.err }

// Dtype returns the dtype of the builder's constants.
func (e *Expr) Dtype() tensor.Dtype { return e.dt }

// Fail records err (the first one wins) unless it is nil.
func (e *Expr) Fail(err error) {
	if e.err == nil && err != nil {
		e.err = err
	}
}

// Do runs f unless an error is already recorded, records its error, and
// returns its node: the way to put any (node, error) function in a formula.
func (e *Expr) Do(f func() (*G.Node, error)) *G.Node {
	if e.err != nil {
		return nil
	}
	n, err := f()
	if err != nil {
		e.err = err
		return nil
	}
	return n
}

// ok reports whether the builder can go on with inputs in, recording an
// error for a nil input.
func (e *Expr) ok(what string, in ...*G.Node) bool {
	if e.err != nil {
		return false
	}
	for i, n := range in {
		if n == nil {
			e.err = fmt.Errorf("graph: %s: input %d is nil", what, i)
			return false
		}
	}
	return true
}

func (e *Expr) unary(what string, f func(*G.Node) (*G.Node, error), x *G.Node) *G.Node {
	if !e.ok(what, x) {
		return nil
	}
	return e.Do(func() (*G.Node, error) { return f(x) })
}

func (e *Expr) binary(what string, f func(a, b *G.Node) (*G.Node, error), a, b *G.Node) *G.Node {
	if !e.ok(what, a, b) {
		return nil
	}
	return e.Do(func() (*G.Node, error) { return f(a, b) })
}

// Const returns the scalar constant v of the builder's dtype.
func (e *Expr) Const(v float64) *G.Node { return constant(e.dt, v) }

// sameShape reports whether a and b are non-scalar tensors of one shape
// and float dtype: the operands of the fused elementwise ops.
func sameShape(a, b *G.Node) bool {
	return !a.IsScalar() && a.Shape().Eq(b.Shape()) && a.Dtype() == b.Dtype() &&
		(a.Dtype() == tensor.Float32 || a.Dtype() == tensor.Float64)
}

// elementwise returns kind's fused op for same-shape operands, else
// Gorgonia's op.
func elementwise(kind ewKind, gorgonia func(a, b *G.Node) (*G.Node, error)) func(a, b *G.Node) (*G.Node, error) {
	return func(a, b *G.Node) (*G.Node, error) {
		if sameShape(a, b) {
			return ewBinary(kind, a, b)
		}
		return gorgonia(a, b)
	}
}

// Add returns a + b.
func (e *Expr) Add(a, b *G.Node) *G.Node { return e.binary("add", elementwise(ewAdd, G.Add), a, b) }

// Sub returns a − b.
func (e *Expr) Sub(a, b *G.Node) *G.Node { return e.binary("sub", elementwise(ewSub, G.Sub), a, b) }

// Mul returns a ⊙ b (elementwise; a scalar operand broadcasts).
func (e *Expr) Mul(a, b *G.Node) *G.Node {
	return e.binary("mul", elementwise(ewMul, func(a, b *G.Node) (*G.Node, error) {
		if a.IsScalar() || b.IsScalar() {
			return G.Mul(a, b)
		}
		return G.HadamardProd(a, b)
	}), a, b)
}

// Div returns a ⊘ b (elementwise; a scalar operand broadcasts).
func (e *Expr) Div(a, b *G.Node) *G.Node {
	return e.binary("div", func(a, b *G.Node) (*G.Node, error) {
		if a.IsScalar() || b.IsScalar() {
			return G.Div(a, b)
		}
		return G.HadamardDiv(a, b)
	}, a, b)
}

// Scale returns c·x.
func (e *Expr) Scale(x *G.Node, c float64) *G.Node {
	return e.unary("scale", func(x *G.Node) (*G.Node, error) { return Scale(x, c) }, x)
}

// Affine returns scale·x + offset elementwise (see Affine).
func (e *Expr) Affine(x *G.Node, scale, offset float64) *G.Node {
	return e.unary("affine", func(x *G.Node) (*G.Node, error) { return Affine(x, scale, offset) }, x)
}

// Neg returns −x.
func (e *Expr) Neg(x *G.Node) *G.Node {
	return e.unary("neg", func(x *G.Node) (*G.Node, error) {
		if x.IsScalar() {
			return G.Neg(x)
		}
		return affine(x, -1, 0)
	}, x)
}

// Square returns x² elementwise.
func (e *Expr) Square(x *G.Node) *G.Node {
	return e.unary("square", func(x *G.Node) (*G.Node, error) {
		if isFloatTensor(x) {
			return square(x)
		}
		return G.Square(x)
	}, x)
}

// isFloatTensor reports whether x is a non-scalar float32 or float64
// node: what the fused elementwise ops and sums take.
func isFloatTensor(x *G.Node) bool {
	return !x.IsScalar() && (x.Dtype() == tensor.Float32 || x.Dtype() == tensor.Float64)
}

// Relu returns max(0, x) elementwise (the hinge).
func (e *Expr) Relu(x *G.Node) *G.Node { return e.unary("relu", G.Rectify, x) }

// Softplus returns log(1 + eˣ) elementwise (see Softplus).
func (e *Expr) Softplus(x *G.Node) *G.Node { return e.unary("softplus", Softplus, x) }

// Sum returns the sum of x over the given axes, or of every entry.
func (e *Expr) Sum(x *G.Node, axes ...int) *G.Node {
	return e.unary("sum", func(x *G.Node) (*G.Node, error) {
		switch {
		case !isFloatTensor(x):
		case len(axes) == 0:
			return sumAll(x)
		case len(axes) == 1 && axes[0] == 1 && x.Dims() == 2:
			return sumRows(x)
		}
		return G.Sum(x, axes...)
	}, x)
}

// Mean returns the mean of every entry of x.
func (e *Expr) Mean(x *G.Node) *G.Node {
	return e.unary("mean", func(x *G.Node) (*G.Node, error) { return G.Mean(x) }, x)
}

// Gather returns the entries of x at the flat indices idx (see Gather).
func (e *Expr) Gather(x, idx *G.Node) *G.Node { return e.binary("gather", Gather, x, idx) }

// GatherDiff returns x.flat[p_k] − x.flat[n_k] (see GatherDiff).
func (e *Expr) GatherDiff(x, p, n *G.Node) *G.Node {
	if !e.ok("gather diff", x, p, n) {
		return nil
	}
	return e.Do(func() (*G.Node, error) { return GatherDiff(x, p, n) })
}

// GatherRows returns the rows of x at idx (see GatherRows).
func (e *Expr) GatherRows(x, idx *G.Node) *G.Node {
	return e.binary("gather rows", GatherRows, x, idx)
}

// SubCol returns x − v broadcast along columns (see SubCol).
func (e *Expr) SubCol(x, v *G.Node) *G.Node { return e.binary("subcol", SubCol, x, v) }

// MulCol returns x ⊙ v broadcast along columns (see MulCol).
func (e *Expr) MulCol(x, v *G.Node) *G.Node { return e.binary("mulcol", MulCol, x, v) }

// MaskedRowMax returns the masked row maxima of x (see MaskedRowMax).
func (e *Expr) MaskedRowMax(x, mask *G.Node) *G.Node {
	return e.binary("masked row max", MaskedRowMax, x, mask)
}

// MaskedLogSumExp returns log Σ_{j∈mask} e^{x_ij} per row (see MaskedLogSumExp).
func (e *Expr) MaskedLogSumExp(x, mask *G.Node) *G.Node {
	return e.binary("masked log-sum-exp", MaskedLogSumExp, x, mask)
}

// MaskedLogSumExpOf returns log Σ_{j∈mask} e^{scale·x_ij + offset} per row
// (see MaskedLogSumExpOf).
func (e *Expr) MaskedLogSumExpOf(x, mask *G.Node, scale, offset float64) *G.Node {
	return e.binary("masked log-sum-exp", func(x, mask *G.Node) (*G.Node, error) { return MaskedLogSumExpOf(x, mask, scale, offset) }, x, mask)
}

// MaskedLog1pSumExpOf returns log(1 + Σ_{j∈mask} e^{scale·x_ij + offset})
// per row (see MaskedLog1pSumExpOf).
func (e *Expr) MaskedLog1pSumExpOf(x, mask *G.Node, scale, offset float64) *G.Node {
	return e.binary("masked log1p-sum-exp", func(x, mask *G.Node) (*G.Node, error) { return MaskedLog1pSumExpOf(x, mask, scale, offset) }, x, mask)
}

// MaskedRowMaxOf returns max_{j∈mask} scale·x_ij + offset per row (see
// MaskedRowMaxOf).
func (e *Expr) MaskedRowMaxOf(x, mask *G.Node, scale, offset float64) *G.Node {
	return e.binary("masked row max", func(x, mask *G.Node) (*G.Node, error) { return MaskedRowMaxOf(x, mask, scale, offset) }, x, mask)
}

// MaskedLog1pSumExp returns log(1 + Σ_{j∈mask} e^{x_ij}) per row (see MaskedLog1pSumExp).
func (e *Expr) MaskedLog1pSumExp(x, mask *G.Node) *G.Node {
	return e.binary("masked log1p-sum-exp", MaskedLog1pSumExp, x, mask)
}

// MaskedRowSum returns Σ_{j} mask_ij·x_ij per row (see MaskedRowSum).
func (e *Expr) MaskedRowSum(x, mask *G.Node) *G.Node {
	return e.binary("masked row sum", MaskedRowSum, x, mask)
}

// RowSoftplusSum returns Σ_ij r_i·w_ij·softplus(v_i − z_ij) (see RowSoftplusSum).
func (e *Expr) RowSoftplusSum(z, v, w, r *G.Node) *G.Node {
	if !e.ok("row softplus sum", z, v, w, r) {
		return nil
	}
	return e.Do(func() (*G.Node, error) { return RowSoftplusSum(z, v, w, r) })
}

// ActiveDot returns the dot products of the active rows of x and y (see ActiveDot).
func (e *Expr) ActiveDot(x, y, active *G.Node) *G.Node {
	if !e.ok("active dot", x, y, active) {
		return nil
	}
	return e.Do(func() (*G.Node, error) { return ActiveDot(x, y, active) })
}

// HalvesDot returns the dot products of the active rows of the two halves
// of x (see HalvesDot).
func (e *Expr) HalvesDot(x, active *G.Node) *G.Node {
	return e.binary("halves dot", HalvesDot, x, active)
}

// MaskedCrossEntropy returns log Σ_j mask_ij·e^{z_ij} − w_i·Σ_j
// target_ij·z_ij per row (see MaskedCrossEntropy).
func (e *Expr) MaskedCrossEntropy(z, mask, target, w *G.Node) *G.Node {
	if !e.ok("masked cross-entropy", z, mask, target, w) {
		return nil
	}
	return e.Do(func() (*G.Node, error) { return MaskedCrossEntropy(z, mask, target, w) })
}

// SqNormSum returns Σ_i w_i·||x_i||² (see SqNormSum).
func (e *Expr) SqNormSum(x, w *G.Node) *G.Node {
	return e.binary("squared norm sum", SqNormSum, x, w)
}

// SqNormMean returns k·Σ_h Σ_i w_i·||x_{hC+i}||² / max(1, Σ w) (see
// SqNormMean).
func (e *Expr) SqNormMean(x, w *G.Node, k float64) *G.Node {
	return e.binary("squared norm mean", func(x, w *G.Node) (*G.Node, error) { return SqNormMean(x, w, k) }, x, w)
}

// MeanDiagonalCrossEntropy returns the mean over the active rows of
// DiagonalCrossEntropy's terms (see MeanDiagonalCrossEntropy).
func (e *Expr) MeanDiagonalCrossEntropy(z, active *G.Node) *G.Node {
	return e.binary("mean diagonal cross-entropy", MeanDiagonalCrossEntropy, z, active)
}

// DiagonalCrossEntropy returns Σ_i a_i·(log Σ_j a_j·e^{z_ij} − z_ii) (see
// DiagonalCrossEntropy).
func (e *Expr) DiagonalCrossEntropy(z, active *G.Node) *G.Node {
	return e.binary("diagonal cross-entropy", DiagonalCrossEntropy, z, active)
}

// AnyInRow returns, per row, 1 if mask has a non-zero entry (see AnyInRow).
func (e *Expr) AnyInRow(mask *G.Node) *G.Node { return e.unary("any in row", AnyInRow, mask) }

// Indicator returns 1 where x > threshold, 0 elsewhere, without gradient.
func (e *Expr) Indicator(x *G.Node, threshold float64) *G.Node {
	return e.unary("indicator", func(x *G.Node) (*G.Node, error) { return Indicator(x, threshold) }, x)
}

// WeightedMean returns Σ x⊙w / max(Σ w, 1) (see WeightedMean).
func (e *Expr) WeightedMean(x, w *G.Node) *G.Node {
	return e.binary("weighted mean", WeightedMean, x, w)
}

// DivAtLeastOne returns num / max(den, 1) for scalars (see DivAtLeastOne).
func (e *Expr) DivAtLeastOne(num, den *G.Node) *G.Node {
	return e.binary("div at least one", DivAtLeastOne, num, den)
}

// MeanNonZero returns Σ x / max(#{x > 0}, 1) (see MeanNonZero).
func (e *Expr) MeanNonZero(x *G.Node) *G.Node { return e.unary("mean non-zero", MeanNonZero, x) }

// PairwiseMax returns the B×B matrix max(v_i, v_j) over the rows that have
// a value (see PairwiseMax).
func (e *Expr) PairwiseMax(v, has *G.Node) *G.Node {
	return e.binary("pairwise max", PairwiseMax, v, has)
}

// PairwiseLogAddExp returns the B×B matrix log(e^{v_i} + e^{v_j}) over the
// rows that have a value (see PairwiseLogAddExp).
func (e *Expr) PairwiseLogAddExp(v, has *G.Node) *G.Node {
	return e.binary("pairwise log-add-exp", PairwiseLogAddExp, v, has)
}

// PairAnyMask returns mask_ij where row i or j is flagged (see
// PairAnyMask).
func (e *Expr) PairAnyMask(mask, has *G.Node) *G.Node {
	return e.binary("pair any mask", PairAnyMask, mask, has)
}

// PairAny returns the B×B matrix 1[has_i or has_j] (see PairAny).
func (e *Expr) PairAny(v, has *G.Node) *G.Node { return e.binary("pair any", PairAny, v, has) }

// LabelMask returns the B×B mask of kind over labels (see LabelMask).
func (e *Expr) LabelMask(labels *G.Node, kind MaskKind) *G.Node {
	return e.unary("label mask", func(l *G.Node) (*G.Node, error) { return LabelMask(l, kind, e.dt) }, labels)
}

// CrossLabelMask returns the B×R mask of kind between labels and refLabels
// (see CrossLabelMask).
func (e *Expr) CrossLabelMask(labels, refLabels *G.Node, kind MaskKind) *G.Node {
	return e.binary("cross label mask", func(a, b *G.Node) (*G.Node, error) { return CrossLabelMask(a, b, kind, e.dt) }, labels, refLabels)
}

// Matrix returns d's matrix between the rows of x and of y.
func (e *Expr) Matrix(d Distance, x, y *G.Node) *G.Node {
	if d == nil {
		e.Fail(fmt.Errorf("graph: nil distance"))
		return nil
	}
	return e.binary("matrix", d.Matrix, x, y)
}

// ScaledMatrix returns k·d(x, y) (see ScaledMatrix).
func (e *Expr) ScaledMatrix(d Distance, x, y *G.Node, k float64) *G.Node {
	return e.binary("scaled matrix", func(x, y *G.Node) (*G.Node, error) { return ScaledMatrix(d, x, y, k) }, x, y)
}

// StopGradient returns a node with x's value through which no gradient
// flows (a reference set, a memory bank).
func (e *Expr) StopGradient(x *G.Node) *G.Node { return e.unary("stop gradient", stopGradient, x) }

// ConcatCols returns the matrices side by side: B×C₁, B×C₂, … → B×ΣC.
func (e *Expr) ConcatCols(ms ...*G.Node) *G.Node {
	if !e.ok("concat", ms...) {
		return nil
	}
	if len(ms) == 1 {
		return ms[0]
	}
	return e.Do(func() (*G.Node, error) { return ConcatCols(ms...) })
}

// Do2 is Do for a function that returns two nodes.
func (e *Expr) Do2(f func() (*G.Node, *G.Node, error)) (*G.Node, *G.Node) {
	if e.err != nil {
		return nil, nil
	}
	a, b, err := f()
	if err != nil {
		e.err = err
		return nil, nil
	}
	return a, b
}

// Log returns the natural logarithm of x elementwise.
func (e *Expr) Log(x *G.Node) *G.Node { return e.unary("log", G.Log, x) }

// AtLeastOne returns, without gradient, max(s, 1) of a scalar s: a count
// or total weight that may be zero.
func (e *Expr) AtLeastOne(s *G.Node) *G.Node {
	return e.unary("at least one", func(s *G.Node) (*G.Node, error) {
		if !s.IsScalar() {
			return nil, fmt.Errorf("graph: AtLeastOne wants a scalar; got shape %v", s.Shape())
		}
		return atLeastOne(s)
	}, s)
}
