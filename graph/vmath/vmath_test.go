package vmath

import (
	"math"
	"testing"
)

// check compares got with want (package math in float64, rounded to
// float32): a few float32 ulps relative (4e-7), or below 1e-44 absolute.
func check(t *testing.T, name string, x, got float32, want float64) {
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

// expWant is e^x with Exp's documented limits.
func expWant(x float32) float64 {
	switch {
	case x != x:
		return math.NaN()
	case x > 88:
		return math.Inf(1)
	case x < -87.3:
		return 0
	}
	return math.Exp(float64(x))
}

// TestExp sweeps [−104, 90] and the special values through the slice form
// (the vector kernel where the CPU has one, the scalar tail) and the
// scalar form.
func TestExp(t *testing.T) {
	var xs []float32
	for x := float32(-104); x < 90; x += 0.0137 {
		xs = append(xs, x)
	}
	xs = append(xs, -87.3, -87.29, 87.99, 88, 88.0001, 0, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), -0.0)
	got := make([]float32, len(xs))
	Exp(got, xs)
	for i, x := range xs {
		check(t, "Exp", x, got[i], expWant(x))
		check(t, "Exp1", x, Exp1(x), expWant(x))
	}
	for n := 0; n < 20; n++ { // every tail length
		got := make([]float32, n)
		Exp(got, xs[:n])
		for i, x := range xs[:n] {
			check(t, "Exp", x, got[i], expWant(x))
		}
	}
}

// TestLog1p sweeps [0, 1] densely (and tiny arguments, where log1p(x) ≈ x
// and the correction matters) through both forms, and Log over every
// binade.
func TestLog1p(t *testing.T) {
	xs := []float32{0, 1, 1e-30, 1e-12, 5.9e-8, 6e-8, 1.2e-7}
	for x := float32(1e-10); x < 1; x *= 1.0021 {
		xs = append(xs, x)
	}
	for x := float32(0); x <= 1; x += 1.0 / 4096 {
		xs = append(xs, x)
	}
	got := make([]float32, len(xs))
	Log1p(got, xs)
	for i, x := range xs {
		want := math.Log1p(float64(x))
		check(t, "Log1p", x, got[i], want)
		check(t, "Log1p1", x, Log1p1(x), want)
	}
	for e := -126; e < 128; e++ {
		for _, m := range []float64{1, 1.1, 1.4142, 1.5, 1.999} {
			x := float32(math.Ldexp(m, e))
			check(t, "Log1", x, Log1(x), math.Log(float64(x)))
			xs = append(xs, x)
		}
	}
	for _, x := range []float32{0, -1, float32(math.Inf(1))} {
		check(t, "Log1", x, Log1(x), math.Log(float64(x)))
	}
	got = make([]float32, len(xs))
	Log(got, xs)
	for i, x := range xs {
		if x > 0 {
			check(t, "Log", x, got[i], math.Log(float64(x)))
		}
	}
	if v := Log1p1(-1); !math.IsInf(float64(v), -1) {
		t.Fatalf("Log1p1(-1) = %v, want -Inf", v)
	}
}

// TestExpShift checks that ExpShift is Exp of the subtracted slice, bit
// for bit, for every tail length and a few shifts (0, the row maximum, a
// large one that sends every value under Exp's lower limit).
func TestExpShift(t *testing.T) {
	var xs []float32
	for x := float32(-30); x < 30; x += 0.371 {
		xs = append(xs, x)
	}
	for _, shift := range []float32{0, 29.9, -3.25, 200} {
		for n := 0; n <= len(xs); n += 1 + n/4 {
			sub := make([]float32, n)
			for i, x := range xs[:n] {
				sub[i] = x - shift
			}
			want := make([]float32, n)
			Exp(want, sub)
			got := make([]float32, n)
			ExpShift(got, xs[:n], shift)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("ExpShift(%v, shift %v) = %v, want %v", xs[i], shift, got[i], want[i])
				}
			}
		}
	}
}

// TestMax compares Max with a plain loop for every length up to 80 and
// the maximum at every position, with negative values, ±Inf and −0.
func TestMax(t *testing.T) {
	for n := 1; n <= 80; n++ {
		for at := 0; at < n; at++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = -float32(i%7) - 1.5
			}
			x[at] = 0.25
			if got := Max(x); got != 0.25 {
				t.Fatalf("Max(len %d, largest at %d) = %v, want 0.25", n, at, got)
			}
			x[at] = float32(math.Inf(1))
			if got := Max(x); !math.IsInf(float64(got), 1) {
				t.Fatalf("Max(len %d, +Inf at %d) = %v, want +Inf", n, at, got)
			}
		}
		all := make([]float32, n)
		for i := range all {
			all[i] = float32(math.Inf(-1))
		}
		if got := Max(all); !math.IsInf(float64(got), -1) {
			t.Fatalf("Max(%d × −Inf) = %v", n, got)
		}
	}
}

// BenchmarkExp times the slice form on 1024 values against package math.
func BenchmarkExp(b *testing.B) {
	xs := make([]float32, 1024)
	out := make([]float32, 1024)
	for i := range xs {
		xs[i] = float32(i)/100 - 5
	}
	b.Run("vmath", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			Exp(out, xs)
		}
	})
	b.Run("log1p", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			Log1p(out, out)
		}
	})
	b.Run("math", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, x := range xs {
				out[j] = float32(math.Exp(float64(x)))
			}
		}
	})
}

// TestFinite puts one NaN, +Inf or −Inf at every position of slices of
// every length up to 80 (the vector part and the tail), and checks that
// finite values (the largest float32, the smallest subnormal, −0) pass.
func TestFinite(t *testing.T) {
	for n := 0; n <= 80; n++ {
		x := make([]float32, n)
		for i := range x {
			x[i] = []float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1)), 1.5}[i%5]
		}
		if !Finite(x) {
			t.Fatalf("Finite(%d finite values) = false", n)
		}
		for at := 0; at < n; at++ {
			for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
				y := append([]float32(nil), x...)
				y[at] = bad
				if Finite(y) {
					t.Fatalf("Finite(len %d, %v at %d) = true", n, bad, at)
				}
			}
		}
	}
}
