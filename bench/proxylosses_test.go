package bench

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
)

// proxyLossCase is a loss with parameters of its own, at its
// pytorch-metric-learning preset (these names are also in the cross-check
// dump and torch_losses.py).
type proxyLossCase struct {
	name string
	mk   func() losses.Learner
}

func proxyLossCases() []proxyLossCase {
	return []proxyLossCase{
		{"ProxyNCAPML", func() losses.Learner { l := losses.ProxyNCAPML(); return &l }},
		{"ProxyAnchorPML", func() losses.Learner { l := losses.ProxyAnchorPML(); return &l }},
		{"SoftTriplePML", func() losses.Learner { l := losses.SoftTriplePML(); return &l }},
		{"ArcFacePML", func() losses.Learner { l := losses.ArcFacePML(); return &l }},
		{"CosFacePML", func() losses.Learner { l := losses.CosFacePML(); return &l }},
	}
}

// proxyStep is step with the gradient of the loss's parameters too.
type proxyStep struct {
	step
	pgrad  *G.Node // ∂loss/∂parameters
	params *tensor.Dense
}

// buildProxy is buildWith for a loss with parameters: they are initialised
// for the classes 0…max(labels) (InitParams, seed), and the machine
// computes the gradients with respect to the embeddings and the
// parameters, as models.Trainer does.
func buildProxy(c proxyLossCase, data any, labels []int, d int) (*proxyStep, error) {
	b := len(labels)
	classes := 0
	for _, l := range labels {
		classes = max(classes, l+1)
	}
	g := G.NewGraph()
	val := tensor.New(tensor.WithShape(b, d), tensor.WithBacking(data))
	emb := G.NewMatrix(g, val.Dtype(), G.WithShape(b, d), G.WithName("embeddings"), G.WithValue(val))
	lab := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(b), tensor.WithBacking(labels))))
	l := c.mk()
	if err := l.InitParams(d, classes, val.Dtype(), seed); err != nil {
		return nil, err
	}
	loss, params, err := l.LossParams(emb, lab)
	if err != nil {
		return nil, err
	}
	grads, err := G.Grad(loss, emb, params[0])
	if err != nil {
		return nil, fmt.Errorf("bench: %s: grad: %w", c.name, err)
	}
	_, vals := l.Params()
	return &proxyStep{step: step{loss: loss, grad: grads[0], m: G.NewTapeMachine(g)}, pgrad: grads[1], params: vals[0]}, nil
}

// BenchmarkLossesProxy times one forward+backward pass (gradients of the
// embeddings and of the parameters) of each proxy- or classifier-based
// loss at B = 256 and 1024 (D = 128, float32, K = 4 per class, so 64 and
// 256 classes: SoftTriple has 10 centres each).
func BenchmarkLossesProxy(b *testing.B) {
	for _, c := range proxyLossCases() {
		b.Run(c.name, func(b *testing.B) {
			for _, n := range []int{256, 1024} {
				b.Run(benchName(n, benchDim), func(b *testing.B) {
					b.ReportAllocs()
					s, err := buildProxy(c, embeddings(n, benchDim, tensor.Float32), pkLabels(n/perClass, perClass), benchDim)
					if err != nil {
						b.Fatal(err)
					}
					defer s.close()
					if err := s.run(); err != nil { // warm-up, and a setup check
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := graph.Run(s.m); err != nil {
							b.Fatal(err)
						}
						s.m.Reset()
					}
				})
			}
		})
	}
}

// TestProxyLossSetups is TestLossSetups for proxyLossCases: each
// benchmark's graph at B=8, two forward+backward steps with finite values
// and gradients, in float32 and float64.
func TestProxyLossSetups(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, c := range proxyLossCases() {
			t.Run(fmt.Sprintf("%s/%v", c.name, dt), func(t *testing.T) {
				s, err := buildProxy(c, embeddings(8, 4, dt), pkLabels(2, perClass), 4)
				require.NoError(t, err)
				defer s.close()
				for i := 0; i < 2; i++ {
					require.NoError(t, s.m.RunAll())
					v, ok := scalar(s.loss.Value())
					require.True(t, ok, "loss value %v", s.loss.Value())
					require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "loss %v", v)
					for _, g := range []*G.Node{s.grad, s.pgrad} {
						for _, x := range floats(g.Value().Data()) {
							require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "gradient entry %v", x)
						}
					}
					s.m.Reset()
				}
			})
		}
	}
}
