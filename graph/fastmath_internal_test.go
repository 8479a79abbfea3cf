package graph

import (
	"math"
	"testing"
)

// TestFastMath32 compares the float32 polynomials with package math in
// float64 over a dense sweep of their fast ranges and at the fallbacks'
// edges: the bound is a few float32 ulps relative (4e-7), and for log1p an
// absolute 1e-7 near 0 where log1p(x) ≈ x.
func TestFastMath32(t *testing.T) {
	check := func(name string, x float32, got float32, want float64) {
		t.Helper()
		if math.IsInf(want, 0) || math.IsNaN(want) {
			if float64(got) != want && !(math.IsNaN(want) && got != got) {
				t.Fatalf("%s(%v) = %v, want %v", name, x, got, want)
			}
			return
		}
		if d := math.Abs(float64(got) - want); d > 4e-7*math.Abs(want) && d > 1e-44 {
			t.Fatalf("%s(%v) = %v, want %v (relative error %.2g)", name, x, got, want, d/math.Abs(want))
		}
	}
	for x := float32(-104); x < 90; x += 0.0137 {
		check("exp32", x, exp32(x), float64(float32(math.Exp(float64(x)))))
	}
	for _, x := range []float32{-87.3, -87.29, 87.99, 88, 88.7, 89, float32(math.Inf(1)), float32(math.Inf(-1)), 0} {
		check("exp32", x, exp32(x), float64(float32(math.Exp(float64(x)))))
	}
	for e := -126; e < 128; e++ {
		for _, m := range []float64{1, 1.1, 1.4142, 1.5, 1.999} {
			x := float32(math.Ldexp(m, e))
			check("log32", x, log32(x), math.Log(float64(x)))
		}
	}
	for x := float32(1e-3); x < 1e3; x *= 1.0031 {
		check("log32", x, log32(x), math.Log(float64(x)))
	}
	for _, x := range []float32{0, -1, float32(math.Inf(1)), 1e-40} {
		check("log32", x, log32(x), float64(float32(math.Log(float64(x)))))
	}
	for x := float32(1e-12); x < 1e4; x *= 1.0047 {
		check("log1p32", x, log1p32(x), math.Log1p(float64(x)))
		check("log1p32", -x/(1+x), log1p32(-x/(1+x)), math.Log1p(float64(-x/(1+x))))
	}
	if v := log1p32(-1); !math.IsInf(float64(v), -1) {
		t.Fatalf("log1p32(-1) = %v, want -Inf", v)
	}
	if v := exp32(float32(math.NaN())); v == v {
		t.Fatalf("exp32(NaN) = %v, want NaN", v)
	}
}

// BenchmarkExp32 times exp32 against math.Exp on float64 conversions.
func BenchmarkExp32(b *testing.B) {
	xs := make([]float32, 1024)
	for i := range xs {
		xs[i] = float32(i)/100 - 5
	}
	b.Run("exp32", func(b *testing.B) {
		var s float32
		for i := 0; i < b.N; i++ {
			for _, x := range xs {
				s += expT(x)
			}
		}
		_ = s
	})
	b.Run("math.Exp", func(b *testing.B) {
		var s float32
		for i := 0; i < b.N; i++ {
			for _, x := range xs {
				s += float32(math.Exp(float64(x)))
			}
		}
		_ = s
	})
}

// BenchmarkSoftplus32 times softplusT in float32 against the float64 form.
func BenchmarkSoftplus32(b *testing.B) {
	xs := make([]float32, 1024)
	out := make([]float32, 1024)
	for i := range xs {
		xs[i] = float32(i)/100 - 5
	}
	b.Run("float32", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, x := range xs {
				out[j] = softplusT(x)
			}
		}
	})
	b.Run("float64", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, x := range xs {
				out[j] = float32(softplus1(float64(x)))
			}
		}
	})
	b.Run("exp32", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, x := range xs {
				out[j] = exp32(x)
			}
		}
	})
	b.Run("math.Exp", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, x := range xs {
				out[j] = float32(math.Exp(float64(x)))
			}
		}
	})
}
