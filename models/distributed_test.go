package models_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/models"
)

// sharedGroup is a group of n ranks in one process whose collectives meet
// in shared memory: a real implementation of models.Comm (each collective
// is a barrier plus copies), which lets the distributed step be tested
// without MPI. Package models/mpi runs the same checks across processes.
type sharedGroup struct {
	n       int
	mu      sync.Mutex
	cond    *sync.Cond
	gen     int
	arrived int
	slots   []any
	result  []any
}

func newSharedGroup(n int) *sharedGroup {
	g := &sharedGroup{n: n, slots: make([]any, n)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// exchange deposits rank's value (a private copy) and returns every rank's,
// once all n have arrived.
func (g *sharedGroup) exchange(rank int, v any) []any {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.gen
	g.slots[rank] = v
	g.arrived++
	if g.arrived == g.n {
		g.result, g.slots, g.arrived = g.slots, make([]any, g.n), 0
		g.gen++
		g.cond.Broadcast()
	}
	for gen == g.gen {
		g.cond.Wait()
	}
	return g.result
}

type sharedComm struct {
	g    *sharedGroup
	rank int
}

func (c sharedComm) Rank() int { return c.rank }
func (c sharedComm) Size() int { return c.g.n }

func allReduce[T float32 | float64](c sharedComm, buf []T) error {
	all := c.g.exchange(c.rank, slices.Clone(buf))
	clear(buf)
	for _, v := range all { // rank order, like a deterministic reduction
		for i, x := range v.([]T) {
			buf[i] += x
		}
	}
	return nil
}

func allGather[T any](c sharedComm, send, recv []T) error {
	if len(recv) != len(send)*c.g.n {
		return fmt.Errorf("recv has %d values; want %d", len(recv), len(send)*c.g.n)
	}
	all := c.g.exchange(c.rank, slices.Clone(send))
	for r, v := range all {
		copy(recv[r*len(send):], v.([]T))
	}
	return nil
}

func broadcast[T any](c sharedComm, buf []T, root int) error {
	all := c.g.exchange(c.rank, slices.Clone(buf))
	copy(buf, all[root].([]T))
	return nil
}

func (c sharedComm) AllReduceFloat32(b []float32) error           { return allReduce(c, b) }
func (c sharedComm) AllReduceFloat64(b []float64) error           { return allReduce(c, b) }
func (c sharedComm) AllGatherFloat32(s, r []float32) error        { return allGather(c, s, r) }
func (c sharedComm) AllGatherFloat64(s, r []float64) error        { return allGather(c, s, r) }
func (c sharedComm) AllGatherInt(s, r []int) error                { return allGather(c, s, r) }
func (c sharedComm) BroadcastFloat32(b []float32, root int) error { return broadcast(c, b, root) }
func (c sharedComm) BroadcastFloat64(b []float64, root int) error { return broadcast(c, b, root) }

// labelledData returns n samples of in features with labels i mod classes.
func labelledData(n, in, classes int) models.Dataset {
	d := models.Dataset{X: randInputs(5, n, in), Labels: make([]int, n)}
	for i := range d.Labels {
		d.Labels[i] = i % classes
	}
	return d
}

// TestDistributedTrainMatchesOneProcess: Train over 2 and 3 ranks (each
// with 1 or 2 workers or gradient caching in chunks of 4 rows, and
// rank-specific initial weights that rank 0's broadcast must replace) gives, on every rank, the losses and weights of
// one process with Shards = ranks, to float rounding.
func TestDistributedTrainMatchesOneProcess(t *testing.T) {
	cfgs := smallConfigs()
	cnn64 := cfgs["cnn"]
	cnn64.Float64 = true
	cfgs["cnn-float64"] = cnn64
	for _, name := range []string{"mlp", "cnn", "mlp-float64", "cnn-float64"} {
		cfg := cfgs[name]
		for _, ranks := range []int{2, 3} {
			for _, par := range []struct{ workers, chunk int }{{1, 0}, {2, 0}, {2, 4}} {
				t.Run(fmt.Sprintf("%s/ranks=%d/workers=%d/chunk=%d", name, ranks, par.workers, par.chunk), func(t *testing.T) {
					// Float64 pins the equality: gradients summed in
					// another order, ε ≈ 1e-16, through 4 SGD steps. In
					// float32 (ε ≈ 6e-8) the same reordering can flip a
					// batch-hard argmax or a hinge at its kink in the
					// ConvNet (measured: up to 3e-4 on a weight of 0.04
					// after 4 steps), so float32 gets a loose bound. SGD,
					// not Adam: Adam divides the rounding of a near-zero
					// gradient by its own size.
					abs, rel := 1e-3, 1e-2
					if cfg.Float64 {
						abs, rel = 1e-12, 1e-10
					}
					data := labelledData(90, cfg.Inputs(), 5)
					tc := models.TrainConfig{P: 3, K: 2, Epochs: 1, MaxSteps: 4, Solver: models.SGD, LearnRate: 0.2, Seed: 7, Workers: par.workers, ChunkSize: par.chunk}

					one, err := models.New(cfg)
					require.NoError(t, err)
					ref := tc
					ref.Shards = ranks
					hRef, err := models.Train(context.Background(), one, batchHard(), data, ref)
					require.NoError(t, err)
					require.Equal(t, 4, hRef.Steps)

					g := newSharedGroup(ranks)
					hs := make([]*models.History, ranks)
					ms := make([]*models.Model, ranks)
					errs := make([]error, ranks)
					var wg sync.WaitGroup
					for r := range ranks {
						c := cfg
						c.Seed = cfg.Seed + uint64(r) // the broadcast must replace these
						m, err := models.New(c)
						require.NoError(t, err)
						ms[r] = m
						wg.Go(func() {
							dc := tc
							dc.Comm = sharedComm{g, r}
							hs[r], errs[r] = models.Train(context.Background(), m, batchHard(), data, dc)
						})
					}
					wg.Wait()
					want := weights(one)
					init, err := models.New(cfg)
					require.NoError(t, err)
					require.NotEqual(t, weights(init), want, "training did not move the weights")
					for r := range ranks {
						require.NoError(t, errs[r], "rank %d", r)
						require.Equal(t, hRef.Steps, hs[r].Steps)
						for s, l := range hs[r].Losses {
							require.True(t, closeTo(l, hRef.Losses[s], abs, rel), "rank %d step %d loss %v, one process %v", r, s, l, hRef.Losses[s])
						}
						got := weights(ms[r])
						for i := range got {
							for k := range got[i] {
								require.True(t, closeTo(got[i][k], want[i][k], abs, rel), "rank %d param %d[%d] = %v, one process %v", r, i, k, got[i][k], want[i][k])
							}
						}
						require.Equal(t, weights(ms[0]), got, "ranks disagree: rank %d", r)
					}
				})
			}
		}
	}
}

// TestShardsOneIsPlainTraining: Shards = 1 is the plain sampler (the
// default run's batches do not change).
func TestShardsOneIsPlainTraining(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	data := labelledData(60, cfg.Inputs(), 5)
	tc := models.TrainConfig{P: 3, K: 2, Epochs: 1, MaxSteps: 3, Solver: models.Adam, LearnRate: 0.05, Seed: 7, Workers: 1}
	run := func(shards int) []float64 {
		m, err := models.New(cfg)
		require.NoError(t, err)
		c := tc
		c.Shards = shards
		h, err := models.Train(context.Background(), m, batchHard(), data, c)
		require.NoError(t, err)
		return h.Losses
	}
	require.Equal(t, run(0), run(1))
}

// TestShardErrors: bad shard settings are refused with a message that
// names them.
func TestShardErrors(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	data := labelledData(60, cfg.Inputs(), 5)
	m, err := models.New(cfg)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		shards int
		comm   models.Comm
		want   string
	}{
		{"negative", -1, nil, "shards is -1"},
		{"size mismatch", 3, sharedComm{newSharedGroup(2), 0}, "shards is 3 but the communicator has 2"},
		{"too many", 61, nil, "61 shards for 60 samples"},
		{"shard without P classes", 30, nil, "data shard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := models.TrainConfig{P: 3, K: 2, Epochs: 1, Solver: models.Adam, LearnRate: 0.05, Shards: tc.shards, Comm: tc.comm}
			_, err := models.Train(context.Background(), m, batchHard(), data, c)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err = models.ShardIndices(10, 2, 2)
	require.ErrorContains(t, err, "shard 2 of 2")
	idx, err := models.ShardIndices(7, 1, 3)
	require.NoError(t, err)
	require.Equal(t, []int{1, 4}, idx)
}

// TestRanksMustAgree: ranks started with different settings fail on every
// rank with a message naming the setting, before any step.
func TestRanksMustAgree(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	data := labelledData(60, cfg.Inputs(), 5)
	g := newSharedGroup(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		m, err := models.New(cfg)
		require.NoError(t, err)
		wg.Go(func() {
			c := models.TrainConfig{P: 3, K: 2, Epochs: 1, MaxSteps: 4 - r, Solver: models.Adam, LearnRate: 0.05, Comm: sharedComm{g, r}}
			_, errs[r] = models.Train(context.Background(), m, batchHard(), data, c)
		})
	}
	wg.Wait()
	for r := range 2 {
		require.ErrorContains(t, errs[r], "models: rank 1 has MaxSteps = 3, rank 0 has 4", "rank %d", r)
	}
}
