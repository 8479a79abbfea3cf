package optim

import "math"

// Float is the element type of the kernels.
type Float interface{ float32 | float64 }

// Adam is one step's constants of Adam's update for weights of type T.
// Build it with NewAdam.
type Adam[T Float] struct {
	// k holds decay, β1, 1−β1, β2, 1−β2, √c2, ε and the step size lr/c1,
	// in the order the assembly kernels read them.
	k [8]T
}

// NewAdam returns the constants of step t (1-based) of Adam with learning
// rate lr, decay rates beta1 and beta2, ε eps and L2 weight decay decay
// (added to the gradient). As in PyTorch, the bias corrections, the step
// size lr/c1 and √c2 are computed in float64 and rounded to T once.
func NewAdam[T Float](lr, beta1, beta2, eps, decay float64, t int) Adam[T] {
	c1 := 1 - math.Pow(beta1, float64(t))
	c2 := 1 - math.Pow(beta2, float64(t))
	return Adam[T]{k: [8]T{T(decay), T(beta1), T(1 - beta1), T(beta2), T(1 - beta2), T(math.Sqrt(c2)), T(eps), T(lr / c1)}}
}

// Update runs the update on w with gradient grad and moments m and v (all
// of len(w) values; it panics otherwise, as a slice index would) and
// reports whether the gradient and every new weight and moment are finite.
// With write false it changes nothing (the check); with write true it
// overwrites w, m and v with the new values, whatever the report.
func (a Adam[T]) Update(w, grad, m, v []T, write bool) bool {
	n := len(w)
	grad, m, v = grad[:n], m[:n], v[:n]
	done, finite := a.vector(w, grad, m, v, write)
	return a.scalar(w[done:], grad[done:], m[done:], v[done:], write) && finite
}

// scalar is the portable loop: the kernels' operations one value at a
// time. The conversions T(·) round every product before it is added, as
// the kernels do (the Go spec lets a compiler fuse x·y + z otherwise).
func (a Adam[T]) scalar(w, grad, m, v []T, write bool) bool {
	decay, b1, omb1, b2, omb2, sc2, eps, step := a.k[0], a.k[1], a.k[2], a.k[3], a.k[4], a.k[5], a.k[6], a.k[7]
	n := len(w)
	grad, m, v = grad[:n], m[:n], v[:n]
	var acc T
	for i := range w {
		gr := grad[i]
		g := gr + T(decay*w[i])
		mi := T(b1*m[i]) + T(omb1*g)
		vi := T(b2*v[i]) + T(omb2*T(g*g))
		d := T(sqrt(vi)/sc2) + eps
		wi := w[i] - T(step*T(mi/d))
		// x − x is 0 for a finite x and NaN otherwise; NaN survives the sum
		acc += (gr - gr) + (mi - mi) + (vi - vi) + (wi - wi)
		if write {
			w[i], m[i], v[i] = wi, mi, vi
		}
	}
	return acc == 0
}

// sqrt is the square root rounded to T (correctly rounded for float32 too:
// the float64 root of a float32 rounds to the float32 root).
func sqrt[T Float](x T) T { return T(math.Sqrt(float64(x))) }
