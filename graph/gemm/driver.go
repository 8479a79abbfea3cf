package gemm

import (
	"sync"
	"unsafe"
)

// float is the element type of a product.
type float interface{ ~float32 | ~float64 }

// kernel is one micro-kernel with the cache blocking tuned for it.
type kernel[T float] struct {
	name   string
	mr, nr int // register tile: the kernel computes mr×nr of C per call
	// mc×kc is the block of A packed for the L2 cache, kc×nc the panel of
	// B packed for the L3 cache; kc×nr (one sliver of B) stays in L1.
	mc, kc, nc int
	// fn computes the mr×nr tile of C at c (row stride ldc) from kc steps
	// of a packed sliver of A (mr values per step) and of B (nr per step),
	// storing it (accum == 0) or adding it to C (accum != 0).
	fn func(kc int, a, b, c *T, ldc int, accum int)
}

// buffers are the packed panels and an edge tile, reused across calls.
type buffers[T float] struct {
	a, b, tile []T
}

var (
	pool32 = sync.Pool{New: func() any { return new(buffers[float32]) }}
	pool64 = sync.Pool{New: func() any { return new(buffers[float64]) }}
)

func getBuffers[T float]() (*buffers[T], *sync.Pool) {
	var z T
	p := &pool64
	if unsafe.Sizeof(z) == 4 {
		p = &pool32
	}
	return p.Get().(*buffers[T]), p
}

// grow returns s resized to n elements, reallocating only when its
// capacity is short.
func grow[T float](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// gemm computes C = alpha·op(A)·op(B) + beta·C with the BLIS loop nest
// (Van Zee and van de Geijn 2015): for each nc-column panel of B and
// kc-deep slab, pack B; for each mc-row block of A, pack A (scaled by
// alpha); then run the micro-kernel over every mr×nr tile of the block.
// The arguments have been checked.
func gemm[T float](kn *kernel[T], tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	if beta != 0 && beta != 1 {
		scale(m, n, beta, c, ldc)
		beta = 1
	}
	mr, nr := kn.mr, kn.nr
	buf, pool := getBuffers[T]()
	defer pool.Put(buf)
	kc := min(kn.kc, k)
	mc := min(kn.mc, roundUp(m, mr))
	nc := min(kn.nc, roundUp(n, nr))
	buf.a = grow(buf.a, mc*kc)
	buf.b = grow(buf.b, kc*nc)
	buf.tile = grow(buf.tile, mr*nr)
	tile := buf.tile

	for jc := 0; jc < n; jc += kn.nc {
		nb := min(kn.nc, n-jc)
		for pc := 0; pc < k; pc += kn.kc {
			kb := min(kn.kc, k-pc)
			packB(tB, b, ldb, pc, jc, kb, nb, nr, buf.b)
			accum := 1
			if pc == 0 && beta == 0 {
				accum = 0
			}
			for ic := 0; ic < m; ic += kn.mc {
				mb := min(kn.mc, m-ic)
				packA(tA, a, lda, ic, pc, mb, kb, mr, alpha, buf.a)
				for jr := 0; jr < nb; jr += nr {
					nrr := min(nr, nb-jr)
					bp := &buf.b[jr*kb]
					for ir := 0; ir < mb; ir += mr {
						mrr := min(mr, mb-ir)
						ap := &buf.a[ir*kb]
						ci := (ic+ir)*ldc + jc + jr
						if mrr == mr && nrr == nr {
							kn.fn(kb, ap, bp, &c[ci], ldc, accum)
							continue
						}
						// Edge tile: compute the full tile aside, then
						// store or add the part inside C.
						kn.fn(kb, ap, bp, &tile[0], nr, 0)
						for i := range mrr {
							row := c[ci+i*ldc : ci+i*ldc+nrr]
							t := tile[i*nr : i*nr+nrr]
							if accum == 0 {
								copy(row, t)
							} else {
								for j, v := range t {
									row[j] += v
								}
							}
						}
					}
				}
			}
		}
	}
}

func roundUp(x, q int) int { return (x + q - 1) / q * q }

// scale sets C = beta·C; with beta = 0 it writes zeros without reading C.
func scale[T float](m, n int, beta T, c []T, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// packA copies the mb×kb block of alpha·op(A) at (i0, p0) into dst as
// slivers of mr rows: sliver s holds rows s·mr … s·mr+mr−1, k-major
// (dst[s·mr·kb + p·mr + i]); rows past mb are zero.
func packA[T float](trans bool, a []T, lda, i0, p0, mb, kb, mr int, alpha T, dst []T) {
	for s := 0; s < mb; s += mr {
		rows := min(mr, mb-s)
		d := dst[s*kb : (s+mr)*kb]
		if trans {
			// op(A)[i][p] = A[p][i]: rows of A are contiguous in i.
			for p := range kb {
				src := a[(p0+p)*lda+i0+s:]
				src = src[:rows]
				dp := d[p*mr : p*mr+mr]
				for i, v := range src {
					dp[i] = alpha * v
				}
				clear(dp[rows:])
			}
			continue
		}
		for i := range rows {
			src := a[(i0+s+i)*lda+p0:]
			src = src[:kb]
			for p, v := range src {
				d[p*mr+i] = alpha * v
			}
		}
		for i := rows; i < mr; i++ {
			for p := range kb {
				d[p*mr+i] = 0
			}
		}
	}
}

// packB copies the kb×nb block of op(B) at (p0, j0) into dst as slivers of
// nr columns: sliver s holds columns s·nr … s·nr+nr−1, k-major
// (dst[s·nr·kb + p·nr + j]); columns past nb are zero.
func packB[T float](trans bool, b []T, ldb, p0, j0, kb, nb, nr int, dst []T) {
	for s := 0; s < nb; s += nr {
		cols := min(nr, nb-s)
		d := dst[s*kb : (s+nr)*kb]
		if !trans {
			for p := range kb {
				src := b[(p0+p)*ldb+j0+s:]
				dp := d[p*nr : p*nr+nr]
				copy(dp, src[:cols])
				clear(dp[cols:])
			}
			continue
		}
		// op(B)[p][j] = B[j][p]: rows of B are contiguous in p.
		for j := range cols {
			src := b[(j0+s+j)*ldb+p0:]
			src = src[:kb]
			for p, v := range src {
				d[p*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for p := range kb {
				d[p*nr+j] = 0
			}
		}
	}
}
