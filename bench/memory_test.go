package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/gemm"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
	"github.com/contrastive-go/contrastive/models"
)

// memoryStepCase is a ConvNet training step with or without a memory
// (issue 14, part 3).
type memoryStepCase struct {
	name string
	size int // rows of the memory; 0: none
	moco bool
	loss func() losses.Referenced
}

func memoryStepCases() []memoryStepCase {
	contrastive := func() losses.Referenced { return losses.ContrastivePML() }
	ntxent := func() losses.Referenced { return losses.NewNTXent() }
	triplet := func() losses.Referenced { // batch hard, with or without a memory
		t := losses.TripletPML()
		t.Miner = mining.BatchHard{}
		return t
	}
	return []memoryStepCase{
		{name: "contrastive", loss: contrastive},
		{name: "contrastive/xbm=8192", size: 8192, loss: contrastive},
		{name: "triplet", loss: triplet},
		{name: "triplet/xbm=8192", size: 8192, loss: triplet},
		{name: "ntxent", loss: ntxent},
		{name: "ntxent/moco=128", size: 128, moco: true, loss: ntxent}, // MoCo's cost that does not grow with the queue
		{name: "ntxent/moco=8192", size: 8192, moco: true, loss: ntxent},
		{name: "ntxent/moco=65536", size: 65536, moco: true, loss: ntxent},
	}
}

// newMemoryTrainer returns a trainer of the default ConvNet (dim 64) on
// batches of bs rows with tc's loss, its memory already full of random
// unit rows (so a step costs what it does in the middle of a run).
func newMemoryTrainer(tb testing.TB, tc memoryStepCase, bs, workers int) (*models.Trainer, func()) {
	m, err := models.New(models.DefaultConvNet(64))
	if err != nil {
		tb.Fatal(err)
	}
	var loss models.Loss = tc.loss().(models.Loss)
	var queue func() *graph.Queue
	closeLoss := func() {}
	switch {
	case tc.size > 0 && tc.moco:
		c, err := models.NewMoCo(m, losses.RefFunc(tc.loss()), tc.size, models.DefaultMoCoMomentum)
		if err != nil {
			tb.Fatal(err)
		}
		loss, queue, closeLoss = c, c.Queue, c.Close
	case tc.size > 0:
		x, err := losses.NewXBM(tc.loss(), tc.size)
		if err != nil {
			tb.Fatal(err)
		}
		loss, queue = x, x.Queue
	}
	cfg := models.DefaultTrainConfig()
	cfg.Workers = workers
	tr, err := models.NewTrainer(m, loss, bs, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if queue != nil {
		q := queue()
		r := rand.New(rand.NewPCG(seed, 11))
		rows := make([]float32, q.Size()*q.Dim())
		labels := make([]int, q.Size())
		for i := range labels {
			labels[i] = i % 10
			for j := 0; j < q.Dim(); j++ {
				rows[i*q.Dim()+j] = float32(r.NormFloat64() / 8) // |row| ≈ 1 at D = 64
			}
		}
		if err := q.Push(rows, labels); err != nil {
			tb.Fatal(err)
		}
	}
	return tr, func() { tr.Close(); closeLoss() }
}

// BenchmarkMemoryStep times a ConvNet training step (B = 100, D = 64, Adam)
// with a full memory against the same loss without one: XBM at 8,192 rows
// around the contrastive loss and around the batch-hard triplet loss, MoCo
// at 128, 8,192 and 65,536 keys with NT-Xent (MoCo's step includes the key
// encoder's forward pass and the momentum update, which do not grow with
// the queue: the 128 case measures them). The memory's extra work is the
// B×Q×D products of the pairwise matrix and of its gradient
// (BenchmarkMemoryProduct; BenchmarkMemoryProductBare for the products
// alone) and a few passes over the loss's B×Q matrix (graph.RefNTXent,
// graph.RefContrastive, graph.RefBatchHard). Run the cases interleaved, e.g.
//
//	go test ./bench -run '^$' -bench 'Memory' -benchtime 20x -count 5
func BenchmarkMemoryStep(b *testing.B) {
	const p, k = 10, 10
	bs := p * k
	for _, tc := range memoryStepCases() {
		b.Run(fmt.Sprintf("%s/B=%d", tc.name, bs), func(b *testing.B) {
			tr, done := newMemoryTrainer(b, tc, bs, 0)
			defer done()
			x, labels := stepBatch(bs, k)
			if _, err := tr.Step(x, labels); err != nil { // warm: buffers, Adam's moments
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
		})
	}
}

// stepBatch returns bs random 28×28 inputs in classes of k rows.
func stepBatch(bs, k int) ([]float32, []int) {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, bs*784)
	for i := range x {
		x[i] = r.Float32()
	}
	labels := make([]int, bs)
	for i := range labels {
		labels[i] = i / k
	}
	return x, labels
}

// BenchmarkMemoryProduct times what a memory must add at least: the B×Q
// cosine matrix between the batch (B×64) and a queue of Q rows, and its
// gradient with respect to the batch (two B×Q×64 products), summed to a
// scalar.
//
// The euclidean cases take the contrastive loss's distance (Euclidean on
// L2-normalised rows, ContrastivePML) instead of the cosine: the baseline
// of the XBM case of BenchmarkMemoryStep.
func BenchmarkMemoryProduct(b *testing.B) {
	const bs, d = 100, 64
	for _, c := range []struct {
		name string
		q    int
		dist graph.Distance
	}{
		{"", 8192, graph.Cosine{}},
		{"", 65536, graph.Cosine{}},
		{"/euclidean", 8192, graph.Euclidean{Normalize: true}},
	} {
		q := c.q
		b.Run(fmt.Sprintf("B=%d/Q=%d/D=%d%s", bs, q, d, c.name), func(b *testing.B) {
			g := G.NewGraph()
			r := rand.New(rand.NewPCG(seed, 5))
			v := make([]float32, bs*d)
			for i := range v {
				v[i] = float32(r.NormFloat64())
			}
			emb := G.NewMatrix(g, tensor.Float32, G.WithShape(bs, d), G.WithValue(graph.DenseOf(tensor.Float32, toF64(v), bs, d)))
			labels := G.NewVector(g, tensor.Int, G.WithShape(bs), G.WithValue(tensor.New(tensor.WithBacking(make([]int, bs)))))
			queue, err := graph.NewQueue(tensor.Float32, q, d)
			if err != nil {
				b.Fatal(err)
			}
			ref, _, err := queue.Nodes(nil, labels)
			if err != nil {
				b.Fatal(err)
			}
			m, err := c.dist.Matrix(emb, ref)
			if err != nil {
				b.Fatal(err)
			}
			cost, err := G.Sum(m)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := G.Grad(cost, emb); err != nil {
				b.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if err := graph.Run(vm); err != nil {
					b.Fatal(err)
				}
				vm.Reset()
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkMemoryProductBare times the two float32 matrix products alone
// that a memory of Q rows must add to a step at least, with the kernels the
// graphs use: the B×Q matrix S = E·Mᵀ of the batch E (B×64) against the
// queue M (Q×64), and the batch's gradient dE = dS·M (B×Q by Q×64); the
// queue gets no gradient. It is the strict floor of a memory's overhead
// (BenchmarkMemoryProduct adds what any loss on the cosine matrix needs:
// normalising the queue, reading the matrix and writing its gradient).
func BenchmarkMemoryProductBare(b *testing.B) {
	const bs, d = 100, 64
	for _, q := range []int{8192, 65536} {
		b.Run(fmt.Sprintf("B=%d/Q=%d/D=%d", bs, q, d), func(b *testing.B) {
			r := rand.New(rand.NewPCG(seed, 6))
			e, m := make([]float32, bs*d), make([]float32, q*d)
			for i := range e {
				e[i] = float32(r.NormFloat64())
			}
			for i := range m {
				m[i] = float32(r.NormFloat64())
			}
			s, de := make([]float32, bs*q), make([]float32, bs*d)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				gemm.Sgemm(blas.NoTrans, blas.Trans, bs, q, d, 1, e, d, m, d, 0, s, q)
				gemm.Sgemm(blas.NoTrans, blas.NoTrans, bs, d, q, 1, s, q, m, d, 0, de, d)
			}
			reportCPU(b, cpu)
		})
	}
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestMemoryStepSetup runs one step of every BenchmarkMemoryStep case on a
// batch of 4 with memories of 8 rows (so the default test run checks that
// the benchmarks build).
func TestMemoryStepSetup(t *testing.T) {
	for _, tc := range memoryStepCases() {
		if tc.size > 0 {
			tc.size = 8
		}
		tr, done := newMemoryTrainer(t, tc, 4, 1)
		x, _ := stepBatch(4, 2)
		if _, err := tr.Step(x, []int{0, 0, 1, 1}); err != nil {
			t.Fatal(tc.name, err)
		}
		done()
	}
}
