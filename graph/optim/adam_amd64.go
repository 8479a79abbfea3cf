//go:build amd64 && !purego

package optim

import "golang.org/x/sys/cpu"

//go:generate sh -c "cd internal/asmgen && go run . -out ../../adam_amd64.s -stubs ../../adam_amd64_stub.go -pkg optim"

// useAVX turns the assembly kernels on; the tests turn it off to run the
// portable loop on the same machine.
var useAVX = cpu.X86.HasAVX

// vector runs the assembly kernel on the longest prefix of whole vectors
// and returns its length and whether its values are finite.
func (a Adam[T]) vector(w, grad, m, v []T, write bool) (int, bool) {
	if !useAVX {
		return 0, true
	}
	wr := 0
	if write {
		wr = 1
	}
	switch w := any(w).(type) {
	case []float32:
		n := len(w) &^ 7
		if n == 0 {
			return 0, true
		}
		var acc [8]float32
		k := any(&a.k).(*[8]float32)
		adam32AVX(n, &w[0], &any(grad).([]float32)[0], &any(m).([]float32)[0], &any(v).([]float32)[0], k, wr, &acc)
		s := float32(0)
		for _, e := range acc {
			s += e
		}
		return n, s == 0
	case []float64:
		n := len(w) &^ 3
		if n == 0 {
			return 0, true
		}
		var acc [4]float64
		k := any(&a.k).(*[8]float64)
		adam64AVX(n, &w[0], &any(grad).([]float64)[0], &any(m).([]float64)[0], &any(v).([]float64)[0], k, wr, &acc)
		s := 0.0
		for _, e := range acc {
			s += e
		}
		return n, s == 0
	}
	return 0, true
}
