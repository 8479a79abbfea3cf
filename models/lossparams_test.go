package models_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/models"
)

// paramLosses returns a fresh instance of every loss with parameters.
func paramLosses() map[string]func() models.ParamLoss {
	return map[string]func() models.ParamLoss{
		"proxynca":    func() models.ParamLoss { l := losses.ProxyNCAPML(); return &l },
		"proxyanchor": func() models.ParamLoss { l := losses.ProxyAnchorPML(); return &l },
		"softtriple": func() models.ParamLoss {
			l := losses.SoftTriple{Centers: 3, Lambda: 20, Gamma: 0.1, Margin: 0.01}
			return &l
		},
		"arcface": func() models.ParamLoss { l := losses.ArcFace{Margin: 0.5, Scale: 8}; return &l },
		"cosface": func() models.ParamLoss { l := losses.CosFace{Margin: 0.35, Scale: 8}; return &l },
	}
}

func paramValues(l models.ParamLoss) []float64 {
	_, vals := l.Params()
	var out []float64
	for _, v := range vals {
		switch d := v.Data().(type) {
		case []float32:
			for _, x := range d {
				out = append(out, float64(x))
			}
		case []float64:
			out = append(out, d...)
		}
	}
	return out
}

// runParamSteps trains a fresh model and loss for steps SGD steps on fixed
// batches and returns the encoder's weights, the loss's parameters and the
// losses.
func runParamSteps(t *testing.T, cfg models.Config, mk func() models.ParamLoss, b, steps, workers, chunk int) ([][]float64, []float64, []float64) {
	t.Helper()
	m, err := models.New(cfg)
	require.NoError(t, err)
	l := mk()
	require.NoError(t, l.InitParams(cfg.Dim, 3, cfg.Dtype(), 5))
	tc := models.TrainConfig{Solver: models.SGD, LearnRate: 0.05, LossLearnRate: 0.5, Workers: workers, ChunkSize: chunk}
	tr, err := models.NewTrainer(m, l, b, tc)
	require.NoError(t, err)
	defer tr.Close()
	labels := make([]int, b)
	for i := range labels {
		labels[i] = i % 3
	}
	var ls []float64
	for s := range steps {
		v, err := tr.Step(randInputs(uint64(10+s), b, cfg.Inputs()), labels)
		require.NoError(t, err)
		ls = append(ls, v)
	}
	return weights(m), paramValues(l), ls
}

// TestParamLossParallelMatchesSingle: the loss's parameters are trained
// with the encoder's weights; with 2 or 3 workers or gradient caching they
// end where the single-graph step ends (to float rounding), bit-identical
// run to run.
func TestParamLossParallelMatchesSingle(t *testing.T) {
	const b, steps = 7, 3
	cfg := smallConfigs()["mlp"]
	cfg.Float64 = true
	for name, mk := range paramLosses() {
		t.Run(name, func(t *testing.T) {
			refW, refP, refL := runParamSteps(t, cfg, mk, b, steps, 1, 0)
			init := mk()
			require.NoError(t, init.InitParams(cfg.Dim, 3, cfg.Dtype(), 5))
			require.NotEqual(t, paramValues(init), refP, "training did not change the loss's parameters")
			for _, tc := range []struct{ workers, chunk int }{{2, 0}, {3, 0}, {2, 2}} {
				t.Run(fmt.Sprintf("workers=%d/chunk=%d", tc.workers, tc.chunk), func(t *testing.T) {
					w, p, l := runParamSteps(t, cfg, mk, b, steps, tc.workers, tc.chunk)
					for s := range l {
						require.True(t, closeTo(l[s], refL[s], 1e-12, 1e-10), "step %d loss %v, single graph %v", s, l[s], refL[s])
					}
					for k := range p {
						require.True(t, closeTo(p[k], refP[k], 1e-12, 1e-10), "param %d = %v, single graph %v", k, p[k], refP[k])
					}
					for i := range w {
						for k := range w[i] {
							require.True(t, closeTo(w[i][k], refW[i][k], 1e-12, 1e-10), "weight %d[%d]", i, k)
						}
					}
					w2, p2, l2 := runParamSteps(t, cfg, mk, b, steps, tc.workers, tc.chunk)
					require.Equal(t, w, w2, "not bit-identical run to run")
					require.Equal(t, p, p2)
					require.Equal(t, l, l2)
				})
			}
		})
	}
}

// TestParamLossLearnRate: Adam's first step moves every weight with a
// non-zero gradient by about its learning rate (m̂/√v̂ = ±1), so the
// parameters' largest move is LossLearnRate and the encoder's LearnRate.
func TestParamLossLearnRate(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	cfg.Float64 = true
	const lr, plr = 1e-4, 1e-2
	m, err := models.New(cfg)
	require.NoError(t, err)
	l := losses.ProxyAnchorPML()
	require.NoError(t, l.InitParams(cfg.Dim, 3, tensor.Float64, 1))
	before, w0 := paramValues(&l), weights(m)
	tr, err := models.NewTrainer(m, &l, 6, models.TrainConfig{Solver: models.Adam, LearnRate: lr, LossLearnRate: plr})
	require.NoError(t, err)
	defer tr.Close()
	_, err = tr.Step(randInputs(3, 6, cfg.Inputs()), []int{0, 1, 2, 0, 1, 2})
	require.NoError(t, err)
	maxMove := func(a, b []float64) float64 {
		mv := 0.0
		for k := range a {
			mv = math.Max(mv, math.Abs(a[k]-b[k]))
		}
		return mv
	}
	require.InDelta(t, plr, maxMove(before, paramValues(&l)), plr*1e-3)
	encMove := 0.0
	for i, w := range weights(m) {
		encMove = math.Max(encMove, maxMove(w0[i], w))
	}
	require.InDelta(t, lr, encMove, lr*1e-3)
}

// TestTrainInitialisesParamLoss: Train gives a loss without parameters its
// initial ones (one per class of the data, the model's dimension and dtype)
// and trains them; a loss that already has parameters keeps them as its
// starting point.
func TestTrainInitialisesParamLoss(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	data := models.Dataset{X: randInputs(2, 24, cfg.Inputs()), Labels: []int{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}}
	for name, mk := range paramLosses() {
		t.Run(name, func(t *testing.T) {
			l := mk()
			h, err := models.Train(context.Background(), m, l, data, models.TrainConfig{P: 4, K: 2, Epochs: 2, Solver: models.Adam, LearnRate: 1e-3, LossLearnRate: 1e-1, Seed: 3})
			require.NoError(t, err)
			require.Greater(t, h.Steps, 1)
			names, vals := l.Params()
			require.Len(t, names, 1)
			require.Equal(t, cfg.Dim, vals[0].Shape()[1])
			require.Equal(t, 0, vals[0].Shape()[0]%4, "rows for 4 classes")
			require.Equal(t, cfg.Dtype(), vals[0].Dtype())
			ref := mk()
			require.NoError(t, ref.InitParams(cfg.Dim, 4, cfg.Dtype(), 3))
			require.NotEqual(t, paramValues(ref), paramValues(l), "parameters were trained")
		})
	}
	bad := models.Dataset{X: randInputs(2, 4, cfg.Inputs()), Labels: []int{0, -1, 0, -1}}
	_, err = models.Train(context.Background(), m, &losses.ProxyAnchor{}, bad, models.TrainConfig{P: 2, K: 2, Epochs: 1, LearnRate: 1e-3})
	require.ErrorContains(t, err, "models: the loss has a parameter per class and needs labels in [0, classes); the data has labels from -1 to 0")
	_, err = models.NewTrainer(m, &losses.ProxyAnchor{}, 4, models.TrainConfig{LearnRate: 1e-3})
	require.ErrorContains(t, err, "losses: proxy-anchor: no proxies; call InitParams")
	l := losses.ProxyAnchorPML()
	require.NoError(t, l.InitParams(cfg.Dim, 2, cfg.Dtype(), 1))
	_, err = models.NewTrainer(m, &l, 4, models.TrainConfig{LearnRate: 1e-3, LossLearnRate: -1})
	require.ErrorContains(t, err, "models: loss learning rate is -1")
	_, err = models.NewTrainer(m, losses.NewTriplet(), 4, models.TrainConfig{LearnRate: 1e-3, LossLearnRate: 1e-2})
	require.ErrorContains(t, err, "models: loss learning rate is 0.01 but the loss (losses.Triplet) has no parameters of its own")
	require.NoError(t, l.InitParams(cfg.Dim+1, 2, cfg.Dtype(), 1))
	_, err = models.NewTrainer(m, &l, 4, models.TrainConfig{LearnRate: 1e-3})
	require.ErrorContains(t, err, fmt.Sprintf("want (C·1)×%d", cfg.Dim))
}

// TestSaveLoadLoss: SaveLoss writes the loss's parameters after the model;
// LoadLoss restores both bit for bit, Load reads the model alone, and
// LoadLoss refuses a file without parameters or a loss of another kind.
func TestSaveLoadLoss(t *testing.T) {
	for _, f64 := range []bool{false, true} {
		t.Run(fmt.Sprint("float64=", f64), func(t *testing.T) {
			cfg := smallConfigs()["mlp"]
			cfg.Float64 = f64
			m, err := models.New(cfg)
			require.NoError(t, err)
			l := losses.SoftTriple{Centers: 3}
			require.NoError(t, l.InitParams(cfg.Dim, 4, cfg.Dtype(), 9))
			dir := t.TempDir()
			path := filepath.Join(dir, "model.safetensors")
			require.NoError(t, m.SaveLoss(path, &l))
			var got losses.SoftTriple
			got.Centers = 3
			m2, err := models.LoadLoss(path, &got)
			require.NoError(t, err)
			require.Equal(t, weights(m), weights(m2))
			require.Equal(t, paramValues(&l), paramValues(&got))
			require.Equal(t, []int{12, cfg.Dim}, []int(got.Centres.Shape()))
			m3, err := models.Load(path)
			require.NoError(t, err)
			require.Equal(t, weights(m), weights(m3))

			_, err = models.LoadLoss(path, &losses.ProxyAnchor{})
			require.ErrorContains(t, err, `parameters ["centres"]; want one tensor "proxies"`)
			plain := filepath.Join(dir, "plain.safetensors")
			require.NoError(t, m.Save(plain))
			_, err = models.LoadLoss(plain, &got)
			require.ErrorContains(t, err, "no loss parameters (the file was written by Save, not SaveLoss)")
			require.ErrorContains(t, m.SaveLoss(path, &losses.ArcFace{}), "the loss has no parameters")
		})
	}
}

// TestParamLossDistributed: over 2 ranks every rank runs the loss on the
// whole gathered batch, so the loss's parameters get the same gradient on
// each and are not summed over ranks: they end equal on every rank and
// equal to one process with Shards = 2.
func TestParamLossDistributed(t *testing.T) {
	cfg := smallConfigs()["mlp-float64"]
	const ranks = 2
	data := labelledData(60, cfg.Inputs(), 5)
	tc := models.TrainConfig{P: 3, K: 2, Epochs: 1, MaxSteps: 4, Solver: models.SGD, LearnRate: 0.2, LossLearnRate: 1, Seed: 7, Workers: 2}
	mk := paramLosses()["proxyanchor"]

	one, err := models.New(cfg)
	require.NoError(t, err)
	ref := tc
	ref.Shards = ranks
	refLoss := mk()
	_, err = models.Train(context.Background(), one, refLoss, data, ref)
	require.NoError(t, err)

	g := newSharedGroup(ranks)
	ls := make([]models.ParamLoss, ranks)
	ms := make([]*models.Model, ranks)
	errs := make([]error, ranks)
	var wg sync.WaitGroup
	for r := range ranks {
		m, err := models.New(cfg)
		require.NoError(t, err)
		ms[r], ls[r] = m, mk()
		wg.Go(func() {
			dc := tc
			dc.Comm = sharedComm{g, r}
			_, errs[r] = models.Train(context.Background(), m, ls[r], data, dc)
		})
	}
	wg.Wait()
	want := paramValues(refLoss)
	init := mk()
	require.NoError(t, init.InitParams(cfg.Dim, 5, cfg.Dtype(), tc.Seed))
	require.NotEqual(t, paramValues(init), want, "training did not move the parameters")
	for r := range ranks {
		require.NoError(t, errs[r], "rank %d", r)
		got := paramValues(ls[r])
		for k := range got {
			require.True(t, closeTo(got[k], want[k], 1e-12, 1e-10), "rank %d param %d = %v, one process %v", r, k, got[k], want[k])
		}
		require.Equal(t, paramValues(ls[0]), got, "ranks disagree")
		w := weights(ms[r])
		for i := range w {
			for k := range w[i] {
				require.True(t, closeTo(w[i][k], weights(one)[i][k], 1e-12, 1e-10))
			}
		}
	}
}
