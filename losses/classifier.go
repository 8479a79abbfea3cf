package losses

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// SoftTriple is the SoftTriple loss of Qian, Shang, Sun, Hu, Li & Jin
// (2019, "SoftTriple Loss: Deep Metric Learning Without Triplet
// Sampling"). Each class c has K learnable centres w_c^k (Centres, (C·K)×D,
// row c·K + k); with the cosine similarity s, the relaxed similarity of x
// to class c is
//
//	S_c(x) = Σ_k softmax_k(s(x, w_c^k)/γ) · s(x, w_c^k)
//
// and the loss of row i is the cross-entropy of the logits λ(S_c(x_i) −
// δ·1[c = y_i]):
//
//	ℓ_i = −log( e^{λ(S_{y_i}(x_i) − δ)} / (e^{λ(S_{y_i}(x_i) − δ)} + Σ_{c≠y_i} e^{λ S_c(x_i)}) )
//
// averaged over the B rows. NewSoftTriple and SoftTriplePML both take the
// paper's λ = 20, γ = 0.1, δ = 0.01, K = 10, which are
// pytorch-metric-learning's SoftTripleLoss defaults, and initialise the
// centres as it does (Kaiming uniform with a = √5 on its D×(C·K) matrix:
// U(−1/√(C·K), 1/√(C·K))). The paper's regulariser that merges similar
// centres (weight τ = 0.2) is not included, as pytorch-metric-learning
// leaves it out too. The zero SoftTriple is λ = 20, γ = 0.1, δ = 0, K = 10.
//
// Centres are learnable: see Learner. Shapes: embeddings B×D, labels Int B
// with values in [0, C), Centres (C·K)×D of the embeddings' dtype
// (pytorch-metric-learning's fc is its transpose).
type SoftTriple struct {
	// Centers K ≥ 1 per class; 0 means 10.
	Centers int
	// Lambda λ > 0 scales the logits; 0 means 20.
	Lambda float64
	// Gamma γ > 0 is the temperature of the softmax over a class's
	// centres; 0 means 0.1.
	Gamma float64
	// Margin δ ≥ 0 subtracted from the target class's similarity.
	Margin float64
	// Centres is the (C·K)×D matrix of centres, row c·K + k for centre k
	// of class c (set by InitParams or SetParams).
	Centres *tensor.Dense
}

// NewSoftTriple returns Qian et al.'s settings: λ = 20, γ = 0.1, δ = 0.01,
// K = 10 on cosine similarity.
func NewSoftTriple() SoftTriple { return SoftTriple{Centers: 10, Lambda: 20, Gamma: 0.1, Margin: 0.01} }

// SoftTriplePML returns pytorch-metric-learning's SoftTripleLoss defaults:
// the same as NewSoftTriple.
func SoftTriplePML() SoftTriple { return NewSoftTriple() }

func (l *SoftTriple) weights() classWeights {
	k := l.Centers
	if k == 0 {
		k = 10
	}
	return classWeights{name: "softtriple", what: "centres", k: k}
}

// InitParams draws (classes·K)×dim centres from U(−1/√(C·K), 1/√(C·K)).
func (l *SoftTriple) InitParams(dim, classes int, dt tensor.Dtype, seed uint64) (err error) {
	w := l.weights()
	bound := 1 / math.Sqrt(float64(max(classes*w.k, 1)))
	l.Centres, err = w.init(dim, classes, dt, seed, func(r *rand.Rand) float64 { return bound * (2*r.Float64() - 1) })
	return err
}

// Params returns the centres.
func (l *SoftTriple) Params() ([]string, []*tensor.Dense) { return l.weights().paramsOf(l.Centres) }

// SetParams replaces the centres.
func (l *SoftTriple) SetParams(names []string, values []*tensor.Dense) (err error) {
	t, err := l.weights().set(names, values)
	if err == nil {
		l.Centres = t
	}
	return err
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l *SoftTriple) Loss(emb, labels *G.Node) (*G.Node, error) {
	cost, _, err := l.LossParams(emb, labels)
	return cost, err
}

// LossParams returns the loss and the centres' node.
func (l *SoftTriple) LossParams(emb, labels *G.Node) (*G.Node, G.Nodes, error) {
	w := l.weights()
	if l.Centers < 0 {
		return nil, nil, fmt.Errorf("losses: %s: centers is %d; want ≥ 1 (0 means 10)", w.name, l.Centers)
	}
	e, checked, _, err := begin(w.name, emb, labels)
	if err != nil {
		return nil, nil, err
	}
	lambda, err := positiveScale(w.name, "lambda", l.Lambda, 20)
	if err != nil {
		return nil, nil, err
	}
	gamma, err := positiveScale(w.name, "gamma", l.Gamma, 0.1)
	if err != nil {
		return nil, nil, err
	}
	if err := checkFinite(w.name, "margin", l.Margin, true); err != nil {
		return nil, nil, err
	}
	c, classes, err := w.node(l.Centres, emb)
	if err != nil {
		return nil, nil, err
	}
	b, k := emb.Shape()[0], w.k
	g := emb.Graph()
	s := e.Matrix(graph.Cosine{}, checked, c)                                               // B×(C·K)
	s = e.Do(func() (*G.Node, error) { return G.Reshape(s, tensor.Shape{b * classes, k}) }) // (B·C)×K
	sc := e.Do(func() (*G.Node, error) { return graph.RowSoftmaxMean(s, 1/gamma) })         // S_c(x_i) = Σ_k softmax(s/γ)_k·s_k, B·C
	sc = e.Do(func() (*G.Node, error) { return G.Reshape(sc, tensor.Shape{b, classes}) })   // B×C
	onehot := classMask(w.name, e, labels, classes, false)
	logits := e.Scale(e.Sub(sc, e.Scale(onehot, l.Margin)), lambda) // λ(S − δ·1[c = y])
	ce := e.Sub(e.MaskedLogSumExp(logits, ones(e, g, b, classes)), e.Gather(logits, targetIndex(w.name, e, labels, classes)))
	cost, err := end(w.name, e, e.Mean(ce))
	if err != nil {
		return nil, nil, err
	}
	return cost, G.Nodes{c}, nil
}

// ArcFace is the additive angular margin loss of Deng, Guo, Xue &
// Zafeiriou (2019, "ArcFace: Additive Angular Margin Loss for Deep Face
// Recognition"): softmax cross-entropy over C classes with learnable class
// weights w_c (Weights, C×D), whose logits are the scaled cosines with the
// target's angle widened by m:
//
//	ℓ_i = −log( e^{s·cos(θ_{y_i} + m)} / (e^{s·cos(θ_{y_i} + m)} + Σ_{c≠y_i} e^{s·cos θ_c}) ),  cos θ_c = cos(x_i, w_c)
//
// averaged over the B rows. cos(θ + m) is computed as c·cos m − √(1 − c²)·sin m
// (c = cos θ) with graph.SafeSqrt, so c = ±1 gives a finite gradient;
// as in pytorch-metric-learning there is no special case for θ + m > π.
//
// NewArcFace takes the paper's s = 64, m = 0.5; ArcFacePML takes
// pytorch-metric-learning's ArcFaceLoss defaults, s = 64 and m = 28.6° in
// radians (0.49916…). Both initialise the weights from N(0, 1) as it does
// (its W is D×C, the transpose of Weights). The zero ArcFace is s = 64,
// m = 0.
type ArcFace struct {
	// Margin m ≥ 0, in radians.
	Margin float64
	// Scale s > 0; 0 means 64.
	Scale float64
	// Weights is the C×D matrix of class weights (set by InitParams or
	// SetParams).
	Weights *tensor.Dense
}

// NewArcFace returns Deng et al.'s settings: s = 64, m = 0.5.
func NewArcFace() ArcFace { return ArcFace{Margin: 0.5, Scale: 64} }

// ArcFacePML returns pytorch-metric-learning's ArcFaceLoss defaults:
// s = 64, m = 28.6° (in radians).
func ArcFacePML() ArcFace { return ArcFace{Margin: 28.6 * math.Pi / 180, Scale: 64} }

// CosFace is the large margin cosine loss of Wang, Wang, Zhou, Ji, Gong,
// Zhou, Li & Liu (2018, "CosFace: Large Margin Cosine Loss for Deep Face
// Recognition"): softmax cross-entropy over C classes with learnable class
// weights w_c (Weights, C×D) and the target's cosine lowered by m:
//
//	ℓ_i = −log( e^{s(cos θ_{y_i} − m)} / (e^{s(cos θ_{y_i} − m)} + Σ_{c≠y_i} e^{s·cos θ_c}) )
//
// averaged over the B rows. NewCosFace and CosFacePML take the paper's
// s = 64, m = 0.35, which are pytorch-metric-learning's CosFaceLoss
// defaults, and initialise the weights from N(0, 1) as it does. The zero
// CosFace is s = 64, m = 0.
type CosFace struct {
	// Margin m ≥ 0, in cosine units.
	Margin float64
	// Scale s > 0; 0 means 64.
	Scale float64
	// Weights is the C×D matrix of class weights (set by InitParams or
	// SetParams).
	Weights *tensor.Dense
}

// NewCosFace returns Wang et al.'s settings: s = 64, m = 0.35.
func NewCosFace() CosFace { return CosFace{Margin: 0.35, Scale: 64} }

// CosFacePML returns pytorch-metric-learning's CosFaceLoss defaults: the
// same as NewCosFace.
func CosFacePML() CosFace { return NewCosFace() }

func arcWeights() classWeights { return classWeights{name: "arcface", what: "weights", k: 1} }
func cosWeights() classWeights { return classWeights{name: "cosface", what: "weights", k: 1} }

func normalInit(w classWeights, dim, classes int, dt tensor.Dtype, seed uint64) (*tensor.Dense, error) {
	return w.init(dim, classes, dt, seed, func(r *rand.Rand) float64 { return r.NormFloat64() })
}

// InitParams draws C×dim weights from N(0, 1).
func (l *ArcFace) InitParams(dim, classes int, dt tensor.Dtype, seed uint64) (err error) {
	l.Weights, err = normalInit(arcWeights(), dim, classes, dt, seed)
	return err
}

// Params returns the class weights.
func (l *ArcFace) Params() ([]string, []*tensor.Dense) { return arcWeights().paramsOf(l.Weights) }

// SetParams replaces the class weights.
func (l *ArcFace) SetParams(names []string, values []*tensor.Dense) (err error) {
	t, err := arcWeights().set(names, values)
	if err == nil {
		l.Weights = t
	}
	return err
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l *ArcFace) Loss(emb, labels *G.Node) (*G.Node, error) {
	cost, _, err := l.LossParams(emb, labels)
	return cost, err
}

// LossParams returns the loss and the weights' node.
func (l *ArcFace) LossParams(emb, labels *G.Node) (*G.Node, G.Nodes, error) {
	return marginSoftmax(arcWeights(), l.Weights, l.Scale, l.Margin, true, emb, labels)
}

// InitParams draws C×dim weights from N(0, 1).
func (l *CosFace) InitParams(dim, classes int, dt tensor.Dtype, seed uint64) (err error) {
	l.Weights, err = normalInit(cosWeights(), dim, classes, dt, seed)
	return err
}

// Params returns the class weights.
func (l *CosFace) Params() ([]string, []*tensor.Dense) { return cosWeights().paramsOf(l.Weights) }

// SetParams replaces the class weights.
func (l *CosFace) SetParams(names []string, values []*tensor.Dense) (err error) {
	t, err := cosWeights().set(names, values)
	if err == nil {
		l.Weights = t
	}
	return err
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l *CosFace) Loss(emb, labels *G.Node) (*G.Node, error) {
	cost, _, err := l.LossParams(emb, labels)
	return cost, err
}

// LossParams returns the loss and the weights' node.
func (l *CosFace) LossParams(emb, labels *G.Node) (*G.Node, G.Nodes, error) {
	return marginSoftmax(cosWeights(), l.Weights, l.Scale, l.Margin, false, emb, labels)
}

// marginSoftmax is ArcFace (arc) or CosFace: the mean over rows of the
// cross-entropy of s·(cos + 1[c = y]·(f(cos) − cos)), with f(c) =
// cos(acos c + m) or c − m.
func marginSoftmax(w classWeights, t *tensor.Dense, scale, margin float64, arc bool, emb, labels *G.Node) (*G.Node, G.Nodes, error) {
	e, checked, _, err := begin(w.name, emb, labels)
	if err != nil {
		return nil, nil, err
	}
	s, err := positiveScale(w.name, "scale", scale, 64)
	if err != nil {
		return nil, nil, err
	}
	if err := checkFinite(w.name, "margin", margin, true); err != nil {
		return nil, nil, err
	}
	wn, classes, err := w.node(t, emb)
	if err != nil {
		return nil, nil, err
	}
	g := emb.Graph()
	cos := e.Matrix(graph.Cosine{}, checked, wn) // B×C
	onehot := classMask(w.name, e, labels, classes, false)
	// The margin changes one entry per row, the label's: f is computed on
	// the B gathered cosines, not on the whole B×C matrix.
	idx := targetIndex(w.name, e, labels, classes)
	tc := e.Gather(cos, idx) // cos θ_{i,y_i}, length B
	var f *G.Node
	if arc {
		sin := e.Do(func() (*G.Node, error) { return graph.SafeSqrt(e.Sub(e.Const(1), e.Square(tc))) }) // √(1 − tc²)
		f = e.Sub(e.Scale(tc, math.Cos(margin)), e.Scale(sin, math.Sin(margin)))                        // cos(θ + m)
	} else {
		f = e.Sub(tc, e.Const(margin))
	}
	// logits s·cos + s·1[c = y]·(f − tc), the cross-entropy against the label
	logits := e.Add(e.Scale(cos, s), e.MulCol(onehot, e.Scale(e.Sub(f, tc), s)))
	ce := e.Sub(e.MaskedLogSumExp(logits, ones(e, g, emb.Shape()[0], classes)), e.Gather(logits, idx))
	cost, err := end(w.name, e, e.Mean(ce))
	if err != nil {
		return nil, nil, err
	}
	return cost, G.Nodes{wn}, nil
}
