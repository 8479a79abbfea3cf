package models_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/checkpoint"
)

// TestHybridShapes: DefaultHybrid is DefaultConvNet plus the dense
// branch's weights (784×256 and its bias) and 256 more projection rows;
// with the same seed its convolutions start from the ConvNet's weights, a
// ConvNet without the branch is unchanged (no "dense" key in its JSON, so
// older checkpoints read as before), and Build gives B×Dim unit rows.
func TestHybridShapes(t *testing.T) {
	type shape struct {
		name  string
		shape []int
	}
	conv := []shape{{"conv0.weight", []int{16, 1, 5, 5}}, {"conv0.bias", []int{1, 16, 1, 1}}, {"conv1.weight", []int{32, 16, 5, 5}}, {"conv1.bias", []int{1, 32, 1, 1}}}
	for _, tc := range []struct {
		name string
		cfg  models.Config
		want []shape
	}{
		// 28 → 24 → 12 → 8 → 4: 32·4·4 = 512 conv features
		{"cnn", models.DefaultConvNet(64), append(conv[:4:4], shape{"proj.weight", []int{512, 64}}, shape{"proj.bias", []int{1, 64}})},
		// 512 conv features + 256 dense features = 768 projection rows
		{"hybrid", models.DefaultHybrid(64), append(conv[:4:4], shape{"dense.weight", []int{784, 256}}, shape{"dense.bias", []int{1, 256}},
			shape{"proj.weight", []int{768, 64}}, shape{"proj.bias", []int{1, 64}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := models.New(tc.cfg)
			require.NoError(t, err)
			require.Len(t, m.Params, len(tc.want))
			for i, w := range tc.want {
				require.Equal(t, w.name, m.Params[i].Name)
				require.Equal(t, w.shape, []int(m.Params[i].Value.Shape()), w.name)
			}
			raw, err := json.Marshal(tc.cfg)
			require.NoError(t, err)
			require.Equal(t, tc.cfg.Dense > 0, containsKey(t, raw, "dense"))

			const b = 5
			g := G.NewGraph()
			built, err := m.Build(g, b)
			require.NoError(t, err)
			require.Equal(t, []int{b, 784}, []int(built.Input.Shape()))
			require.Equal(t, []int{b, 64}, []int(built.Embeddings.Shape()))
			require.Len(t, built.Learnables, len(tc.want))
			emb, err := m.Embed(randInputs(8, b, 784), b, nil)
			require.NoError(t, err)
			for i := range b {
				n := 0.0
				for _, v := range emb[i*64 : (i+1)*64] {
					n += float64(v) * float64(v)
				}
				graphtest.RequireClose(t, 1, math.Sqrt(n), 1e-6, 1e-6, "embedding norm") // L2-normalised
			}
		})
	}
	cnn, err := models.New(models.DefaultConvNet(64))
	require.NoError(t, err)
	hyb, err := models.New(models.DefaultHybrid(64))
	require.NoError(t, err)
	for i := range 4 {
		require.Equal(t, cnn.Params[i].Value.Data(), hyb.Params[i].Value.Data(), "%s starts as the ConvNet's", cnn.Params[i].Name)
	}
	e, err := models.TrainingMemory(models.DefaultHybrid(64), 100)
	require.NoError(t, err)
	ec, err := models.TrainingMemory(models.DefaultConvNet(64), 100)
	require.NoError(t, err)
	// 785·256 + 256·64 = 217,344 more weights, each with a gradient and
	// Adam's two moments: 4 float32 values
	graphtest.RequireClose(t, 217344*4*4, e.Params-ec.Params, 0, 1e-12, "extra weight memory")
	require.Greater(t, e.Activations, ec.Activations)
}

func containsKey(t *testing.T, raw []byte, key string) bool {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	_, ok := m[key]
	return ok
}

// TestHybridGradient: the gradient of Σ E ⊙ R (R fixed random weights)
// through a float64 ConvNet with a dense branch, L2-normalised or not,
// agrees with central differences for every weight, and the dense
// branch's weights get a gradient (the branch reaches the embeddings).
func TestHybridGradient(t *testing.T) {
	for _, normalize := range []bool{false, true} {
		t.Run(map[bool]string{false: "raw", true: "normalized"}[normalize], func(t *testing.T) {
			cfg := models.Config{Arch: models.ConvNet, Channels: 1, Height: 8, Width: 7, Hidden: []int{2}, Kernel: 3, Dense: 3, Dim: 3, Normalize: normalize, Float64: true, Seed: 9}
			m, err := models.New(cfg)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(3, 4))
			for _, p := range m.Params { // non-zero biases, so their paths count
				if p.Value.Shape()[0] == 1 {
					v := make([]float64, p.Value.Shape().TotalSize())
					for i := range v {
						v[i] = 0.1 * r.NormFloat64()
					}
					copy4(p.Value, v)
				}
			}
			const b = 4
			x := make([]float64, b*cfg.Inputs())
			for i := range x {
				x[i] = r.Float64()
			}
			w := make([]float64, b*cfg.Dim)
			for i := range w {
				w[i] = r.NormFloat64()
			}
			res := graphtest.CheckGradient(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, error) {
				built, err := m.Build(g, b)
				if err != nil {
					return nil, nil, err
				}
				if err := G.Let(built.Input, graph.DenseOf(cfg.Dtype(), x, b, cfg.Inputs())); err != nil {
					return nil, nil, err
				}
				rn := G.NewMatrix(g, cfg.Dtype(), G.WithShape(b, cfg.Dim), G.WithName("r"), G.WithValue(graph.DenseOf(cfg.Dtype(), w, b, cfg.Dim)))
				p, err := G.HadamardProd(built.Embeddings, rn)
				if err != nil {
					return nil, nil, err
				}
				cost, err := G.Sum(p)
				return cost, built.Learnables, err
			}, graphtest.GradOptions{})
			require.Equal(t, "dense.weight", m.Params[2].Name)
			nonZero := 0
			for _, v := range res.Grads[2] {
				if v != 0 {
					nonZero++
				}
			}
			require.Greater(t, nonZero, 0, "the dense branch gets no gradient")
		})
	}
}

// TestHybridConfigErrors: a negative dense width, a dense branch on an MLP
// and one too large for MaxParams are refused by New (and by Load, before
// it allocates), and a file whose metadata asks for a dense branch its
// tensors lack is refused by name.
func TestHybridConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  models.Config
		want string
	}{
		{"negative", func() models.Config { c := models.DefaultConvNet(4); c.Dense = -1; return c }(),
			"models: dense branch width is -1; want ≥ 0 (0: none)"},
		{"mlp", func() models.Config { c := models.DefaultMLP(4); c.Dense = 8; return c }(),
			"models: a dense branch (Dense 8) is a cnn option; the mlp architecture's first layer already sees the raw input"},
		// conv blocks (5·5+1)·16 + (16·5·5+1)·32 = 13,248, dense branch
		// (784+1)·2^31, projection (512 + 2^31 + 1)·4: 1,694,364,613,572
		// weights, 6777.5 GB of float32
		{"huge", func() models.Config { c := models.DefaultConvNet(4); c.Dense = 1 << 31; return c }(),
			"models: the cnn configuration has 1694364613572 weights (6777.5 GB as float32); the limit is MaxParams = 1073741824"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := models.New(tc.cfg)
			require.EqualError(t, err, tc.want)
			path := craftedModel(t, tc.cfg, nil)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = models.Load(path)
			runtime.ReadMemStats(&after)
			require.ErrorContains(t, err, tc.want[len("models: "):])
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated by Load")
		})
	}
	// a ConvNet's weights under metadata that asks for a dense branch
	m, err := models.New(smallConfigs()["cnn"])
	require.NoError(t, err)
	var ts []checkpoint.Tensor
	for _, p := range m.Params {
		ts = append(ts, checkpoint.Tensor{Name: p.Name, Shape: p.Value.Shape(), F32: p.Value.Data().([]float32)})
	}
	_, err = models.Load(craftedModel(t, smallConfigs()["hybrid"], ts))
	require.ErrorContains(t, err, "6 tensors; the cnn architecture has 8 parameters")
	// and a hybrid's weights saved and loaded under their own metadata
	// keep the dense branch (bit-for-bit embeddings: TestSaveLoadRoundTrip)
	h, err := models.New(smallConfigs()["hybrid"])
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "hybrid.safetensors")
	require.NoError(t, h.Save(path))
	l, err := models.Load(path)
	require.NoError(t, err)
	require.Equal(t, 5, l.Config.Dense)
	require.Equal(t, "dense.weight", l.Params[4].Name) // after conv0 and conv1
	require.Equal(t, h.Params[4].Value.Data(), l.Params[4].Value.Data())
}

// BenchmarkHybridCost times what the dense branch adds: a training step of
// batch-hard triplet loss at B = 100 (10 classes × 10, Adam) with 1 and 2
// workers, and embedding 10,000 inputs in batches of 500 with 2 workers,
// for DefaultConvNet(64) and DefaultHybrid(64). Building the graphs and a
// warm-up step are outside the timed loop. Run the two encoders in
// alternating processes (-bench 'HybridCost/cnn', then 'HybridCost/hybrid',
// repeated) to compare them on a shared machine.
func BenchmarkHybridCost(b *testing.B) {
	const bs, n = 100, 10000
	r := rand.New(rand.NewPCG(1, 3))
	x := make([]float32, n*784)
	for i := range x {
		x[i] = r.Float32()
	}
	labels := make([]int, bs)
	for i := range labels {
		labels[i] = i / 10
	}
	for _, tc := range []struct {
		name string
		cfg  models.Config
	}{{"cnn", models.DefaultConvNet(64)}, {"hybrid", models.DefaultHybrid(64)}} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/step/B=%d/workers=%d", tc.name, bs, w), func(b *testing.B) {
				m, err := models.New(tc.cfg)
				require.NoError(b, err)
				cfg := models.DefaultTrainConfig()
				cfg.Workers = w
				tr, err := models.NewTrainer(m, batchHard(), bs, cfg)
				require.NoError(b, err)
				defer tr.Close()
				_, err = tr.Step(x[:bs*784], labels) // warm-up: buffers and Adam's moments
				require.NoError(b, err)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := tr.Step(x[:bs*784], labels); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(bs*b.N)/b.Elapsed().Seconds(), "samples/s")
			})
		}
		b.Run(fmt.Sprintf("%s/embed/N=%d/workers=2", tc.name, n), func(b *testing.B) {
			m, err := models.New(tc.cfg)
			require.NoError(b, err)
			e, err := models.NewEmbedder(m, 500, 2)
			require.NoError(b, err)
			defer e.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := e.Embed(x, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
