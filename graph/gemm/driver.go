package gemm

import (
	"runtime"
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
	// storing it (accum == 0) or adding it to C (accum != 0); only the
	// first cols ≤ nr columns of each row are read and written.
	fn func(kc int, a, b, c *T, ldc int, accum int, cols int)
	// direct and strided, if not nil, are fn reading A unpacked (alpha =
	// 1): mr rows of A (element (i, p) at a[i·lda+p]) and mr columns of a
	// transposed A (element (i, p) at a[p·lda+i]).
	direct, strided func(kc int, a *T, lda int, b, c *T, ldc int, accum int, cols int)
	// rowB, if set, are fn, direct and strided (in that order) reading nr
	// columns of an untransposed B unpacked (row p at b + p·ldb); rowB[0]
	// ignores lda.
	rowB [3]func(kc int, a *T, lda int, b *T, ldb int, c *T, ldc int, accum int, cols int, bcols int)
	// rowBMasked says the rowB kernels load only the first bcols columns
	// of B, so that a partial sliver can be read in place too.
	rowBMasked bool
}

// directMaxN is the widest product for which A is read unpacked by the
// direct or strided kernel: packing a block of A costs about as much as
// running it through a few slivers of B, so it pays only when n spans more
// of them. rowBMaxM is the same bound on m for reading B unpacked.
const (
	directMaxN = 64
	rowBMaxM   = 64
)

// buffers are the packed panels and an edge tile, reused across calls.
type buffers[T float] struct {
	a, b, tile []T
}

// freeList keeps buffers for reuse. Unlike a sync.Pool it is not emptied
// by garbage collections, which a training step with a busy heap runs
// often enough that a pool would reallocate the panels every few steps;
// it holds at most 2·GOMAXPROCS sets (a few MiB each at most).
type freeList[T float] struct {
	mu   sync.Mutex
	bufs []*buffers[T]
}

var (
	free32 freeList[float32]
	free64 freeList[float64]
)

func (l *freeList[T]) get() *buffers[T] {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.bufs); n > 0 {
		b := l.bufs[n-1]
		l.bufs = l.bufs[:n-1]
		return b
	}
	return new(buffers[T])
}

func (l *freeList[T]) put(b *buffers[T]) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bufs) < 2*runtime.GOMAXPROCS(0) {
		l.bufs = append(l.bufs, b)
	}
}

func freeListOf[T float]() *freeList[T] {
	var z T
	if unsafe.Sizeof(z) == 4 {
		return any(&free32).(*freeList[T])
	}
	return any(&free64).(*freeList[T])
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
	free := freeListOf[T]()
	buf := free.get()
	defer free.put(buf)
	kc := min(kn.kc, k)
	mc := min(kn.mc, roundUp(m, mr))
	nc := min(kn.nc, roundUp(n, nr))
	buf.a = grow(buf.a, mc*kc)
	buf.b = grow(buf.b, kc*nc)
	buf.tile = grow(buf.tile, mr*nr)
	tile := buf.tile

	// Full slivers of A (B) are read in place, unpacked, by the direct or
	// strided (rowB) kernels when the product is narrow (short) enough. A
	// last partial sliver is read in place too when the block holds a
	// whole sliver, shifted back so that it ends at the block's edge (its
	// tile goes through the side buffer and only the new rows or columns
	// reach C); else it is packed.
	unpackA := kn.direct != nil && alpha == 1 && n <= directMaxN
	unpackB := kn.rowB[0] != nil && !tB && m <= rowBMaxM
	for jc := 0; jc < n; jc += kn.nc {
		nb := min(kn.nc, n-jc)
		fullB, packedB := 0, 0 // columns read in place; first packed column
		if unpackB {
			fullB = nb / nr * nr
			switch {
			case kn.rowBMasked:
				fullB = nb
			case nb >= nr:
				fullB = roundUp(nb, nr)
			}
			packedB = min(fullB, nb)
		}
		for pc := 0; pc < k; pc += kn.kc {
			kb := min(kn.kc, k-pc)
			packB(tB, b, ldb, pc, jc+packedB, kb, nb-packedB, nr, buf.b)
			accum := 1
			if pc == 0 && beta == 0 {
				accum = 0
			}
			for ic := 0; ic < m; ic += kn.mc {
				mb := min(kn.mc, m-ic)
				fullA, packedA := 0, 0
				if unpackA {
					fullA = mb / mr * mr
					if mb >= mr {
						fullA = roundUp(mb, mr)
					}
					packedA = min(fullA, mb)
				}
				packA(tA, a, lda, ic+packedA, pc, mb-packedA, kb, mr, alpha, buf.a)
				for jr := 0; jr < nb; jr += nr {
					nrr := min(nr, nb-jr)
					shiftB := 0
					if jr < fullB && !kn.rowBMasked {
						shiftB = nr - nrr
					}
					for ir := 0; ir < mb; ir += mr {
						mrr := min(mr, mb-ir)
						ci := (ic+ir)*ldc + jc + jr
						// The sliver of A: mode 0 packed, 1 direct, 2 strided.
						mode, ap, shiftA := 0, &buf.a[0], 0
						if ir < fullA {
							shiftA = mr - mrr
							r := ic + ir - shiftA
							if tA {
								mode, ap = 2, &a[pc*lda+r]
							} else {
								mode, ap = 1, &a[r*lda+pc]
							}
						} else {
							ap = &buf.a[(ir-packedA)*kb]
						}
						cp, ldt, acc, cols := &c[ci], ldc, accum, nrr
						edge := mrr < mr || shiftB > 0
						if edge {
							// Compute the whole tile aside, then store or
							// add the part inside C (shifted slivers put it
							// at the tile's bottom right). Columns past C
							// alone are left out by the kernels' masks.
							cp, ldt, acc, cols = &tile[0], nr, 0, nr
						}
						if jr < fullB {
							bcols := nrr
							if shiftB > 0 {
								bcols = nr
							}
							kn.rowB[mode](kb, ap, lda, &b[pc*ldb+jc+jr-shiftB], ldb, cp, ldt, acc, cols, bcols)
						} else {
							bp := &buf.b[(jr-packedB)*kb]
							switch mode {
							case 0:
								kn.fn(kb, ap, bp, cp, ldt, acc, cols)
							case 1:
								kn.direct(kb, ap, lda, bp, cp, ldt, acc, cols)
							default:
								kn.strided(kb, ap, lda, bp, cp, ldt, acc, cols)
							}
						}
						if !edge {
							continue
						}
						for i := range mrr {
							row := c[ci+i*ldc : ci+i*ldc+nrr]
							t := tile[(i+shiftA)*nr+shiftB : (i+shiftA)*nr+shiftB+nrr]
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
	if trans {
		// op(A)[i][p] = A[p][i]: rows of A are contiguous in i; read each
		// once, in order.
		packSlivers(dst, mr, a[p0*lda+i0:], lda, kb, mb, alpha)
		return
	}
	for s := 0; s < mb; s += mr {
		packRows(dst[s*kb:(s+mr)*kb], mr, a[(i0+s)*lda+p0:], lda, min(mr, mb-s), kb, alpha)
	}
}

// packB copies the kb×nb block of op(B) at (p0, j0) into dst as slivers of
// nr columns: sliver s holds columns s·nr … s·nr+nr−1, k-major
// (dst[s·nr·kb + p·nr + j]); columns past nb are zero.
func packB[T float](trans bool, b []T, ldb, p0, j0, kb, nb, nr int, dst []T) {
	if !trans {
		packSlivers(dst, nr, b[p0*ldb+j0:], ldb, kb, nb, 1)
		return
	}
	// op(B)[p][j] = B[j][p]: rows of B are contiguous in p.
	for s := 0; s < nb; s += nr {
		packRows(dst[s*kb:(s+nr)*kb], nr, b[(j0+s)*ldb+p0:], ldb, min(nr, nb-s), kb, 1)
	}
}

// packSlivers cuts kb rows of w values (row stride ld) into slivers of
// width q: dst[s·q·kb + p·q + j] = alpha·src[p·ld + s·q + j], zero past w.
// Each source row is read once, front to back, so that the hardware
// prefetcher follows it.
func packSlivers[T float](dst []T, q int, src []T, ld, kb, w int, alpha T) {
	full := w / q * q
	for p := range kb {
		row := src[p*ld : p*ld+w]
		for s := 0; s < full; s += q {
			d := dst[s*kb+p*q : s*kb+p*q+q]
			r := row[s : s+q]
			if alpha == 1 {
				copyShort(d, r)
				continue
			}
			for j, v := range r {
				d[j] = alpha * v
			}
		}
		if full < w {
			d := dst[full*kb+p*q : full*kb+p*q+q]
			for j, v := range row[full:] {
				d[j] = alpha * v
			}
			clearShort(d[w-full:])
		}
	}
}

// packRows transposes rows×kb values of src (row stride ld) into the
// k-major sliver dst of width w: dst[p·w+i] = alpha·src[i·ld+p], with
// columns rows … w−1 of dst zero. Four rows at a time, so that each k step
// writes four adjacent values.
func packRows[T float](dst []T, w int, src []T, ld, rows, kb int, alpha T) {
	dst = dst[:kb*w]
	i := 0
	for ; i+4 <= rows; i += 4 {
		r0 := src[i*ld : i*ld+kb]
		r1 := src[(i+1)*ld : (i+1)*ld+kb]
		r2 := src[(i+2)*ld : (i+2)*ld+kb]
		r3 := src[(i+3)*ld : (i+3)*ld+kb]
		for p := range r0 {
			q := dst[p*w+i : p*w+i+4 : p*w+i+4]
			q[0], q[1], q[2], q[3] = alpha*r0[p], alpha*r1[p], alpha*r2[p], alpha*r3[p]
		}
	}
	for ; i < rows; i++ {
		for p, v := range src[i*ld : i*ld+kb] {
			dst[p*w+i] = alpha * v
		}
	}
	if rows < w {
		for p := range kb {
			clear(dst[p*w+rows : p*w+w])
		}
	}
}

// copyShort is copy for the widths of the tiles (at most a few dozen
// values), as a loop: shorter than a call to memmove.
func copyShort[T float](dst, src []T) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = v
	}
}

// clearShort is clear for the padding of a tile.
func clearShort[T float](dst []T) {
	for i := range dst {
		dst[i] = 0
	}
}
