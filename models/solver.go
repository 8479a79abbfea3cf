package models

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/contrastive-go/contrastive/graph/optim"
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
// optimizer updates weights in place from their gradients. It is this
// package's own, not Gorgonia's: Gorgonia v0.9.18's Adam squares the
// gradient tensor in place and has no way to change its learning rate.
//
// Its arithmetic is PyTorch's (torch.optim.Adam and SGD): the moments have
// the weights' dtype and every operation is rounded to it; Adam runs in
// the vector kernel of package graph/optim.
type optimizer struct {
	kind        Solver
	momentum    float64
	weightDecay float64
	beta1       float64
	beta2       float64
	eps         float64
	t           int
	state       []moments // per parameter
	grads       []G.Value // the gradients of the step being applied, reused
}

// moments is one parameter's optimizer state in its dtype: Adam's first
// and second moments, or SGD's velocity (m). They are allocated, as zeros,
// at the parameter's first update.
type moments struct {
	m32, v32 []float32
	m64, v64 []float64
}

func newOptimizer(kind Solver, momentum, weightDecay float64) *optimizer {
	return &optimizer{kind: kind, momentum: momentum, weightDecay: weightDecay, beta1: 0.9, beta2: 0.999, eps: 1e-8}
}

// step applies one update with learning rate lr to the learnables, whose
// gradients the machine has just added into their dual values (a machine
// built with G.BindDualValues), and zeroes those gradients. See
// stepGrads.
func (o *optimizer) step(nodes G.Nodes, lr float64) error {
	grads, err := o.dualGrads(nodes)
	if err != nil {
		return err
	}
	return o.stepGrads(nodes, grads, lr, true)
}

// dualGrads returns the gradients (dual values) of nodes, in a slice
// reused by the next call.
func (o *optimizer) dualGrads(nodes G.Nodes) ([]G.Value, error) {
	grads := o.grads[:0]
	for _, n := range nodes {
		gv, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("models: no gradient for %s: %w", n.Name(), err)
		}
		grads = append(grads, gv)
	}
	o.grads = grads
	return grads, nil
}

// stepGrads applies one update with learning rate lr to the learnables
// nodes from their gradients grads (one per node), and zeroes the
// gradients when clearGrads (a machine that adds each run's gradient into
// a buffer needs it; one whose gradient nodes overwrite their values does
// not). It first checks that every gradient is finite and that the update
// leaves every weight and moment finite (checkFinite's rule); otherwise it
// changes nothing and names the parameter.
//
// Both passes run the same kernel on the same inputs: the first (write
// false) only reports whether everything is finite, the second overwrites
// the weights and moments. Recomputing costs less than keeping a scratch
// copy of the new weights: the kernel is bound by memory, not arithmetic.
// When a parameter fails, checkFinite names the first bad value.
func (o *optimizer) stepGrads(nodes G.Nodes, grads []G.Value, lr float64, clearGrads bool) error {
	if err := o.verify(nodes, grads, lr); err != nil {
		return err
	}
	for i, n := range nodes {
		switch w := n.Value().Data().(type) {
		case []float32:
			g := grads[i].Data().([]float32)
			apply(o, w, g, o.state[i].m32, o.state[i].v32, lr, true)
			if clearGrads {
				clear(g)
			}
		case []float64:
			g := grads[i].Data().([]float64)
			apply(o, w, g, o.state[i].m64, o.state[i].v64, lr, true)
			if clearGrads {
				clear(g)
			}
		}
	}
	o.t++
	return nil
}

// verify runs stepGrads' first pass: it reports an error naming the
// parameter when a gradient, or the update it gives, is not finite (or a
// gradient does not match its weights), and changes nothing.
func (o *optimizer) verify(nodes G.Nodes, grads []G.Value, lr float64) error {
	if o.state == nil {
		o.state = make([]moments, len(nodes))
	}
	if len(o.state) != len(nodes) || len(grads) != len(nodes) {
		return fmt.Errorf("models: optimizer has state for %d parameters; got %d with %d gradients", len(o.state), len(nodes), len(grads))
	}
	for i, n := range nodes {
		gv := grads[i]
		if gv == nil {
			return fmt.Errorf("models: no gradient for %s", n.Name())
		}
		var finite bool
		switch w := n.Value().Data().(type) {
		case []float32:
			g, ok := gv.Data().([]float32)
			if !ok || len(g) != len(w) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			m, v := stateOf(&o.state[i].m32, &o.state[i].v32, len(w))
			finite = apply(o, w, g, m, v, lr, false)
		case []float64:
			g, ok := gv.Data().([]float64)
			if !ok || len(g) != len(w) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			m, v := stateOf(&o.state[i].m64, &o.state[i].v64, len(w))
			finite = apply(o, w, g, m, v, lr, false)
		default:
			return fmt.Errorf("models: weights of %s have type %T", n.Name(), w)
		}
		if !finite {
			// the slow, exact check names the first bad value
			if err := o.checkFinite(nodes, grads, lr); err != nil {
				return err
			}
			return fmt.Errorf("models: the update of %s is not finite; weights not updated", n.Name())
		}
	}
	return nil
}

// stateOf returns the moments *m and *v, allocated as n zeros when they do
// not hold n values (a parameter's first update).
func stateOf[T float32 | float64](m, v *[]T, n int) ([]T, []T) {
	if len(*m) != n || len(*v) != n {
		*m, *v = make([]T, n), make([]T, n)
	}
	return *m, *v
}

// apply runs step o.t+1 of the optimizer's rule on one tensor: weights w,
// gradient grad, moments m and v (SGD uses m as its velocity). With write
// false it changes nothing; with write true it overwrites w, m and v. It
// reports whether the gradient and every new weight and moment are finite.
//
// Adam is package optim's kernel (PyTorch's arithmetic). SGD with momentum
// is PyTorch's too (dampening 0, no Nesterov): d = g + decay·w,
// buf = momentum·buf + d, w −= lr·buf, where the first step's buf = d is
// the same as momentum·0 + d.
func apply[T float32 | float64](o *optimizer, w, grad, m, v []T, lr float64, write bool) bool {
	if o.kind != SGD {
		return optim.NewAdam[T](lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.t+1).Update(w, grad, m, v, write)
	}
	n := len(w)
	grad, m = grad[:n], m[:n]
	wd, mom, rate := T(o.weightDecay), T(o.momentum), T(lr)
	var acc T
	for k := range w {
		gk := grad[k]
		// T(·) rounds each product, as PyTorch does (no fused multiply-add)
		mk := T(mom*m[k]) + (gk + T(wd*w[k]))
		nw := w[k] - T(rate*mk)
		// x − x is 0 for a finite x and NaN otherwise; NaN survives the sum
		acc += (gk - gk) + (mk - mk) + (nw - nw)
		if write {
			m[k], w[k] = mk, nw
		}
	}
	return acc == 0
}

// checkFinite runs the next update without writing it: it reports the
// first parameter whose gradient is NaN or ±Inf, or whose new weight,
// moment or velocity would be, and leaves the weights, the optimizer state
// and the gradients as they are.
func (o *optimizer) checkFinite(nodes G.Nodes, grads []G.Value, lr float64) error {
	if len(o.state) != len(nodes) || len(grads) != len(nodes) {
		return fmt.Errorf("models: optimizer has state for %d parameters; got %d with %d gradients", len(o.state), len(nodes), len(grads))
	}
	for i, n := range nodes {
		gv := grads[i]
		var k int
		var what string
		var bad float64
		switch w := n.Value().Data().(type) {
		case []float32:
			g, ok := gv.Data().([]float32)
			if !ok || len(g) != len(w) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			m, v := stateOf(&o.state[i].m32, &o.state[i].v32, len(w))
			k, what, bad = dryUpdate(o, w, g, m, v, lr)
		case []float64:
			g, ok := gv.Data().([]float64)
			if !ok || len(g) != len(w) {
				return fmt.Errorf("models: gradient of %s does not match its weights", n.Name())
			}
			m, v := stateOf(&o.state[i].m64, &o.state[i].v64, len(w))
			k, what, bad = dryUpdate(o, w, g, m, v, lr)
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

// dryUpdate runs apply's rule on copies of one value at a time and returns
// the first index at which the gradient or a result is not finite, with
// what it is ("gradient", "the weight", "the first moment", "the second
// moment"), or "" when all are finite. It writes nothing.
func dryUpdate[T float32 | float64](o *optimizer, w, grad, m, v []T, lr float64) (int, string, float64) {
	for k := range w {
		if gk := float64(grad[k]); notFinite(gk) {
			return k, "gradient", gk
		}
		w1, g1, m1, v1 := [1]T{w[k]}, [1]T{grad[k]}, [1]T{m[k]}, [1]T{v[k]}
		if apply(o, w1[:], g1[:], m1[:], v1[:], lr, true) {
			continue
		}
		if f := float64(m1[0]); notFinite(f) {
			return k, "the first moment", f
		}
		if f := float64(v1[0]); notFinite(f) {
			return k, "the second moment", f
		}
		if f := float64(w1[0]); notFinite(f) {
			return k, "the weight", f
		}
	}
	return 0, "", 0
}

func notFinite(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
