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
// gradients the machine has just computed, and zeroes those gradients. It
// first checks that every gradient is finite and that the update leaves
// every weight finite (checkFinite); otherwise it changes nothing and
// names the parameter.
func (o *optimizer) step(nodes G.Nodes, lr float64) error {
	if o.m == nil {
		o.m = make([][]float64, len(nodes))
		o.v = make([][]float64, len(nodes))
	}
	if err := o.checkFinite(nodes, lr); err != nil {
		return err
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

// checkFinite runs the next update without writing it: it reports the
// first parameter whose gradient is NaN or ±Inf, or whose new weight,
// moment or velocity would be, and leaves the weights, the optimizer state
// and the gradients as they are.
func (o *optimizer) checkFinite(nodes G.Nodes, lr float64) error {
	if len(o.m) != len(nodes) {
		return fmt.Errorf("models: optimizer has state for %d parameters; got %d", len(o.m), len(nodes))
	}
	t := float64(o.t + 1)
	c1, c2 := 1-math.Pow(o.beta1, t), 1-math.Pow(o.beta2, t)
	for i, n := range nodes {
		gv, err := n.Grad()
		if err != nil {
			return fmt.Errorf("models: no gradient for %s: %w", n.Name(), err)
		}
		var k int
		var what string
		var bad float64
		switch w := n.Value().Data().(type) {
		case []float32:
			g, ok := gv.Data().([]float32)
			if !ok || len(g) != len(w) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			k, what, bad = dryUpdate(o, w, g, o.m[i], o.v[i], lr, c1, c2)
		case []float64:
			g, ok := gv.Data().([]float64)
			if !ok || len(g) != len(w) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			k, what, bad = dryUpdate(o, w, g, o.m[i], o.v[i], lr, c1, c2)
		default:
			return fmt.Errorf("models: weights of %s have type %T", n.Name(), w)
		}
		switch what {
		case "":
		case "gradient":
			return fmt.Errorf("models: gradient of %s is %v at index %d; weights not updated", n.Name(), bad, k)
		default:
			return fmt.Errorf("models: the update (learning rate %v) would make %s of %s %v at index %d; weights not updated", lr, what, n.Name(), bad, k)
		}
	}
	return nil
}

// dryUpdate computes update's rule for one tensor without writing it and
// returns the first index at which the gradient or a result is not finite,
// with what it is ("gradient", "the weight", "the moment"), or "" when all
// are finite. m and v are nil before the tensor's first update (zeros).
func dryUpdate[T float32 | float64](o *optimizer, w, grad []T, m, v []float64, lr, c1, c2 float64) (int, string, float64) {
	for k := range w {
		gk := float64(grad[k])
		if math.IsNaN(gk) || math.IsInf(gk, 0) {
			return k, "gradient", gk
		}
		g := gk + o.weightDecay*float64(w[k])
		var mk, vk float64
		if m != nil {
			mk, vk = m[k], v[k]
		}
		var nw T
		if o.kind == SGD {
			mk = o.momentum*mk + g
			nw = w[k] - T(lr*mk)
		} else {
			mk = o.beta1*mk + (1-o.beta1)*g
			vk = o.beta2*vk + (1-o.beta2)*g*g
			nw = w[k] - T(lr*(mk/c1)/(math.Sqrt(vk/c2)+o.eps))
		}
		if notFinite(mk) {
			return k, "the first moment", mk
		}
		if notFinite(vk) {
			return k, "the second moment", vk
		}
		if f := float64(nw); notFinite(f) {
			return k, "the weight", f
		}
	}
	return 0, "", 0
}

func notFinite(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
