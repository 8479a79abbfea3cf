package models

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// Data-parallel training step.
//
// The batch of B rows is cut into chunks (W shards, or ⌈B/ChunkSize⌉
// chunks with gradient caching), each run by a replica of the encoder graph
// on its own TapeMachine; all replicas bind views of the same weight
// tensors (own headers, shared memory). A replica's graph is
//
//	E_s = encoder(X_s)              b_s×D
//	G_s = exchange(E_s)             forward-only: publishes E_s, returns dL/dE_s
//	c_s = Σ E_s ⊙ G_s               so that ∂c_s/∂E_s = G_s and backprop gives the
//	                                shard's share of ∂L/∂θ
//
// The loss (and its miner) runs once, on the whole B×D matrix, in its own
// graph with ∂L/∂E as an output. In the one-pass step every shard's
// exchange op copies its rows into that matrix and blocks until the loss
// graph has run; it then returns the shard's rows of ∂L/∂E and the shard's
// machine carries on with its backward pass, so the encoder runs forward
// once. With gradient caching (Gao et al. 2021, "Scaling Deep Contrastive
// Learning Batch Size under Memory Limited Setup") chunks are first embedded
// by forward-only graphs that keep no activations, the loss runs, and each
// chunk is then re-run forward and backward with its slice of ∂L/∂E already
// in place; only one chunk's activations per worker exist at a time.
//
// Parameter gradients are summed over replicas in a fixed order (by
// worker, then by the order of their chunks), so a step is bit-identical
// run to run for a given number of workers and chunk size.

// buildMu serialises graph construction in this package: Gorgonia v0.9.18
// numbers the node groups of Conv2d, Rectify and MaxPool2D with a global
// counter (internal/encoding.NewGroup), so building two graphs at once is a
// data race (TestConcurrentEmbed under -race found it). Running compiled
// machines concurrently is unaffected.
var buildMu sync.Mutex

// errAborted is what a shard's exchange op returns when the step ends
// early (another shard failed, the loss failed, or the context was done).
var errAborted = errors.New("models: step aborted")

// stepState is one step's rendezvous between the shards and the loss.
type stepState struct {
	emb   *tensor.Dense // B×D embeddings, written by the shards
	grad  tensor.Tensor // B×D ∂L/∂E, set by the loss before gate closes
	ready chan struct{} // one send per shard that has published its rows
	gate  chan struct{} // closed when grad is set
	abort chan struct{} // closed when the step ends early
}

// replica is one compiled encoder graph for chunks of rows rows.
type replica struct {
	rows  int
	g     *G.ExprGraph
	vm    G.VM
	built *Built
	xbuf  *tensor.Dense // rows×Inputs() input
	out   *tensor.Dense // rows×D slice of ∂L/∂E handed to the backward pass

	// set by the worker goroutine before each run
	off     int        // first batch row of the chunk
	publish bool       // copy E_s into st.emb and signal st.ready
	st      *stepState // the current step
}

// embedReplica is a forward-only encoder graph: a machine of an
// Embedder's pool, or gradient caching's first pass.
type embedReplica struct {
	vm    G.VM
	built *Built
	xbuf  *tensor.Dense
	out   G.Value
}

// chunk is a range of batch rows run by one worker.
type chunk struct{ off, rows, worker int }

// parallel is the data-parallel state of a Trainer.
type parallel struct {
	model   *Model
	batch   int
	dim     int
	workers int
	cache   bool // gradient caching: embed first, recompute per chunk
	chunks  []chunk
	reps    []map[int]*replica      // per worker, by rows
	embeds  []map[int]*embedReplica // per worker, by rows (cache only)
	order   []*replica              // every replica, in summation order

	lg     *G.ExprGraph
	lvm    G.VM
	emb    *G.Node // B×D input of the loss graph
	labels *G.Node
	cost   *G.Node
	dEmb   *G.Node // ∂L/∂E
	ebuf   *tensor.Dense
	lbuf   *tensor.Dense

	// lossParams are a ParamLoss's parameter nodes: they exist only in the
	// loss graph, which runs once per step, so their gradient needs no sum
	// over replicas.
	lossParams G.Nodes

	dist // across processes; zero without a communicator
}

// resolveWorkers returns the number of workers for a batch of b rows.
func resolveWorkers(w, b int) int {
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return max(1, min(w, b))
}

// split cuts b rows into n near-equal consecutive chunks (the first b mod n
// one row longer), assigned to workers round-robin.
func split(b, n, workers int) []chunk {
	out := make([]chunk, n)
	off := 0
	for i := range out {
		rows := b / n
		if i < b%n {
			rows++
		}
		out[i] = chunk{off: off, rows: rows, worker: i % workers}
		off += rows
	}
	return out
}

// viewModel returns a model whose parameters are new tensor headers over
// m's weight memory: a graph built from it reads and (through the solver)
// updates the same weights, while Gorgonia's in-place header changes (the
// transposes of a matrix product's gradient, the engine it sets on inputs)
// stay private to that graph.
func viewModel(m *Model) *Model {
	v := &Model{Config: m.Config, Params: make([]Param, len(m.Params))}
	for i, p := range m.Params {
		v.Params[i] = Param{Name: p.Name, Value: tensor.New(tensor.WithShape(p.Value.Shape().Clone()...), tensor.WithBacking(p.Value.Data()))}
	}
	return v
}

// newParallel builds the replicas and the loss graph for batches of b rows
// run by workers goroutines, with chunks of at most chunkSize rows when
// chunkSize > 0 (gradient caching).
func newParallel(m *Model, loss Loss, b, workers, chunkSize int) (*parallel, error) {
	return newParallelComm(m, loss, b, workers, chunkSize, nil)
}

// newParallelComm is newParallel whose loss sees the batches of every rank
// of comm (see distributed.go); a nil comm is newParallel.
func newParallelComm(m *Model, loss Loss, b, workers, chunkSize int, comm Comm) (*parallel, error) {
	p := &parallel{model: m, batch: b, dim: m.Config.Dim, workers: workers, dist: newDist(comm, b)}
	n := workers
	if chunkSize > 0 {
		p.cache = true
		n = max(workers, (b+chunkSize-1)/chunkSize)
	}
	p.chunks = split(b, n, workers)
	p.reps = make([]map[int]*replica, workers)
	p.embeds = make([]map[int]*embedReplica, workers)
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	for w := range workers {
		p.reps[w] = map[int]*replica{}
		p.embeds[w] = map[int]*embedReplica{}
	}
	for _, c := range p.chunks {
		if p.reps[c.worker][c.rows] != nil {
			continue
		}
		r, err := newReplica(m, c.rows)
		if err != nil {
			return nil, err
		}
		p.reps[c.worker][c.rows] = r
		if p.cache {
			e, err := newEmbedReplica(m, c.rows)
			if err != nil {
				return nil, err
			}
			p.embeds[c.worker][c.rows] = e
		}
	}
	// Summation order: worker 0's replicas first, larger chunks first.
	for w := range workers {
		for _, c := range p.chunks {
			if r := p.reps[w][c.rows]; c.worker == w && r != nil && !containsReplica(p.order, r) {
				p.order = append(p.order, r)
			}
		}
	}
	dt := m.Config.Dtype()
	buildMu.Lock()
	defer buildMu.Unlock()
	p.lg = G.NewGraph()
	p.emb = G.NewMatrix(p.lg, dt, G.WithShape(p.global, p.dim), G.WithName("embeddings"))
	p.labels = G.NewVector(p.lg, tensor.Int, G.WithShape(p.global), G.WithName("labels"))
	cost, lossParams, err := lossCost(loss, p.emb, p.labels)
	if err != nil {
		return nil, err
	}
	grads, err := G.Grad(cost, append(G.Nodes{p.emb}, lossParams...)...)
	if err != nil {
		return nil, fmt.Errorf("models: gradient of the loss: %w", err)
	}
	p.cost, p.dEmb, p.lossParams = cost, grads[0], lossParams
	if len(lossParams) > 0 {
		p.lvm = G.NewTapeMachine(p.lg, G.BindDualValues(lossParams...))
	} else {
		p.lvm = G.NewTapeMachine(p.lg)
	}
	p.ebuf = tensor.New(tensor.WithShape(b, p.dim), tensor.Of(dt))
	p.lbuf = tensor.New(tensor.WithShape(b), tensor.Of(tensor.Int))
	p.dist.buffers(p.ebuf, p.lbuf, p.dim, dt)
	ok = true
	return p, nil
}

func containsReplica(rs []*replica, r *replica) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// newReplica builds the training graph of one chunk size.
func newReplica(m *Model, rows int) (*replica, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	r := &replica{rows: rows, g: G.NewGraph()}
	built, err := viewModel(m).Build(r.g, rows)
	if err != nil {
		return nil, err
	}
	r.built = built
	dt := m.Config.Dtype()
	d := m.Config.Dim
	r.out = tensor.New(tensor.WithShape(rows, d), tensor.Of(dt))
	r.xbuf = tensor.New(tensor.WithShape(rows, m.Config.Inputs()), tensor.Of(dt))
	gradIn, err := graph.ApplyForward(fmt.Sprintf("exchange(rows=%d)", rows), dt, 2,
		func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
		func(in []G.Value) (G.Value, error) { return r.exchange(in[0]) },
		built.Embeddings)
	if err != nil {
		return nil, err
	}
	prod, err := G.HadamardProd(built.Embeddings, gradIn)
	if err != nil {
		return nil, err
	}
	cost, err := G.Sum(prod)
	if err != nil {
		return nil, err
	}
	if _, err := G.Grad(cost, built.Learnables...); err != nil {
		return nil, fmt.Errorf("models: replica gradient: %w", err)
	}
	r.vm = G.NewTapeMachine(r.g, G.BindDualValues(built.Learnables...))
	return r, nil
}

// exchange is the forward-only op between a replica's encoder and its
// backward pass: it publishes the chunk's embeddings (one-pass step), waits
// for the loss graph's ∂L/∂E, and returns the chunk's rows of it.
func (r *replica) exchange(e G.Value) (G.Value, error) {
	st := r.st
	if st == nil {
		return nil, fmt.Errorf("models: replica run outside a step")
	}
	if r.publish {
		if err := copyRows(st.emb, r.off, e, 0, r.rows); err != nil {
			return nil, err
		}
		st.ready <- struct{}{}
	}
	select {
	case <-st.gate:
	case <-st.abort:
		return nil, errAborted
	}
	if err := copyRows(r.out, 0, st.grad, r.off, r.rows); err != nil {
		return nil, err
	}
	return r.out, nil
}

// newEmbedReplica builds a forward-only encoder graph for batches of rows
// rows on views of m's weights (safe to run alongside other graphs of the
// same model).
func newEmbedReplica(m *Model, rows int) (*embedReplica, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	g := G.NewGraph()
	built, err := viewModel(m).Build(g, rows)
	if err != nil {
		return nil, err
	}
	e := &embedReplica{built: built, xbuf: tensor.New(tensor.WithShape(rows, m.Config.Inputs()), tensor.Of(m.Config.Dtype()))}
	G.Read(built.Embeddings, &e.out)
	e.vm = G.NewTapeMachine(g)
	return e, nil
}

// run embeds rows of x (≤ the replica's batch; the rest is zero padding)
// and returns the rows×D output (valid until the next run).
func (e *embedReplica) run(x []float32) (G.Value, error) {
	if err := fillInput(e.xbuf, x); err != nil {
		return nil, err
	}
	if err := G.Let(e.built.Input, e.xbuf); err != nil {
		return nil, err
	}
	defer e.vm.Reset()
	if err := graph.Run(e.vm); err != nil {
		return nil, err
	}
	return e.out, nil
}

// fillInput copies x into buf (converting to its dtype) and zeroes the rest.
func fillInput(buf *tensor.Dense, x []float32) error {
	switch d := buf.Data().(type) {
	case []float32:
		copy(d, x)
		clear(d[len(x):])
	case []float64:
		for i, v := range x {
			d[i] = float64(v)
		}
		clear(d[len(x):])
	default:
		return fmt.Errorf("models: input buffer has type %T", d)
	}
	return nil
}

// copyRows copies rows rows of width D from src (starting at row so) into
// dst (starting at row do); both have the same float dtype and width.
func copyRows(dst tensor.Tensor, do int, src G.Value, so, rows int) error {
	dd, sd := dst.Data(), src.Data()
	switch d := dd.(type) {
	case []float32:
		s, ok := sd.([]float32)
		if !ok {
			return fmt.Errorf("models: exchange: %T into %T", sd, dd)
		}
		w := len(d) / dst.Shape()[0]
		copy(d[do*w:(do+rows)*w], s[so*w:(so+rows)*w])
	case []float64:
		s, ok := sd.([]float64)
		if !ok {
			return fmt.Errorf("models: exchange: %T into %T", sd, dd)
		}
		w := len(d) / dst.Shape()[0]
		copy(d[do*w:(do+rows)*w], s[so*w:(so+rows)*w])
	default:
		return fmt.Errorf("models: exchange: unsupported type %T", dd)
	}
	return nil
}

// learnables returns the nodes the solver steps: the first replica's, into
// which step has summed every replica's gradients.
func (p *parallel) learnables() G.Nodes { return p.order[0].built.Learnables }

func (p *parallel) close() {
	for _, rs := range p.reps {
		for _, r := range rs {
			r.vm.Close()
		}
	}
	for _, es := range p.embeds {
		for _, e := range es {
			e.vm.Close()
		}
	}
	if p.lvm != nil {
		p.lvm.Close()
	}
}

// step runs forward and backward over the batch (x: B×Inputs() features,
// labels: B) and leaves the summed parameter gradient in learnables(). It
// returns the loss. On an error no gradient is left behind.
func (p *parallel) step(ctx context.Context, x []float32, labels []int) (loss float64, err error) {
	defer func() {
		if err != nil {
			p.clearGrads()
		}
	}()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("models: step stopped: %w", err)
	}
	copy(p.lbuf.Data().([]int), labels)
	in := p.model.Config.Inputs()
	st := &stepState{emb: p.ebuf, gate: make(chan struct{}), abort: make(chan struct{})}
	if p.cache {
		// First pass: embed every chunk without keeping activations.
		if err := p.each(ctx, st, func(c chunk) error {
			v, err := p.embeds[c.worker][c.rows].run(x[c.off*in : (c.off+c.rows)*in])
			if err != nil {
				return err
			}
			return copyRows(p.ebuf, c.off, v, 0, c.rows)
		}); err != nil {
			return 0, err
		}
		if loss, err = p.runLoss(st); err != nil {
			return 0, err
		}
		close(st.gate)
		// Second pass: recompute each chunk with its slice of ∂L/∂E.
		if err := p.each(ctx, st, func(c chunk) error {
			return p.runReplica(st, c, x[c.off*in:(c.off+c.rows)*in], false)
		}); err != nil {
			return 0, err
		}
		return loss, p.finishGrads()
	}

	// One pass: the shards block in their exchange op while the loss runs.
	st.ready = make(chan struct{}, len(p.chunks))
	done := make(chan error, len(p.chunks))
	var wg sync.WaitGroup
	for _, c := range p.chunks {
		wg.Go(func() {
			done <- p.runReplica(st, c, x[c.off*in:(c.off+c.rows)*in], true)
		})
	}
	abort := func(e error) (float64, error) {
		close(st.abort)
		wg.Wait()
		close(done)
		for d := range done {
			if d != nil && !errors.Is(d, errAborted) {
				return 0, d // the first shard's own failure names the cause
			}
		}
		return 0, e
	}
	for got := 0; got < len(p.chunks); {
		select {
		case <-st.ready:
			got++
		case e := <-done:
			if e == nil {
				e = fmt.Errorf("models: a shard finished without its embeddings")
			}
			return abort(e)
		case <-ctx.Done():
			return abort(fmt.Errorf("models: step stopped: %w", ctx.Err()))
		}
	}
	if loss, err = p.runLoss(st); err != nil {
		return abort(err)
	}
	if err := ctx.Err(); err != nil {
		return abort(fmt.Errorf("models: step stopped: %w", err))
	}
	close(st.gate)
	wg.Wait()
	close(done)
	for e := range done {
		if e != nil {
			return 0, e
		}
	}
	return loss, p.finishGrads()
}

// each runs fn for every chunk, worker w's chunks in order on goroutine w,
// and returns the first error (by worker); ctx is checked between chunks.
func (p *parallel) each(ctx context.Context, st *stepState, fn func(chunk) error) error {
	errs := make([]error, p.workers)
	var wg sync.WaitGroup
	for w := range p.workers {
		wg.Go(func() {
			for _, c := range p.chunks {
				if c.worker != w {
					continue
				}
				if err := ctx.Err(); err != nil {
					errs[w] = fmt.Errorf("models: step stopped: %w", err)
					return
				}
				if err := fn(c); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runReplica runs chunk c's replica forward and backward on rows x.
func (p *parallel) runReplica(st *stepState, c chunk, x []float32, publish bool) error {
	r := p.reps[c.worker][c.rows]
	r.off, r.publish, r.st = c.off, publish, st
	defer func() { r.st = nil }()
	if err := fillInput(r.xbuf, x); err != nil {
		return err
	}
	if err := G.Let(r.built.Input, r.xbuf); err != nil {
		return err
	}
	defer r.vm.Reset()
	if err := graph.Run(r.vm); err != nil {
		select {
		case <-st.abort: // Gorgonia's wrapping hides errAborted from errors.Is
			return errAborted
		default:
		}
		return fmt.Errorf("models: shard rows %d–%d: %w", c.off, c.off+c.rows-1, err)
	}
	return nil
}

// runLoss runs the loss graph on st.emb and sets st.grad.
func (p *parallel) runLoss(st *stepState) (float64, error) {
	if err := p.gather(p.ebuf, p.lbuf); err != nil {
		return 0, err
	}
	if err := G.Let(p.emb, p.gemb); err != nil {
		return 0, err
	}
	if err := G.Let(p.labels, p.glab); err != nil {
		return 0, err
	}
	p.lvm.Reset()
	if err := graph.Run(p.lvm); err != nil {
		return 0, fmt.Errorf("models: loss: %w", err)
	}
	g, ok := p.dEmb.Value().(tensor.Tensor)
	if !ok || !g.Shape().Eq(tensor.Shape{p.global, p.dim}) {
		return 0, fmt.Errorf("models: loss gradient is %v; want %d×%d", p.dEmb.Value(), p.global, p.dim)
	}
	var err error
	if st.grad, err = p.localRows(g); err != nil {
		return 0, err
	}
	switch v := p.cost.Value().Data().(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	default:
		return 0, fmt.Errorf("models: loss has type %T", v)
	}
}

// sumGrads adds every replica's parameter gradients into the first
// replica's, in p.order, and clears the others.
func (p *parallel) sumGrads() error {
	dst := p.order[0].built.Learnables
	for _, r := range p.order[1:] {
		for i, n := range r.built.Learnables {
			gs, err := n.Grad()
			if err != nil {
				return fmt.Errorf("models: no gradient for %s: %w", n.Name(), err)
			}
			gd, err := dst[i].Grad()
			if err != nil {
				return fmt.Errorf("models: no gradient for %s: %w", n.Name(), err)
			}
			if gs == nil || gd == nil || gs.Shape().TotalSize() != gd.Shape().TotalSize() || gs.Dtype() != gd.Dtype() {
				return fmt.Errorf("models: replica gradients of %s do not match", n.Name())
			}
			switch d := gd.Data().(type) {
			case []float32:
				s := gs.Data().([]float32)
				for k := range d {
					d[k] += s[k]
				}
				clear(s)
			case []float64:
				s := gs.Data().([]float64)
				for k := range d {
					d[k] += s[k]
				}
				clear(s)
			}
		}
	}
	return nil
}

// clearGrads zeroes every replica's parameter gradients and the loss's.
func (p *parallel) clearGrads() {
	clearNodeGrads(p.lossParams)
	for _, r := range p.order {
		for _, n := range r.built.Learnables {
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
}
