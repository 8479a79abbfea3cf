package graph

import (
	"math"
	"unsafe"
)

// Elementary functions for the float32 kernels. The float64 kernels call
// package math (their results are what the float64 tests compare at
// 1e-12); the float32 ones call the single-precision polynomials of the
// Cephes library (S. L. Moshier, "Methods and Programs for Mathematical
// Functions", 1989: expf.c, logf.c), accurate to about 1 ulp of float32
// over the ranges below, and about 5× cheaper than converting to float64
// and calling math.Exp or math.Log1p. Outside those ranges (overflow,
// underflow to subnormals, NaN, non-positive log arguments) they fall back
// to package math, so special values behave as there.

// is32 reports whether T is float32 (its size is fixed per instantiation,
// so the compiler drops the other branch).
func is32[T float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// expT is e^x in T's precision.
func expT[T float](x T) T {
	if is32[T]() {
		return T(exp32(float32(x)))
	}
	return T(math.Exp(float64(x)))
}

// logT is log x in T's precision.
func logT[T float](x T) T {
	if is32[T]() {
		return T(log32(float32(x)))
	}
	return T(math.Log(float64(x)))
}

// log1pT is log(1 + x) in T's precision, accurate for small x.
func log1pT[T float](x T) T {
	if is32[T]() {
		return T(log1p32(float32(x)))
	}
	return T(math.Log1p(float64(x)))
}

// softplusT is log(1 + eᵗ), stable for any t.
func softplusT[T float](t T) T {
	if is32[T]() {
		return T(softplus32(float32(t)))
	}
	return T(softplus1(float64(t)))
}

// sigmoidT is 1/(1 + e^{−t}), stable for any t.
func sigmoidT[T float](t T) T {
	if is32[T]() {
		return T(sigmoid32(float32(t)))
	}
	return T(sigmoid(float64(t)))
}

// softplus32 is softplus1 in float32: max(t, 0) + log1p(e^{−|t|}),
// without a branch on the sign of t.
func softplus32(t float32) float32 {
	a := math.Float32frombits(math.Float32bits(t) &^ (1 << 31)) // |t|
	return (t+a)*0.5 + log1p32(exp32(-a))
}

// sigmoid32 is sigmoid in float32: from e = e^{−|t|}, 1/(1 + e) for
// t ≥ 0 and e/(1 + e) below, with the numerator chosen without a branch.
func sigmoid32(t float32) float32 {
	sign := math.Float32bits(t) & (1 << 31)
	e := exp32(math.Float32frombits(math.Float32bits(t) | 1<<31)) // e^{−|t|}
	num := math.Float32frombits(math.Float32bits(1) ^ (math.Float32bits(1)^math.Float32bits(e))&-(sign>>31))
	return num / (1 + e)
}

// exp32 is e^x (Cephes expf): x = n·ln 2 + r with |r| ≤ ln2/2, e^r from a
// degree-6 polynomial, 2ⁿ put into the exponent bits.
func exp32(x float32) float32 {
	// 2ⁿ stays a normal float32 for n in [−126, 127].
	if !(x > -87.3 && x < 88.0) {
		return float32(math.Exp(float64(x)))
	}
	const log2e = 1.44269504088896341
	const round = 12582912 // 1.5·2²³: adding and subtracting it rounds to an integer, without a branch
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

// log32 is log x (Cephes logf): x = m·2ᵉ with m in [√½, √2), log(m) from
// a degree-9 polynomial in m − 1.
func log32(x float32) float32 {
	if !(x >= 1.17549435e-38 && x <= math.MaxFloat32) { // not a positive normal number
		return float32(math.Log(float64(x)))
	}
	// x = (1 + m)·2ᵉ with 1 + m in [√½, √2), without a branch: offset
	// the bits by those of √½ so that the exponent field counts from there.
	const sqrtHalf = 0x3f3504f3
	ix := math.Float32bits(x) - sqrtHalf
	e := int32(ix) >> 23
	m := math.Float32frombits(ix&0x007fffff+sqrtHalf) - 1
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
	fe := float32(e)
	y += fe * -2.12194440e-4
	y += -0.5 * z
	return m + y + fe*0.693359375
}

// log1p32 is log(1 + x) from log32 of w = 1 + x, corrected by
// x/(w − 1) for the rounding of w (Goldberg 1991, "What every computer
// scientist should know about floating-point arithmetic", Theorem 4).
func log1p32(x float32) float32 {
	w := 1 + x
	if w == 1 {
		return x
	}
	if !(w > 0) || w > math.MaxFloat32 {
		return float32(math.Log1p(float64(x)))
	}
	return log32(w) * (x / (w - 1))
}
