package models

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// Solver names an optimiser.
type Solver string

const (
	// Adam is Kingma & Ba's optimiser (β1 0.9, β2 0.999, ε 1e-8), with L2
	// weight decay added to the gradient.
	Adam Solver = "adam"
	// SGD is stochastic gradient descent with momentum.
	SGD Solver = "sgd"
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
	m, v        [][]float64      // first and second moments (Adam) or velocity (SGD)
	next        []scratchWeights // each parameter's next weights (step's first pass)
	grads       []G.Value        // the gradients of the step being applied, reused
}

func newOptimizer(kind Solver, momentum, weightDecay float64) *optimizer {
	return &optimizer{kind: kind, momentum: momentum, weightDecay: weightDecay, beta1: 0.9, beta2: 0.999, eps: 1e-8}
}

// step applies one update with learning rate lr to the learnables, whose
// gradients the machine has just computed, and zeroes those gradients. It
// first checks that every gradient is finite and that the update leaves
// every weight finite (checkFinite's rule); otherwise it changes nothing
// and names the parameter.
//
// The check and the update share their arithmetic: a first pass computes
// every parameter's new weights into a scratch copy (the divisions and
// square roots happen there, once) and notes whether anything was not
// finite; only when all parameters pass does a second pass write the new
// moments (the same expressions again, so the same bits) and copy the new
// weights in. When a parameter fails, checkFinite names the first bad
// value.
func (o *optimizer) step(nodes G.Nodes, lr float64) error {
	if o.m == nil {
		o.m = make([][]float64, len(nodes))
		o.v = make([][]float64, len(nodes))
	}
	if len(o.m) != len(nodes) {
		return fmt.Errorf("models: optimizer has state for %d parameters; got %d", len(o.m), len(nodes))
	}
	if len(o.next) != len(nodes) {
		o.next = make([]scratchWeights, len(nodes))
	}
	t := float64(o.t + 1)
	c1, c2 := 1-math.Pow(o.beta1, t), 1-math.Pow(o.beta2, t)
	grads := o.grads[:0]
	for i, n := range nodes {
		gv, err := n.Grad()
		if err != nil {
			return fmt.Errorf("models: no gradient for %s: %w", n.Name(), err)
		}
		grads = append(grads, gv)
		wv := n.Value().Data()
		if o.m[i] == nil {
			size := 0
			switch w := wv.(type) {
			case []float32:
				size = len(w)
			case []float64:
				size = len(w)
			}
			o.m[i] = make([]float64, size)
			o.v[i] = make([]float64, size)
		}
		var finite bool
		switch w := wv.(type) {
		case []float32:
			g, ok := gv.Data().([]float32)
			if !ok || len(g) != len(w) || len(w) != len(o.m[i]) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			finite = nextWeights(o, w, g, o.m[i], o.v[i], getScratch[float32](&o.next[i], len(w)), lr, c1, c2)
		case []float64:
			g, ok := gv.Data().([]float64)
			if !ok || len(g) != len(w) || len(w) != len(o.m[i]) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			finite = nextWeights(o, w, g, o.m[i], o.v[i], getScratch[float64](&o.next[i], len(w)), lr, c1, c2)
		default:
			return fmt.Errorf("models: weights of %s have type %T", n.Name(), w)
		}
		if !finite {
			// the slow, exact check names the first bad value
			if err := o.checkFinite(nodes, lr); err != nil {
				return err
			}
			return fmt.Errorf("models: the update of %s is not finite; weights not updated", n.Name())
		}
	}
	o.grads = grads // reused by the next step
	o.t++
	for i, n := range nodes {
		switch w := n.Value().Data().(type) {
		case []float32:
			commit(o, w, grads[i].Data().([]float32), o.m[i], o.v[i], o.next[i].f32)
		case []float64:
			commit(o, w, grads[i].Data().([]float64), o.m[i], o.v[i], o.next[i].f64)
		}
	}
	return nil
}

// scratchWeights holds one parameter's next weights between the two passes
// of step.
type scratchWeights struct {
	f32 []float32
	f64 []float64
}

// getScratch returns s's buffer of n values of T, allocated on first use.
func getScratch[T float32 | float64](s *scratchWeights, n int) []T {
	var zero T
	if _, ok := any(zero).(float32); ok {
		if len(s.f32) != n {
			s.f32 = make([]float32, n)
		}
		return any(s.f32).([]T)
	}
	if len(s.f64) != n {
		s.f64 = make([]float64, n)
	}
	return any(s.f64).([]T)
}

// nextWeights computes update's rule for one tensor into next without
// changing w, m or v, and reports whether the gradient and every new
// weight, moment and velocity are finite. The check is branch-free: x − x
// is 0 for a finite x and NaN for ±Inf or NaN, and NaN survives the sum.
func nextWeights[T float32 | float64](o *optimizer, w, grad []T, m, v []float64, next []T, lr, c1, c2 float64) bool {
	next = next[:len(w)]
	grad, m, v = grad[:len(w)], m[:len(w)], v[:len(w)]
	wd, b1, b2, eps := o.weightDecay, o.beta1, o.beta2, o.eps
	a, ic2 := lr/c1, 1/c2
	var acc float64
	if o.kind == SGD {
		mom := o.momentum
		for k := range w {
			gk := float64(grad[k])
			g := gk + wd*float64(w[k])
			mk := mom*m[k] + g
			nw := w[k] - T(lr*mk)
			next[k] = nw
			f := float64(nw)
			acc += (gk - gk) + (mk - mk) + (f - f)
		}
		return acc == 0
	}
	for k := range w {
		gk := float64(grad[k])
		g := gk + wd*float64(w[k])
		mk := b1*m[k] + (1-b1)*g
		vk := b2*v[k] + (1-b2)*g*g
		nw := w[k] - T(adamDelta(mk, vk, a, ic2, eps))
		next[k] = nw
		f := float64(nw)
		acc += (gk - gk) + (mk - mk) + (vk - vk) + (f - f)
	}
	return acc == 0
}

// commit writes the moments of update's rule (the same expressions as
// nextWeights, so the same values) and the new weights next into w, and
// clears the gradient: the machine adds each run's gradient into its
// buffer (Gorgonia's own solvers clear it too).
func commit[T float32 | float64](o *optimizer, w, grad []T, m, v []float64, next []T) {
	grad, m, v, next = grad[:len(w)], m[:len(w)], v[:len(w)], next[:len(w)]
	wd, b1, b2 := o.weightDecay, o.beta1, o.beta2
	if o.kind == SGD {
		mom := o.momentum
		for k := range w {
			g := float64(grad[k]) + wd*float64(w[k])
			m[k] = mom*m[k] + g
		}
	} else {
		for k := range w {
			g := float64(grad[k]) + wd*float64(w[k])
			m[k] = b1*m[k] + (1-b1)*g
			v[k] = b2*v[k] + (1-b2)*g*g
		}
	}
	copy(w, next)
	clear(grad)
}

// adamDelta is Adam's step lr·m̂/(√v̂ + ε) (Kingma & Ba 2015) with the bias
// corrections m̂ = m/c1 and v̂ = v/c2 folded into a = lr/c1 and ic2 = 1/c2:
// one division and one square root per weight.
func adamDelta(m, v, a, ic2, eps float64) float64 {
	return a * m / (math.Sqrt(v*ic2) + eps)
}

// update applies the optimizer's rule to one weight tensor in one pass,
// without the finiteness check; c1 and c2 are Adam's bias corrections for
// this step. It is the reference that step's two passes must reproduce
// bit for bit (TestStepMatchesUpdate).
func update[T float32 | float64](o *optimizer, w, grad []T, m, v []float64, lr, c1, c2 float64) {
	a, ic2 := lr/c1, 1/c2
	for k := range w {
		g := float64(grad[k]) + o.weightDecay*float64(w[k])
		if o.kind == SGD {
			m[k] = o.momentum*m[k] + g
			w[k] -= T(lr * m[k])
			continue
		}
		m[k] = o.beta1*m[k] + (1-o.beta1)*g
		v[k] = o.beta2*v[k] + (1-o.beta2)*g*g
		w[k] -= T(adamDelta(m[k], v[k], a, ic2, o.eps))
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
	a, ic2 := lr/c1, 1/c2
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
			nw = w[k] - T(adamDelta(mk, vk, a, ic2, o.eps))
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
