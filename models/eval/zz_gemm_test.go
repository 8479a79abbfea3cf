package eval

import (
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

func benchTile(b *testing.B, trans bool, tq, tr int) {
	nq, nr, dim := 64, 60000, 64
	q := make([]float32, nq*dim); r := make([]float32, nr*dim); c := make([]float32, nq*nr)
	for i := range q { q[i] = float32(i%7) }
	for i := range r { r[i] = float32(i%5) }
	impl := gonum.Implementation{}
	for b.Loop() {
		for j0 := 0; j0 < nr; j0 += tr {
			nj := min(tr, nr-j0)
			for i0 := 0; i0 < nq; i0 += tq {
				mi := min(tq, nq-i0)
				if trans {
					impl.Sgemm(blas.NoTrans, blas.Trans, mi, nj, dim, -2, q[i0*dim:], dim, r[j0*dim:], dim, 0, c[i0*nr+j0:], nr)
				} else {
					impl.Sgemm(blas.NoTrans, blas.NoTrans, mi, nj, dim, -2, q[i0*dim:], dim, r[j0*dim:], nj, 0, c[i0*nr+j0:], nr)
				}
			}
		}
	}
	b.ReportMetric(float64(nq*nr*dim)*2/(float64(b.Elapsed().Nanoseconds())/float64(b.N)), "GFlops")
}

func BenchmarkZZTrans192(b *testing.B)  { benchTile(b, true, 64, 192) }
func BenchmarkZZNotNot192(b *testing.B) { benchTile(b, false, 64, 192) }
func BenchmarkZZNotNot256(b *testing.B) { benchTile(b, false, 64, 256) }
func BenchmarkZZNotNot512(b *testing.B) { benchTile(b, false, 64, 512) }
func BenchmarkZZNotNot128(b *testing.B) { benchTile(b, false, 64, 128) }
func BenchmarkZZNotNot64(b *testing.B) { benchTile(b, false, 64, 64) }
