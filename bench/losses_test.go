package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
)

// Benchmark geometry: D = 128 columns, P×K labels with K = 4 samples per
// class, float32 embeddings drawn from N(0, 1)/√D with a fixed seed.
const (
	benchDim = 128
	perClass = 4 // K
	seed     = 20240607
)

var batchSizes = []int{128, 256, 1024}

// lossFn is what every loss of package losses has.
type lossFn interface {
	Loss(emb, labels *G.Node) (*G.Node, error)
}

// lossCase is one benchmarked loss configuration.
type lossCase struct {
	name string
	// maxB is the largest batch size the case is run at (0: every size).
	maxB int
	// loss returns the loss for a batch of p classes × k samples.
	loss func(p, k int) lossFn
}

// lossCases lists every benchmarked loss; doc.go describes each name.
func lossCases() []lossCase {
	return []lossCase{
		{name: "Contrastive", loss: func(p, k int) lossFn { return losses.NewContrastive() }},
		{
			// All valid triplets, with exactly the P×K count of slots:
			// without a miner the worst-case capacity at B=1024 is past
			// mining.MaxSlots and refused.
			name: "Triplet",
			loss: func(p, k int) lossFn {
				l := losses.NewTriplet()
				l.Miner = mining.AllTriplets{Capacity: mining.PKTriplets(p, k)}
				return l
			},
		},
		{
			// NewTriplet as a user gets it: the worst-case capacity
			// (B=256: 4.2M slots for 194k valid triplets).
			name: "TripletDefaultCap",
			maxB: 256,
			loss: func(p, k int) lossFn { return losses.NewTriplet() },
		},
		{
			name: "TripletBatchHard",
			loss: func(p, k int) lossFn {
				l := losses.NewTriplet()
				l.Miner = mining.BatchHard{}
				return l
			},
		},
		{
			name: "TripletSemiHard",
			loss: func(p, k int) lossFn {
				l := losses.NewTriplet()
				l.Miner = mining.SemiHard{Margin: l.Margin, Capacity: p * k * (k - 1)}
				return l
			},
		},
		{name: "LiftedSmooth", loss: func(p, k int) lossFn { return losses.NewLifted() }},
		{name: "LiftedHard", loss: func(p, k int) lossFn { return losses.Lifted{Margin: 1, Form: losses.LiftedHard} }},
		{name: "NPair", loss: func(p, k int) lossFn { return losses.NewNPair() }},
		{name: "NCE", loss: func(p, k int) lossFn { return losses.NewNCE() }},
		{name: "NTXent", loss: func(p, k int) lossFn { return losses.NewNTXent() }},
		{name: "SupCon", loss: func(p, k int) lossFn { return losses.NewSupCon() }},
	}
}

// pkLabels returns the labels i/k of a batch of p classes × k samples.
func pkLabels(p, k int) []int {
	out := make([]int, p*k)
	for i := range out {
		out[i] = i / k
	}
	return out
}

// embeddings returns a b×d backing of dtype dt with entries N(0, 1)/√d
// drawn from a fixed seed.
func embeddings(b, d int, dt tensor.Dtype) any {
	r := rand.New(rand.NewPCG(seed, uint64(b*1000+d)))
	s := 1 / math.Sqrt(float64(d))
	if dt == tensor.Float32 {
		out := make([]float32, b*d)
		for i := range out {
			out[i] = float32(r.NormFloat64() * s)
		}
		return out
	}
	out := make([]float64, b*d)
	for i := range out {
		out[i] = r.NormFloat64() * s
	}
	return out
}

// step is a compiled forward+backward pass of one loss.
type step struct {
	loss *G.Node
	grad *G.Node // ∂loss/∂embeddings
	m    G.VM
}

// run executes one forward+backward pass and resets the machine.
func (s *step) run() error {
	if err := graph.Run(s.m); err != nil {
		return err
	}
	s.m.Reset()
	return nil
}

func (s *step) close() {
	if s != nil && s.m != nil {
		s.m.Close()
	}
}

// build makes the graph of case c for a batch of b = p·k rows of dimension
// d with P×K labels: a leaf embedding matrix holding embeddings(b, d, dt), a
// bound Int label vector, the loss, G.Grad with respect to the embeddings
// and a TapeMachine.
func build(c lossCase, b, d, k int, dt tensor.Dtype) (*step, error) {
	if b%k != 0 {
		return nil, fmt.Errorf("bench: batch %d is not a multiple of K = %d", b, k)
	}
	p := b / k
	return buildWith(c, embeddings(b, d, dt), pkLabels(p, k), d, p, k)
}

// buildWith is build for given embedding values (a []float32 or []float64
// backing of len(labels)×d) and labels; p and k size the miners' capacities.
func buildWith(c lossCase, data any, labels []int, d, p, k int) (*step, error) {
	b := len(labels)
	g := G.NewGraph()
	val := tensor.New(tensor.WithShape(b, d), tensor.WithBacking(data))
	emb := G.NewMatrix(g, val.Dtype(), G.WithShape(b, d), G.WithName("embeddings"), G.WithValue(val))
	lab := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(b), tensor.WithBacking(labels))))
	loss, err := c.loss(p, k).Loss(emb, lab)
	if err != nil {
		return nil, err
	}
	grads, err := G.Grad(loss, emb)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: grad: %w", c.name, err)
	}
	return &step{loss: loss, grad: grads[0], m: G.NewTapeMachine(g)}, nil
}

func benchName(b, d int) string { return fmt.Sprintf("B=%d/D=%d", b, d) }

// BenchmarkLosses times one forward+backward pass (graph.Run + Reset) of every
// loss; the graph is built and compiled, and one warm-up step is run, before
// the timer starts.
func BenchmarkLosses(b *testing.B) {
	for _, c := range lossCases() {
		b.Run(c.name, func(b *testing.B) {
			for _, n := range batchSizes {
				if c.maxB > 0 && n > c.maxB {
					continue
				}
				b.Run(benchName(n, benchDim), func(b *testing.B) {
					b.ReportAllocs()
					s, err := build(c, n, benchDim, perClass, tensor.Float32)
					if err != nil {
						b.Fatal(err)
					}
					defer s.close()
					if err := s.run(); err != nil { // warm-up, and a setup check
						b.Fatal(err)
					}
					b.ResetTimer()
					cpu := cpuTime()
					for i := 0; i < b.N; i++ {
						if err := graph.Run(s.m); err != nil {
							b.Fatal(err)
						}
						s.m.Reset()
					}
					reportCPU(b, cpu) // robust to other load, unlike ns/op
				})
			}
		})
	}
}

// BenchmarkBuild times graph construction, G.Grad and TapeMachine
// compilation alone, for a few losses.
func BenchmarkBuild(b *testing.B) {
	keep := map[string]bool{"Contrastive": true, "Triplet": true, "LiftedSmooth": true, "NPair": true, "NTXent": true, "SupCon": true}
	for _, c := range lossCases() {
		if !keep[c.name] {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			for _, n := range []int{256, 1024} {
				b.Run(benchName(n, benchDim), func(b *testing.B) {
					b.ReportAllocs()
					cpu := cpuTime()
					for i := 0; i < b.N; i++ {
						s, err := build(c, n, benchDim, perClass, tensor.Float32)
						if err != nil {
							b.Fatal(err)
						}
						s.close()
					}
					reportCPU(b, cpu)
				})
			}
		})
	}
}

// TestLossSetups exercises every benchmark's setup cheaply: at B=8 (two
// classes of four) it builds the graph, runs two forward+backward steps and
// checks that the loss and its gradient are finite, for both dtypes.
func TestLossSetups(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, c := range lossCases() {
			t.Run(fmt.Sprintf("%s/%v", c.name, dt), func(t *testing.T) {
				s, err := build(c, 8, 4, perClass, dt)
				require.NoError(t, err)
				defer s.close()
				for i := 0; i < 2; i++ {
					require.NoError(t, s.m.RunAll())
					v, ok := scalar(s.loss.Value())
					require.True(t, ok, "loss value %v", s.loss.Value())
					require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "loss %v", v)
					require.True(t, v >= 0, "loss %v", v)
					g := s.grad.Value()
					require.NotNil(t, g)
					require.Equal(t, []int{8, 4}, []int(g.Shape()))
					for _, x := range floats(g.Data()) {
						require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "gradient entry %v", x)
					}
					s.m.Reset()
				}
			})
		}
	}
}

func scalar(v G.Value) (float64, bool) {
	switch x := v.Data().(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func floats(data any) []float64 {
	switch d := data.(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	return nil
}
