package models

import (
	"fmt"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ParamLoss is a Loss with learnable parameters of its own: the proxies of
// ProxyNCA and Proxy-Anchor, SoftTriple's centres, the class weights of
// ArcFace and CosFace (losses.Learner, which satisfies it). Its tensors
// live outside any graph, like a model's weights; LossParams binds them
// into the graph of the embeddings and returns their nodes.
//
// The trainer optimises them with the encoder's weights: Train calls
// InitParams (embedding dimension, 1 + the largest label, the model's
// dtype, TrainConfig.Seed) unless the loss already has parameters (set
// with SetParams or loaded with LoadLoss), differentiates the loss with
// respect to them and steps them with the same solver settings at
// TrainConfig.LossLearnRate. With several workers the loss graph, and so
// the parameters, exists once: the replicas share the encoder's weights and
// only the loss graph reads the parameters, so their gradient is computed
// once per step and is the same run to run. Across processes (Comm) every
// rank runs the loss on the whole batch and gets the same gradient, which
// is therefore not summed over ranks. SaveLoss and LoadLoss write and read
// them with the model.
type ParamLoss interface {
	Loss
	LossParams(embeddings, labels *G.Node) (*G.Node, G.Nodes, error)
	InitParams(dim, classes int, dt tensor.Dtype, seed uint64) error
	Params() (names []string, values []*tensor.Dense)
	SetParams(names []string, values []*tensor.Dense) error
}

// lossCost builds loss on the embeddings and labels and returns its node
// with the nodes of the loss's own parameters (none for a plain Loss).
func lossCost(loss Loss, emb, labels *G.Node) (*G.Node, G.Nodes, error) {
	var (
		cost   *G.Node
		params G.Nodes
		err    error
	)
	if pl, ok := loss.(ParamLoss); ok {
		cost, params, err = pl.LossParams(emb, labels)
	} else {
		cost, err = loss.Loss(emb, labels)
	}
	if err != nil {
		return nil, nil, err
	}
	if !cost.IsScalar() {
		return nil, nil, fmt.Errorf("models: the loss returned shape %v; want a scalar", cost.Shape())
	}
	return cost, params, nil
}

// initLossParams gives a ParamLoss without parameters its initial ones for
// m's embeddings and labels 0…max(labels).
func initLossParams(loss Loss, m *Model, labels []int, seed uint64) error {
	pl, ok := loss.(ParamLoss)
	if !ok {
		return nil
	}
	if names, _ := pl.Params(); len(names) > 0 {
		return nil
	}
	top := slices.Max(labels)
	if top < 0 || slices.Min(labels) < 0 {
		return fmt.Errorf("models: the loss has a parameter per class and needs labels in [0, classes); the data has labels from %d to %d", slices.Min(labels), top)
	}
	if err := pl.InitParams(m.Config.Dim, top+1, m.Config.Dtype(), seed); err != nil {
		return fmt.Errorf("models: loss parameters: %w", err)
	}
	return nil
}

// lossRateScale returns the factor from the encoder's learning rate to the
// loss parameters' (LossLearnRate / LearnRate; 1 when LossLearnRate is 0).
func lossRateScale(cfg TrainConfig, loss Loss) (float64, error) {
	if cfg.LossLearnRate == 0 {
		return 1, nil
	}
	if _, ok := loss.(ParamLoss); !ok {
		return 0, fmt.Errorf("models: loss learning rate is %v but the loss (%T) has no parameters of its own", cfg.LossLearnRate, loss)
	}
	if !(cfg.LossLearnRate > 0) || cfg.LossLearnRate > MaxLearnRate {
		return 0, fmt.Errorf("models: loss learning rate is %v; want > 0 and ≤ MaxLearnRate = %v (0: LearnRate)", cfg.LossLearnRate, MaxLearnRate)
	}
	return cfg.LossLearnRate / cfg.LearnRate, nil
}

// clearNodeGrads zeroes the gradients of nodes.
func clearNodeGrads(nodes G.Nodes) {
	for _, n := range nodes {
		if g, err := n.Grad(); err == nil && g != nil {
			switch d := g.Data().(type) {
			case []float32:
				clear(d)
			case []float64:
				clear(d)
			}
		}
	}
}

// lossParams are a ParamLoss's parameter nodes in the trainer's graph (the
// loss graph with several workers) and their own solver state.
type lossParams struct {
	nodes  G.Nodes
	solver *optimizer
	scale  float64 // LossLearnRate / LearnRate
}

// step updates the parameters at the encoder's rate lr times scale.
func (p *lossParams) step(lr float64) error {
	if len(p.nodes) == 0 {
		return nil
	}
	if err := p.solver.step(p.nodes, lr*p.scale); err != nil {
		return fmt.Errorf("models: loss parameters: %w", err)
	}
	return nil
}
