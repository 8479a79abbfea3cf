package losses

import G "gorgonia.org/gorgonia"

// HardNegative is the hard-negative-weighted contrastive loss of Robinson,
// Chuang, Sra & Jegelka (2021, "Contrastive Learning with Hard Negative
// Samples"): DebiasedContrastive with the negatives' sum replaced by an
// importance-weighted one that favours the negatives closest to the anchor.
// With z = cos/t, for every positive pair (i, j) and the N_i negatives n of
// anchor i,
//
//	R_i  = N_i · Σ_n e^{(1+β) z_in} / Σ_n e^{β z_in}      (weights e^{β z_in} / mean_n e^{β z_in})
//	g_ij = max( (R_i − τ⁺ N_i e^{z_ij}) / (1 − τ⁺),  N_i e^{−1/t} )
//	ℓ_ij = −log( e^{z_ij} / (e^{z_ij} + g_ij) )
//
// averaged over the positive pairs. β = 0 gives DebiasedContrastive; β = 0
// and τ⁺ = 0 give NTXent. A pair whose anchor has no negative gives 0. Like
// DebiasedContrastive it is defined on cosine similarity and computed
// shifted, finite down to t = 1e-3.
//
// NewHardNegative takes the paper's τ⁺ = 0.1, β = 1 and t = 0.5; the zero
// HardNegative has τ⁺ = β = 0 and t = 0.5. pytorch-metric-learning has no
// such loss.
type HardNegative struct {
	// Temperature t > 0; 0 means 0.5.
	Temperature float64
	// TauPlus τ⁺ ∈ [0, 1), the class prior.
	TauPlus float64
	// Beta β ≥ 0, the concentration on hard negatives.
	Beta float64
	// Reducer over the positive pairs; DefaultReducer means Mean.
	Reducer Reducer
}

// NewHardNegative returns Robinson et al.'s settings: τ⁺ = 0.1, β = 1,
// t = 0.5.
func NewHardNegative() HardNegative { return HardNegative{Temperature: 0.5, TauPlus: 0.1, Beta: 1} }

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l HardNegative) Loss(emb, labels *G.Node) (*G.Node, error) {
	return debiased("hard-negative contrastive", l.Temperature, l.TauPlus, l.Beta, l.Reducer, emb, labels)
}
