package bench

import (
	"fmt"
	"math/rand/v2"
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
			cpu0, okCPU := processCPU()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Step(x, labels); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bs*b.N)/b.Elapsed().Seconds(), "samples/s")
			// CPU time per step (all threads of the process): on a shared,
			// oversubscribed machine it varies far less than wall time.
			if cpu1, ok := processCPU(); ok && okCPU {
				b.ReportMetric(float64(cpu1-cpu0)/1e6/float64(b.N), "cpu-ms/op")
			}
		})
	}
}

// BenchmarkEvaluate times retrieval metrics of 10,000 queries against
// 60,000 references at D = 64 (the MNIST test-vs-train evaluation), on
// unit-norm random embeddings of 10 classes.
func BenchmarkEvaluate(b *testing.B) {
	const nq, nr, d = 10000, 60000, 64
	r := rand.New(rand.NewPCG(seed, 4))
	gen := func(n int) ([]float32, []int) {
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
	q, ql := gen(nq)
	ref, rl := gen(nr)
	b.Run("Q=10000/R=60000/D=64", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := eval.Retrieval(q, ql, ref, rl, d, eval.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
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
