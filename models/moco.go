package models

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// DefaultMoCoMomentum is the momentum m of MoCo's key encoder (He et al.
// 2020).
const DefaultMoCoMomentum = 0.999

// RefLoss is a loss of a batch (embeddings B×D, labels Int B) against the
// batch and a reference set (refEmb R×D, refLabels Int R, no gradient),
// as MoCo needs it: losses.RefFunc(losses.NewNTXent()) is one.
type RefLoss func(emb, labels, refEmb, refLabels *G.Node) (*G.Node, error)

// MoCo is momentum contrast (He, Fan, Wu, Xie & Girshick 2020, "Momentum
// Contrast for Unsupervised Visual Representation Learning") as a loss for
// the Trainer. The trained model is the query encoder f_q (weights θ_q);
// MoCo keeps a key encoder f_k, a copy of it whose weights θ_k follow θ_q
// as an exponential moving average, and a queue of the last Size keys
// with their labels. For a batch x (B rows) with labels y, each step
//
//	k = f_k(x)                                 B×D, no gradient (BeforeStep)
//	queue ← the last Size rows of (queue, k)    ring buffer, nothing allocated
//	L = Loss(f_q(x), y; queue)                  the queue as the reference set
//	θ_q ← optimiser step on ∂L/∂θ_q              the Trainer
//	θ_k ← m·θ_k + (1 − m)·θ_q                    AfterStep, m = Momentum
//
// so each query's own key (the same image through f_k) is among its
// positives, as in MoCo, and the queue supplies the other keys. Loss is a
// RefLoss; with losses.NTXent it is InfoNCE (MoCo's loss, τ = 0.07) in the
// labelled form: every key of the query's label is a positive. Unlike
// MoCo, whose batch holds two augmented views (queries and keys of
// different crops), the Trainer feeds one view: x itself; and by the
// reference-set convention of package losses the batch's other queries
// are partners too.
//
// θ_k starts as a copy of θ_q (NewMoCo). The queue is filled before the
// loss runs, so its Size includes the batch's B keys and B ≤ Size is
// required. The Trainer calls BeforeStep and AfterStep (BeforeStepper,
// AfterStepper); a step that fails after BeforeStep leaves the keys in the
// queue and θ_k unchanged. With several workers the loss runs once per
// step on the whole batch, so every step reads one queue state. A MoCo
// serves one Trainer; distributed training (TrainConfig.Comm) is not
// supported, since the keys would be only this process's.
type MoCo struct {
	query, key *Model
	momentum   float64
	size       int
	loss       RefLoss

	queue *graph.Queue
	batch int
	enc   *embedReplica // the key encoder, built at the first step
}

// NewMoCo returns MoCo training m (the query encoder) with loss against a
// queue of size keys, with key-encoder momentum momentum (0 ≤ m < 1;
// DefaultMoCoMomentum is the paper's). The key encoder starts as a copy
// of m's weights.
func NewMoCo(m *Model, loss RefLoss, size int, momentum float64) (*MoCo, error) {
	switch {
	case m == nil || loss == nil:
		return nil, fmt.Errorf("models: moco: nil model or loss")
	case size < 1:
		return nil, fmt.Errorf("models: moco: queue size is %d; want ≥ 1", size)
	case !(momentum >= 0 && momentum < 1):
		return nil, fmt.Errorf("models: moco: momentum is %v; want 0 ≤ m < 1", momentum)
	}
	if err := m.Config.Validate(); err != nil {
		return nil, err
	}
	if size > graph.MaxQueueValues/m.Config.Dim {
		return nil, fmt.Errorf("models: moco: a queue of %d keys of %d values exceeds graph.MaxQueueValues = %d", size, m.Config.Dim, graph.MaxQueueValues)
	}
	key := &Model{Config: m.Config, Params: make([]Param, len(m.Params))}
	for i, p := range m.Params {
		key.Params[i] = Param{Name: p.Name, Value: p.Value.Clone().(*tensor.Dense)}
	}
	return &MoCo{query: m, key: key, momentum: momentum, size: size, loss: loss}, nil
}

// Loss implements Loss: the RefLoss of the queries emb (B×Dim) with labels
// against the queue (Size×Dim, no gradient).
func (c *MoCo) Loss(emb, labels *G.Node) (*G.Node, error) {
	if c == nil || c.query == nil {
		return nil, fmt.Errorf("models: moco: use NewMoCo")
	}
	if c.queue != nil {
		return nil, fmt.Errorf("models: moco: the queue already belongs to a graph; make one MoCo per trainer")
	}
	if emb == nil || labels == nil {
		return nil, fmt.Errorf("models: moco: nil embeddings or labels")
	}
	dt, dim := c.query.Config.Dtype(), c.query.Config.Dim
	s := emb.Shape()
	if emb.Dtype() != dt || len(s) != 2 || s[1] != dim {
		return nil, fmt.Errorf("models: moco: embeddings are %v %v; want B×%d %v (the model's)", emb.Dtype(), s, dim, dt)
	}
	if s[0] > c.size {
		return nil, fmt.Errorf("models: moco: batch of %d rows, queue of %d keys; the queue holds the batch's keys, so want a batch ≤ the queue", s[0], c.size)
	}
	q, err := graph.NewQueue(dt, c.size, dim)
	if err != nil {
		return nil, fmt.Errorf("models: moco: %w", err)
	}
	refEmb, refLabels, err := q.Nodes(nil, labels)
	if err != nil {
		return nil, fmt.Errorf("models: moco: %w", err)
	}
	cost, err := c.loss(emb, labels, refEmb, refLabels)
	if err != nil {
		return nil, err
	}
	c.queue, c.batch = q, s[0]
	return cost, nil
}

// BeforeStep implements BeforeStepper: it embeds x with the key encoder
// and pushes the keys with their labels into the queue.
func (c *MoCo) BeforeStep(x []float32, labels []int) error {
	if c == nil || c.queue == nil {
		return fmt.Errorf("models: moco: BeforeStep before the loss was built")
	}
	if len(labels) != c.batch {
		return fmt.Errorf("models: moco: the step has %d rows but the loss sees %d (distributed training is not supported)", len(labels), c.batch)
	}
	if c.enc == nil {
		r, err := newEmbedReplica(c.key, c.batch)
		if err != nil {
			return fmt.Errorf("models: moco: key encoder: %w", err)
		}
		c.enc = r
	}
	out, err := c.enc.run(x)
	if err != nil {
		return fmt.Errorf("models: moco: key encoder: %w", err)
	}
	return c.queue.Push(out.Data(), labels)
}

// AfterStep implements AfterStepper: θ_k ← m·θ_k + (1 − m)·θ_q for every
// weight.
func (c *MoCo) AfterStep() error {
	if c == nil || c.query == nil {
		return fmt.Errorf("models: moco: use NewMoCo")
	}
	m := c.momentum
	for i, p := range c.query.Params {
		switch q := p.Value.Data().(type) {
		case []float32:
			ema(c.key.Params[i].Value.Data().([]float32), q, m)
		case []float64:
			ema(c.key.Params[i].Value.Data().([]float64), q, m)
		default:
			return fmt.Errorf("models: moco: weight %s holds %T", p.Name, q)
		}
	}
	return nil
}

// ema sets k ← m·k + (1 − m)·q, computed in float64.
func ema[T float32 | float64](k, q []T, m float64) {
	for j, v := range q {
		k[j] = T(m*float64(k[j]) + (1-m)*float64(v))
	}
}

// KeyModel returns the key encoder (its weights are θ_k; they change with
// every AfterStep).
func (c *MoCo) KeyModel() *Model { return c.key }

// Queue returns the queue of keys (nil before Loss has built the graph).
func (c *MoCo) Queue() *graph.Queue { return c.queue }

// Close releases the key encoder's machine.
func (c *MoCo) Close() {
	if c != nil && c.enc != nil {
		c.enc.vm.Close()
		c.enc = nil
	}
}
