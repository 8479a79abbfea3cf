package models

import (
	"context"

	"fmt"
	"math"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// Loss is what the training loop needs of an objective: a scalar node from
// the embeddings (B×D) and the batch's labels (Int vector of length B).
// Every loss of package losses satisfies it.
type Loss interface {
	Loss(embeddings, labels *G.Node) (*G.Node, error)
}

// BeforeStepper is implemented by a loss that needs a step's batch before
// the forward pass (models.MoCo embeds it with its key encoder). The
// Trainer calls BeforeStep(x, labels) with the rows Step was given, before
// it runs the graph; an error ends the step with the weights untouched.
type BeforeStepper interface {
	BeforeStep(x []float32, labels []int) error
}

// AfterStepper is implemented by a loss that keeps state across steps (a
// cross-batch memory, the momentum encoder of MoCo). The Trainer calls
// AfterStep once after every optimiser step, never after a step that
// failed or whose loss it refused, and from the goroutine that called
// Step, so the state changes between steps only.
type AfterStepper interface {
	AfterStep() error
}

// Dataset is a labelled set of inputs: X holds N rows of Config.Inputs()
// float32 features, Labels N labels.
type Dataset struct {
	X      []float32
	Labels []int
}

// Len returns the number of samples.
func (d Dataset) Len() int { return len(d.Labels) }

func (d Dataset) check(inputs int) error {
	if len(d.Labels) == 0 {
		return fmt.Errorf("models: empty dataset")
	}
	if len(d.X) != len(d.Labels)*inputs {
		return fmt.Errorf("models: dataset has %d features for %d labels; want %d per sample", len(d.X), len(d.Labels), inputs)
	}
	return finiteInputs("dataset", d.X, inputs)
}

// TrainConfig configures Train. Start from DefaultTrainConfig.
type TrainConfig struct {
	// P classes × K samples per batch.
	P, K int
	// Epochs over the data (as the P×K sampler defines an epoch).
	Epochs int
	// MaxSteps stops after this many steps when > 0.
	MaxSteps int
	Solver   Solver
	// LearnRate is the step size.
	LearnRate float64
	// LossLearnRate is the step size of a ParamLoss's own parameters
	// (proxies, class weights), following the same Schedule; 0 means
	// LearnRate. Kim et al. (2020) train Proxy-Anchor's proxies at 100×
	// the encoder's rate.
	LossLearnRate float64
	// Momentum for SGD.
	Momentum float64
	// WeightDecay adds WeightDecay·w to every gradient (L2).
	WeightDecay float64
	// Schedule of the learning rate over the run (Constant or Cosine).
	Schedule Schedule
	// Seed drives the batch sampler.
	Seed uint64
	// MemoryLimit bounds the TrainingMemory estimate of the configuration,
	// in bytes; 0 means DefaultMemoryLimit.
	MemoryLimit int64
	// Workers splits each batch into this many shards, each run forward and
	// backward by its own replica of the encoder graph on its own goroutine
	// (the loss and its miner still see the whole batch). 0 means
	// runtime.GOMAXPROCS(0); 1 is the single-graph step; more than the
	// batch size means one row per shard. Results are bit-identical run to
	// run for a given Workers and agree across Workers to float rounding
	// (the parameter gradients are summed in another order).
	Workers int
	// ChunkSize > 0 turns on gradient caching (Gao et al. 2021): the batch
	// is embedded in chunks of at most ChunkSize rows without keeping
	// activations, the loss and ∂L/∂E are computed on the whole batch, and
	// each chunk is run again forward and backward with its rows of ∂L/∂E.
	// The encoder's memory then grows with ChunkSize, not the batch size,
	// at the cost of a second forward pass. 0 turns it off.
	ChunkSize int
	// StatsMargin is the margin at which BatchStats.Active counts a
	// batch-hard triplet as active (0: the out-of-order ones).
	StatsMargin float64
	// Progress, when set, is called after every step.
	Progress func(Progress)
	// Comm, when it spans more than one process, makes training
	// distributed (distributed.go): this process trains on data shard
	// Comm.Rank() of Comm.Size() with its own P×K batches and Workers, the
	// loss sees every process's batch, gradients are summed over processes
	// and rank 0's initial weights are broadcast. Every process calls Train
	// with the same data, model configuration and TrainConfig.
	Comm Comm
	// Shards splits the data into this many deterministic shards (sample i
	// in shard i mod Shards) and makes each step's batch the concatenation
	// of one P×K batch per shard, each shard with its own sampler. 0 means
	// Comm's size (1 without Comm). A single process with Shards = N trains
	// on the same batches as N processes, to float rounding.
	Shards int
}

// DefaultTrainConfig returns Adam with learning rate 1e-3, batches of 16
// classes × 4 samples, one epoch.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{P: 16, K: 4, Epochs: 1, Solver: Adam, LearnRate: 1e-3, Momentum: 0.9, Seed: 1}
}

// Progress is reported after each training step.
type Progress struct {
	Step, TotalSteps   int
	Epoch, Epochs      int
	StepInEpoch        int
	StepsPerEpoch      int
	Loss               float64 // this step's loss
	RunningLoss        float64 // exponential moving average (factor 0.98, bias-corrected)
	Elapsed            time.Duration
	SamplesPerSecond   float64
	EstimatedRemaining time.Duration
	// Stats describe this step's embeddings (spread, share of active
	// triplets); Stats.Collapsed() flags a collapsed batch.
	Stats BatchStats
}

// History is what Train returns: the loss of every step.
type History struct {
	Losses []float64
	// Stats holds every step's BatchStats; History.Collapse summarises them.
	Stats   []BatchStats
	Steps   int
	Epochs  int
	Elapsed time.Duration
}

// Trainer holds a compiled training graph: encoder + loss + gradients,
// built once for batches of a fixed size and reused for every step.
type Trainer struct {
	model  *Model
	loss   Loss // for its BeforeStepper and AfterStepper hooks
	g      *G.ExprGraph
	vm     G.VM
	built  *Built
	labels *G.Node
	cost   *G.Node
	solver *optimizer
	// gradNodes are the learnables' gradient nodes of the single-graph
	// step, in Learnables order; gradVals their values, reused
	gradNodes G.Nodes
	gradVals  []G.Value
	xbuf      *tensor.Dense
	lbuf      *tensor.Dense
	batch     int
	lr        float64
	par       *parallel  // data-parallel replicas; nil for the single-graph step
	lossp     lossParams // a ParamLoss's parameters and their solver
	margin    float64    // StatsMargin
	stats     BatchStats // of the last successful step
}

// NewTrainer builds and compiles the training graph for batches of b
// samples (this process's rows when cfg.Comm spans several processes: the
// loss then sees Comm.Size()·b rows, and NewTrainer broadcasts rank 0's
// weights into m).
func NewTrainer(m *Model, loss Loss, b int, cfg TrainConfig) (*Trainer, error) {
	if m == nil || loss == nil {
		return nil, fmt.Errorf("models: nil model or loss")
	}
	if !(cfg.LearnRate > 0) || cfg.LearnRate > MaxLearnRate {
		return nil, fmt.Errorf("models: learning rate is %v; want > 0 and ≤ MaxLearnRate = %v", cfg.LearnRate, MaxLearnRate)
	}
	if !(cfg.WeightDecay >= 0) || math.IsInf(cfg.WeightDecay, 0) {
		return nil, fmt.Errorf("models: weight decay is %v; want a finite value ≥ 0", cfg.WeightDecay)
	}
	switch cfg.Solver {
	case Adam, "":
		cfg.Solver = Adam
	case SGD:
		if !(cfg.Momentum >= 0 && cfg.Momentum < 1) {
			return nil, fmt.Errorf("models: momentum is %v; want 0 ≤ momentum < 1", cfg.Momentum)
		}
	default:
		return nil, fmt.Errorf("models: unknown solver %q (want %q or %q)", cfg.Solver, Adam, SGD)
	}
	if cfg.Schedule != Constant && cfg.Schedule != Cosine {
		return nil, fmt.Errorf("models: unknown learning-rate schedule %d", int(cfg.Schedule))
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("models: workers is %d; want ≥ 0 (0: all cores)", cfg.Workers)
	}
	if cfg.ChunkSize < 0 {
		return nil, fmt.Errorf("models: chunk size is %d; want ≥ 0 (0: no gradient caching)", cfg.ChunkSize)
	}
	if b < 1 {
		return nil, fmt.Errorf("models: batch size is %d; want ≥ 1", b)
	}
	if err := checkMemory(m.Config, b, cfg.MemoryLimit); err != nil {
		return nil, err
	}
	solver := newOptimizer(cfg.Solver, cfg.Momentum, cfg.WeightDecay)
	lossScale, err := lossRateScale(cfg, loss)
	if err != nil {
		return nil, err
	}
	lp := lossParams{solver: newOptimizer(cfg.Solver, cfg.Momentum, cfg.WeightDecay), scale: lossScale}
	if w := resolveWorkers(cfg.Workers, b); w > 1 || (cfg.ChunkSize > 0 && cfg.ChunkSize < b) || activeComm(cfg.Comm) != nil {
		if err := m.Config.Validate(); err != nil {
			return nil, err
		}
		chunk := cfg.ChunkSize
		if chunk >= b {
			chunk = 0
		}
		par, err := newParallelComm(m, loss, b, w, chunk, cfg.Comm)
		if err != nil {
			return nil, err
		}
		if par.comm != nil {
			if err := broadcastWeights(par.comm, m, b); err != nil {
				par.close()
				return nil, err
			}
		}
		lp.nodes = par.lossParams
		return &Trainer{model: m, built: par.order[0].built, solver: solver, batch: b, lr: cfg.LearnRate, par: par, margin: cfg.StatsMargin, lossp: lp, loss: loss}, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	g := G.NewGraph()
	built, err := m.Build(g, b)
	if err != nil {
		return nil, err
	}
	labels := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"))
	cost, lpNodes, err := lossCost(loss, built.Embeddings, labels)
	if err != nil {
		return nil, err
	}
	grads, err := G.Grad(cost, append(slices.Clip(built.Learnables), lpNodes...)...)
	if err != nil {
		return nil, fmt.Errorf("models: gradient: %w", err)
	}
	lp.nodes = lpNodes
	t := &Trainer{
		model: m, g: g, built: built, labels: labels, cost: cost, solver: solver, batch: b, lossp: lp,
		gradNodes: grads[:len(built.Learnables)],
		// no G.BindDualValues for the encoder: the solver reads the gradient
		// nodes' values (each run overwrites them), which saves the machine
		// adding every gradient into a second buffer and the solver clearing
		// it; a loss's own parameters keep the dual values lossParams reads
		vm:     newTapeMachine(g, lpNodes),
		xbuf:   tensor.New(tensor.WithShape(b, m.Config.Inputs()), tensor.Of(m.Config.Dtype())),
		lbuf:   tensor.New(tensor.WithShape(b), tensor.Of(tensor.Int)),
		lr:     cfg.LearnRate,
		margin: cfg.StatsMargin,
		loss:   loss,
	}
	return t, nil
}

// newTapeMachine compiles g, binding dual values (gradient buffers that
// Grad reads) for the nodes bind only; none when bind is empty.
func newTapeMachine(g *G.ExprGraph, bind G.Nodes) G.VM {
	if len(bind) == 0 {
		return G.NewTapeMachine(g)
	}
	return G.NewTapeMachine(g, G.BindDualValues(bind...))
}

// Close releases the compiled machines.
func (t *Trainer) Close() {
	if t.par != nil {
		t.par.close()
		return
	}
	t.vm.Close()
}

// Workers returns the number of goroutines that run a step's encoder
// replicas (1 for the single-graph step).
func (t *Trainer) Workers() int {
	if t.par != nil {
		return t.par.workers
	}
	return 1
}

// BatchSize returns the fixed batch size of the graph.
func (t *Trainer) BatchSize() int { return t.batch }

// Step trains on one batch: x holds BatchSize() rows of inputs, labels
// their labels. It returns the batch's loss (before the update) and refuses
// a non-finite loss, leaving the weights untouched.
func (t *Trainer) Step(x []float32, labels []int) (float64, error) {
	return t.StepContext(context.Background(), x, labels)
}

// StepContext is Step that also stops, with ctx's error and the weights
// untouched, when ctx is done while the shards of a data-parallel step are
// running.
func (t *Trainer) StepContext(ctx context.Context, x []float32, labels []int) (_ float64, err error) {
	defer func() {
		if err != nil { // a failed or refused step leaves no gradient behind for the next one to add to
			t.clearGrads()
		}
	}()
	in := t.model.Config.Inputs()
	if len(labels) != t.batch || len(x) != t.batch*in {
		return 0, fmt.Errorf("models: batch has %d labels and %d features; want %d and %d", len(labels), len(x), t.batch, t.batch*in)
	}
	if h, ok := t.loss.(BeforeStepper); ok {
		if err := h.BeforeStep(x, labels); err != nil {
			return 0, fmt.Errorf("models: before step: %w", err)
		}
	}
	if t.par != nil {
		loss, err := t.par.step(ctx, x, labels)
		if err != nil {
			return 0, err
		}
		if err := t.setStats(t.par.ebuf, labels); err != nil {
			return 0, err
		}
		return t.afterStep(t.update(loss))
	}
	switch d := t.xbuf.Data().(type) {
	case []float32:
		copy(d, x)
	case []float64:
		for i, v := range x {
			d[i] = float64(v)
		}
	}
	copy(t.lbuf.Data().([]int), labels)
	if err := G.Let(t.built.Input, t.xbuf); err != nil {
		return 0, err
	}
	if err := G.Let(t.labels, t.lbuf); err != nil {
		return 0, err
	}
	defer t.vm.Reset()
	if err := graph.Run(t.vm); err != nil {
		return 0, fmt.Errorf("models: forward/backward: %w", err)
	}
	var loss float64
	switch v := t.cost.Value().Data().(type) {
	case float32:
		loss = float64(v)
	case float64:
		loss = v
	}
	if err := t.setStats(t.built.Embeddings.Value(), labels); err != nil {
		return 0, err
	}
	return t.afterStep(t.update(loss))
}

// clearGrads zeroes the gradients that the machines add into from run to
// run: a loss's own parameters', and the replicas' (data-parallel step).
// The single graph's encoder gradients are overwritten by each run.
func (t *Trainer) clearGrads() {
	clearNodeGrads(t.lossp.nodes)
	if t.par != nil {
		t.par.clearGrads()
	}
}

// afterStep calls the loss's AfterStep (AfterStepper) once the update of
// a step has succeeded, and passes update's result on.
func (t *Trainer) afterStep(loss float64, err error) (float64, error) {
	if err != nil {
		return loss, err
	}
	if h, ok := t.loss.(AfterStepper); ok {
		if err := h.AfterStep(); err != nil {
			return loss, fmt.Errorf("models: after step: %w", err)
		}
	}
	return loss, nil
}

// update steps the solver with the gradients of a batch whose loss was
// loss (the gradients are in t.built.Learnables).
func (t *Trainer) update(loss float64) (float64, error) {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, fmt.Errorf("models: loss is %v; weights not updated", loss)
	}
	var grads []G.Value
	if t.par != nil {
		var err error
		if grads, err = t.solver.dualGrads(t.built.Learnables); err != nil {
			return loss, err
		}
	} else {
		grads = t.gradVals[:0]
		for _, n := range t.gradNodes {
			grads = append(grads, n.Value())
		}
		t.gradVals = grads
	}
	if len(t.lossp.nodes) > 0 {
		// the encoder's update is checked before the loss's parameters
		// move, so that a refused step leaves both as they were
		if err := t.solver.verify(t.built.Learnables, grads, t.lr); err != nil {
			return loss, err
		}
		if err := t.lossp.step(t.lr); err != nil {
			return loss, err
		}
	}
	// the machine of the data-parallel step adds each run's gradient into
	// the dual values: they are cleared; the single graph overwrites its own
	if err := t.solver.stepGrads(t.built.Learnables, grads, t.lr, t.par != nil); err != nil {
		return loss, err
	}
	return loss, nil
}

// setStats records the batch statistics of emb (B×D) with labels.
func (t *Trainer) setStats(emb G.Value, labels []int) error {
	e, ok := emb.(tensor.Tensor)
	if !ok {
		return fmt.Errorf("models: embeddings are a %T; want a tensor", emb)
	}
	s, err := ComputeBatchStats(e, labels, t.model.Config.Dim, t.margin)
	t.stats = s
	return err
}

// Stats returns the BatchStats of the last step's embeddings.
func (t *Trainer) Stats() BatchStats { return t.stats }

// SetLearnRate changes the learning rate of the following steps.
func (t *Trainer) SetLearnRate(lr float64) error {
	if !(lr >= 0) || lr > MaxLearnRate {
		return fmt.Errorf("models: learning rate is %v; want ≥ 0 and ≤ MaxLearnRate = %v", lr, MaxLearnRate)
	}
	t.lr = lr
	return nil
}

// Train trains m with loss on data, in batches of P classes × K samples
// drawn by mining.PKSampler, for cfg.Epochs epochs (or cfg.MaxSteps steps).
// It stops cleanly between steps (and, with several workers, inside a step)
// when ctx is done, returning the history so far and ctx's error; the
// model's weights are then those of the last completed step.
func Train(ctx context.Context, m *Model, loss Loss, data Dataset, cfg TrainConfig) (*History, error) {
	if m == nil {
		return nil, fmt.Errorf("models: nil model")
	}
	if err := data.check(m.Config.Inputs()); err != nil {
		return nil, err
	}
	if cfg.Epochs < 1 {
		return nil, fmt.Errorf("models: epochs is %d; want ≥ 1", cfg.Epochs)
	}
	sampler, err := newShardSampler(data.Labels, cfg)
	if err != nil {
		return nil, err
	}
	b := sampler.rows
	if err := initLossParams(loss, m, data.Labels, cfg.Seed); err != nil {
		return nil, err
	}
	tr, err := NewTrainer(m, loss, b, cfg)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	in := m.Config.Inputs()
	x := make([]float32, b*in)
	lab := make([]int, b)
	perEpoch := sampler.BatchesPerEpoch()
	total, err := totalSteps(perEpoch, cfg.Epochs, cfg.MaxSteps)
	if err != nil {
		return nil, err
	}
	h := &History{Losses: make([]float64, 0, min(total, 1<<16)), Stats: make([]BatchStats, 0, min(total, 1<<16))} // grows past 65,536 steps
	start := time.Now()
	ema, weight := 0.0, 0.0
	for epoch := 0; epoch < cfg.Epochs && h.Steps < total; epoch++ {
		batches, err := sampler.Epoch(epoch)
		if err != nil {
			return h, err
		}
		for i, idx := range batches {
			if h.Steps >= total {
				break
			}
			if err := ctx.Err(); err != nil {
				h.Elapsed = time.Since(start)
				return h, fmt.Errorf("models: training stopped at step %d: %w", h.Steps, err)
			}
			for r, s := range idx {
				copy(x[r*in:(r+1)*in], data.X[s*in:(s+1)*in])
				lab[r] = data.Labels[s]
			}
			if err := tr.SetLearnRate(cfg.Schedule.rateAt(cfg.LearnRate, h.Steps, total)); err != nil {
				return h, err
			}
			l, err := tr.StepContext(ctx, x, lab)
			if err != nil {
				h.Elapsed = time.Since(start)
				return h, fmt.Errorf("models: step %d (epoch %d): %w", h.Steps, epoch, err)
			}
			h.Losses = append(h.Losses, l)
			h.Stats = append(h.Stats, tr.Stats())
			h.Steps++
			ema = 0.98*ema + 0.02*l
			weight = 0.98*weight + 0.02
			if cfg.Progress != nil {
				el := time.Since(start)
				p := Progress{
					Step: h.Steps, TotalSteps: total, Epoch: epoch + 1, Epochs: cfg.Epochs,
					StepInEpoch: i + 1, StepsPerEpoch: perEpoch,
					Loss: l, RunningLoss: ema / weight, Elapsed: el,
					SamplesPerSecond: float64(h.Steps*b) / el.Seconds(),
					Stats:            tr.Stats(),
				}
				p.EstimatedRemaining = time.Duration(float64(el) / float64(h.Steps) * float64(total-h.Steps))
				cfg.Progress(p)
			}
		}
		h.Epochs = epoch + 1
	}
	h.Elapsed = time.Since(start)
	return h, nil
}
