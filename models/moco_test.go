package models_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/models"
)

// memoryLoss returns a fresh loss with a memory for model m: a cross-batch
// memory around the contrastive loss, or MoCo with NT-Xent.
func memoryLoss(t *testing.T, kind string, m *models.Model, size int) (models.Loss, func() *graph.Queue) {
	t.Helper()
	switch kind {
	case "xbm":
		x, err := losses.NewXBM(losses.ContrastivePML(), size)
		require.NoError(t, err)
		return x, x.Queue
	case "moco":
		c, err := models.NewMoCo(m, losses.RefFunc(losses.NTXent{Temperature: 0.5}), size, 0.9)
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c, c.Queue
	}
	t.Fatalf("unknown memory %q", kind)
	return nil, nil
}

// trainMemory runs steps SGD steps of a fresh model of cfg with the memory
// loss on batches of b rows and returns the losses, the weights and the
// memory's rows and labels.
func trainMemory(t *testing.T, kind string, cfg models.Config, b, steps, workers, size int) ([]float64, [][]float64, []float64, []int) {
	t.Helper()
	m, err := models.New(cfg)
	require.NoError(t, err)
	loss, queue := memoryLoss(t, kind, m, size)
	tr, err := models.NewTrainer(m, loss, b, models.TrainConfig{Solver: models.SGD, LearnRate: 0.3, Workers: workers})
	require.NoError(t, err)
	defer tr.Close()
	var ls []float64
	for s := range steps {
		labels := make([]int, b)
		for i := range labels {
			labels[i] = (i + s) % 3
		}
		l, err := tr.Step(randInputs(uint64(30+s), b, cfg.Inputs()), labels)
		require.NoError(t, err)
		ls = append(ls, l)
	}
	rows, labels := queue().Contents()
	return ls, weights(m), rows, labels
}

// TestMemoryAcrossWorkers: with a memory (XBM, MoCo) a run is
// bit-identical when repeated, and 2 or 3 workers give the losses, weights
// and memory of the single-graph step to float rounding: every step reads
// one memory state, whatever the number of replicas, and updates it once.
func TestMemoryAcrossWorkers(t *testing.T) {
	const b, steps, size = 7, 4, 12 // the memory wraps at the second step
	cfgs := smallConfigs()
	for _, kind := range []string{"xbm", "moco"} {
		for _, name := range []string{"mlp", "mlp-float64", "cnn"} {
			cfg := cfgs[name]
			t.Run(kind+"/"+name, func(t *testing.T) {
				tol := 1e-4 // float32: the parameter gradients are summed in another order
				if cfg.Float64 {
					tol = 1e-10
				}
				l1, w1, r1, lab1 := trainMemory(t, kind, cfg, b, steps, 1, size)
				require.Len(t, lab1, size)
				for _, workers := range []int{2, 3} {
					l, w, r, lab := trainMemory(t, kind, cfg, b, steps, workers, size)
					again, w2, r2, lab2 := trainMemory(t, kind, cfg, b, steps, workers, size)
					require.Equal(t, l, again, "repeated run")
					require.Equal(t, w, w2, "repeated run")
					require.Equal(t, r, r2, "repeated run")
					require.Equal(t, lab, lab2)
					require.Equal(t, lab1, lab, "memory labels")
					for i := range l1 {
						require.True(t, closeTo(l[i], l1[i], tol, tol), "step %d loss %v vs %v", i, l[i], l1[i])
					}
					for i := range w1 {
						for j := range w1[i] {
							require.True(t, closeTo(w[i][j], w1[i][j], tol, tol), "weight %d[%d]", i, j)
						}
					}
					for i := range r1 {
						require.True(t, closeTo(r[i], r1[i], tol, tol), "memory value %d", i)
					}
				}
			})
		}
	}
}

// TestMoCoMomentumUpdate: after each step the key encoder's weights are
// m·θ_k + (1 − m)·θ_q of the weights before the step and the updated query
// weights, and the queue holds the keys of the batch under the key encoder
// as it was before the step.
func TestMoCoMomentumUpdate(t *testing.T) {
	const b, m = 6, 0.75
	cfg := smallConfigs()["mlp-float64"]
	q, err := models.New(cfg)
	require.NoError(t, err)
	c, err := models.NewMoCo(q, losses.RefFunc(losses.NewNTXent()), 32, m)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, weights(q), weights(c.KeyModel()), "θ_k starts as θ_q")
	tr, err := models.NewTrainer(q, c, b, models.TrainConfig{Solver: models.SGD, LearnRate: 0.5, Workers: 1})
	require.NoError(t, err)
	defer tr.Close()
	labels := []int{0, 1, 2, 0, 1, 2}
	var keys []float64
	for s := range 3 {
		x := randInputs(uint64(40+s), b, cfg.Inputs())
		k0 := weights(c.KeyModel())
		want, err := c.KeyModel().Embed(x, b, nil) // the keys, from θ_k before the step
		require.NoError(t, err)
		for _, v := range want {
			keys = append(keys, float64(v))
		}
		_, err = tr.Step(x, labels)
		require.NoError(t, err)
		q1, k1 := weights(q), weights(c.KeyModel())
		require.NotEqual(t, k0, q1, "the step moved θ_q")
		for i := range k1 {
			for j := range k1[i] {
				e := m*k0[i][j] + (1-m)*q1[i][j] // θ_k ← m·θ_k + (1 − m)·θ_q
				require.InDelta(t, e, k1[i][j], 1e-15, "step %d weight %d[%d]", s, i, j)
			}
		}
		rows, _ := c.Queue().Contents()
		// Embed returns float32: the keys agree to float32 rounding.
		require.InDeltaSlice(t, keys, rows, 1e-6, "step %d: the queue holds every key so far", s)
	}
}

func TestMoCoErrors(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	f := losses.RefFunc(losses.NewNTXent())
	for _, tc := range []struct {
		size int
		mom  float64
		want string
	}{
		{0, 0.9, "queue size is 0"},
		{8, 1, "momentum is 1"},
		{8, -0.1, "momentum is -0.1"},
		{1 << 30, 0.9, "a queue of 1073741824 keys of 4 values exceeds graph.MaxQueueValues"},
	} {
		_, err := models.NewMoCo(m, f, tc.size, tc.mom)
		require.ErrorContains(t, err, "models: moco: "+tc.want, fmt.Sprint(tc))
	}
	_, err = models.NewMoCo(nil, f, 8, 0.9)
	require.ErrorContains(t, err, "nil model")
	small, err := models.NewMoCo(m, f, 4, 0.9)
	require.NoError(t, err)
	_, err = models.NewTrainer(m, small, 6, models.TrainConfig{LearnRate: 0.1, Workers: 1})
	require.ErrorContains(t, err, "batch of 6 rows, queue of 4 keys")
	c, err := models.NewMoCo(m, f, 8, 0.9)
	require.NoError(t, err)
	require.ErrorContains(t, c.BeforeStep(nil, nil), "before the loss was built")
	tr, err := models.NewTrainer(m, c, 4, models.TrainConfig{LearnRate: 0.1, Workers: 1})
	require.NoError(t, err)
	defer tr.Close()
	_, err = models.NewTrainer(m, c, 4, models.TrainConfig{LearnRate: 0.1, Workers: 1})
	require.ErrorContains(t, err, "one MoCo per trainer")
}

// hookCounter is a loss that counts the trainer's calls of its hooks.
type hookCounter struct {
	inner         models.Loss
	before, after int
}

func (h *hookCounter) Loss(emb, labels *G.Node) (*G.Node, error) { return h.inner.Loss(emb, labels) }

func (h *hookCounter) BeforeStep([]float32, []int) error { h.before++; return nil }
func (h *hookCounter) AfterStep() error                  { h.after++; return nil }

// nanLoss gives a NaN loss: the trainer refuses it.
type nanLoss struct{}

func (nanLoss) Loss(emb, _ *G.Node) (*G.Node, error) {
	s, err := G.Sum(emb)
	if err != nil {
		return nil, err
	}
	return G.Mul(s, G.NewConstant(float32(math.NaN())))
}

// TestStepHooks: BeforeStep runs before every step that reaches the graph,
// AfterStep after every optimiser step and never after a refused step.
func TestStepHooks(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	for _, workers := range []int{1, 2} {
		for _, tc := range []struct {
			name          string
			loss          models.Loss
			before, after int
		}{
			{"ok", batchHard(), 2, 2},
			{"refused", nanLoss{}, 2, 0},
		} {
			t.Run(fmt.Sprintf("%s/workers=%d", tc.name, workers), func(t *testing.T) {
				m, err := models.New(cfg)
				require.NoError(t, err)
				h := &hookCounter{inner: tc.loss}
				tr, err := models.NewTrainer(m, h, 4, models.TrainConfig{LearnRate: 0.1, Workers: workers})
				require.NoError(t, err)
				defer tr.Close()
				_, err = tr.Step(randInputs(1, 3, cfg.Inputs()), []int{0, 0, 1})
				require.ErrorContains(t, err, "batch has 3 labels", "a malformed batch reaches no hook")
				for range 2 {
					_, _ = tr.Step(randInputs(1, 4, cfg.Inputs()), []int{0, 0, 1, 1})
				}
				require.Equal(t, tc.before, h.before)
				require.Equal(t, tc.after, h.after)
			})
		}
	}
}
