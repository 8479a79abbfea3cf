package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/eval"
)

// trainStepCase is one encoder + loss configuration for a training step.
type trainStepCase struct {
	name string
	cfg  models.Config
	loss func() models.Loss
	p, k int
}

func trainStepCases() []trainStepCase {
	bh := func() models.Loss {
		l := losses.TripletPML()
		l.Margin, l.Miner = 0.2, mining.BatchHard{}
		return l
	}
	return []trainStepCase{
		{name: "MLP", cfg: models.DefaultMLP(64), loss: bh, p: 10, k: 10},
		{name: "ConvNet", cfg: models.DefaultConvNet(64), loss: bh, p: 10, k: 10},
		{name: "MLP", cfg: models.DefaultMLP(64), loss: bh, p: 16, k: 16},
		// the command's default encoder: the ConvNet plus a dense branch
		{name: "Hybrid", cfg: models.DefaultHybrid(64), loss: bh, p: 10, k: 10},
	}
}

// BenchmarkTrainStep times one training step (forward, loss with batch-hard
// mining inside the pass, backward, Adam update) of each encoder on 28×28
// inputs; building and compiling the graph and one warm-up step are outside
// the timed loop, so B/op and allocs/op are those of a warm step.
func BenchmarkTrainStep(b *testing.B) {
	for _, tc := range trainStepCases() {
		bs := tc.p * tc.k
		b.Run(fmt.Sprintf("%s/B=%d", tc.name, bs), func(b *testing.B) {
			m, err := models.New(tc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			tr, err := models.NewTrainer(m, tc.loss(), bs, models.DefaultTrainConfig())
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			r := rand.New(rand.NewPCG(seed, 3))
			x := make([]float32, bs*tc.cfg.Inputs())
			for i := range x {
				x[i] = r.Float32()
			}
			labels := make([]int, bs)
			for i := range labels {
				labels[i] = i / tc.k
			}
			// one untimed step first: the ops allocate their reused
			// buffers and Adam its moments, so B/op is a warm step's
			if _, err := tr.Step(x, labels); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Step(x, labels); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bs*b.N)/b.Elapsed().Seconds(), "samples/s")
			// CPU time per step (all threads of the process): on a shared,
			// oversubscribed machine it varies far less than wall time.
			reportCPU(b, cpu)
		})
	}
}

// evalData returns the embeddings and labels of BenchmarkEvaluate: n
// 64-d rows of 10 classes (N(0, 1) plus 3 on the class's coordinate).
func evalData(r *rand.Rand, n int) ([]float32, []int) {
	const d = 64
	x := make([]float32, n*d)
	l := make([]int, n)
	for i := 0; i < n; i++ {
		l[i] = r.IntN(10)
		for j := 0; j < d; j++ {
			v := float32(r.NormFloat64())
			if j == l[i] {
				v += 3 // class structure
			}
			x[i*d+j] = v
		}
	}
	return x, l
}

// BenchmarkEvaluate times retrieval metrics of 10,000 queries against
// 60,000 references at D = 64 (the MNIST test-vs-train evaluation), on
// unit-norm random embeddings of 10 classes.
func BenchmarkEvaluate(b *testing.B) {
	const nq, nr, d = 10000, 60000, 64
	r := rand.New(rand.NewPCG(seed, 4))
	q, ql := evalData(r, nq)
	ref, rl := evalData(r, nr)
	b.Run("Q=10000/R=60000/D=64", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := eval.Retrieval(q, ql, ref, rl, d, eval.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEvaluateWorkers is BenchmarkEvaluate against eval.Options.Workers.
func BenchmarkEvaluateWorkers(b *testing.B) {
	const nq, nr, d = 10000, 60000, 64
	r := rand.New(rand.NewPCG(seed, 4))
	q, ql := evalData(r, nq)
	ref, rl := evalData(r, nr)
	for _, w := range workerCounts(b) {
		b.Run(fmt.Sprintf("Q=10000/R=60000/D=64/workers=%d", w), func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := eval.Retrieval(q, ql, ref, rl, d, eval.Options{Workers: w}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// TestTrainStepSetup runs each training-step benchmark's setup for one step
// at a small batch, so CI exercises it.
func TestTrainStepSetup(t *testing.T) {
	for _, tc := range trainStepCases() {
		tc.p, tc.k = 2, 2
		m, err := models.New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := models.NewTrainer(m, tc.loss(), 4, models.DefaultTrainConfig())
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 4*tc.cfg.Inputs())
		for i := range x {
			x[i] = float32(i%7) / 7
		}
		if _, err := tr.Step(x, []int{0, 0, 1, 1}); err != nil {
			t.Fatal(err)
		}
		tr.Close()
	}
}

// workerCounts returns 1..GOMAXPROCS, or the list in CONTRASTIVE_WORKERS
// (comma-separated) when set, so that a larger machine can time a subset.
func workerCounts(b *testing.B) []int {
	if s := os.Getenv("CONTRASTIVE_WORKERS"); s != "" {
		var out []int
		for _, f := range strings.Split(s, ",") {
			w, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || w < 1 {
				b.Fatalf("CONTRASTIVE_WORKERS=%q: %q is not a worker count", s, f)
			}
			out = append(out, w)
		}
		return out
	}
	out := make([]int, runtime.GOMAXPROCS(0))
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// BenchmarkTrainStepWorkers times the training step of BenchmarkTrainStep
// (B = 100) against the number of workers (models.TrainConfig.Workers):
// workers=1 is the single-graph step, more workers split the batch into
// encoder replicas on their own goroutines. bench/scaling.sh interleaves
// the worker counts and prints the table.
func BenchmarkTrainStepWorkers(b *testing.B) {
	for _, tc := range trainStepCases()[:2] {
		bs := tc.p * tc.k
		for _, w := range workerCounts(b) {
			b.Run(fmt.Sprintf("%s/B=%d/workers=%d", tc.name, bs, w), func(b *testing.B) {
				m, err := models.New(tc.cfg)
				if err != nil {
					b.Fatal(err)
				}
				cfg := models.DefaultTrainConfig()
				cfg.Workers = w
				tr, err := models.NewTrainer(m, tc.loss(), bs, cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer tr.Close()
				r := rand.New(rand.NewPCG(seed, 3))
				x := make([]float32, bs*tc.cfg.Inputs())
				for i := range x {
					x[i] = r.Float32()
				}
				labels := make([]int, bs)
				for i := range labels {
					labels[i] = i / tc.k
				}
				if _, err := tr.Step(x, labels); err != nil { // warm-up
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				for i := 0; i < b.N; i++ {
					if _, err := tr.Step(x, labels); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, cpu)
				b.ReportMetric(float64(bs*b.N)/b.Elapsed().Seconds(), "samples/s")
			})
		}
	}
}

// BenchmarkEmbedWorkers times embedding 10,000 28×28 inputs in batches of
// 500 with each encoder against the number of workers (one warm
// forward-only machine per worker, models.Embedder).
func BenchmarkEmbedWorkers(b *testing.B) {
	const n = 10000
	r := rand.New(rand.NewPCG(seed, 5))
	x := make([]float32, n*784)
	for i := range x {
		x[i] = r.Float32()
	}
	for _, tc := range trainStepCases()[:2] {
		for _, w := range workerCounts(b) {
			b.Run(fmt.Sprintf("%s/N=%d/workers=%d", tc.name, n, w), func(b *testing.B) {
				m, err := models.New(tc.cfg)
				if err != nil {
					b.Fatal(err)
				}
				e, err := models.NewEmbedder(m, 500, w)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				for i := 0; i < b.N; i++ {
					if _, err := e.Embed(x, nil); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, cpu)
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}

// BenchmarkGradCache times a training step of the MLP and the ConvNet with
// batch-hard triplet loss (K = 4 images per class) at large batches, plain
// (chunk=0: the whole batch's activations live at once) and with gradient
// caching in chunks of 256 rows (models.TrainConfig.ChunkSize), one
// worker, and reports the process's peak RSS. Peak RSS only grows within a
// process, so run one case per process (bench/gradcache.sh does). The B×B
// matrices of the loss itself still grow with B²: gradient caching bounds
// the encoder's share of the memory, not the loss's (at B = 16384 the
// loss's float32 B×B temporaries alone need tens of GiB).
func BenchmarkGradCache(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  models.Config
		bs   []int
	}{
		{"MLP", models.DefaultMLP(64), []int{1024, 4096, 16384}},
		{"ConvNet", models.DefaultConvNet(64), []int{1024, 4096}},
	} {
		cfg := tc.cfg
		for _, bs := range tc.bs {
			for _, chunk := range []int{0, 256} {
				b.Run(fmt.Sprintf("%s/B=%d/chunk=%d", tc.name, bs, chunk), func(b *testing.B) {
					m, err := models.New(cfg)
					if err != nil {
						b.Fatal(err)
					}
					tc := models.DefaultTrainConfig()
					tc.Workers, tc.ChunkSize = 1, chunk
					l := losses.TripletPML()
					l.Margin, l.Miner = 0.2, mining.BatchHard{}
					tr, err := models.NewTrainer(m, l, bs, tc)
					if err != nil {
						b.Fatal(err)
					}
					defer tr.Close()
					r := rand.New(rand.NewPCG(seed, 6))
					x := make([]float32, bs*cfg.Inputs())
					for i := range x {
						x[i] = r.Float32()
					}
					labels := make([]int, bs)
					for i := range labels {
						labels[i] = i / 4
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := tr.Step(x, labels); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(peakRSS(), "peak-MiB")
				})
			}
		}
	}
}

// BenchmarkCalibrateWorkers splits a fixed amount of plain arithmetic (no
// memory traffic, no allocation) over W goroutines: its speedup is the
// number of cores the machine actually gave this process during the run,
// the ceiling for the other worker benchmarks of the same scaling.sh round.
func BenchmarkCalibrateWorkers(b *testing.B) {
	const total = 200_000_000
	for _, w := range workerCounts(b) {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			cpu := cpuTime()
			sink := make([]float64, w)
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				for g := range w {
					wg.Go(func() {
						s := 0.0
						for k := g; k < total; k += w {
							s += float64(k) * 1e-9
						}
						sink[g] = s
					})
				}
				wg.Wait()
			}
			reportCPU(b, cpu)
		})
	}
}
