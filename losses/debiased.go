package losses

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
)

// DebiasedContrastive is the debiased contrastive loss of Chuang, Robinson,
// Lin, Torralba & Jegelka (2020, "Debiased Contrastive Learning"), in the
// labelled-batch form of NTXent. With z = cos/t, for every positive pair
// (i, j), i ≠ j, and the N_i negatives n of anchor i,
//
//	g_ij = max( (Σ_n e^{z_in} − τ⁺ N_i e^{z_ij}) / (1 − τ⁺),  N_i e^{−1/t} )
//	ℓ_ij = −log( e^{z_ij} / (e^{z_ij} + g_ij) )
//
// averaged over the positive pairs: g_ij corrects the negatives' sum for the
// expected share τ⁺ (the class prior) of false negatives in an unlabelled
// batch, and is bounded below by its theoretical minimum N e^{−1/t} (cosine
// similarity is ≥ −1). τ⁺ = 0 gives NTXent. A pair whose anchor has no
// negative gives 0.
//
// The loss is defined on cosine similarity (the bound needs s ≥ −1), so it
// has no Distance field. It is computed shifted by max(log Σ_n e^{z_in},
// z_ij), which keeps it finite down to t = 1e-3. NewDebiasedContrastive
// takes the paper's τ⁺ = 0.1 and t = 0.5; the zero DebiasedContrastive has
// τ⁺ = 0 and t = 0.5. pytorch-metric-learning has no such loss.
type DebiasedContrastive struct {
	// Temperature t > 0; 0 means 0.5.
	Temperature float64
	// TauPlus τ⁺ ∈ [0, 1), the class prior.
	TauPlus float64
	// Reducer over the positive pairs; DefaultReducer means Mean.
	Reducer Reducer
}

// NewDebiasedContrastive returns Chuang et al.'s settings: τ⁺ = 0.1, t = 0.5.
func NewDebiasedContrastive() DebiasedContrastive {
	return DebiasedContrastive{Temperature: 0.5, TauPlus: 0.1}
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l DebiasedContrastive) Loss(emb, labels *G.Node) (*G.Node, error) {
	return debiased("debiased contrastive", l.Temperature, l.TauPlus, 0, l.Reducer, emb, labels)
}

// debiased builds the debiased loss, with hard-negative weighting of
// concentration beta (0 for DebiasedContrastive).
func debiased(name string, t, tauPlus, beta float64, r Reducer, emb, labels *G.Node) (*G.Node, error) {
	if t == 0 {
		t = 0.5
	}
	if !(t > 0) || math.IsInf(t, 0) {
		return nil, fmt.Errorf("losses: %s: temperature is %v; want a finite value > 0 (0 means 0.5)", name, t)
	}
	if !(tauPlus >= 0 && tauPlus < 1) {
		return nil, fmt.Errorf("losses: %s: TauPlus is %v; want a value in [0, 1)", name, tauPlus)
	}
	if err := checkFinite(name, "beta", beta, true); err != nil {
		return nil, err
	}
	red, err := r.or(Mean)
	if err != nil {
		return nil, err
	}
	e, z, pos, neg, err := logits(name, graph.Cosine{}, graph.Cosine{}, t, 0.5, nil, nil, emb, labels)
	if err != nil {
		return nil, err
	}
	n := e.Sum(neg, 1) // N_i
	// L_i = log of the (reweighted) negatives' sum: log Σ_n e^{z_in}, or for
	// hard negatives log(N_i Σ_n e^{(1+β)z_in} / Σ_n e^{βz_in}).
	lse := e.MaskedLogSumExp(z, neg)
	if beta != 0 {
		logN := e.Log(e.Add(n, e.Sub(e.Const(1), e.AnyInRow(neg)))) // log max(N_i, 1)
		lse = e.Add(logN, e.Sub(e.MaskedLogSumExp(e.Scale(z, 1+beta), neg), e.MaskedLogSumExp(e.Scale(z, beta), neg)))
	}
	// ℓ = log max(X, Y) − log(1 − τ⁺) − z with X = e^L + (1 − τ⁺(N+1)) e^z,
	// Y = (1 − τ⁺)(e^z + N e^{−1/t}), both scaled by e^{−M}, M = max(L, z)
	// (a constant shift: no gradient flows through it).
	u := e.Neg(e.SubCol(z, lse))                                   // L_i − z_ij
	shift := e.StopGradient(e.Add(z, e.Relu(u)))                   // M_ij = max(L_i, z_ij)
	ez := exp(e, e.Sub(z, shift))                                  // e^{z − M}
	el := exp(e, e.Add(u, e.Sub(z, shift)))                        // e^{L − M}
	k := e.Sub(e.Const(1), e.Scale(e.Add(n, e.Const(1)), tauPlus)) // 1 − τ⁺(N_i + 1)
	x := e.Add(el, e.MulCol(ez, k))
	floor := e.MulCol(exp(e, e.Sub(e.Const(-1/t), shift)), n) // N_i e^{−1/t − M}
	y := e.Scale(e.Add(ez, floor), 1-tauPlus)
	terms := e.Sub(e.Add(e.Sub(shift, z), e.Log(e.Add(y, e.Relu(e.Sub(x, y))))), e.Const(math.Log(1-tauPlus)))
	terms = e.MulCol(terms, e.AnyInRow(neg)) // anchors without negatives give 0
	return end(name, e, reduce(e, red, terms, pos))
}

// exp returns eˣ elementwise.
func exp(e *graph.Expr, x *G.Node) *G.Node {
	if x == nil {
		e.Fail(fmt.Errorf("exp: input is nil"))
		return nil
	}
	return e.Do(func() (*G.Node, error) { return G.Exp(x) })
}
