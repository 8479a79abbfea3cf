package models

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// Schedule shapes the learning rate over a training run.
type Schedule int

const (
	// Constant keeps LearnRate throughout.
	Constant Schedule = iota
	// Cosine decays the rate from LearnRate to 0 over the run along half a
	// cosine (Loshchilov & Hutter 2017, without restarts).
	Cosine
)

// rateAt returns the learning rate of step t (0-based) of total.
func (s Schedule) rateAt(base float64, t, total int) float64 {
	if s == Cosine && total > 1 {
		return base * 0.5 * (1 + math.Cos(math.Pi*float64(t)/float64(total)))
	}
	return base
}

// optimizer updates weights in place from their gradients. It is this
// package's own, not Gorgonia's: Gorgonia v0.9.18's Adam squares the
// gradient tensor in place and has no way to change its learning rate.
type optimizer struct {
	kind        Solver
	momentum    float64
	weightDecay float64
	beta1       float64
	beta2       float64
	eps         float64
	t           int
	m, v        [][]float64 // first and second moments (Adam) or velocity (SGD)
}

func newOptimizer(kind Solver, momentum, weightDecay float64) *optimizer {
	return &optimizer{kind: kind, momentum: momentum, weightDecay: weightDecay, beta1: 0.9, beta2: 0.999, eps: 1e-8}
}

// step applies one update with learning rate lr to the learnables, whose
// gradients the machine has just computed, and zeroes those gradients.
func (o *optimizer) step(nodes G.Nodes, lr float64) error {
	if o.m == nil {
		o.m = make([][]float64, len(nodes))
		o.v = make([][]float64, len(nodes))
	}
	o.t++
	c1 := 1 - math.Pow(o.beta1, float64(o.t))
	c2 := 1 - math.Pow(o.beta2, float64(o.t))
	for i, n := range nodes {
		gv, err := n.Grad()
		if err != nil {
			return fmt.Errorf("models: no gradient for %s: %w", n.Name(), err)
		}
		if o.m[i] == nil {
			o.m[i] = make([]float64, n.Shape().TotalSize())
			o.v[i] = make([]float64, n.Shape().TotalSize())
		}
		switch w := n.Value().Data().(type) {
		case []float32:
			g, ok := gv.Data().([]float32)
			if !ok || len(g) != len(w) || len(w) != len(o.m[i]) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			update(o, w, g, o.m[i], o.v[i], lr, c1, c2)
		case []float64:
			g, ok := gv.Data().([]float64)
			if !ok || len(g) != len(w) || len(w) != len(o.m[i]) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			update(o, w, g, o.m[i], o.v[i], lr, c1, c2)
		default:
			return fmt.Errorf("models: weights of %s have type %T", n.Name(), w)
		}
	}
	return nil
}

// update applies the optimizer's rule to one weight tensor; c1 and c2 are
// Adam's bias corrections for this step.
func update[T float32 | float64](o *optimizer, w, grad []T, m, v []float64, lr, c1, c2 float64) {
	for k := range w {
		g := float64(grad[k]) + o.weightDecay*float64(w[k])
		if o.kind == SGD {
			m[k] = o.momentum*m[k] + g
			w[k] -= T(lr * m[k])
			continue
		}
		m[k] = o.beta1*m[k] + (1-o.beta1)*g
		v[k] = o.beta2*v[k] + (1-o.beta2)*g*g
		w[k] -= T(lr * (m[k] / c1) / (math.Sqrt(v[k]/c2) + o.eps))
	}
	// The machine adds each run's gradient into this buffer: clear it for
	// the next step (Gorgonia's own solvers do the same).
	clear(grad)
}
