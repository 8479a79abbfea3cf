//go:build !amd64 || purego

package optim

// useAVX is false: there is no assembly kernel here.
var useAVX = false

// vector leaves every value to the portable loop.
func (a Adam[T]) vector(w, grad, m, v []T, write bool) (int, bool) { return 0, true }
