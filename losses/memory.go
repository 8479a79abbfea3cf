package losses

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/mining"
)

// Referenced is a loss that compares its batch with a reference set as
// well (see Ref): Contrastive, Triplet, NTXent, SupCon, MultiSimilarity,
// Circle, GeneralizedLifted and Margin. LossRef is Loss with the loss's Ref
// field replaced by ref (nil: none).
type Referenced interface {
	LossRef(embeddings, labels *G.Node, ref *Ref) (*G.Node, error)
}

// LossRef implements Referenced.
func (c Contrastive) LossRef(emb, labels *G.Node, ref *Ref) (*G.Node, error) {
	c.Ref = ref
	if ref != nil && c.Miner == nil {
		return c.refFast(emb, labels)
	}
	return c.Loss(emb, labels)
}

// LossRef implements Referenced.
func (t Triplet) LossRef(emb, labels *G.Node, ref *Ref) (*G.Node, error) {
	t.Ref = ref
	return t.Loss(emb, labels)
}

// LossRef implements Referenced.
func (l NTXent) LossRef(emb, labels *G.Node, ref *Ref) (*G.Node, error) {
	l.Ref = ref
	if ref != nil && l.Miner == nil {
		if n, ok, err := l.refFast(emb, labels); ok {
			return n, err
		}
	}
	return l.Loss(emb, labels)
}

// LossRef implements Referenced.
func (l SupCon) LossRef(emb, labels *G.Node, ref *Ref) (*G.Node, error) {
	l.Ref = ref
	return l.Loss(emb, labels)
}

// LossRef implements Referenced.
func (l MultiSimilarity) LossRef(emb, labels *G.Node, ref *Ref) (*G.Node, error) {
	l.Ref = ref
	return l.Loss(emb, labels)
}

// LossRef implements Referenced.
func (l Circle) LossRef(emb, labels *G.Node, ref *Ref) (*G.Node, error) {
	l.Ref = ref
	return l.Loss(emb, labels)
}

// LossRef implements Referenced.
func (l GeneralizedLifted) LossRef(emb, labels *G.Node, ref *Ref) (*G.Node, error) {
	l.Ref = ref
	return l.Loss(emb, labels)
}

// LossRef implements Referenced.
func (l Margin) LossRef(emb, labels *G.Node, ref *Ref) (*G.Node, error) {
	l.Ref = ref
	return l.Loss(emb, labels)
}

// RefFunc adapts a Referenced loss to the function of four nodes that
// models.MoCo takes (package models does not import losses): the batch's
// embeddings and labels, and the reference set's embeddings and labels.
func RefFunc(l Referenced) func(emb, labels, refEmb, refLabels *G.Node) (*G.Node, error) {
	return func(emb, labels, refEmb, refLabels *G.Node) (*G.Node, error) {
		if l == nil {
			return nil, fmt.Errorf("losses: nil loss")
		}
		return l.LossRef(emb, labels, &Ref{Embeddings: refEmb, Labels: refLabels})
	}
}

// XBM is the cross-batch memory of Wang, Zhang, Huang & Scott (2020,
// "Cross-Batch Memory for Embedding Learning"): the loss Inner of the batch
// (B×D embeddings f(x), labels y) against the batch and a memory M of the
// embeddings and labels of the last Size samples of earlier steps,
//
//	L = Inner(batch ∪ M), anchors: the batch rows only,
//	M ← the last Size rows of (M, stopgrad(f(x_1..B)), y_1..B)     after the step
//
// with no gradient into M: the Ref semantics of Inner with M as the
// reference set. The memory is a graph.Queue (a ring buffer allocated when
// the graph is built, nothing per step that grows with Size) and holds the
// embeddings as they were when their step ran ("slow drift", which Wang et
// al. find small once the embedding has warmed up; hence Warmup). With an
// empty memory L is Inner's loss of the batch alone.
//
// The memory is appended to by AfterStep, which models.Trainer calls after
// every optimiser step (models.AfterStepper); a step that fails, or whose
// loss the trainer refuses, leaves it unchanged. With several workers the
// loss runs once per step on the whole batch, so every step reads one
// memory state and the update is the same for any number of workers.
// pytorch-metric-learning's CrossBatchMemory enqueues the batch before it
// computes the loss (and drops the self pairs); XBM enqueues after, so the
// batch is never compared with its own copies.
//
// An XBM builds one graph: make one per trainer (NewXBM).
type XBM struct {
	// Inner is the loss of the batch against the batch and the memory.
	Inner Referenced
	// Size is the number of rows the memory holds.
	Size int
	// Warmup is the number of steps before the memory starts to fill (Wang
	// et al. start it after 1,000 iterations); 0 fills it from the first.
	Warmup int

	queue *graph.Queue
	steps int
}

// NewXBM returns a cross-batch memory of size rows around inner.
func NewXBM(inner Referenced, size int) (*XBM, error) {
	x := &XBM{Inner: inner, Size: size}
	return x, x.check()
}

func (x *XBM) check() error {
	switch {
	case x.Inner == nil:
		return fmt.Errorf("losses: xbm: nil inner loss")
	case x.Size < 1:
		return fmt.Errorf("losses: xbm: memory size is %d; want ≥ 1", x.Size)
	case x.Warmup < 0:
		return fmt.Errorf("losses: xbm: warm-up is %d steps; want ≥ 0", x.Warmup)
	}
	return nil
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B)
// against the batch and the memory (Size×D).
func (x *XBM) Loss(emb, labels *G.Node) (*G.Node, error) {
	const name = "xbm"
	if x == nil {
		return nil, fmt.Errorf("losses: %s: nil memory", name)
	}
	if err := x.check(); err != nil {
		return nil, err
	}
	if x.queue != nil {
		return nil, fmt.Errorf("losses: %s: the memory already belongs to a graph; make one XBM per trainer", name)
	}
	_, d, dt, err := batch(name, emb, labels)
	if err != nil {
		return nil, err
	}
	q, err := graph.NewQueue(dt, x.Size, d)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %w", name, err)
	}
	refEmb, refLabels, err := q.Nodes(emb, labels)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %w", name, err)
	}
	loss, err := x.Inner.LossRef(emb, labels, &Ref{Embeddings: refEmb, Labels: refLabels})
	if err != nil {
		return nil, err
	}
	x.queue = q
	return loss, nil
}

// AfterStep appends the last step's batch (its embeddings as the graph
// computed them, and its labels) to the memory, once Warmup steps have
// passed. models.Trainer calls it after every optimiser step.
func (x *XBM) AfterStep() error {
	if x == nil || x.queue == nil {
		return fmt.Errorf("losses: xbm: AfterStep before the loss was built")
	}
	x.steps++
	if x.steps <= x.Warmup {
		return nil
	}
	if _, err := x.queue.PushStaged(); err != nil {
		return fmt.Errorf("losses: xbm: %w", err)
	}
	return nil
}

// Queue returns the memory (nil before Loss has built the graph).
func (x *XBM) Queue() *graph.Queue { return x.queue }

// refLoss is the batch-hard triplet loss of the batch against the batch
// and t.Ref: for anchor i with partners j over the B + R columns,
//
//	ℓ_i = h( max_{j: y_j = y_i, j ≠ i} d_ij − min_{k: y_k ≠ y_i} d_ik + Margin )
//
// for every anchor that has both a positive and a negative (h the hinge or
// softplus), reduced by the Reducer over those anchors.
func (t Triplet) refLoss(e *graph.Expr, dist graph.Distance, emb, labels *G.Node, d int) (*G.Node, error) {
	const name = "triplet"
	switch t.Miner.(type) {
	case nil, mining.BatchHard, *mining.BatchHard:
	default:
		return nil, fmt.Errorf("losses: %s: with a reference set the triplets are batch hard over the batch and the reference rows; Miner must be nil or mining.BatchHard{}, not %T", name, t.Miner)
	}
	if d := mining.DistanceOf(t.Miner); d != nil {
		return nil, fmt.Errorf("losses: %s: with a reference set the batch-hard triplets are mined on the loss's distance; the miner's own Distance (%T) is not supported", name, d)
	}
	if t.Swap {
		return nil, fmt.Errorf("losses: %s: with a reference set Swap is not supported (the hardest negative is taken over the batch and the reference rows)", name)
	}
	if err := checkFinite(name, "margin", t.Margin, true); err != nil {
		return nil, err
	}
	red, err := t.Reducer.or(Sum)
	if err != nil {
		return nil, err
	}
	a, r := refMatrices(e, dist, t.Ref, emb) // the batch's B×B and B×R matrices
	if e.Err() != nil {
		return end(name, e, nil)
	}
	sign := 1.0 // oriented: smaller is closer
	if dist.LargerIsCloser() {
		sign = -1
	}
	// farthest positive − closest negative, and the anchors with a triplet
	gap, has := e.Do2(func() (*G.Node, *G.Node, error) { return graph.RefBatchHard(a, r, labels, t.Ref.Labels, sign) })
	v := e.Add(gap, e.Const(t.Margin)) // d(a,p) − d(a,n) + ε
	terms := e.Relu(v)
	if t.SoftMargin {
		terms = e.Softplus(v)
	}
	return end(name, e, reduce(e, red, terms, has))
}
