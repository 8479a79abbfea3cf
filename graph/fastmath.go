package graph

import (
	"math"
	"unsafe"

	"github.com/contrastive-go/contrastive/graph/vmath"
)

// Elementary functions for the kernels. The float64 kernels call package
// math (their results are what the float64 tests compare at 1e-12); the
// float32 ones call package vmath's single-precision polynomials (about
// 1 ulp of float32), one value at a time here and a row at a time, eight
// lanes wide, in fused32.go.

// is32 reports whether T is float32 (its size is fixed per instantiation,
// so the compiler drops the other branch).
func is32[T float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// expT is e^x in T's precision.
func expT[T float](x T) T {
	if is32[T]() {
		return T(vmath.Exp1(float32(x)))
	}
	return T(math.Exp(float64(x)))
}

// logT is log x in T's precision.
func logT[T float](x T) T {
	if is32[T]() {
		return T(vmath.Log1(float32(x)))
	}
	return T(math.Log(float64(x)))
}

// log1pT is log(1 + x) in T's precision, accurate for small x.
func log1pT[T float](x T) T {
	if is32[T]() {
		return T(vmath.Log1p1(float32(x)))
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
	return (t+a)*0.5 + vmath.Log1p1(vmath.Exp1(-a))
}

// sigmoid32 is sigmoid in float32: from e = e^{−|t|}, 1/(1 + e) for
// t ≥ 0 and e/(1 + e) below, with the numerator chosen without a branch.
func sigmoid32(t float32) float32 {
	sign := math.Float32bits(t) & (1 << 31)
	e := vmath.Exp1(math.Float32frombits(math.Float32bits(t) | 1<<31)) // e^{−|t|}
	num := math.Float32frombits(math.Float32bits(1) ^ (math.Float32bits(1)^math.Float32bits(e))&-(sign>>31))
	return num / (1 + e)
}
