package graph

import (
	"fmt"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxQueueValues bounds Size×D of a Queue (2^30 values: 4 GiB of float32),
// checked before anything is allocated.
const MaxQueueValues = 1 << 30

// Queue is a first-in, first-out memory of the last Size rows of
// embeddings (D values each) and their labels, with no gradient: the
// cross-batch memory of Wang et al. (2020, "Cross-Batch Memory for Embedding
// Learning", XBM) and the queue of keys of MoCo (He et al. 2020, "Momentum
// Contrast for Unsupervised Visual Representation Learning").
//
// It is a ring buffer allocated once by NewQueue: Push overwrites the
// oldest rows in place, so a step allocates nothing that grows with Size.
// Until Size rows have been pushed, the empty slots have label −1, which
// CrossLabelMask leaves out of every pair.
//
// Nodes puts the queue into a graph as two forward-only nodes, the Size×D
// embeddings and the Int labels (oldest row first, empty slots last),
// reread from the ring each time the graph runs; they can also stage the
// batch's embeddings and labels of that run, which PushStaged appends after
// the step. A Queue is not safe for concurrent use: push between runs.
type Queue struct {
	size, dim int
	dt        tensor.Dtype
	f32       []float32 // size×dim ring (float32 queues)
	f64       []float64 // size×dim ring (float64 queues)
	labels    []int     // size; −1: empty
	head      int       // next slot to write
	n         int       // filled slots

	stage  *tensor.Dense // B×D of the last run, when a graph stages
	slabel []int
	staged bool
}

// queueOps numbers the ops of every Queue, so that Gorgonia never merges
// the nodes of two queues (their names would otherwise hash alike).
var queueOps atomic.Int64

// NewQueue returns an empty queue of size rows of dim values of dtype dt
// (float32 or float64).
func NewQueue(dt tensor.Dtype, size, dim int) (*Queue, error) {
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("graph: queue dtype is %v; want float32 or float64", dt)
	}
	if size < 1 || dim < 1 {
		return nil, fmt.Errorf("graph: queue of %d rows of %d values; want ≥ 1 of each", size, dim)
	}
	if size > MaxQueueValues/dim {
		return nil, fmt.Errorf("graph: queue of %d rows of %d values exceeds MaxQueueValues = %d", size, dim, MaxQueueValues)
	}
	q := &Queue{size: size, dim: dim, dt: dt, labels: make([]int, size)}
	if dt == tensor.Float32 {
		q.f32 = make([]float32, size*dim)
	} else {
		q.f64 = make([]float64, size*dim)
	}
	q.Reset()
	return q, nil
}

// Size returns the number of rows the queue holds when full.
func (q *Queue) Size() int { return q.size }

// Dim returns the number of values per row.
func (q *Queue) Dim() int { return q.dim }

// Dtype returns the dtype of the rows.
func (q *Queue) Dtype() tensor.Dtype { return q.dt }

// Len returns the number of rows pushed and still held (≤ Size).
func (q *Queue) Len() int { return q.n }

// Reset empties the queue (every label −1, every value 0).
func (q *Queue) Reset() {
	clear(q.f32)
	clear(q.f64)
	for i := range q.labels {
		q.labels[i] = -1
	}
	q.head, q.n, q.staged = 0, 0, false
}

// Push appends rows (len(labels) rows of Dim values each, row-major, as
// []float32 or []float64) in order, overwriting the oldest rows once the
// queue is full; of more than Size rows only the last Size stay. Labels
// must be ≥ 0 (−1 marks an empty slot).
func (q *Queue) Push(rows any, labels []int) error {
	n := len(labels)
	switch r := rows.(type) {
	case []float32:
		if len(r) != n*q.dim {
			return fmt.Errorf("graph: queue push: %d values for %d labels; want %d per row", len(r), n, q.dim)
		}
	case []float64:
		if len(r) != n*q.dim {
			return fmt.Errorf("graph: queue push: %d values for %d labels; want %d per row", len(r), n, q.dim)
		}
	default:
		return fmt.Errorf("graph: queue push: rows are %T; want []float32 or []float64", rows)
	}
	for i, l := range labels {
		if l < 0 {
			return fmt.Errorf("graph: queue push: label %d is %d; want ≥ 0", i, l)
		}
	}
	first := max(0, n-q.size) // only the last Size rows stay
	for i := first; i < n; i++ {
		dst := q.head * q.dim
		switch r := rows.(type) {
		case []float32:
			copyRow(q.f32, q.f64, dst, r[i*q.dim:(i+1)*q.dim])
		case []float64:
			copyRow(q.f32, q.f64, dst, r[i*q.dim:(i+1)*q.dim])
		}
		q.labels[q.head] = labels[i]
		q.head = (q.head + 1) % q.size
		q.n = min(q.n+1, q.size)
	}
	return nil
}

// copyRow writes src into whichever of f32 and f64 is the ring, at dst.
func copyRow[T float](f32 []float32, f64 []float64, dst int, src []T) {
	if f32 != nil {
		for j, v := range src {
			f32[dst+j] = float32(v)
		}
		return
	}
	for j, v := range src {
		f64[dst+j] = float64(v)
	}
}

// Contents returns a copy of the held rows (Len()×Dim values, as float64)
// and their labels, oldest first.
func (q *Queue) Contents() (rows []float64, labels []int) {
	rows = make([]float64, 0, q.n*q.dim)
	labels = make([]int, 0, q.n)
	for k := 0; k < q.n; k++ {
		s := q.slot(k)
		for j := 0; j < q.dim; j++ {
			if q.f32 != nil {
				rows = append(rows, float64(q.f32[s*q.dim+j]))
			} else {
				rows = append(rows, q.f64[s*q.dim+j])
			}
		}
		labels = append(labels, q.labels[s])
	}
	return rows, labels
}

// slot returns the ring index of the k-th oldest held row.
func (q *Queue) slot(k int) int {
	if q.n < q.size {
		return k
	}
	return (q.head + k) % q.size
}

// PushStaged appends the batch that the graph's last run staged (see
// Nodes) and clears the stage; without a staged batch it does nothing and
// returns false.
func (q *Queue) PushStaged() (bool, error) {
	if !q.staged {
		return false, nil
	}
	q.staged = false
	return true, q.Push(q.stage.Data(), q.slabel)
}

// Nodes adds the queue to the graph of labels: emb (Size×Dim, the queue's
// dtype) and refLabels (Int, Size), oldest row first and empty slots (label
// −1) last, read from the ring every time the graph runs into buffers
// owned by the ops (no allocation per run). No gradient flows into them.
//
// labels is the batch's label vector (Int, B). When batch (B×Dim) is not
// nil, every run also stages a copy of batch's values and of labels, for
// PushStaged to append after the step (cross-batch memory); with a nil
// batch nothing is staged (MoCo pushes its keys itself).
func (q *Queue) Nodes(batch, labels *G.Node) (emb, refLabels *G.Node, err error) {
	if labels == nil || labels.Dtype() != tensor.Int || labels.Dims() != 1 {
		return nil, nil, fmt.Errorf("graph: queue: labels must be an Int vector")
	}
	b := labels.Shape()[0]
	id := queueOps.Add(1)
	inputs := []*G.Node{labels}
	if batch != nil {
		if s := batch.Shape(); batch.Dtype() != q.dt || len(s) != 2 || s[0] != b || s[1] != q.dim {
			return nil, nil, fmt.Errorf("graph: queue: batch is %v %v; want %d×%d %v (the labels' length × the queue's width)", batch.Dtype(), batch.Shape(), b, q.dim, q.dt)
		}
		if err := sameGraph(batch, labels); err != nil {
			return nil, nil, err
		}
		inputs = []*G.Node{batch, labels}
		q.stage = tensor.New(tensor.WithShape(b, q.dim), tensor.Of(q.dt))
		q.slabel = make([]int, b)
	}
	out := tensor.New(tensor.WithShape(q.size, q.dim), tensor.Of(q.dt))
	emb, err = apply(fmt.Sprintf("queue#%d(%d×%d,stage=%t)", id, q.size, q.dim, batch != nil), q.dt, 2,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{q.size, q.dim}, nil },
		func(in []G.Value) (G.Value, error) {
			if batch != nil {
				if err := q.stageRun(in[0], in[1]); err != nil {
					return nil, err
				}
			}
			q.ordered(out)
			return out, nil
		}, inputs...)
	if err != nil {
		return nil, nil, err
	}
	lout := tensor.New(tensor.WithShape(q.size), tensor.Of(tensor.Int))
	refLabels, err = apply(fmt.Sprintf("queue#%d-labels(%d)", id, q.size), tensor.Int, 1,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{q.size}, nil },
		func([]G.Value) (G.Value, error) {
			d := lout.Data().([]int)
			for k := range d {
				d[k] = -1
				if k < q.n {
					d[k] = q.labels[q.slot(k)]
				}
			}
			return lout, nil
		}, labels)
	if err != nil {
		return nil, nil, err
	}
	return emb, refLabels, nil
}

// stageRun copies a run's batch values and labels into the stage.
func (q *Queue) stageRun(batch, labels G.Value) error {
	l, ok := labels.Data().([]int)
	if !ok || len(l) != len(q.slabel) {
		return fmt.Errorf("graph: queue: staged labels are %T of length %d; want %d ints", labels.Data(), len(l), len(q.slabel))
	}
	switch v := data(batch).(type) {
	case []float32:
		copy(q.stage.Data().([]float32), v)
	case []float64:
		copy(q.stage.Data().([]float64), v)
	default:
		return fmt.Errorf("graph: queue: staged batch holds %T", v)
	}
	copy(q.slabel, l)
	q.staged = true
	return nil
}

// ordered writes the held rows into out (Size×Dim), oldest first, and zeros
// after them.
func (q *Queue) ordered(out *tensor.Dense) {
	d := q.dim
	switch o := out.Data().(type) {
	case []float32:
		orderedRing(o, q.f32, q.head, q.n, q.size, d)
	case []float64:
		orderedRing(o, q.f64, q.head, q.n, q.size, d)
	}
}

func orderedRing[T float](out, ring []T, head, n, size, d int) {
	if n < size { // not wrapped yet: slots 0..n−1 in order
		copy(out, ring[:n*d])
		clear(out[n*d:])
		return
	}
	k := copy(out, ring[head*d:])
	copy(out[k:], ring[:head*d])
}
