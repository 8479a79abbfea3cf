package models

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		b, n, workers int
		want          []chunk
	}{
		{7, 3, 3, []chunk{{0, 3, 0}, {3, 2, 1}, {5, 2, 2}}},
		{7, 2, 2, []chunk{{0, 4, 0}, {4, 3, 1}}},
		{10, 4, 2, []chunk{{0, 3, 0}, {3, 3, 1}, {6, 2, 0}, {8, 2, 1}}},
		{4, 4, 4, []chunk{{0, 1, 0}, {1, 1, 1}, {2, 1, 2}, {3, 1, 3}}},
	} {
		require.Equal(t, tc.want, split(tc.b, tc.n, tc.workers), "b=%d n=%d", tc.b, tc.n)
	}
}

// sumLoss is Σ E², enough to drive the replicas.
type sumLoss struct{}

func (sumLoss) Loss(e, _ *G.Node) (*G.Node, error) {
	sq, err := G.Square(e)
	if err != nil {
		return nil, err
	}
	return G.Sum(sq)
}

// TestShardFailureEndsStep: a shard that fails before it hands over its
// embeddings (its input buffer has the wrong type) and one that fails after
// receiving ∂L/∂E (its gradient buffer has the wrong type) each end the step
// with that shard's error, leave no gradient behind, and leave no
// goroutine running; the next good step gives the gradients of a fresh
// trainer.
func TestShardFailureEndsStep(t *testing.T) {
	cfg := Config{Arch: MLP, Channels: 1, Height: 4, Width: 4, Hidden: []int{5}, Dim: 3, Seed: 2}
	const b = 7
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, b*cfg.Inputs())
	for i := range x {
		x[i] = r.Float32()
	}
	labels := make([]int, b)
	grads := func(p *parallel) [][]float32 {
		var out [][]float32
		for _, n := range p.learnables() {
			g, err := n.Grad()
			if err != nil || g == nil { // never computed: zero
				out = append(out, make([]float32, n.Shape().TotalSize()))
				continue
			}
			out = append(out, append([]float32(nil), g.Data().([]float32)...))
		}
		return out
	}
	newPar := func() *parallel {
		m, err := New(cfg)
		require.NoError(t, err)
		p, err := newParallel(m, sumLoss{}, b, 3, 0)
		require.NoError(t, err)
		return p
	}
	ref := newPar()
	defer ref.close()
	_, err := ref.step(context.Background(), x, labels)
	require.NoError(t, err)
	want := grads(ref)

	for _, tc := range []struct {
		name   string
		break_ func(r *replica) func()
		msg    string
	}{
		{"before-handover", func(r *replica) func() {
			good := r.xbuf
			r.xbuf = tensor.New(tensor.WithShape(good.Shape()...), tensor.Of(tensor.Int))
			return func() { r.xbuf = good }
		}, "input buffer has type []int"},
		{"after-gradient", func(r *replica) func() {
			good := r.out
			r.out = tensor.New(tensor.WithShape(good.Shape()...), tensor.Of(tensor.Int))
			return func() { r.out = good }
		}, "exchange: unsupported type []int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			p := newPar()
			defer p.close()
			restore := tc.break_(p.reps[1][2])
			_, err := p.step(context.Background(), x, labels)
			require.ErrorContains(t, err, tc.msg)
			for _, g := range grads(p) {
				for _, v := range g {
					require.Zero(t, v)
				}
			}
			deadline := time.Now().Add(2 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			require.LessOrEqual(t, runtime.NumGoroutine(), before)
			restore()
			_, err = p.step(context.Background(), x, labels)
			require.NoError(t, err)
			require.Equal(t, want, grads(p))
		})
	}
}
