//go:build !amd64 || purego

package vmath

const useAVX2 = false

func expAVX2(dst, src *float32, n int, shift float32) {
	panic("vmath: no AVX2 kernel in this build")
}
func maxAVX2(x *float32, n int) float32  { panic("vmath: no AVX2 kernel in this build") }
func log1pAVX2(dst, src *float32, n int) { panic("vmath: no AVX2 kernel in this build") }
func logAVX2(dst, src *float32, n int)   { panic("vmath: no AVX2 kernel in this build") }
func finiteAVX2(x *float32, n int) bool  { panic("vmath: no AVX2 kernel in this build") }
