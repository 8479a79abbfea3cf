package gemm

// The kernels in use: those this CPU runs, fastest first, without the
// portable one when an assembly kernel runs (kernels32 and kernels64 list
// them all; the tests run each).
var (
	active32 = usable(kernels32())
	active64 = usable(kernels64())
)

func usable[T float](ks []*kernel[T]) []*kernel[T] {
	if len(ks) > 1 {
		return ks[:len(ks)-1]
	}
	return ks
}

// choose returns the kernel of ks whose register tiles pad an m×n product
// least (roundUp(m, mr)·roundUp(n, nr)), the first on ties. On AMD Zen 4,
// which runs a 512-bit FMA as two 256-bit halves, the AVX2 6×16 tile is as
// fast per element as the AVX-512 24×16 one, so the padding decides: the
// MLP's B = 100 rows take 102 rows of 6-row tiles but 120 of 24-row ones.
func choose[T float](ks []*kernel[T], m, n int) *kernel[T] {
	best, area := ks[0], roundUp(m, ks[0].mr)*roundUp(n, ks[0].nr)
	for _, k := range ks[1:] {
		if a := roundUp(m, k.mr) * roundUp(n, k.nr); a < area {
			best, area = k, a
		}
	}
	return best
}

func kernel32(m, n int) *kernel[float32] { return choose(active32, m, n) }
func kernel64(m, n int) *kernel[float64] { return choose(active64, m, n) }

// Kernel names the micro-kernels that Sgemm and Dgemm choose from, for
// example "avx512-24x16 avx2-6x16" and "avx512-24x8 avx2-6x8", or "go4x4"
// for the portable Go path.
func Kernel() (float32Kernels, float64Kernels string) {
	return names(active32), names(active64)
}

func names[T float](ks []*kernel[T]) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += " "
		}
		s += k.name
	}
	return s
}
