// Package vmath holds float32 elementary functions over slices for the
// loss kernels of package graph: e^x (also shifted, e^{x − s}), log x,
// log(1 + x), the maximum of a slice and a finiteness test, eight lanes
// at a time with AVX2 and FMA on amd64 (vmath_amd64.s, chosen at run time) and a
// portable loop elsewhere or with the purego build tag; both evaluate the
// same single-precision polynomials of the Cephes library (S. L. Moshier,
// "Methods and Programs for Mathematical Functions", 1989: expf.c, logf.c),
// accurate to about 1 ulp of float32.
//
// Special values: Exp gives +Inf above 88 (e^88 ≈ 1.65e38, close to
// float32's largest value), 0 below −87.3 (the results there are under
// float32's smallest normal number, 1.2e−38, and are flushed to zero), and
// NaN for NaN. Log expects positive normal numbers. Log1p expects x in [0, 1] (the e^{−|t|} of a softplus)
// and is exact to a few ulps there; other values fall back to package math
// in the scalar forms.
package vmath

import "math"

// Exp sets dst[i] = e^{src[i]} for i < len(src); dst must be at least as
// long as src (they may be the same slice).
func Exp(dst, src []float32) { ExpShift(dst, src, 0) }

// ExpShift sets dst[i] = e^{src[i] − shift} for i < len(src), the
// difference rounded to float32 first (the same values as Exp of the
// subtracted slice, in one pass: a softmax row shifted by its maximum);
// dst must be at least as long as src (they may be the same slice).
func ExpShift(dst, src []float32, shift float32) {
	dst = dst[:len(src)]
	n := 0
	if useAVX2 {
		n = len(src) &^ 7
		if n > 0 {
			expAVX2(&dst[0], &src[0], n, shift)
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = Exp1(src[i] - shift)
	}
}

// Finite reports whether x holds no NaN and no ±Inf (x − x is 0 exactly
// for every finite x), eight lanes at a time without a branch per value.
func Finite(x []float32) bool {
	n := 0
	if useAVX2 {
		n = len(x) &^ 7
		if n > 0 && !finiteAVX2(&x[0], n) {
			return false
		}
	}
	for _, v := range x[n:] {
		if v-v != 0 {
			return false
		}
	}
	return true
}

// Max returns the largest entry of x, which must not be empty (it panics
// on an empty slice, as indexing does). With a NaN entry the result is
// unspecified (NaN or the largest of the other entries): a caller whose
// result must be NaN then gets it from the NaN entry itself.
func Max(x []float32) float32 {
	n := 0
	m := x[0]
	if useAVX2 {
		n = len(x) &^ 7
		if n > 0 {
			m = maxAVX2(&x[0], n)
		}
	}
	for _, v := range x[n:] {
		if v > m {
			m = v
		}
	}
	return m
}

// Log1p sets dst[i] = log(1 + src[i]) for i < len(src), for src[i] in
// [0, 1]; dst must be at least as long as src (they may be the same slice).
func Log1p(dst, src []float32) {
	dst = dst[:len(src)]
	n := 0
	if useAVX2 {
		n = len(src) &^ 7
		if n > 0 {
			log1pAVX2(&dst[0], &src[0], n)
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = Log1p1(src[i])
	}
}

// Log sets dst[i] = log src[i] for i < len(src), for positive normal
// src[i] (the vector kernel gives an unspecified value for others, the
// scalar form package math's); dst must be at least as long as src.
func Log(dst, src []float32) {
	dst = dst[:len(src)]
	n := 0
	if useAVX2 {
		n = len(src) &^ 7
		if n > 0 {
			logAVX2(&dst[0], &src[0], n)
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = Log1(src[i])
	}
}

// Exp1 is e^x for one value, with Exp's polynomial and limits.
func Exp1(x float32) float32 {
	if x != x {
		return x
	}
	if x > 88 {
		return float32(math.Inf(1))
	}
	if x < -87.3 {
		return 0
	}
	const log2e = 1.44269504088896341
	const round = 12582912 // 1.5·2²³: adding and subtracting it rounds to an integer
	fn := (x*log2e + round) - round
	n := int32(fn)
	r := x - fn*0.693359375 + fn*2.12194440e-4 // ln 2 in two parts
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	return y * math.Float32frombits(uint32(n+127)<<23)
}

// Log1 is log x for one value: x = (1 + m)·2ᵉ with 1 + m in [√½, √2) and
// log(1 + m) from a degree-9 polynomial; values that are not positive
// normal numbers go to package math.
func Log1(x float32) float32 {
	if !(x >= 1.17549435e-38 && x <= math.MaxFloat32) {
		return float32(math.Log(float64(x)))
	}
	const sqrtHalf = 0x3f3504f3 // offsetting the bits by those of √½ puts 1 + m in [√½, √2) without a branch
	ix := math.Float32bits(x) - sqrtHalf
	e := int32(ix) >> 23
	m := math.Float32frombits(ix&0x007fffff+sqrtHalf) - 1
	return logPoly(m, float32(e))
}

// logPoly is log((1 + m)·2ᵉ) for m in [√½ − 1, √2 − 1).
func logPoly(m, e float32) float32 {
	z := m * m
	y := float32(7.0376836292e-2)
	y = y*m - 1.1514610310e-1
	y = y*m + 1.1676998740e-1
	y = y*m - 1.2420140846e-1
	y = y*m + 1.4249322787e-1
	y = y*m - 1.6668057665e-1
	y = y*m + 2.0000714765e-1
	y = y*m - 2.4999993993e-1
	y = y*m + 3.3333331174e-1
	y *= m * z
	y += e * -2.12194440e-4
	y += -0.5 * z
	return m + y + e*0.693359375
}

// Log1p1 is log(1 + x) for one value: Log of w = 1 + x corrected by
// x/(w − 1) for the rounding of w (Goldberg 1991, "What every computer
// scientist should know about floating-point arithmetic", Theorem 4).
func Log1p1(x float32) float32 {
	w := 1 + x
	if w == 1 {
		return x
	}
	if !(w > 0) || w > math.MaxFloat32 {
		return float32(math.Log1p(float64(x)))
	}
	return Log1(w) * (x / (w - 1))
}
