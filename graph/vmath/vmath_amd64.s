// Hand-written AVX2/FMA kernels of vmath.go; each lane follows the scalar
// Exp1 and Log1p1 (Cephes expf and logf polynomials).

//go:build amd64 && !purego

#include "textflag.h"

DATA exphi<>+0(SB)/4, $0x42b00000
GLOBL exphi<>(SB), RODATA|NOPTR, $4
DATA explo<>+0(SB)/4, $0xc2ae999a
GLOBL explo<>(SB), RODATA|NOPTR, $4
DATA log2e<>+0(SB)/4, $0x3fb8aa3b
GLOBL log2e<>(SB), RODATA|NOPTR, $4
DATA c1<>+0(SB)/4, $0x3f318000
GLOBL c1<>(SB), RODATA|NOPTR, $4
DATA c2<>+0(SB)/4, $0xb95e8083
GLOBL c2<>(SB), RODATA|NOPTR, $4
DATA one<>+0(SB)/4, $0x3f800000
GLOBL one<>(SB), RODATA|NOPTR, $4
DATA i127<>+0(SB)/4, $0x0000007f
GLOBL i127<>(SB), RODATA|NOPTR, $4
DATA inf<>+0(SB)/4, $0x7f800000
GLOBL inf<>(SB), RODATA|NOPTR, $4
DATA ep0<>+0(SB)/4, $0x39506967
GLOBL ep0<>(SB), RODATA|NOPTR, $4
DATA ep1<>+0(SB)/4, $0x3ab743ce
GLOBL ep1<>(SB), RODATA|NOPTR, $4
DATA ep2<>+0(SB)/4, $0x3c088908
GLOBL ep2<>(SB), RODATA|NOPTR, $4
DATA ep3<>+0(SB)/4, $0x3d2aa9c1
GLOBL ep3<>(SB), RODATA|NOPTR, $4
DATA ep4<>+0(SB)/4, $0x3e2aaaaa
GLOBL ep4<>(SB), RODATA|NOPTR, $4
DATA ep5<>+0(SB)/4, $0x3f000000
GLOBL ep5<>(SB), RODATA|NOPTR, $4
DATA sqrthalf<>+0(SB)/4, $0x3f3504f3
GLOBL sqrthalf<>(SB), RODATA|NOPTR, $4
DATA mant<>+0(SB)/4, $0x007fffff
GLOBL mant<>(SB), RODATA|NOPTR, $4
DATA mhalf<>+0(SB)/4, $0xbf000000
GLOBL mhalf<>(SB), RODATA|NOPTR, $4
DATA lp0<>+0(SB)/4, $0x3d9021bb
GLOBL lp0<>(SB), RODATA|NOPTR, $4
DATA lp1<>+0(SB)/4, $0xbdebd1b8
GLOBL lp1<>(SB), RODATA|NOPTR, $4
DATA lp2<>+0(SB)/4, $0x3def251a
GLOBL lp2<>(SB), RODATA|NOPTR, $4
DATA lp3<>+0(SB)/4, $0xbdfe5d4f
GLOBL lp3<>(SB), RODATA|NOPTR, $4
DATA lp4<>+0(SB)/4, $0x3e11e9bf
GLOBL lp4<>(SB), RODATA|NOPTR, $4
DATA lp5<>+0(SB)/4, $0xbe2aae50
GLOBL lp5<>(SB), RODATA|NOPTR, $4
DATA lp6<>+0(SB)/4, $0x3e4cceac
GLOBL lp6<>(SB), RODATA|NOPTR, $4
DATA lp7<>+0(SB)/4, $0xbe7ffffc
GLOBL lp7<>(SB), RODATA|NOPTR, $4
DATA lp8<>+0(SB)/4, $0x3eaaaaaa
GLOBL lp8<>(SB), RODATA|NOPTR, $4

// func expAVX2(dst, src *float32, n int, shift float32)
TEXT ·expAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y7
	VBROADCASTSS exphi<>(SB), Y8
	VBROADCASTSS explo<>(SB), Y9
	VBROADCASTSS log2e<>(SB), Y10
	VBROADCASTSS c1<>(SB), Y11
	VBROADCASTSS c2<>(SB), Y12
	VBROADCASTSS one<>(SB), Y13
	VBROADCASTSS i127<>(SB), Y14
	VBROADCASTSS inf<>(SB), Y15
exploop:
	VMOVUPS (SI), Y0
	VSUBPS Y7, Y0, Y0            // x − shift, rounded as the scalar form rounds it
	VMINPS Y8, Y0, Y1            // clamp x to [lo, hi]
	VMAXPS Y9, Y1, Y1
	VMULPS Y10, Y1, Y2           // n = round(x·log2 e)
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS Y11, Y2, Y1     // r = x − n·c1 − n·c2
	VFNMADD231PS Y12, Y2, Y1
	VBROADCASTSS ep0<>(SB), Y3
	VBROADCASTSS ep1<>(SB), Y4
	VFMADD213PS Y4, Y1, Y3
	VBROADCASTSS ep2<>(SB), Y4
	VFMADD213PS Y4, Y1, Y3
	VBROADCASTSS ep3<>(SB), Y4
	VFMADD213PS Y4, Y1, Y3
	VBROADCASTSS ep4<>(SB), Y4
	VFMADD213PS Y4, Y1, Y3
	VBROADCASTSS ep5<>(SB), Y4
	VFMADD213PS Y4, Y1, Y3
	VMULPS Y1, Y1, Y4            // y = p·r² + r + 1
	VFMADD213PS Y1, Y4, Y3
	VADDPS Y13, Y3, Y3
	VCVTPS2DQ Y2, Y5             // 2ⁿ from the exponent bits
	VPADDD Y14, Y5, Y5
	VPSLLD $23, Y5, Y5
	VMULPS Y5, Y3, Y3
	VCMPPS $13, Y9, Y0, Y6       // x ≥ lo, else 0 (NaN too, restored below)
	VANDPS Y6, Y3, Y3
	VCMPPS $14, Y8, Y0, Y6       // x > hi: +Inf
	VBLENDVPS Y6, Y15, Y3, Y3
	VCMPPS $3, Y0, Y0, Y6        // NaN: x itself
	VBLENDVPS Y6, Y0, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ exploop
	VZEROUPPER
	RET

// func log1pAVX2(dst, src *float32, n int)
TEXT ·log1pAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS one<>(SB), Y8
	VBROADCASTSS sqrthalf<>(SB), Y9
	VBROADCASTSS mant<>(SB), Y10
	VBROADCASTSS c2<>(SB), Y11
	VBROADCASTSS mhalf<>(SB), Y12
	VBROADCASTSS c1<>(SB), Y13
	VXORPS Y14, Y14, Y14
logloop:
	VMOVUPS (SI), Y0             // u
	VADDPS Y8, Y0, Y1            // w = 1 + u
	VPSUBD Y9, Y1, Y2            // w = (1 + m)·2ᵉ, 1 + m in [√½, √2)
	VPSRAD $23, Y2, Y3
	VCVTDQ2PS Y3, Y3
	VPAND Y10, Y2, Y2
	VPADDD Y9, Y2, Y2
	VSUBPS Y8, Y2, Y2            // m
	VMULPS Y2, Y2, Y4            // z = m²
	VBROADCASTSS lp0<>(SB), Y5
	VBROADCASTSS lp1<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp2<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp3<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp4<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp5<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp6<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp7<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp8<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VMULPS Y2, Y5, Y5            // y = poly·m·z
	VMULPS Y4, Y5, Y5
	VFMADD231PS Y11, Y3, Y5      // + e·c2
	VFMADD231PS Y12, Y4, Y5      // − z/2
	VADDPS Y2, Y5, Y5            // + m
	VFMADD231PS Y13, Y3, Y5      // + e·c1
	VSUBPS Y8, Y1, Y6            // · u/(w − 1), or u where w = 1
	VDIVPS Y6, Y0, Y7
	VMULPS Y7, Y5, Y5
	VCMPPS $0, Y14, Y6, Y7
	VBLENDVPS Y7, Y0, Y5, Y5
	VMOVUPS Y5, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ logloop
	VZEROUPPER
	RET

// func logAVX2(dst, src *float32, n int)
TEXT ·logAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS one<>(SB), Y8
	VBROADCASTSS sqrthalf<>(SB), Y9
	VBROADCASTSS mant<>(SB), Y10
	VBROADCASTSS c2<>(SB), Y11
	VBROADCASTSS mhalf<>(SB), Y12
	VBROADCASTSS c1<>(SB), Y13
	VXORPS Y14, Y14, Y14
plainlogloop:
	VMOVUPS (SI), Y0             // u
	VMOVAPS Y0, Y1               // w = x
	VPSUBD Y9, Y1, Y2            // w = (1 + m)·2ᵉ, 1 + m in [√½, √2)
	VPSRAD $23, Y2, Y3
	VCVTDQ2PS Y3, Y3
	VPAND Y10, Y2, Y2
	VPADDD Y9, Y2, Y2
	VSUBPS Y8, Y2, Y2            // m
	VMULPS Y2, Y2, Y4            // z = m²
	VBROADCASTSS lp0<>(SB), Y5
	VBROADCASTSS lp1<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp2<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp3<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp4<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp5<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp6<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp7<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VBROADCASTSS lp8<>(SB), Y6
	VFMADD213PS Y6, Y2, Y5
	VMULPS Y2, Y5, Y5            // y = poly·m·z
	VMULPS Y4, Y5, Y5
	VFMADD231PS Y11, Y3, Y5      // + e·c2
	VFMADD231PS Y12, Y4, Y5      // − z/2
	VADDPS Y2, Y5, Y5            // + m
	VFMADD231PS Y13, Y3, Y5      // + e·c1
	VMOVUPS Y5, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ plainlogloop
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Y0             // four accumulators, all starting from x[0:8]
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
max32:
	CMPQ CX, $32
	JLT max8
	VMAXPS (SI), Y0, Y0
	VMAXPS 32(SI), Y1, Y1
	VMAXPS 64(SI), Y2, Y2
	VMAXPS 96(SI), Y3, Y3
	ADDQ $128, SI
	SUBQ $32, CX
	JMP max32
max8:
	CMPQ CX, $8
	JLT maxdone
	VMAXPS (SI), Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP max8
maxdone:
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1      // the eight lanes down to one
	VMAXPS X1, X0, X0
	VSHUFPS $0x4e, X0, X0, X1
	VMAXPS X1, X0, X0
	VSHUFPS $0xb1, X0, X0, X1
	VMAXPS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// func finiteAVX2(x *float32, n int) bool
TEXT ·finiteAVX2(SB), NOSPLIT, $0-17
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Y0, Y0, Y0            // OR of the bits of x − x: +0 for a finite x, NaN otherwise
	VXORPS Y1, Y1, Y1
fin32:
	CMPQ CX, $32
	JLT fin8
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VMOVUPS 64(SI), Y4
	VMOVUPS 96(SI), Y5
	VSUBPS Y2, Y2, Y2
	VSUBPS Y3, Y3, Y3
	VSUBPS Y4, Y4, Y4
	VSUBPS Y5, Y5, Y5
	VORPS Y2, Y0, Y0
	VORPS Y3, Y1, Y1
	VORPS Y4, Y0, Y0
	VORPS Y5, Y1, Y1
	ADDQ $128, SI
	SUBQ $32, CX
	JMP fin32
fin8:
	CMPQ CX, $8
	JLT findone
	VMOVUPS (SI), Y2
	VSUBPS Y2, Y2, Y2
	VORPS Y2, Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP fin8
findone:
	VORPS Y1, Y0, Y0
	VPTEST Y0, Y0                // ZF: every bit 0
	SETEQ ret+16(FP)
	VZEROUPPER
	RET
