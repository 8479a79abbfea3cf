package gemm

import "unsafe"

// Portable micro-kernel: a 4×4 tile in Go, used where no assembly kernel
// runs (other architectures, -tags purego, CPUs without AVX2+FMA) and by
// the tests on every machine. Sixteen accumulators fit amd64's and arm64's
// floating-point registers.
const (
	goMR = 4
	goNR = 4
)

func goKernel[T float](name string) *kernel[T] {
	return &kernel[T]{name: name, mr: goMR, nr: goNR, mc: 128, kc: 256, nc: 2048, fn: kernGo[T]}
}

var (
	goKernel32 = goKernel[float32]("go4x4")
	goKernel64 = goKernel[float64]("go4x4")
)

// kernGo is the portable kernel with kernel.fn's contract, mr = nr = 4.
func kernGo[T float](kc int, pa, pb, pc *T, ldc int, accum int, cols int) {
	a := unsafe.Slice(pa, kc*goMR)
	b := unsafe.Slice(pb, kc*goNR)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 T
	for p := 0; p < kc; p++ {
		ap := a[p*goMR : p*goMR+goMR : p*goMR+goMR]
		bp := b[p*goNR : p*goNR+goNR : p*goNR+goNR]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	c := unsafe.Slice(pc, 3*ldc+cols)
	rows := [goMR][goNR]T{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	for i := range goMR {
		row := c[i*ldc : i*ldc+cols]
		if accum == 0 {
			copy(row, rows[i][:cols])
			continue
		}
		for j := range row {
			row[j] += rows[i][j]
		}
	}
}
