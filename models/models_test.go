package models_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/checkpoint"
	"github.com/contrastive-go/contrastive/models/eval"
	"github.com/contrastive-go/contrastive/models/mnist"
)

func smallConfigs() map[string]models.Config {
	mlp := models.Config{Arch: models.MLP, Channels: 1, Height: 6, Width: 6, Hidden: []int{8}, Dim: 4, Normalize: true, Seed: 3}
	cnn := models.Config{Arch: models.ConvNet, Channels: 1, Height: 10, Width: 10, Hidden: []int{3, 4}, Kernel: 3, Dim: 4, Seed: 3}
	mlp64 := mlp
	mlp64.Float64 = true
	hybrid := cnn // a ConvNet with a dense branch on the raw input (DefaultHybrid's shape)
	hybrid.Dense = 5
	return map[string]models.Config{"mlp": mlp, "cnn": cnn, "mlp-float64": mlp64, "hybrid": hybrid}
}

func randInputs(seed uint64, n, in int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*in)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

// TestEmbedBatchingIsExact: embedding in batches of 7 (last one partial)
// gives the same rows as one row at a time.
func TestEmbedBatchingIsExact(t *testing.T) {
	for name, cfg := range smallConfigs() {
		t.Run(name, func(t *testing.T) {
			m, err := models.New(cfg)
			require.NoError(t, err)
			x := randInputs(1, 17, cfg.Inputs())
			a, err := m.Embed(x, 7, nil)
			require.NoError(t, err)
			b, err := m.Embed(x, 1, nil)
			require.NoError(t, err)
			require.Len(t, a, 17*cfg.Dim)
			require.InDeltaSlice(t, b, a, 1e-6) // row-wise matmuls sum in one order: equal up to rounding
		})
	}
}

func TestDeterministicInit(t *testing.T) {
	cfg := models.DefaultMLP(8)
	a, err := models.New(cfg)
	require.NoError(t, err)
	b, err := models.New(cfg)
	require.NoError(t, err)
	cfg.Seed++
	c, err := models.New(cfg)
	require.NoError(t, err)
	require.Equal(t, a.Params[0].Value.Data(), b.Params[0].Value.Data())
	require.NotEqual(t, a.Params[0].Value.Data(), c.Params[0].Value.Data())
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for name, cfg := range smallConfigs() {
		t.Run(name, func(t *testing.T) {
			m, err := models.New(cfg)
			require.NoError(t, err)
			// train a few steps so the weights are not the seed's
			_, err = models.Train(context.Background(), m, losses.NewTriplet(), models.Dataset{
				X: randInputs(2, 24, cfg.Inputs()), Labels: []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2},
			}, models.TrainConfig{P: 3, K: 2, Epochs: 1, Solver: models.Adam, LearnRate: 1e-2, Seed: 1})
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "model.safetensors")
			require.NoError(t, m.Save(path))
			l, err := models.Load(path)
			require.NoError(t, err)
			require.Equal(t, m.Config, l.Config)
			x := randInputs(3, 9, cfg.Inputs())
			a, err := m.Embed(x, 4, nil)
			require.NoError(t, err)
			b, err := l.Embed(x, 4, nil)
			require.NoError(t, err)
			require.Equal(t, a, b) // bit for bit
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfigs()["mlp"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	good := filepath.Join(dir, "good.safetensors")
	require.NoError(t, m.Save(good))
	raw, err := os.ReadFile(good)
	require.NoError(t, err)

	truncated := filepath.Join(dir, "truncated.safetensors")
	require.NoError(t, os.WriteFile(truncated, raw[:len(raw)-10], 0o644))
	corrupt := filepath.Join(dir, "corrupt.safetensors")
	bad := append([]byte(nil), raw...)
	bad[9] ^= 0xff // inside the JSON header
	require.NoError(t, os.WriteFile(corrupt, bad, 0o644))

	other := cfg
	other.Hidden = []int{5}
	om, err := models.New(other)
	require.NoError(t, err)
	// a file whose metadata claims cfg but whose tensors are other's
	mismatch := filepath.Join(dir, "mismatch.safetensors")
	var ts []checkpoint.Tensor
	for _, p := range om.Params {
		ts = append(ts, checkpoint.Tensor{Name: p.Name, Shape: p.Value.Shape(), F32: p.Value.Data().([]float32)})
	}
	_, meta, err := checkpoint.Read(good)
	require.NoError(t, err)
	require.NoError(t, checkpoint.Write(mismatch, ts, meta))
	notModel := filepath.Join(dir, "plain.safetensors")
	require.NoError(t, checkpoint.Write(notModel, ts, nil))

	for _, tc := range []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "nope.safetensors"), "nope.safetensors"},
		{"truncated", truncated, "truncated.safetensors"},
		{"corrupt", corrupt, "corrupt.safetensors"},
		{"mismatch", mismatch, "fc0.weight has shape [36 5]; want (36, 8)"},
		{"not-a-model", notModel, "not a saved model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := models.Load(tc.path)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*models.Config)
		want string
	}{
		{"arch", func(c *models.Config) { c.Arch = "rnn" }, `unknown architecture "rnn"`},
		{"dim", func(c *models.Config) { c.Dim = 0 }, "embedding dimension is 0"},
		{"hidden", func(c *models.Config) { c.Hidden = []int{4, -1} }, "hidden width 1 is -1"},
		{"shape", func(c *models.Config) { c.Height = 0 }, "must be positive"},
		{"too-small", func(c *models.Config) { c.Arch = models.ConvNet; c.Kernel = 5; c.Hidden = []int{2, 2, 2} }, "too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := models.DefaultMLP(4)
			tc.mod(&cfg)
			_, err := models.New(cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
	m, err := models.New(models.DefaultMLP(4))
	require.NoError(t, err)
	_, err = m.Embed(make([]float32, 10), 4, nil)
	require.ErrorContains(t, err, "not a positive multiple of 784")
	_, err = models.Train(context.Background(), m, losses.NewTriplet(), models.Dataset{X: make([]float32, 784), Labels: []int{1, 2}}, models.DefaultTrainConfig())
	require.ErrorContains(t, err, "784 features for 2 labels")
	bad := models.DefaultTrainConfig()
	bad.LearnRate = 0
	_, err = models.NewTrainer(m, losses.NewTriplet(), 4, bad)
	require.ErrorContains(t, err, "learning rate is 0")
	bad = models.DefaultTrainConfig()
	bad.Solver = "lbfgs"
	_, err = models.NewTrainer(m, losses.NewTriplet(), 4, bad)
	require.ErrorContains(t, err, `unknown solver "lbfgs"`)
}

func TestTrainStopsOnCancel(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	labels := make([]int, 60)
	for i := range labels {
		labels[i] = i % 3
	}
	tc := models.TrainConfig{P: 3, K: 2, Epochs: 5, Solver: models.SGD, Momentum: 0.9, LearnRate: 0.01, Seed: 1,
		Progress: func(p models.Progress) {
			if p.Step == 4 {
				cancel()
			}
		}}
	h, err := models.Train(ctx, m, losses.NewTriplet(), models.Dataset{X: randInputs(4, 60, cfg.Inputs()), Labels: labels}, tc)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 4, h.Steps)
	require.Len(t, h.Losses, 4)
}

// TestTrainerMemoryIsFlat: the graph is built once, so thousands of steps
// must not grow the heap. Heap in use after GC is sampled after 200 and
// after 1200 further steps; growth beyond 2 MiB fails.
func TestTrainerMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("1400 steps")
	}
	cfg := smallConfigs()["mlp"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	l := losses.NewTriplet()
	l.Miner = mining.BatchHard{}
	tr, err := models.NewTrainer(m, l, 8, models.DefaultTrainConfig())
	require.NoError(t, err)
	defer tr.Close()
	x := randInputs(5, 8, cfg.Inputs())
	labels := []int{0, 0, 1, 1, 2, 2, 3, 3}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for i := 0; i < 200; i++ {
		_, err := tr.Step(x, labels)
		require.NoError(t, err)
	}
	before := heap()
	for i := 0; i < 1200; i++ {
		_, err := tr.Step(x, labels)
		require.NoError(t, err)
	}
	after := heap()
	require.Less(t, int64(after)-int64(before), int64(2<<20), "heap grew from %d to %d bytes", before, after)
}

// TestTrainOnMNISTImprovesRetrieval trains an MLP briefly on 3000 real MNIST
// images and checks that test precision@1 against the training images rises
// well above chance (0.1 for ten digits) and above the untrained encoder.
func TestTrainOnMNISTImprovesRetrieval(t *testing.T) {
	dir, err := mnist.DefaultDir()
	require.NoError(t, err)
	train, test, err := mnist.Load(dir)
	require.NoError(t, err)
	if train, err = train.Subset(3000); err != nil {
		t.Fatal(err)
	}
	if test, err = test.Subset(1000); err != nil {
		t.Fatal(err)
	}
	m, err := models.New(models.DefaultMLP(32))
	require.NoError(t, err)
	p1 := func() float64 {
		q, err := m.Embed(test.Images, 500, nil)
		require.NoError(t, err)
		r, err := m.Embed(train.Images, 500, nil)
		require.NoError(t, err)
		rep, err := eval.Retrieval(q, test.Labels, r, train.Labels, 32, eval.Options{})
		require.NoError(t, err)
		return rep.PrecisionAt1
	}
	before := p1()
	l := losses.TripletPML()
	l.Miner = mining.BatchHard{}
	l.Margin = 0.2
	cfg := models.TrainConfig{P: 10, K: 6, Epochs: 3, Solver: models.Adam, LearnRate: 1e-3, Seed: 7}
	h, err := models.Train(context.Background(), m, l, models.Dataset{X: train.Images, Labels: train.Labels}, cfg)
	require.NoError(t, err)
	require.Greater(t, h.Steps, 100)
	after := p1()
	t.Logf("precision@1 before %.3f after %.3f (%d steps, %v)", before, after, h.Steps, h.Elapsed)
	require.Greater(t, after, 0.85)
	require.Greater(t, after, before+0.1)
}

// craftedModel writes a small file whose metadata declares cfg and whose
// tensors are tiny, as an attacker would.
func craftedModel(t *testing.T, cfg models.Config, tensors []checkpoint.Tensor) string {
	t.Helper()
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "crafted.safetensors")
	if tensors == nil {
		tensors = []checkpoint.Tensor{{Name: "fc0.weight", Shape: []int{1}, F32: []float32{1}}}
	}
	require.NoError(t, checkpoint.Write(path, tensors, map[string]string{
		models.MetaFormat: "contrastive-go/model", models.MetaVersion: "1", models.MetaConfig: string(raw)}))
	return path
}

// TestLoadRefusesHugeConfigBeforeAllocating (issue 11, defect 1): a file
// of a few hundred bytes whose config declares a huge model made Load call
// New, which allocated it before looking at the tensors (makeslice: len
// out of range, or a fatal out-of-memory for 7 TB). Now the configuration
// is bounded (MaxParams) and compared with the file's tensors first.
func TestLoadRefusesHugeConfigBeforeAllocating(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  models.Config
		want string
	}{
		// 2^40 inputs × 2^23 hidden units overflow int: makeslice panicked.
		{"overflow", models.Config{Arch: models.MLP, Channels: 1, Height: 1 << 20, Width: 1 << 20, Hidden: []int{1 << 23}, Dim: 4},
			"input shape 1×1048576×1048576 has 1099511627776 values; the limit is MaxParams = 1073741824"},
		// (784+1)·2^31 + (2^31+1)·1000 = 3833258312680 weights, 15 TB of
		// float32: a fatal out-of-memory before.
		{"15TB", models.Config{Arch: models.MLP, Channels: 1, Height: 28, Width: 28, Hidden: []int{1 << 31}, Dim: 1000},
			"the mlp configuration has 3833258312680 weights (15333.0 GB as float32); the limit is MaxParams = 1073741824"},
		{"huge-dim", models.Config{Arch: models.ConvNet, Channels: 1, Height: 28, Width: 28, Hidden: []int{16, 32}, Kernel: 5, Dim: 1 << 40},
			"the cnn configuration has"},
		{"huge-kernel", models.Config{Arch: models.ConvNet, Channels: 1, Height: 28, Width: 28, Hidden: []int{16}, Kernel: 1 << 40, Dim: 4},
			"ConvNet kernel 1099511627776 is larger than the 28×28 input"},
		// Within MaxParams (800M weights, 3.2 GB) but the file holds one
		// tiny tensor: refused by the comparison, before New allocates.
		{"valid-but-absent", models.Config{Arch: models.MLP, Channels: 1, Height: 28, Width: 28, Hidden: []int{1 << 20}, Dim: 4},
			"1 tensors; the mlp architecture has 4 parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := craftedModel(t, tc.cfg, nil)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.Less(t, fi.Size(), int64(400))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = models.Load(path)
			runtime.ReadMemStats(&after)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, path)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated by Load")
		})
	}
	// Right names and shapes but a NaN weight: refused, naming it.
	cfg := smallConfigs()["mlp"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	var ts []checkpoint.Tensor
	for _, p := range m.Params {
		ts = append(ts, checkpoint.Tensor{Name: p.Name, Shape: p.Value.Shape(), F32: append([]float32(nil), p.Value.Data().([]float32)...)})
	}
	ts[2].F32[3] = float32(math.NaN())
	_, err = models.Load(craftedModel(t, cfg, ts))
	require.ErrorContains(t, err, "proj.weight holds NaN at index 3; weights must be finite")
}

// TestNilModel (issue 11, defect 9): methods on a nil *Model returned
// errors only by panicking.
func TestNilModel(t *testing.T) {
	var m *models.Model
	require.ErrorContains(t, m.Save(filepath.Join(t.TempDir(), "m.safetensors")), "models: save")
	_, err := m.Embed(make([]float32, 4), 1, nil)
	require.ErrorContains(t, err, "models: embed: nil model")
	_, err = m.Build(G.NewGraph(), 2)
	require.ErrorContains(t, err, "models: build: nil model")
}

// TestTrainConfigRefusesNonFinite (issue 11, defect 2): a NaN or infinite
// weight decay, a NaN momentum and a learning rate of 1e300 were accepted
// and trained into NaN weights while Train returned nil.
func TestTrainConfigRefusesNonFinite(t *testing.T) {
	m, err := models.New(smallConfigs()["mlp"])
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		mod  func(*models.TrainConfig)
		want string
	}{
		{"decay-nan", func(c *models.TrainConfig) { c.WeightDecay = math.NaN() }, "weight decay is NaN; want a finite value ≥ 0"},
		{"decay-inf", func(c *models.TrainConfig) { c.WeightDecay = math.Inf(1) }, "weight decay is +Inf"},
		{"momentum-nan", func(c *models.TrainConfig) { c.Solver = models.SGD; c.Momentum = math.NaN() }, "momentum is NaN"},
		{"lr-1e300", func(c *models.TrainConfig) { c.LearnRate = 1e300 }, "learning rate is 1e+300; want > 0 and ≤ MaxLearnRate = 10"},
		{"lr-inf", func(c *models.TrainConfig) { c.LearnRate = math.Inf(1) }, "learning rate is +Inf"},
		{"lr-nan", func(c *models.TrainConfig) { c.LearnRate = math.NaN() }, "learning rate is NaN"},
		{"memory-limit-negative", func(c *models.TrainConfig) { c.MemoryLimit = -1 }, "memory limit is -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := models.DefaultTrainConfig()
			tc.mod(&cfg)
			_, err := models.NewTrainer(m, losses.NewTriplet(), 6, cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
	tr, err := models.NewTrainer(m, losses.NewTriplet(), 6, models.DefaultTrainConfig())
	require.NoError(t, err)
	defer tr.Close()
	require.ErrorContains(t, tr.SetLearnRate(1e300), "learning rate is 1e+300")
}

// TestStepRefusesNaNGradient (issue 11, defect 2): a finite loss with a NaN
// gradient was applied, and the next step failed with a misleading miner
// message. Here the loss is Σ √(E − E): 0, with the infinite derivative of
// √ at 0 (graph/doc.go) making the gradients non-finite.
func TestStepRefusesNaNGradient(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	before := append([]float32(nil), m.Params[0].Value.Data().([]float32)...)
	bad := losses.Func(func(emb, _ *G.Node) (*G.Node, error) {
		z, err := G.Sub(emb, emb)
		if err != nil {
			return nil, err
		}
		r, err := G.Sqrt(z)
		if err != nil {
			return nil, err
		}
		return G.Sum(r)
	})
	tr, err := models.NewTrainer(m, bad, 6, models.DefaultTrainConfig())
	require.NoError(t, err)
	defer tr.Close()
	loss, err := tr.Step(randInputs(5, 6, cfg.Inputs()), []int{0, 0, 1, 1, 2, 2})
	require.Equal(t, 0.0, loss)
	require.ErrorContains(t, err, "models: gradient of fc0.weight is")
	require.ErrorContains(t, err, "weights not updated")
	require.Equal(t, before, m.Params[0].Value.Data().([]float32))
	for _, p := range m.Params {
		for _, v := range p.Value.Data().([]float32) {
			require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), p.Name)
		}
	}
}

// TestRefusedStepLeavesNoGradient: a step refused for a NaN loss must not
// leave gradients behind. The data-parallel machines add each run's
// gradient into a buffer; a refused step's NaN gradients stayed there and
// the next, healthy step was refused too. With 1 and 2 workers, the weights
// after a refused step and a healthy one equal those after the healthy
// step alone. The loss is the triplet loss plus s·ΣE, s a scalar input: NaN
// for the refused step, 0 for the healthy one.
func TestRefusedStepLeavesNoGradient(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	labels := []int{0, 0, 1, 1, 2, 2}
	x := randInputs(5, 6, cfg.Inputs())
	for _, workers := range []int{1, 2} {
		weights := func(refuseFirst bool) [][]float32 {
			m, err := models.New(cfg)
			require.NoError(t, err)
			var s *G.Node
			loss := losses.Func(func(emb, lab *G.Node) (*G.Node, error) {
				l, err := losses.NewTriplet().Loss(emb, lab)
				if err != nil {
					return nil, err
				}
				s = G.NewScalar(emb.Graph(), emb.Dtype(), G.WithName("s"), G.WithValue(float32(0)))
				sum, err := G.Sum(emb)
				if err != nil {
					return nil, err
				}
				p, err := G.Mul(s, sum)
				if err != nil {
					return nil, err
				}
				return G.Add(l, p)
			})
			tc := models.DefaultTrainConfig()
			tc.Workers = workers
			tr, err := models.NewTrainer(m, loss, len(labels), tc)
			require.NoError(t, err)
			defer tr.Close()
			if refuseFirst {
				require.NoError(t, G.Let(s, float32(math.NaN())))
				_, err := tr.Step(x, labels)
				require.ErrorContains(t, err, "weights not updated")
				require.NoError(t, G.Let(s, float32(0)))
			}
			_, err = tr.Step(x, labels)
			require.NoError(t, err, "workers %d", workers)
			var w [][]float32
			for _, p := range m.Params {
				w = append(w, append([]float32(nil), p.Value.Data().([]float32)...))
			}
			return w
		}
		require.Equal(t, weights(false), weights(true), "workers %d", workers)
	}
}

// TestTrainHugeEpochs (issue 11, defect 5): the loss history was
// preallocated for every step (fatal out-of-memory at 10^12 epochs) and the
// step count overflowed (panic at MaxInt epochs).
func TestTrainHugeEpochs(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	data := models.Dataset{X: randInputs(2, 24, cfg.Inputs()), Labels: []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}}
	tc := models.TrainConfig{P: 3, K: 2, Epochs: math.MaxInt, Solver: models.Adam, LearnRate: 1e-3, Seed: 1}
	_, err = models.Train(context.Background(), m, losses.NewTriplet(), data, tc)
	require.ErrorContains(t, err, "models: 9223372036854775807 epochs of 4 steps overflow the step count")
	// 10^12 epochs stop after MaxSteps, and the history holds what ran.
	tc.Epochs, tc.MaxSteps = 1_000_000_000_000, 3
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h, err := models.Train(context.Background(), m, losses.NewTriplet(), data, tc)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Equal(t, 3, h.Steps)
	require.Len(t, h.Losses, 3)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(256<<20))
	// Without MaxSteps, the history starts small: cancel after 2 steps.
	ctx, cancel := context.WithCancel(context.Background())
	tc.MaxSteps = 0
	tc.Progress = func(p models.Progress) {
		if p.Step == 2 {
			cancel()
		}
	}
	h, err = models.Train(ctx, m, losses.NewTriplet(), data, tc)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 2, h.Steps)
	require.LessOrEqual(t, cap(h.Losses), 1<<16)
}

// TestMemoryEstimate (issue 11, defect 6): a batch or an embedding
// dimension too large for memory is refused by NewTrainer with the
// estimate and the limit, before anything is allocated.
func TestMemoryEstimate(t *testing.T) {
	conv := models.DefaultConvNet(64)
	e, err := models.TrainingMemory(conv, 100)
	require.NoError(t, err)
	// The default run (B = 100) needs tens of MiB, far below the limit.
	require.Greater(t, e.Total(), float64(10<<20))
	require.Less(t, e.Total(), float64(1<<30))
	for _, tc := range []struct {
		name string
		cfg  models.Config
		b    int
		want string
	}{
		// -k 3000 in the command: B = 30,000, 7.2 GB per B×B float32 matrix
		// TrainingMemory's formula: 30000²·(32·4 + 8) bytes = 114.0 GiB of
		// B×B matrices plus 35.8 GiB of activations; 46,080 parameters ×
		// 4·4 bytes = 720 KiB of weights, gradients and moments
		{"batch-30000", conv, 30000, "models: training the cnn (dim 64) on batches of 30000 needs about 149.8 GiB (weights and optimizer 720 KiB, activations 35.8 GiB, B×B matrices 114.0 GiB)"},
		{"dim-1e6", models.DefaultConvNet(1_000_000), 100, "on batches of 100 needs about"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := models.New(models.DefaultMLP(4)) // the model size does not matter for the check
			require.NoError(t, err)
			m.Config = tc.cfg
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = models.NewTrainer(m, losses.NewTriplet(), tc.b, models.DefaultTrainConfig())
			runtime.ReadMemStats(&after)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "the limit is 8.0 GiB (TrainConfig.MemoryLimit)")
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
		})
	}
	// A raised limit lets the same configuration through the check (the
	// build then fails on the model, which is not this configuration's).
	m, err := models.New(models.DefaultMLP(4))
	require.NoError(t, err)
	cfg := models.DefaultTrainConfig()
	cfg.MemoryLimit = 1 << 40
	m.Config = models.DefaultConvNet(1_000_000)
	_, err = models.NewTrainer(m, losses.NewTriplet(), 100, cfg)
	require.ErrorContains(t, err, "models: parameter 0 is fc0.weight")
}

// TestNonFiniteInputs: NaN or ±Inf input features are refused before they
// become NaN embeddings, naming the sample and the feature.
func TestNonFiniteInputs(t *testing.T) {
	cfg := smallConfigs()["mlp"]
	m, err := models.New(cfg)
	require.NoError(t, err)
	x := randInputs(1, 6, cfg.Inputs())
	x[2*cfg.Inputs()+5] = float32(math.NaN())
	_, err = m.Embed(x, 4, nil)
	require.ErrorContains(t, err, "models: embed: input sample 2 has NaN at feature 5")
	_, err = models.Train(context.Background(), m, losses.NewTriplet(), models.Dataset{X: x, Labels: []int{0, 0, 1, 1, 2, 2}}, models.TrainConfig{P: 3, K: 2, Epochs: 1, LearnRate: 1e-3})
	require.ErrorContains(t, err, "models: dataset sample 2 has NaN at feature 5")
	// A batch larger than memory holds is refused too (60,000 ConvNet
	// inputs in one batch: about 36 GiB of activations by TrainingMemory).
	big, err := models.New(models.DefaultConvNet(8))
	require.NoError(t, err)
	_, err = big.Embed(make([]float32, 60000*784), 60000, nil)
	require.ErrorContains(t, err, "models: embed: batches of 60000 need about")
}
