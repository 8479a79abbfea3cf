package losses

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
)

// NCELogistic is the noise-contrastive estimation objective of Gutmann &
// Hyvärinen (2010): the binary logistic loss between data and noise samples.
// data holds, for N data samples, the logits l(u) = log p_θ(u) − log q(u)
// (model log-density minus noise log-density); noise holds the same for the
// k·N noise samples drawn from q (any shape with k·N elements, k ≥ 1). With
// ν = k, h(u) = σ(l(u) − log ν) and
//
//	L = −1/N [ Σ_data log h(x) + Σ_noise log(1 − h(x̃)) ]
//
// which for k = 1 is the paper's −1/N Σ_i [log σ(l(x_i)) + log(1 − σ(l(x̃_i)))].
// It is computed with a stable softplus (log σ(x) = −softplus(−x)), so very
// large logits give exact values and no NaN.
func NCELogistic(data, noise *G.Node) (*G.Node, error) {
	if data == nil || noise == nil {
		return nil, fmt.Errorf("losses: nce: nil logits")
	}
	dt, err := graph.FloatDtype("data logits", data)
	if err != nil {
		return nil, fmt.Errorf("losses: nce: %w", err)
	}
	if noise.Dtype() != dt {
		return nil, fmt.Errorf("losses: nce: data logits are %v, noise logits %v", dt, noise.Dtype())
	}
	if data.Graph() != noise.Graph() {
		return nil, fmt.Errorf("losses: nce: data and noise logits belong to different graphs")
	}
	if data, err = finite("nce", "data logits", data); err != nil {
		return nil, err
	}
	if noise, err = finite("nce", "noise logits", noise); err != nil {
		return nil, err
	}
	n, kn := data.Shape().TotalSize(), noise.Shape().TotalSize()
	if n < 1 || kn < 1 || kn%n != 0 {
		return nil, fmt.Errorf("losses: nce: %d noise logits for %d data logits; want k·N with k ≥ 1", kn, n)
	}
	logNu := math.Log(float64(kn / n))
	// −log h(x) = softplus(−(l − log ν)); −log(1 − h(x̃)) = softplus(l̃ − log ν)
	e := graph.NewExpr(dt)
	data = e.Softplus(e.Sub(e.Const(logNu), data))
	noise = e.Softplus(e.Sub(noise, e.Const(logNu)))
	return end("nce", e, e.Div(e.Add(e.Sum(data), e.Sum(noise)), e.Const(float64(n))))
}

// NCE applies NCELogistic to a labelled embedding batch: the positive pairs
// (i, j), i ≠ j, same label, are the data and the negative pairs the noise,
// with the model's logit s_ij/τ for a similarity s (Cosine by default; a
// distance is negated), noise ratio ν = #negative pairs / #positive pairs of
// the batch, and the mean over positive pairs. The noise density q is
// uniform over pairs, a constant that the learned scale absorbs, so it is
// left out of the logit. A batch without positive pairs gives the noise term
// alone divided by 1; without negatives ν is taken as 1.
//
// The zero NCE is NewNCE.
type NCE struct {
	// Distance; nil means Cosine{}.
	Distance graph.Distance
	// Temperature τ > 0 dividing the similarity; 0 means 0.1.
	Temperature float64
}

// NewNCE returns NCE on cosine similarity with τ = 0.1 (the temperature of
// supervised contrastive learning, Khosla et al. 2020; Gutmann & Hyvärinen
// have no temperature).
func NewNCE() NCE { return NCE{Distance: graph.Cosine{}, Temperature: 0.1} }

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l NCE) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "nce"
	e, emb, dim, err := begin(name, emb, labels)
	if err != nil {
		return nil, err
	}
	tau := l.Temperature
	if tau == 0 {
		tau = 0.1
	}
	if !(tau > 0) || math.IsInf(tau, 0) {
		return nil, fmt.Errorf("losses: %s: temperature is %v; want a finite value > 0 (0 means %v)", name, tau, 0.1)
	}
	d := distanceOr(l.Distance, graph.Cosine{})
	raw, pos, neg := pairs(name, e, d, nil, nil, emb, labels, dim)
	scale := -1 / tau // z = −m/τ with m = raw for a distance, −raw for a similarity
	if d.LargerIsCloser() {
		scale = 1 / tau
	}
	np, nn := e.Sum(pos), e.Sum(neg)
	logNu := e.Sub(e.Log(e.AtLeastOne(nn)), e.Log(e.AtLeastOne(np))) // log ν = log(max(#neg, 1) / max(#pos, 1))
	// One logistic sum over the matrix: data (positive pairs) pay
	// softplus(−(z − log ν)), noise (negative pairs) softplus(z − log ν).
	sum := e.Do(func() (*G.Node, error) {
		return graph.SoftplusSum(raw, pos, neg, logNu, scale)
	})
	return end(name, e, e.DivAtLeastOne(sum, np)) // mean over positive pairs
}
