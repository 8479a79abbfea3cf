package models_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
	"github.com/contrastive-go/contrastive/models"
)

// batchHard is triplet loss with batch-hard mining: the miner must see all
// B×B distances for the data-parallel step to equal the single-graph one.
func batchHard() models.Loss {
	l := losses.TripletPML()
	l.Margin, l.Miner = 0.2, mining.BatchHard{}
	return l
}

// weights returns a float64 copy of every parameter.
func weights(m *models.Model) [][]float64 {
	out := make([][]float64, len(m.Params))
	for i, p := range m.Params {
		switch d := p.Value.Data().(type) {
		case []float32:
			for _, v := range d {
				out[i] = append(out[i], float64(v))
			}
		case []float64:
			out[i] = append(out[i], d...)
		}
	}
	return out
}

// runSteps trains a fresh model of cfg for steps SGD steps (no momentum, so
// a weight difference is the learning rate times a gradient difference) on
// a fixed batch of b rows and returns its weights and losses.
func runSteps(t *testing.T, cfg models.Config, b, steps, workers, chunk int) ([][]float64, []float64) {
	t.Helper()
	m, err := models.New(cfg)
	require.NoError(t, err)
	tc := models.TrainConfig{Solver: models.SGD, LearnRate: 0.5, Workers: workers, ChunkSize: chunk}
	tr, err := models.NewTrainer(m, batchHard(), b, tc)
	require.NoError(t, err)
	defer tr.Close()
	labels := make([]int, b)
	for i := range labels {
		labels[i] = i % 3
	}
	var ls []float64
	for s := range steps {
		l, err := tr.Step(randInputs(uint64(10+s), b, cfg.Inputs()), labels)
		require.NoError(t, err)
		ls = append(ls, l)
	}
	return weights(m), ls
}

// close reports whether a and b agree within abs + rel·|b|.
func closeTo(a, b, abs, rel float64) bool { return math.Abs(a-b) <= abs+rel*math.Abs(b) }

// TestParallelStepMatchesSingle: a batch of 7 rows (divisible by neither 2
// nor 3) trained for 3 steps with 2 or 3 workers, or with gradient caching
// in chunks of 3 or 2 rows, ends at the weights of the single-graph step to
// float rounding; the same configuration run twice is bit-identical.
func TestParallelStepMatchesSingle(t *testing.T) {
	const b, steps = 7, 3
	cfgs := smallConfigs()
	cnn64 := cfgs["cnn"]
	cnn64.Float64 = true
	cfgs["cnn-float64"] = cnn64
	hybrid64 := cfgs["hybrid"]
	hybrid64.Float64 = true
	cfgs["hybrid-float64"] = hybrid64
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			// Gradients summed over rows in another order differ by
			// rounding: float32 ε ≈ 6e-8 times sums of up to ~500 terms
			// (the ConvNet's kernels: 7 rows × 8×8 positions), amplified
			// by 3 SGD steps at rate 0.5; float64 the same at ε ≈ 1e-16.
			abs, rel := 2e-5, 1e-3
			if cfg.Float64 {
				abs, rel = 1e-13, 1e-11
			}
			ref, refLoss := runSteps(t, cfg, b, steps, 1, 0)
			for _, tc := range []struct{ workers, chunk int }{{2, 0}, {3, 0}, {1, 3}, {2, 2}, {3, 2}} {
				t.Run(fmt.Sprintf("workers=%d/chunk=%d", tc.workers, tc.chunk), func(t *testing.T) {
					w, l := runSteps(t, cfg, b, steps, tc.workers, tc.chunk)
					for s := range l {
						require.True(t, closeTo(l[s], refLoss[s], abs, rel), "step %d loss %v, single graph %v", s, l[s], refLoss[s])
					}
					moved := false
					for i := range w {
						for k := range w[i] {
							require.True(t, closeTo(w[i][k], ref[i][k], abs, rel), "param %d[%d] = %v, single graph %v", i, k, w[i][k], ref[i][k])
						}
					}
					init, err := models.New(cfg)
					require.NoError(t, err)
					for i, v := range weights(init) {
						for k := range v {
							moved = moved || v[k] != w[i][k]
						}
					}
					require.True(t, moved, "training did not change the weights")
					again, againLoss := runSteps(t, cfg, b, steps, tc.workers, tc.chunk)
					require.Equal(t, w, again, "not bit-identical run to run")
					require.Equal(t, l, againLoss)
				})
			}
		})
	}
}

// TestTrainerWorkers: Workers 0 means all cores (capped at the batch), and
// bad values are refused.
func TestTrainerWorkers(t *testing.T) {
	m, err := models.New(smallConfigs()["mlp"])
	require.NoError(t, err)
	for _, tc := range []struct{ workers, b, want int }{
		{0, 64, min(runtime.GOMAXPROCS(0), 64)}, {1, 8, 1}, {3, 8, 3}, {9, 4, 4},
	} {
		cfg := models.DefaultTrainConfig()
		cfg.Workers = tc.workers
		tr, err := models.NewTrainer(m, batchHard(), tc.b, cfg)
		require.NoError(t, err)
		require.Equal(t, tc.want, tr.Workers(), "workers %d batch %d", tc.workers, tc.b)
		tr.Close()
	}
	cfg := models.DefaultTrainConfig()
	cfg.Workers = -1
	_, err = models.NewTrainer(m, batchHard(), 4, cfg)
	require.ErrorContains(t, err, "workers is -1")
	cfg = models.DefaultTrainConfig()
	cfg.ChunkSize = -2
	_, err = models.NewTrainer(m, batchHard(), 4, cfg)
	require.ErrorContains(t, err, "chunk size is -2")
}

// failingLoss is triplet loss whose graph also runs a forward-only op that
// calls hook with each batch's labels and fails the step when hook returns
// an error.
func failingLoss(hook func(labels []int) error) models.Loss {
	return losses.Func(func(emb, labels *G.Node) (*G.Node, error) {
		l, err := batchHard().Loss(emb, labels)
		if err != nil {
			return nil, err
		}
		check, err := graph.ApplyForward("test-hook", emb.Dtype(), 0,
			func([]tensor.Shape) (tensor.Shape, error) { return tensor.ScalarShape(), nil },
			func(in []G.Value) (G.Value, error) {
				if err := hook(in[0].Data().([]int)); err != nil {
					return nil, err
				}
				return G.NewF32(0), nil
			}, labels)
		if err != nil {
			return nil, err
		}
		return G.Add(l, check)
	})
}

// settle waits until the number of goroutines is back to at most n (other
// packages' worker goroutines end asynchronously) and returns the count.
func settle(n int) int {
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return runtime.NumGoroutine()
}

// TestParallelTrainEndsCleanly: with 3 workers, a step whose loss fails,
// a context cancelled inside a step (while the shards wait for ∂L/∂E) and
// one cancelled between steps each end Train with the error, the weights of
// the last completed step, and no goroutine left running.
func TestParallelTrainEndsCleanly(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	labels := make([]int, 60)
	for i := range labels {
		labels[i] = i % 3
	}
	data := models.Dataset{X: randInputs(4, 60, cfg.Inputs()), Labels: labels}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		// at returns the hook's error at the given (1-based) loss run.
		at   func(run int, cancel func()) error
		want error
	}{
		{"loss-fails", func(run int, _ func()) error {
			if run == 3 {
				return boom
			}
			return nil
		}, boom},
		{"cancel-inside-step", func(run int, cancel func()) error {
			if run == 3 {
				cancel()
			}
			return nil
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			m, err := models.New(cfg)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			run := 0
			var atStep2 [][]float64
			loss := failingLoss(func([]int) error { run++; return tc.at(run, cancel) })
			tcfg := models.TrainConfig{P: 3, K: 2, Epochs: 5, Solver: models.SGD, LearnRate: 0.01, Seed: 1, Workers: 3,
				Progress: func(p models.Progress) {
					if p.Step == 2 {
						atStep2 = weights(m)
					}
				}}
			h, err := models.Train(ctx, m, loss, data, tcfg)
			// Gorgonia's wrapping of an op's error hides it from errors.Is
			require.ErrorContains(t, err, tc.want.Error())
			require.Equal(t, 2, h.Steps)
			require.Equal(t, atStep2, weights(m), "a failed step changed the weights")
			require.LessOrEqual(t, settle(before), before, "goroutines left after Train")
		})
	}
}

// TestParallelTrainStopsOnCancel: cancelling between steps stops a
// data-parallel Train like the single-graph one.
func TestParallelTrainStopsOnCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := smallConfigs()["cnn"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	labels := make([]int, 30)
	for i := range labels {
		labels[i] = i % 3
	}
	tc := models.TrainConfig{P: 3, K: 3, Epochs: 5, Solver: models.Adam, LearnRate: 0.01, Seed: 1, Workers: 2,
		Progress: func(p models.Progress) {
			if p.Step == 4 {
				cancel()
			}
		}}
	h, err := models.Train(ctx, m, batchHard(), models.Dataset{X: randInputs(4, 30, cfg.Inputs()), Labels: labels}, tc)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 4, h.Steps)
	require.LessOrEqual(t, settle(before), before, "goroutines left after Train")
}

// TestEmbedderWorkers: the embeddings do not depend on the number of
// workers (bit for bit: every batch runs through the same graph), progress
// counts up to the total, and the pool sees weight updates made after it
// was built.
func TestEmbedderWorkers(t *testing.T) {
	for name, cfg := range smallConfigs() {
		t.Run(name, func(t *testing.T) {
			m, err := models.New(cfg)
			require.NoError(t, err)
			x := randInputs(6, 23, cfg.Inputs())
			one, err := models.NewEmbedder(m, 4, 1)
			require.NoError(t, err)
			defer one.Close()
			want, err := one.Embed(x, nil)
			require.NoError(t, err)
			for _, w := range []int{2, 3, 8} {
				e, err := models.NewEmbedder(m, 4, w)
				require.NoError(t, err)
				var last, calls int
				got, err := e.Embed(x, func(done, total int) {
					require.Equal(t, 23, total)
					require.Greater(t, done, last)
					last = done
					calls++
				})
				require.NoError(t, err)
				require.Equal(t, want, got, "workers %d", w)
				require.Equal(t, 23, last)
				require.Equal(t, 6, calls) // ⌈23/4⌉ batches
				e.Close()
			}
			viaModel, err := m.Embed(x, 4, nil)
			require.NoError(t, err)
			require.Equal(t, want, viaModel)
			// a training step changes the weights; the warm pool sees it
			_, err = models.Train(context.Background(), m, batchHard(), models.Dataset{X: x[:18*cfg.Inputs()], Labels: []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}},
				models.TrainConfig{P: 3, K: 2, Epochs: 1, MaxSteps: 2, Solver: models.SGD, LearnRate: 0.5, Seed: 1, Workers: 2})
			require.NoError(t, err)
			after, err := one.Embed(x, nil)
			require.NoError(t, err)
			require.NotEqual(t, want, after)
			fresh, err := m.Embed(x, 4, nil)
			require.NoError(t, err)
			require.Equal(t, fresh, after)
		})
	}
}

// TestConcurrentEmbed: goroutines embedding with one model (each its own
// call of Model.Embed) and with one shared Embedder get the serial result;
// run under -race this also checks that the calls share no Gorgonia state.
func TestConcurrentEmbed(t *testing.T) {
	cfg := smallConfigs()["cnn"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	x := randInputs(7, 40, cfg.Inputs())
	want, err := m.Embed(x, 8, nil)
	require.NoError(t, err)
	e, err := models.NewEmbedder(m, 8, 2)
	require.NoError(t, err)
	defer e.Close()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			var got []float32
			var err error
			if i%2 == 0 {
				got, err = m.Embed(x, 8, nil)
			} else {
				got, err = e.Embed(x, nil)
			}
			if err == nil && !slices.Equal(got, want) {
				err = fmt.Errorf("goroutine %d: embeddings differ from the serial ones", i)
			}
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

func TestEmbedderErrors(t *testing.T) {
	m, err := models.New(smallConfigs()["mlp"])
	require.NoError(t, err)
	_, err = models.NewEmbedder(m, 0, 1)
	require.ErrorContains(t, err, "batch size is 0")
	_, err = models.NewEmbedder(m, 4, -1)
	require.ErrorContains(t, err, "workers is -1")
	_, err = models.NewEmbedder(nil, 4, 1)
	require.ErrorContains(t, err, "nil model")
	e, err := models.NewEmbedder(m, 4, 0)
	require.NoError(t, err)
	require.Equal(t, runtime.GOMAXPROCS(0), e.Workers())
	_, err = e.Embed(make([]float32, 5), nil)
	require.ErrorContains(t, err, "not a positive multiple of 36")
	e.Close()
	_, err = e.Embed(make([]float32, 36), nil)
	require.ErrorContains(t, err, "closed")
}

// TestParallelTrainLeavesNoGoroutines: a completed data-parallel Train, with
// and without gradient caching, leaves no goroutine running.
func TestParallelTrainLeavesNoGoroutines(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	labels := make([]int, 30)
	for i := range labels {
		labels[i] = i % 3
	}
	data := models.Dataset{X: randInputs(4, 30, cfg.Inputs()), Labels: labels}
	for _, chunk := range []int{0, 2} {
		before := runtime.NumGoroutine()
		m, err := models.New(cfg)
		require.NoError(t, err)
		h, err := models.Train(context.Background(), m, batchHard(), data,
			models.TrainConfig{P: 3, K: 3, Epochs: 2, Solver: models.Adam, LearnRate: 0.01, Seed: 1, Workers: 3, ChunkSize: chunk})
		require.NoError(t, err)
		require.Positive(t, h.Steps)
		require.LessOrEqual(t, settle(before), before, "chunk %d: goroutines left after Train", chunk)
	}
}
