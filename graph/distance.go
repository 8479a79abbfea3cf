package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Distance computes a pairwise matrix between the rows of two embedding
// matrices and knows whether larger entries mean closer pairs
// (similarities) or farther ones (distances), so a loss is written once for
// both.
type Distance interface {
	// Matrix returns the B×R matrix between x (B×D) and y (R×D). Passing the
	// same node twice gives the self matrix, whose diagonal is exact.
	Matrix(x, y *G.Node) (*G.Node, error)
	// LargerIsCloser is true for similarities and false for distances.
	LargerIsCloser() bool
	String() string
}

// Euclidean is the distance ||x_i − y_j||₂, computed from one matrix product
// as √max(0, ||x_i||² + ||y_j||² − 2 x_i·y_j) with SafeSqrt, so its gradient
// stays finite for coincident points.
type Euclidean struct {
	// Normalize L2-normalises both inputs first (pytorch-metric-learning's
	// default LpDistance).
	Normalize bool
}

// SquaredEuclidean is ||x_i − y_j||₂² (what TF Addons calls "L_2" and what
// FaceNet's triplet loss uses), clamped at 0.
type SquaredEuclidean struct {
	Normalize bool
}

// Cosine is the cosine similarity x_i·y_j / (||x_i|| ||y_j||); larger is closer.
type Cosine struct{}

// DotProduct is the similarity x_i·y_j (Sohn's N-pair loss uses raw dot
// products); larger is closer.
type DotProduct struct {
	Normalize bool
}

func (Euclidean) LargerIsCloser() bool        { return false }
func (SquaredEuclidean) LargerIsCloser() bool { return false }
func (Cosine) LargerIsCloser() bool           { return true }
func (DotProduct) LargerIsCloser() bool       { return true }

func (d Euclidean) String() string { return fmt.Sprintf("euclidean(normalize=%t)", d.Normalize) }
func (d SquaredEuclidean) String() string {
	return fmt.Sprintf("sqeuclidean(normalize=%t)", d.Normalize)
}
func (Cosine) String() string       { return "cosine" }
func (d DotProduct) String() string { return fmt.Sprintf("dot(normalize=%t)", d.Normalize) }

// Matrix implements Distance. It is one op (pairMatrix) after the
// optional normalisation, and one derivative op per input.
func (d Euclidean) Matrix(x, y *G.Node) (*G.Node, error) {
	x, y, err := prepare(x, y, d.Normalize)
	if err != nil {
		return nil, err
	}
	return pairMatrix(pairEuclid, x, y)
}

// Matrix implements Distance (one op after the optional normalisation).
func (d SquaredEuclidean) Matrix(x, y *G.Node) (*G.Node, error) {
	x, y, err := prepare(x, y, d.Normalize)
	if err != nil {
		return nil, err
	}
	return pairMatrix(pairSq, x, y)
}

// Matrix implements Distance.
func (Cosine) Matrix(x, y *G.Node) (*G.Node, error) {
	return DotProduct{Normalize: true}.Matrix(x, y)
}

// Matrix implements Distance.
func (d DotProduct) Matrix(x, y *G.Node) (*G.Node, error) {
	x, y, err := prepare(x, y, d.Normalize)
	if err != nil {
		return nil, err
	}
	return pairMatrix(pairDot, x, y)
}

// prepare validates the inputs and optionally normalises them (once when
// they are the same node).
func prepare(x, y *G.Node, normalize bool) (*G.Node, *G.Node, error) {
	_, dx, err := checkEmbeddings("x", x)
	if err != nil {
		return nil, nil, err
	}
	_, dy, err := checkEmbeddings("y", y)
	if err != nil {
		return nil, nil, err
	}
	if dx != dy {
		return nil, nil, fmt.Errorf("graph: x has %d columns, y has %d", dx, dy)
	}
	if x.Dtype() != y.Dtype() {
		return nil, nil, fmt.Errorf("graph: x is %v, y is %v", x.Dtype(), y.Dtype())
	}
	if err := sameGraph(x, y); err != nil {
		return nil, nil, err
	}
	if !normalize {
		return x, y, nil
	}
	self := x == y
	if x, err = L2Normalize(x); err != nil {
		return nil, nil, err
	}
	if self {
		return x, x, nil
	}
	if y, err = L2Normalize(y); err != nil {
		return nil, nil, err
	}
	return x, y, nil
}

// normTiny is added under the square root of L2Normalize so that a zero row
// gives 0 instead of NaN; it is far below the rounding of any norm above
// 1e-12 (the eps of PyTorch's F.normalize).
const normTiny = 1e-24

// L2Normalize divides each row of x (B×D) by √(||x||² + 1e-24). A zero row
// stays zero with a finite (1e12) gradient, as with PyTorch's
// F.normalize(eps=1e-12), so nothing turns into NaN. It is one op (and one
// derivative op) writing into buffers it reuses from run to run.
func L2Normalize(x *G.Node) (*G.Node, error) {
	b, d, err := checkEmbeddings("x", x)
	if err != nil {
		return nil, err
	}
	n, err := G.ApplyOp(&l2NormOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{b, d}}, noGrad: NoGradient(x)}, x)
	if err != nil {
		return nil, fmt.Errorf("graph: l2normalize: %w", err)
	}
	return n, nil
}

// Orient turns a matrix m computed by d into dis-similarities: m itself
// for a distance, −m when larger is closer. A loss written on it ("smaller
// is closer") serves every Distance; margins given in the distance's own
// units flip sign with it (see the losses).
func Orient(d Distance, m *G.Node) (*G.Node, error) {
	if !d.LargerIsCloser() {
		return m, nil
	}
	if m.IsScalar() {
		return G.Neg(m)
	}
	return affine(m, -1, 0)
}

// ScaledMatrix returns k·d(x, y), the B×R matrix of d scaled by a finite
// k: the logits s/τ (k = 1/τ) or −d/τ (k = −1/τ) of a softmax loss. For
// DotProduct and Cosine the factor is that of the matrix product itself
// (one op, no pass of its own over the B×R matrix, nor in the gradient);
// for the other distances it is Scale of d.Matrix.
func ScaledMatrix(d Distance, x, y *G.Node, k float64) (*G.Node, error) {
	if d == nil {
		return nil, fmt.Errorf("graph: nil distance")
	}
	if math.IsNaN(k) || math.IsInf(k, 0) {
		return nil, fmt.Errorf("graph: scaled matrix: factor %v must be finite", k)
	}
	normalize, dot := false, false
	switch dd := d.(type) {
	case DotProduct:
		normalize, dot = dd.Normalize, true
	case Cosine:
		normalize, dot = true, true
	}
	if !dot {
		m, err := d.Matrix(x, y)
		if err != nil {
			return nil, err
		}
		return Scale(m, k)
	}
	x, y, err := prepare(x, y, normalize)
	if err != nil {
		return nil, err
	}
	return scaledPairMatrix(pairDot, x, y, k)
}
