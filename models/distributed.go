package models

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/mining"
)

// Distributed data-parallel training across processes.
//
// N processes (ranks) each train on their own shard of the data, with
// their own replicas and workers (parallel.go); the loss sees the global
// batch of all ranks. One step on rank r with a local batch of b rows:
//
//	E_r = encoder(X_r)                    b×D, by the rank's shards
//	E = allgather(E_1 … E_N), y likewise  B×D with B = N·b, rank order
//	L, ∂L/∂E = loss(E, y)                 the same on every rank
//	∂L/∂E_r = rows [r·b, (r+1)·b) of ∂L/∂E, back to the rank's shards
//	g = allreduce_sum(Σ_shards ∂c/∂θ)     the full gradient, on every rank
//	θ ← solver(θ, g)                      the same update on every rank
//
// (as torch.distributed users do for SimCLR, CLIP and SupCon: Chen et al.
// 2020; Radford et al. 2021; Khosla et al. 2020). Rank 0's initial weights
// are broadcast by NewTrainer, so every rank holds the same weights after
// every step. Since the loss and ∂L/∂E are functions of the global batch
// only, and the parameter gradient is a sum over rows, N processes give
// one process's result on the same global batch up to the order of the
// float sums.

// Comm is what distributed training needs of a communicator across
// processes: the collectives of MPI over every rank of a job. Package
// models/mpi (built with -tags mpi) provides one over Open MPI. A
// collective that cannot complete (a rank failed or stopped) must return
// an error rather than wait forever.
type Comm interface {
	// Rank is this process's rank in [0, Size()).
	Rank() int
	// Size is the number of processes.
	Size() int
	// AllReduceFloat32/64 replace buf by the element-wise sum over ranks.
	AllReduceFloat32(buf []float32) error
	AllReduceFloat64(buf []float64) error
	// AllGather* write every rank's send (same length everywhere) into
	// recv (Size()·len(send) values), in rank order.
	AllGatherFloat32(send, recv []float32) error
	AllGatherFloat64(send, recv []float64) error
	AllGatherInt(send, recv []int) error
	// BroadcastFloat32/64 copy root's buf into every rank's buf.
	BroadcastFloat32(buf []float32, root int) error
	BroadcastFloat64(buf []float64, root int) error
}

// activeComm returns c when it spans more than one process, else nil.
func activeComm(c Comm) Comm {
	if c == nil || c.Size() <= 1 {
		return nil
	}
	return c
}

// dist is the cross-process part of a parallel step: with a nil comm the
// global batch is the local one and every method is a no-op.
type dist struct {
	comm       Comm
	rank, size int
	local      int           // rows of this rank's batch
	global     int           // rows of the global batch (size·local)
	gemb       *tensor.Dense // global×D gathered embeddings (= ebuf without comm)
	glab       *tensor.Dense // global labels (= lbuf without comm)
	lgrad      *tensor.Dense // local×D rows of ∂L/∂E of this rank
	flat32     []float32     // every gradient, packed for one all-reduce
	flat64     []float64
}

func newDist(c Comm, b int) dist {
	c = activeComm(c)
	if c == nil {
		return dist{size: 1, local: b, global: b}
	}
	return dist{comm: c, rank: c.Rank(), size: c.Size(), local: b, global: b * c.Size()}
}

// buffers allocates the global buffers for local ones (ebuf: local×dim).
func (d *dist) buffers(ebuf, lbuf *tensor.Dense, dim int, dt tensor.Dtype) {
	if d.comm == nil {
		d.gemb, d.glab = ebuf, lbuf
		return
	}
	d.gemb = tensor.New(tensor.WithShape(d.global, dim), tensor.Of(dt))
	d.glab = tensor.New(tensor.WithShape(d.global), tensor.Of(tensor.Int))
	d.lgrad = tensor.New(tensor.WithShape(d.local, dim), tensor.Of(dt))
}

// gather all-gathers the ranks' embeddings and labels into gemb and glab.
func (d *dist) gather(ebuf, lbuf *tensor.Dense) error {
	if d.comm == nil {
		return nil
	}
	var err error
	switch e := ebuf.Data().(type) {
	case []float32:
		err = d.comm.AllGatherFloat32(e, d.gemb.Data().([]float32))
	case []float64:
		err = d.comm.AllGatherFloat64(e, d.gemb.Data().([]float64))
	default:
		err = fmt.Errorf("unsupported type %T", e)
	}
	if err != nil {
		return fmt.Errorf("models: gathering the embeddings of %d ranks: %w", d.size, err)
	}
	if err := d.comm.AllGatherInt(lbuf.Data().([]int), d.glab.Data().([]int)); err != nil {
		return fmt.Errorf("models: gathering the labels of %d ranks: %w", d.size, err)
	}
	return nil
}

// localRows returns this rank's rows of the global ∂L/∂E.
func (d *dist) localRows(g tensor.Tensor) (tensor.Tensor, error) {
	if d.comm == nil {
		return g, nil
	}
	if err := copyRows(d.lgrad, 0, g, d.rank*d.local, d.local); err != nil {
		return nil, err
	}
	return d.lgrad, nil
}

// finishGrads sums the replicas' gradients into the first replica's and,
// across processes, all-reduces that sum (packed into one buffer: one
// collective per step, whatever the number of parameters).
func (p *parallel) finishGrads() error {
	if err := p.sumGrads(); err != nil {
		return err
	}
	if p.comm == nil {
		return nil
	}
	grads := make([]G.Value, 0, len(p.learnables()))
	n := 0
	for _, l := range p.learnables() {
		g, err := l.Grad()
		if err != nil || g == nil {
			return fmt.Errorf("models: no gradient for %s: %v", l.Name(), err)
		}
		grads = append(grads, g)
		n += g.Shape().TotalSize()
	}
	var err error
	switch grads[0].Data().(type) {
	case []float32:
		err = allReduceFlat(p.comm.AllReduceFloat32, &p.flat32, grads, n)
	case []float64:
		err = allReduceFlat(p.comm.AllReduceFloat64, &p.flat64, grads, n)
	default:
		err = fmt.Errorf("unsupported type %T", grads[0].Data())
	}
	if err != nil {
		return fmt.Errorf("models: all-reducing the gradients over %d ranks: %w", p.size, err)
	}
	return nil
}

// allReduceFlat packs grads (n values of type T in all) into *buf, sums
// it over the ranks with reduce and unpacks the result.
func allReduceFlat[T float32 | float64](reduce func([]T) error, buf *[]T, grads []G.Value, n int) error {
	if len(*buf) != n {
		*buf = make([]T, n)
	}
	off := 0
	for _, g := range grads {
		d, ok := g.Data().([]T)
		if !ok {
			return fmt.Errorf("gradients of mixed types")
		}
		off += copy((*buf)[off:], d)
	}
	if err := reduce(*buf); err != nil {
		return err
	}
	off = 0
	for _, g := range grads {
		off += copy(g.Data().([]T), (*buf)[off:])
	}
	return nil
}

// agree checks that every rank passes the same values (named by names),
// so that a job whose ranks were started with different settings fails
// with a message instead of mismatched collectives.
func agree(c Comm, names []string, vals ...int) error {
	all := make([]int, len(vals)*c.Size())
	if err := c.AllGatherInt(vals, all); err != nil {
		return fmt.Errorf("models: comparing settings across ranks: %w", err)
	}
	for r := 1; r < c.Size(); r++ {
		for i, v := range all[r*len(vals) : (r+1)*len(vals)] {
			if v != all[i] {
				return fmt.Errorf("models: rank %d has %s = %d, rank 0 has %d: every rank needs the same data and configuration", r, names[i], v, all[i])
			}
		}
	}
	return nil
}

// broadcastWeights copies rank 0's weights to every rank, after checking
// that every rank has the same batch and parameter shapes.
func broadcastWeights(c Comm, m *Model, b int) error {
	names, vals := []string{"batch rows", "parameters"}, []int{b, len(m.Params)}
	if err := agree(c, names, vals...); err != nil {
		return err
	}
	names, vals = names[:0], vals[:0]
	for _, p := range m.Params {
		names, vals = append(names, "the size of "+p.Name), append(vals, p.Value.Shape().TotalSize())
	}
	if err := agree(c, names, vals...); err != nil {
		return err
	}
	for _, p := range m.Params {
		var err error
		switch d := p.Value.Data().(type) {
		case []float32:
			err = c.BroadcastFloat32(d, 0)
		case []float64:
			err = c.BroadcastFloat64(d, 0)
		default:
			err = fmt.Errorf("unsupported type %T", d)
		}
		if err != nil {
			return fmt.Errorf("models: broadcasting %s from rank 0: %w", p.Name, err)
		}
	}
	return nil
}

// shardSeed is the sampler seed of data shard s: the run's seed for shard
// 0 (so one shard is the plain sampler), decorrelated ones for the rest.
func shardSeed(seed uint64, s int) uint64 { return seed + uint64(s)*0x9e3779b97f4a7c15 }

// ShardIndices returns the dataset indices of shard s of n: every i in
// [0, size) with i mod n = s, in order. This is the deterministic split of
// distributed training (TrainConfig.Shards).
func ShardIndices(size, s, n int) ([]int, error) {
	if n < 1 || s < 0 || s >= n {
		return nil, fmt.Errorf("models: shard %d of %d; want 0 ≤ shard < shards", s, n)
	}
	out := make([]int, 0, (size+n-1)/n)
	for i := s; i < size; i += n {
		out = append(out, i)
	}
	return out, nil
}

// shardSampler draws Train's batches: with S shards, each global batch is
// the concatenation, in shard order, of one P×K batch drawn from each
// shard by its own sampler. A process of a job draws only its rank's part;
// a single process with Shards = S draws all of them, so it trains on the
// same global batches as S processes.
type shardSampler struct {
	shards   []int               // the shards this process draws
	index    [][]int             // per drawn shard: its dataset indices
	samplers []*mining.PKSampler // per drawn shard
	perEpoch int                 // min over all S shards
	rows     int                 // rows this process draws per step
}

func newShardSampler(labels []int, cfg TrainConfig) (*shardSampler, error) {
	comm := activeComm(cfg.Comm)
	n := cfg.Shards
	switch {
	case n < 0:
		return nil, fmt.Errorf("models: shards is %d; want ≥ 0 (0: one per process)", n)
	case n == 0 && comm != nil:
		n = comm.Size()
	case n == 0:
		n = 1
	case comm != nil && n != comm.Size():
		return nil, fmt.Errorf("models: shards is %d but the communicator has %d processes; want equal (or 0)", n, comm.Size())
	}
	if n > len(labels) {
		return nil, fmt.Errorf("models: %d shards for %d samples", n, len(labels))
	}
	s := &shardSampler{perEpoch: -1}
	for sh := range n {
		idx, err := ShardIndices(len(labels), sh, n)
		if err != nil {
			return nil, err
		}
		lab := make([]int, len(idx))
		for i, j := range idx {
			lab[i] = labels[j]
		}
		smp, err := mining.NewPKSampler(lab, cfg.P, cfg.K, shardSeed(cfg.Seed, sh))
		if err != nil {
			if n > 1 {
				return nil, fmt.Errorf("models: data shard %d of %d: %w", sh, n, err)
			}
			return nil, err
		}
		if s.perEpoch < 0 || smp.BatchesPerEpoch() < s.perEpoch {
			s.perEpoch = smp.BatchesPerEpoch()
		}
		if comm == nil || sh == comm.Rank() {
			s.shards = append(s.shards, sh)
			s.index = append(s.index, idx)
			s.samplers = append(s.samplers, smp)
			s.rows += cfg.P * cfg.K
		}
	}
	if comm != nil {
		names := []string{"the number of samples", "P", "K", "Epochs", "MaxSteps", "the seed (low 31 bits)", "batches per epoch"}
		if err := agree(comm, names, len(labels), cfg.P, cfg.K, cfg.Epochs, cfg.MaxSteps, int(cfg.Seed&0x7fffffff), s.perEpoch); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// BatchesPerEpoch is the smallest number of batches per epoch of any shard
// (so every rank takes the same number of steps).
func (s *shardSampler) BatchesPerEpoch() int { return s.perEpoch }

// Epoch returns epoch e's batches as dataset indices.
func (s *shardSampler) Epoch(e int) ([][]int, error) {
	out := make([][]int, s.perEpoch)
	for i := range out {
		out[i] = make([]int, 0, s.rows)
	}
	for k, smp := range s.samplers {
		bs, err := smp.Epoch(e)
		if err != nil {
			return nil, err
		}
		for i := range out {
			for _, j := range bs[i] {
				out[i] = append(out[i], s.index[k][j])
			}
		}
	}
	return out, nil
}
