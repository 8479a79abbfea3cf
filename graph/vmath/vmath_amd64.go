//go:build amd64 && !purego

package vmath

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA

// expAVX2 sets dst[i] = e^{src[i] − shift} for i < n, n a multiple of 8.
//
//go:noescape
func expAVX2(dst, src *float32, n int, shift float32)

// maxAVX2 returns the largest of x[0:n], n a positive multiple of 8.
//
//go:noescape
func maxAVX2(x *float32, n int) float32

// log1pAVX2 sets dst[i] = log(1 + src[i]) for i < n, n a multiple of 8.
//
//go:noescape
func log1pAVX2(dst, src *float32, n int)

// logAVX2 sets dst[i] = log src[i] for i < n, n a multiple of 8.
//
//go:noescape
func logAVX2(dst, src *float32, n int)

// finiteAVX2 reports whether x[0:n] holds no NaN or ±Inf, n a multiple of 8.
//
//go:noescape
func finiteAVX2(x *float32, n int) bool
