package graph

import (
	"math"

	"github.com/contrastive-go/contrastive/graph/vmath"
)

// refIndex groups the columns of a reference set by the labels of a
// batch, so that a row's positives among R reference columns are a list
// (about R/classes of them) and its other columns need no label test.
type refIndex struct {
	valid bool    // every reference label is ≥ 0 (no empty slot)
	group []int32 // batch row → group of its label
	start []int32 // group g's reference columns: cols[start[g]:start[g+1]]
	cols  []int32
	table []int32 // label → group + 1 (0: no batch row has it), for small labels
	ids   map[int]int32
}

// maxTable is the largest label range looked up in a table rather than a
// map (4 MiB of int32).
const maxTable = 1 << 20

// build indexes the reference labels lr against the batch labels la.
func (x *refIndex) build(la, lr []int) {
	x.valid = true
	hi := 0
	for _, l := range lr {
		if l < 0 {
			x.valid = false
		}
		hi = max(hi, l)
	}
	for _, l := range la {
		hi = max(hi, l)
	}
	x.group = resize(x.group, len(la))
	useTable := hi < maxTable && hi < 4*(len(la)+len(lr))
	if useTable {
		x.table = resize(x.table, hi+1)
		clear(x.table)
	} else if x.ids == nil {
		x.ids = map[int]int32{}
	} else {
		clear(x.ids)
	}
	n := int32(0)
	lookup := func(l int) int32 { // group + 1, or 0
		if l < 0 {
			return 0
		}
		if useTable {
			return x.table[l]
		}
		return x.ids[l]
	}
	for i, l := range la {
		g := lookup(l)
		if g == 0 {
			n++
			g = n
			if useTable && l >= 0 {
				x.table[l] = g
			} else {
				x.ids[l] = g
			}
		}
		x.group[i] = g - 1
	}
	x.start = resize(x.start, int(n)+1)
	clear(x.start)
	for _, l := range lr {
		if g := lookup(l); g > 0 {
			x.start[g]++
		}
	}
	for g := 1; g <= int(n); g++ {
		x.start[g] += x.start[g-1]
	}
	x.cols = resize(x.cols, int(x.start[n]))
	next := append([]int32(nil), x.start[:n]...)
	for j, l := range lr {
		if g := lookup(l); g > 0 {
			x.cols[next[g-1]] = int32(j)
			next[g-1]++
		}
	}
}

// positives returns the reference columns that share batch row i's label.
func (x *refIndex) positives(i int) []int32 {
	g := x.group[i]
	return x.cols[x.start[g]:x.start[g+1]]
}

func resize[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}

// extremeOf returns the largest c·x over x (c > 0: max x; else min x).
func extremeOf[T float](x []T, c T) T {
	if len(x) == 0 {
		return T(math.Inf(-1))
	}
	x0, x1, x2, x3 := x[0], x[0], x[0], x[0]
	n := len(x) &^ 3
	if c > 0 {
		for j := 0; j < n; j += 4 {
			v := x[j : j+4 : j+4]
			x0, x1, x2, x3 = max(x0, v[0]), max(x1, v[1]), max(x2, v[2]), max(x3, v[3])
		}
		for _, v := range x[n:] {
			x0 = max(x0, v)
		}
		return c * max(x0, x1, x2, x3)
	}
	for j := 0; j < n; j += 4 {
		v := x[j : j+4 : j+4]
		x0, x1, x2, x3 = min(x0, v[0]), min(x1, v[1]), min(x2, v[2]), min(x3, v[3])
	}
	for _, v := range x[n:] {
		x0 = min(x0, v)
	}
	return c * min(x0, x1, x2, x3)
}

// affineInto sets u[j] = c·x[j] + off.
func affineInto[T float](u, x []T, c, off T) {
	u = u[:len(x)]
	for j, v := range x {
		u[j] = c*v + off
	}
}

// softplusSigmoidSums returns Σ softplus(t_k) and Σ σ(t_k), overwriting e
// (as long as t): e^{−|t|} evaluated as one vector, then log(1 + ·).
func softplusSigmoidSums[T float](t, e []T) (sp, sg float64) {
	e = e[:len(t)]
	for k, v := range t {
		e[k] = -T(math.Abs(float64(v)))
	}
	expInPlace(e)
	for k, v := range t {
		if v >= 0 {
			sg += float64(1 / (1 + e[k]))
		} else {
			sg += float64(e[k] / (1 + e[k]))
		}
	}
	if w, ok := any(e).([]float32); ok {
		vmath.Log1p(w, w)
	} else {
		for k, v := range e {
			e[k] = T(math.Log1p(float64(v)))
		}
	}
	for k, v := range t {
		sp += float64(max(v, 0) + e[k])
	}
	return sp, sg
}

// ntxentRowFast is ntxentRow for a reference set without empty slots: the
// shift is the largest logit of all partners, the negatives' sum is the
// total less the positives' (listed by idx), and the positives' softplus
// and sigmoid are vector passes. When the negatives' share of the total is
// under 1/1000 (a positive dominates the row) it falls back to ntxentRow,
// so the difference loses no more than about 10⁻¹³ relative in float64.
func ntxentRowFast[T float](i int, scale float64, xa, xr []T, la, lr []int, idx *refIndex, row []T, tmp *[2][]T) {
	if !idx.valid {
		ntxentRow(i, scale, xa, xr, la, lr, row)
		return
	}
	c := T(scale)
	li := la[i]
	b := len(xa)
	u, st := row[:b+len(xr)], row[b+len(xr):]
	pc := idx.positives(i)
	m := extremeOf(xr, c)
	nposB := 0
	for j, x := range xa {
		if j != i {
			m = max(m, c*x)
			if la[j] == li {
				nposB++
			}
		}
	}
	npos := nposB + len(pc)
	st[4] = T(npos)
	if npos == b-1+len(xr) { // no negative
		st[0], st[1], st[2], st[3] = 0, 0, 0, 0
		clear(u)
		return
	}
	z := tmp[1][:len(u)] // the shifted logits in a scratch row that stays in cache
	affineInto(z[:b], xa, c, -m)
	affineInto(z[b:], xr, c, -m)
	expInto(u, z)
	all := sum64(u[b:])
	var pos float64
	for j := range xa {
		if j == i {
			continue
		}
		all += float64(u[j])
		if la[j] == li {
			pos += float64(u[j])
		}
	}
	ur := u[b:]
	for _, j := range pc {
		pos += float64(ur[j])
	}
	neg := all - pos
	if !(neg >= 1e-3*all) {
		ntxentRow(i, scale, xa, xr, la, lr, row)
		return
	}
	ls := T(math.Log(neg)) // lse = m + ls
	t := tmp[1][:0]
	for j, x := range xa {
		if j != i && la[j] == li {
			t = append(t, (m-c*x)+ls)
		}
	}
	for _, j := range pc {
		t = append(t, (m-c*xr[j])+ls)
	}
	sum, sig := softplusSigmoidSums(t, tmp[0][:len(t)])
	st[0], st[1], st[2], st[3] = m, ls, T(sig), T(sum)
}

// hingeRowFast is hingeRow for a reference set without empty slots: the
// reference part is summed as negatives over a copy of the row in which
// the positives (listed by idx) hold a value whose negative hinge is 0,
// then the positives are summed from their list; no label is read per
// column.
func hingeRowFast[T float](i int, h RefHinges, xa, xr []T, la, lr []int, idx *refIndex, st []T, tmp *[2][]T) {
	if !idx.valid || h.NegScale == 0 {
		hingeRow(i, h, xa, xr, la, lr, st)
		return
	}
	ps, pa, ns, na := T(h.PosScale), T(h.PosOffset), T(h.NegScale), T(h.NegOffset)
	li := la[i]
	pc := idx.positives(i)
	var sp, sn float64
	var cp, cn, np, nn int
	pos := func(x T) {
		np++
		if t := ps*x + pa; t > 0 {
			if v := hinge1(t, h.Squared); v > 0 {
				sp += float64(v)
				cp++
			}
		}
	}
	neg := func(x T) {
		nn++
		if t := ns*x + na; t > 0 {
			if v := hinge1(t, h.Squared); v > 0 {
				sn += float64(v)
				cn++
			}
		}
	}
	for j, x := range xa {
		if j == i {
			continue
		}
		if la[j] == li {
			pos(x)
		} else {
			neg(x)
		}
	}
	u := tmp[0][:len(xr)]
	copy(u, xr)
	off := T(math.Inf(-1)) // ns·off + na = −∞: no negative term
	if ns < 0 {
		off = T(math.Inf(1))
	}
	for _, j := range pc {
		u[j] = off
	}
	var s0, s1 float64
	var c0, c1 int
	n := len(u) &^ 1
	for j := 0; j < n; j += 2 {
		v := u[j : j+2 : j+2]
		if t := ns*v[0] + na; t > 0 {
			if w := hinge1(t, h.Squared); w > 0 {
				s0 += float64(w)
				c0++
			}
		}
		if t := ns*v[1] + na; t > 0 {
			if w := hinge1(t, h.Squared); w > 0 {
				s1 += float64(w)
				c1++
			}
		}
	}
	if n < len(u) {
		if t := ns*u[n] + na; t > 0 {
			if w := hinge1(t, h.Squared); w > 0 {
				s0 += float64(w)
				c0++
			}
		}
	}
	sn += s0 + s1
	cn += c0 + c1
	nn += len(xr) - len(pc)
	for _, j := range pc {
		pos(xr[j])
	}
	st[0], st[1], st[2], st[3], st[4], st[5] = T(sp), T(cp), T(sn), T(cn), T(np), T(nn)
}

// hingeGradFast is hingeGradRow for the reference part without empty
// slots: every column is written as a negative, then the positives
// (listed by idx) are overwritten.
func hingeGradFast[T float](i int, ref bool, h RefHinges, x []T, la, lr []int, idx *refIndex, kp, kn float64, dx []T) {
	if !ref || !idx.valid {
		hingeGradRow(i, ref, h, x, la, lr, kp, kn, dx)
		return
	}
	ps, pa, ns, na := T(h.PosScale), T(h.PosOffset), T(h.NegScale), T(h.NegOffset)
	gp, gn := T(kp*h.PosScale), T(kn*h.NegScale)
	dx = dx[:len(x)]
	if h.Squared {
		gn2 := 2 * gn
		for j, v := range x {
			dx[j] = gn2 * max(ns*v+na, 0)
		}
	} else {
		for j, v := range x {
			var d T
			if ns*v+na > 0 {
				d = gn
			}
			dx[j] = d
		}
	}
	for _, j := range idx.positives(i) {
		var d T
		if t := ps*x[j] + pa; t > 0 {
			d = gp
			if h.Squared {
				d *= 2 * t
			}
		}
		dx[j] = d
	}
}
