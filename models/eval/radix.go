package eval

import "math"

// The float32 distances are non-negative (and +0, never -0), so their IEEE
// bits, read as uint32, order like the values; bit 31 is always 0. Both the
// selection and the sort below work on those bits in radix digits of at
// most 11 bits, which keeps the 2048-entry histogram in L1 cache.

// bucket returns the bucket of hist holding the k-th smallest (0-based)
// element and k's rank within that bucket.
func bucket(hist []int32, k int) (uint32, int) {
	for b, c := range hist {
		if k < int(c) {
			return uint32(b), k
		}
		k -= int(c)
	}
	return uint32(len(hist) - 1), k // unreachable when k < the histogram's total
}

// kthSmallest returns the bits of the k-th smallest (0-based) value of row,
// given hist holding the histogram of bits>>20 over row. It clobbers hist
// and uses scratch (len(row) capacity) as working space; it takes linear
// time whatever the data.
func kthSmallest(row []float32, k int, hist *[2048]int32, scratch []uint32) uint32 {
	b1, k := bucket(hist[:], k)
	sub := scratch[:len(row)]
	n := 0
	for _, d := range row {
		u := math.Float32bits(d)
		sub[n] = u
		if u>>20 == b1 {
			n++
		}
	}
	sub = sub[:n]
	clear(hist[:])
	for _, u := range sub {
		hist[(u>>9)&2047]++
	}
	b2, k := bucket(hist[:], k)
	n = 0
	for _, u := range sub {
		if (u>>9)&2047 == b2 {
			sub[n] = u
			n++
		}
	}
	clear(hist[:512])
	for _, u := range sub[:n] {
		hist[u&511]++
	}
	b3, _ := bucket(hist[:512], k)
	return b1<<20 | b2<<9 | b3
}

// sortCands sorts cs by key, stably, so candidates collected in index order
// end up ordered by (key, index). tmp must have len(cs); hist is clobbered.
func sortCands(cs, tmp []cand, hist *[2048]int32) {
	if len(cs) <= 32 {
		for i := 1; i < len(cs); i++ {
			for j := i; j > 0 && cs[j].key < cs[j-1].key; j-- {
				cs[j], cs[j-1] = cs[j-1], cs[j]
			}
		}
		return
	}
	src, dst := cs, tmp
	for shift := uint(0); shift < 32; shift += 11 {
		clear(hist[:])
		for _, c := range src {
			hist[(c.key>>shift)&2047]++
		}
		if int(hist[(src[0].key>>shift)&2047]) == len(src) {
			continue // every key has this digit: the pass would not move anything
		}
		var sum int32
		for i, c := range hist {
			hist[i] = sum
			sum += c
		}
		for _, c := range src {
			d := (c.key >> shift) & 2047
			dst[hist[d]] = c
			hist[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &cs[0] {
		copy(cs, src)
	}
}
