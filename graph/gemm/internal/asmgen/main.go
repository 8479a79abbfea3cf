// Command asmgen writes the amd64 micro-kernels of package gemm
// (kernels_amd64.s and its Go declarations, kernels_amd64_stub.go). It is
// run by go:generate in the parent package and lives in its own module so
// that users of package gemm never build it or download its dependency.
//
// Each kernel computes one MR×NR tile of C from a packed sliver of A
// (MR values per k step, k-major) and a packed sliver of B (NR values per
// k step, k-major):
//
//	acc[i][j] = Σ_p a[p·MR+i] · b[p·NR+j]   for p < kc
//	C[i·ldc+j] = acc[i][j]                   (accum == 0)
//	C[i·ldc+j] += acc[i][j]                  (accum != 0)
//
// The accumulators stay in vector registers for the whole k loop; every
// k step loads NR values of B into registers and multiplies them by each of
// the MR values of A, broadcast from memory (BLIS's register blocking: Van
// Zee and van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS
// Functionality", ACM TOMS 2015).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// unroll is the number of k steps per trip of the main loop.
const unroll = 4

// isa describes one instruction set's vectors for one element type.
type isa struct {
	name  string            // kernel name suffix
	size  int               // element size in bytes
	lanes int               // elements per vector register
	vec   func() VecVirtual // allocates a vector register
	// fma emits acc[v] += b[v] · broadcast(a) for a scalar a in memory.
	fma func(a Mem, b, acc []VecVirtual)
	add func(m Mem, x, dst VecVirtual)
	mov func(a, b Op)
	// masked emits the tile's accumulate (accum != 0) and store under the
	// lane mask held at mask, rows ldc bytes apart from c.
	masked func(mask Mem, mr, nv int, acc [][]VecVirtual, c, ldc, accum Register, name string)
}

// maskedAVX2 is isa.masked with VMASKMOVPS/PD: one mask vector per vector
// of the row.
func maskedAVX2(size int) func(Mem, int, int, [][]VecVirtual, Register, Register, Register, string) {
	return func(mask Mem, mr, nv int, acc [][]VecVirtual, c, ldc, accum Register, name string) {
		mv := make([]VecVirtual, nv)
		for v := range mv {
			mv[v] = YMM()
			VMOVUPS(mask.Offset(32*v), mv[v])
		}
		load, store, add := VMASKMOVPS, VMASKMOVPS, VADDPS
		if size == 8 {
			load, store, add = VMASKMOVPD, VMASKMOVPD, VADDPD
		}
		TESTQ(accum, accum)
		JZ(LabelRef(name + "_mstore"))
		row := GP64()
		MOVQ(c, row)
		for i := 0; i < mr; i++ {
			for v := 0; v < nv; v++ {
				t := YMM()
				load(Mem{Base: row, Disp: 32 * v}, mv[v], t)
				add(t, acc[i][v], acc[i][v])
			}
			if i < mr-1 {
				ADDQ(ldc, row)
			}
		}
		Label(name + "_mstore")
		for i := 0; i < mr; i++ {
			for v := 0; v < nv; v++ {
				store(acc[i][v], mv[v], Mem{Base: c, Disp: 32 * v})
			}
			if i < mr-1 {
				ADDQ(ldc, c)
			}
		}
	}
}

// maskedAVX512 is isa.masked with an opmask register (one vector per row).
func maskedAVX512(size int) func(Mem, int, int, [][]VecVirtual, Register, Register, Register, string) {
	return func(mask Mem, mr, nv int, acc [][]VecVirtual, c, ldc, accum Register, name string) {
		z := ZMM()
		k := K()
		VMOVDQU32(mask, z)
		movz, add := VMOVUPS_Z, VADDPS
		if size == 8 {
			VPMOVQ2M(z, k)
			movz, add = VMOVUPD_Z, VADDPD
		} else {
			VPMOVD2M(z, k)
		}
		TESTQ(accum, accum)
		JZ(LabelRef(name + "_mstore"))
		row := GP64()
		MOVQ(c, row)
		for i := 0; i < mr; i++ {
			t := ZMM()
			movz(Mem{Base: row}, k, t)
			add(t, acc[i][0], acc[i][0])
			if i < mr-1 {
				ADDQ(ldc, row)
			}
		}
		Label(name + "_mstore")
		for i := 0; i < mr; i++ {
			if size == 8 {
				VMOVUPD(acc[i][0], k, Mem{Base: c})
			} else {
				VMOVUPS(acc[i][0], k, Mem{Base: c})
			}
			if i < mr-1 {
				ADDQ(ldc, c)
			}
		}
	}
}

func main() {
	avx2s := isa{name: "AVX2", size: 4, lanes: 8, vec: YMM,
		fma: func(a Mem, b, acc []VecVirtual) {
			t := YMM()
			VBROADCASTSS(a, t)
			for v := range b {
				VFMADD231PS(b[v], t, acc[v])
			}
		},
		add:    func(m Mem, x, dst VecVirtual) { VADDPS(m, x, dst) },
		mov:    func(a, b Op) { VMOVUPS(a, b) },
		masked: maskedAVX2(4)}
	avx2d := isa{name: "AVX2", size: 8, lanes: 4, vec: YMM,
		fma: func(a Mem, b, acc []VecVirtual) {
			t := YMM()
			VBROADCASTSD(a, t)
			for v := range b {
				VFMADD231PD(b[v], t, acc[v])
			}
		},
		add:    func(m Mem, x, dst VecVirtual) { VADDPD(m, x, dst) },
		mov:    func(a, b Op) { VMOVUPD(a, b) },
		masked: maskedAVX2(8)}
	avx512s := isa{name: "AVX512", size: 4, lanes: 16, vec: ZMM,
		fma: func(a Mem, b, acc []VecVirtual) {
			for v := range b {
				VFMADD231PS_BCST(a, b[v], acc[v])
			}
		},
		add:    func(m Mem, x, dst VecVirtual) { VADDPS(m, x, dst) },
		mov:    func(a, b Op) { VMOVUPS(a, b) },
		masked: maskedAVX512(4)}
	avx512d := isa{name: "AVX512", size: 8, lanes: 8, vec: ZMM,
		fma: func(a Mem, b, acc []VecVirtual) {
			for v := range b {
				VFMADD231PD_BCST(a, b[v], acc[v])
			}
		},
		add:    func(m Mem, x, dst VecVirtual) { VADDPD(m, x, dst) },
		mov:    func(a, b Op) { VMOVUPD(a, b) },
		masked: maskedAVX512(8)}

	ConstraintExpr("amd64,!purego")
	masks()
	// AVX2+FMA, 16 registers: 6×2 accumulators, 2 for B, 1 broadcast.
	for _, rowB := range []bool{false, true} {
		for _, m := range []mode{packed, direct, strided} {
			kernel(avx2s, 6, 2, m, rowB)
			kernel(avx2d, 6, 2, m, rowB)
		}
	}
	// AVX-512, 32 registers: 24 accumulators, 1 for B. One vector of B per
	// k step keeps NR at 16 (float32) so that the 16-channel convolution
	// wastes no lanes.
	for _, rowB := range []bool{false, true} {
		for _, m := range []mode{packed, direct, strided} {
			kernel(avx512s, 24, 1, m, rowB)
			kernel(avx512d, 24, 1, m, rowB)
		}
	}
	Generate()
}

// mode says how a kernel reads A.
type mode int

const (
	packed  mode = iota // a packed sliver: element (i, p) at a[p·MR+i]
	direct              // A itself, not transposed: element (i, p) at a[i·lda+p]
	strided             // A itself, transposed: element (i, p) at a[p·lda+i]
)

// kernel emits the MR×(nv·lanes) kernel for one instruction set. The
// direct and strided kernels read A unpacked (alpha = 1), which saves
// packing A when it would be used only for a few slivers of B; with rowB
// the kernel reads B unpacked too (NR consecutive values of row p at
// b + p·ldb), which saves packing B when few slivers of A use it.
func kernel(s isa, mr, nv int, m mode, rowB bool) {
	nr := nv * s.lanes
	t := "float32"
	if s.size == 8 {
		t = "float64"
	}
	name := fmt.Sprintf("kern%s%dx%d%s%s", t[:1]+t[5:], mr, nr, s.name, map[mode]string{direct: "Direct", strided: "Strided"}[m])
	what := map[mode]string{
		packed:  "a packed sliver of A",
		direct:  fmt.Sprintf("%d rows of A (row stride lda)", mr),
		strided: fmt.Sprintf("%d columns of Aᵀ (row stride lda)", mr),
	}[m]
	switch {
	case rowB:
		name += "RowB"
		TEXT(name, NOSPLIT, fmt.Sprintf("func(kc int, a *%s, lda int, b *%s, ldb int, c *%s, ldc int, accum int, cols int, bcols int)", t, t, t))
		Doc(fmt.Sprintf("%s computes a %d×%d tile of C from %s and %d columns of B (row stride ldb) (see package asmgen).", name, mr, nr, what, nr))
	case m == packed:
		TEXT(name, NOSPLIT, fmt.Sprintf("func(kc int, a, b, c *%s, ldc int, accum int, cols int)", t))
		Doc(fmt.Sprintf("%s computes a %d×%d tile of C from packed slivers of A and B (see package asmgen).", name, mr, nr))
	default:
		TEXT(name, NOSPLIT, fmt.Sprintf("func(kc int, a *%s, lda int, b, c *%s, ldc int, accum int, cols int)", t, t))
		Doc(fmt.Sprintf("%s computes a %d×%d tile of C from %s and a packed sliver of B (see package asmgen).", name, mr, nr, what))
	}
	kc := Load(Param("kc"), GP64())
	pa := Load(Param("a"), GP64())
	pb := Load(Param("b"), GP64())
	var ldb Register
	if rowB {
		ldb = Load(Param("ldb"), GP64())
		SHLQ(U8(map[int]uint8{4: 2, 8: 3}[s.size]), ldb)
	}
	// bAt returns the address of vector v of B's row p of this trip.
	bAt := func(p, v int) Mem { return Mem{Base: pb, Disp: (p*nr + v*s.lanes) * s.size} }
	if rowB {
		bAt = func(_, v int) Mem { return Mem{Base: pb, Disp: v * s.lanes * s.size} }
	}
	advanceB := func(steps int) {
		if !rowB {
			ADDQ(U32(steps*nr*s.size), pb)
		}
	}
	// AVX-512 rowB kernels load B under the mask of its first bcols
	// columns, so that a last partial sliver of B needs no packing either
	// (masked-out lanes are zero and never touch memory).
	loadB := s.mov
	if rowB && s.lanes*s.size == 64 {
		off := Load(Param("bcols"), GP64())
		NEGQ(off)
		ADDQ(U32(nr), off)
		SHLQ(U8(map[int]uint8{4: 2, 8: 3}[s.size]), off)
		tbl := GP64()
		LEAQ(maskTable, tbl)
		z := ZMM()
		VMOVDQU32(Mem{Base: tbl, Index: off, Scale: 1}, z)
		k := K()
		movz := VMOVUPS_Z
		if s.size == 8 {
			VPMOVQ2M(z, k)
			movz = VMOVUPD_Z
		} else {
			VPMOVD2M(z, k)
		}
		loadB = func(m, dst Op) { movz(m, k, dst) }
	}
	// aAt returns the address of A's element (i, p) of this trip.
	aAt := func(i, p int) Mem { return Mem{Base: pa, Disp: (p*mr + i) * s.size} }
	var bases []GPVirtual
	if m == direct {
		lda := Load(Param("lda"), GP64())
		SHLQ(U8(map[int]uint8{4: 2, 8: 3}[s.size]), lda)
		lda3 := GP64()
		LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
		// Rows 4g … 4g+3 sit at bases[g] + {0, 1, 2, 3}·lda.
		for g := 0; g < (mr+3)/4; g++ {
			r := GP64()
			if g == 0 {
				MOVQ(pa, r)
			} else {
				LEAQ(Mem{Base: bases[g-1], Index: lda, Scale: 4}, r)
			}
			bases = append(bases, r)
		}
		aAt = func(i, p int) Mem {
			m := Mem{Base: bases[i/4], Disp: p * s.size}
			switch i % 4 {
			case 1:
				m.Index, m.Scale = lda, 1
			case 2:
				m.Index, m.Scale = lda, 2
			case 3:
				m.Index, m.Scale = lda3, 1
			}
			return m
		}
	}
	var ldaStep Register
	if m == strided {
		ldaStep = Load(Param("lda"), GP64())
		SHLQ(U8(map[int]uint8{4: 2, 8: 3}[s.size]), ldaStep)
		// One k step at a time: element (i, p) of this step at a + i.
		aAt = func(i, p int) Mem { return Mem{Base: pa, Disp: i * s.size} }
	}
	advanceA := func(steps int) {
		if m == strided {
			return // advanced after every step
		}
		if m == packed {
			ADDQ(U32(steps*mr*s.size), pa)
			return
		}
		for _, r := range bases {
			ADDQ(U32(steps*s.size), r)
		}
	}

	acc := make([][]VecVirtual, mr)
	for i := range acc {
		acc[i] = make([]VecVirtual, nv)
		for v := range acc[i] {
			acc[i][v] = s.vec()
			VXORPS(acc[i][v], acc[i][v], acc[i][v])
		}
	}
	step := func(p int) {
		bv := make([]VecVirtual, nv)
		for v := range bv {
			bv[v] = s.vec()
			loadB(bAt(p, v), bv[v])
		}
		for i := 0; i < mr; i++ {
			s.fma(aAt(i, p), bv, acc[i])
		}
		if m == strided {
			ADDQ(ldaStep, pa)
		}
		if rowB {
			ADDQ(ldb, pb)
		}
	}
	Label(name + "_loop")
	CMPQ(kc, U8(unroll))
	JL(LabelRef(name + "_tail"))
	for p := 0; p < unroll; p++ {
		step(p)
	}
	advanceA(unroll)
	advanceB(unroll)
	SUBQ(U8(unroll), kc)
	JMP(LabelRef(name + "_loop"))

	Label(name + "_tail")
	TESTQ(kc, kc)
	JZ(LabelRef(name + "_done"))
	step(0)
	advanceA(1)
	advanceB(1)
	DECQ(kc)
	JMP(LabelRef(name + "_tail"))

	Label(name + "_done")
	pc := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(map[int]uint8{4: 2, 8: 3}[s.size]), ldc)
	accum := Load(Param("accum"), GP64())
	cols := Load(Param("cols"), GP64())
	CMPQ(cols, U32(nr))
	JNE(LabelRef(name + "_masked"))
	TESTQ(accum, accum)
	JZ(LabelRef(name + "_store"))
	row := GP64()
	MOVQ(pc, row)
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			s.add(Mem{Base: row, Disp: v * s.lanes * s.size}, acc[i][v], acc[i][v])
		}
		if i < mr-1 {
			ADDQ(ldc, row)
		}
	}
	Label(name + "_store")
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			s.mov(acc[i][v], Mem{Base: pc, Disp: v * s.lanes * s.size})
		}
		if i < mr-1 {
			ADDQ(ldc, pc)
		}
	}
	VZEROUPPER()
	RET()

	// Only the first cols < nr columns of the tile lie inside C: load
	// and store them under a mask of cols lanes, read from maskTable at
	// (nr − cols)·size bytes (ones for the lanes below cols).
	Label(name + "_masked")
	off := GP64()
	MOVQ(U32(nr), off)
	SUBQ(cols, off)
	SHLQ(U8(map[int]uint8{4: 2, 8: 3}[s.size]), off)
	tbl := GP64()
	LEAQ(maskTable, tbl)
	ADDQ(off, tbl)
	s.masked(Mem{Base: tbl}, mr, nv, acc, pc, ldc, accum, name)
	VZEROUPPER()
	RET()
}

// maskTable is 64 bytes of ones then 64 of zeros: 64 bytes read from
// offset (nr − cols)·size have ones in their first cols lanes.
var maskTable Mem

func masks() {
	maskTable = GLOBL("masktable", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(0xffffffff))
	}
	for i := 16; i < 32; i++ {
		DATA(4*i, U32(0))
	}
}
