// Command asmgen writes the amd64 Adam kernels of package optim
// (adam_amd64.s and its Go declarations, adam_amd64_stub.go). It is run by
// go:generate in the parent package and lives in its own module so that
// users of package optim never build it or download its dependency.
//
// Each kernel runs Adam's update (Kingma & Ba 2015, in PyTorch's
// arithmetic) on n values, n a multiple of the vector width, one vector at
// a time, with the same operations in the same order as the portable Go
// loop of package optim (no fused multiply-add), so both give the same
// bits:
//
//	g  = grad + decay·w
//	m' = β1·m + (1−β1)·g
//	v' = β2·v + (1−β2)·(g·g)
//	w' = w − step·(m' / (√v' / √c2 + ε))
//
// The constants come in k: decay, β1, 1−β1, β2, 1−β2, √c2, ε, step. Every
// result is also folded into a finiteness accumulator, acc += (x − x) for
// x in grad, m', v', w' (0 for a finite x, NaN otherwise), stored to acc
// at the end; with write = 0 nothing else is stored (the check pass), with
// write ≠ 0 m', v' and w' overwrite m, v and w.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// dtype is one element type's AVX instructions.
type dtype struct {
	name, typ          string
	size, lanes        int
	bcast              func(Op, Op)
	mov                func(Op, Op)
	add, sub, mul, div func(Op, Op, Op)
	sqrt               func(Op, Op)
	zero               func(Op, Op, Op)
}

func main() {
	f32 := dtype{name: "32", typ: "float32", size: 4, lanes: 8,
		bcast: func(a, b Op) { VBROADCASTSS(a, b) }, mov: func(a, b Op) { VMOVUPS(a, b) },
		add: func(a, b, c Op) { VADDPS(a, b, c) }, sub: func(a, b, c Op) { VSUBPS(a, b, c) },
		mul: func(a, b, c Op) { VMULPS(a, b, c) }, div: func(a, b, c Op) { VDIVPS(a, b, c) },
		sqrt: func(a, b Op) { VSQRTPS(a, b) }, zero: func(a, b, c Op) { VXORPS(a, b, c) }}
	f64 := dtype{name: "64", typ: "float64", size: 8, lanes: 4,
		bcast: func(a, b Op) { VBROADCASTSD(a, b) }, mov: func(a, b Op) { VMOVUPD(a, b) },
		add: func(a, b, c Op) { VADDPD(a, b, c) }, sub: func(a, b, c Op) { VSUBPD(a, b, c) },
		mul: func(a, b, c Op) { VMULPD(a, b, c) }, div: func(a, b, c Op) { VDIVPD(a, b, c) },
		sqrt: func(a, b Op) { VSQRTPD(a, b) }, zero: func(a, b, c Op) { VXORPD(a, b, c) }}
	ConstraintExpr("amd64,!purego")
	adam(f32)
	adam(f64)
	Generate()
}

// adam emits adam<size>AVX. Go's assembler takes operands source first:
// sub(b, a, dst) is dst = a − b and div(b, a, dst) is dst = a / b.
func adam(t dtype) {
	name := "adam" + t.name + "AVX"
	TEXT(name, NOSPLIT, fmt.Sprintf("func(n int, w, grad, m, v *%s, k *[8]%s, write int, acc *[%d]%s)", t.typ, t.typ, t.lanes, t.typ))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s runs Adam's update on n %s values (n a multiple of %d), %d per AVX vector (see package asmgen).", name, t.typ, t.lanes, t.lanes))
	n := Load(Param("n"), GP64())
	w := Load(Param("w"), GP64())
	g := Load(Param("grad"), GP64())
	m := Load(Param("m"), GP64())
	v := Load(Param("v"), GP64())
	k := Load(Param("k"), GP64())
	wr := Load(Param("write"), GP64())
	ap := Load(Param("acc"), GP64())

	c := make([]VecVirtual, 8) // decay, β1, 1−β1, β2, 1−β2, √c2, ε, step
	for i := range c {
		c[i] = YMM()
		t.bcast(Mem{Base: k, Disp: i * t.size}, c[i])
	}
	decay, b1, omb1, b2, omb2, sc2, eps, step := c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
	acc := YMM()
	t.zero(acc, acc, acc)

	i := GP64()
	XORQ(i, i)
	Label(name + "_loop")
	CMPQ(i, n)
	JAE(LabelRef(name + "_done"))
	at := func(base Register) Mem { return Mem{Base: base, Index: i, Scale: uint8(t.size)} }
	W, G, M, V := YMM(), YMM(), YMM(), YMM()
	t.mov(at(w), W)
	t.mov(at(g), G)
	t.mov(at(m), M)
	t.mov(at(v), V)
	// finiteness of the gradient
	x := YMM()
	t.sub(G, G, x)
	t.add(x, acc, acc)
	// g = grad + decay·w
	t.mul(decay, W, x)
	t.add(x, G, G)
	// m' = β1·m + (1−β1)·g
	t.mul(b1, M, M)
	t.mul(omb1, G, x)
	t.add(x, M, M)
	// v' = β2·v + (1−β2)·(g·g)
	t.mul(G, G, G)
	t.mul(omb2, G, G)
	t.mul(b2, V, V)
	t.add(G, V, V)
	// d = √v' / √c2 + ε
	t.sqrt(V, x)
	t.div(sc2, x, x)
	t.add(eps, x, x)
	// w' = w − step·(m' / d)
	t.div(x, M, x)
	t.mul(step, x, x)
	t.sub(x, W, W)
	// finiteness of m', v', w'
	for _, r := range []VecVirtual{M, V, W} {
		t.sub(r, r, x)
		t.add(x, acc, acc)
	}
	TESTQ(wr, wr)
	JZ(LabelRef(name + "_next"))
	t.mov(M, at(m))
	t.mov(V, at(v))
	t.mov(W, at(w))
	Label(name + "_next")
	ADDQ(U32(t.lanes), i)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	t.mov(acc, Mem{Base: ap})
	VZEROUPPER()
	RET()
}
