package graph

import (
	"fmt"
	"math"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph/vmath"
)

// Losses of a batch against itself and a reference set (a cross-batch
// memory or a MoCo queue, Wang et al. 2020; He et al. 2020), each in three
// ops that never concatenate the batch's B×B matrix with the reference
// set's B×R one nor build a label mask: a forward-only op that reads each
// row of the two matrices a few times while it is in cache (the reference
// set's columns grouped by label once per run, refIndex, so that a full
// reference set needs no label test per column) and writes a few numbers
// per row (NT-Xent also the row's exponentials, which its derivative
// reuses); a scalar op that reduces those; and one derivative op per
// matrix that makes one pass. The composition they replace (a
// concatenated matrix, two concatenated masks, a scale, a masked
// log-sum-exp or hinge sums and counts, each with its gradient) makes
// about twenty passes over B×(B+R) values.
//
// The pairs are those of package losses' reference sets: (i, j) with j a
// row of the batch other than i, or a row of the reference set whose label
// is ≥ 0 (a negative label marks an empty slot of a Queue, which pairs
// with nothing); positive when the labels agree, negative otherwise.

// RefReduction says how RefContrastive reduces its terms.
type RefReduction int

const (
	// RefSum adds the terms.
	RefSum RefReduction = iota
	// RefMean divides by the number of pairs considered (at least 1).
	RefMean
	// RefMeanNonZero divides by the number of strictly positive terms (at
	// least 1).
	RefMeanNonZero
)

func (r RefReduction) String() string {
	switch r {
	case RefSum:
		return "sum"
	case RefMean:
		return "mean"
	case RefMeanNonZero:
		return "mean-nonzero"
	}
	return fmt.Sprintf("RefReduction(%d)", int(r))
}

// RefHinges are the hinge terms of RefContrastive: a positive pair with
// matrix entry x costs h(PosScale·x + PosOffset), a negative pair
// h(NegScale·x + NegOffset), with h(t) = max(0, t), squared when Squared.
type RefHinges struct {
	PosScale, PosOffset, NegScale, NegOffset float64
	Squared                                  bool
	Reduction                                RefReduction
	// Balanced reduces the positive and the negative terms separately and
	// adds the two; otherwise they are one pool.
	Balanced bool
}

// refOps numbers the ops of every reference loss (their closures own
// buffers; two of them must never be merged).
var refOps atomic.Int64

// checkRef checks a (B×B), r (B×R) of one float dtype and the Int labels
// (B) and refLabels (R) of one graph.
func checkRef(what string, a, r, labels, refLabels *G.Node) (b, c int, err error) {
	for _, n := range []*G.Node{a, r, labels, refLabels} {
		if n == nil {
			return 0, 0, fmt.Errorf("graph: %s: nil input", what)
		}
	}
	if _, err := FloatDtype(what+" matrix", a); err != nil {
		return 0, 0, err
	}
	sa, sr := a.Shape(), r.Shape()
	if len(sa) != 2 || len(sr) != 2 || sa[0] != sa[1] || sr[0] != sa[0] || r.Dtype() != a.Dtype() {
		return 0, 0, fmt.Errorf("graph: %s: matrices are %v %v and %v %v; want B×B and B×R of one dtype", what, a.Dtype(), sa, r.Dtype(), sr)
	}
	if err := CheckLabels(labels, sa[0]); err != nil {
		return 0, 0, fmt.Errorf("graph: %s: %w", what, err)
	}
	if err := CheckLabels(refLabels, sr[1]); err != nil {
		return 0, 0, fmt.Errorf("graph: %s: reference %w", what, err)
	}
	if err := sameGraph(a, r, labels, refLabels); err != nil {
		return 0, 0, err
	}
	return sa[0], sr[1], nil
}

// refKernel is what distinguishes the reference losses.
type refKernel struct {
	name  string
	stats int // numbers per row
	// wide rows hold, before the stats, B + R values per row for the
	// derivative ops (the B×(B+R) exponentials of NT-Xent)
	wide bool
	// row32/row64 write row i's stats (after its B + R wide values, when
	// wide) into st from its batch part xa (B values) and reference part xr
	// (R values); tmp holds two scratch rows of B + R values.
	row32 func(i int, xa, xr []float32, la, lr []int, idx *refIndex, st []float32, tmp *[2][]float32)
	row64 func(i int, xa, xr []float64, la, lr []int, idx *refIndex, st []float64, tmp *[2][]float64)
	// value reduces the per-row stats (B×stats) to the loss.
	value func(st []float64) float64
	// grad32/grad64 write the gradient of part x (the batch's when ref is
	// false) of row i, times g, from the row's stats st, all rows' stats
	// and u, the row's wide values of this part (nil unless wide).
	grad32 func(i int, ref bool, x []float32, la, lr []int, idx *refIndex, st, all []float64, g float64, dx []float32, tmp *[2][]float32, u []float32)
	grad64 func(i int, ref bool, x []float64, la, lr []int, idx *refIndex, st, all []float64, g float64, dx []float64, tmp *[2][]float64, u []float64)
}

// refLoss builds the three kinds of op of a reference loss.
func refLoss(k *refKernel, a, r, labels, refLabels *G.Node) (*G.Node, error) {
	b, c, err := checkRef(k.name, a, r, labels, refLabels)
	if err != nil {
		return nil, err
	}
	dt := a.Dtype()
	stride := k.stats
	if k.wide {
		stride += b + c
	}
	id := refOps.Add(1)
	name := fmt.Sprintf("%s#%d(%dx%d)", k.name, id, b, c)
	var sbuf reused
	var sidx refIndex
	stats, err := apply(name+"-stats", dt, 2,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b, stride}, nil },
		func(in []G.Value) (G.Value, error) {
			la, lr, err := refLabelsOf(name, in[2], in[3], b, c)
			if err != nil {
				return nil, err
			}
			switch xa := data(in[0]).(type) {
			case []float32:
				t, st := reuse[float32](&sbuf, dt, b, stride)
				err := refRows(name, b, c, stride, xa, data(in[1]), la, lr, &sidx, st, k.row32)
				return t, err
			case []float64:
				t, st := reuse[float64](&sbuf, dt, b, stride)
				err := refRows(name, b, c, stride, xa, data(in[1]), la, lr, &sidx, st, k.row64)
				return t, err
			}
			return nil, fmt.Errorf("graph: %s: unsupported dtype %v", name, dt)
		}, a, r, labels, refLabels)
	if err != nil {
		return nil, err
	}
	o := &fusedOp{opBase: opBase{dt: dt, shape: tensor.ScalarShape()}, name: name}
	o.wrt = []bool{true, true, false, false, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		res := make(G.Nodes, 5)
		for w, cols := range []int{b, c} {
			var gbuf reused
			var gidx refIndex
			n, err := apply(fmt.Sprintf("%s_d%d", name, w), dt, 2,
				func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b, cols}, nil },
				func(v []G.Value) (G.Value, error) {
					la, lr, err := refLabelsOf(name, v[2], v[3], b, c)
					if err != nil {
						return nil, err
					}
					g, err := scalarOf(v[5])
					if err != nil {
						return nil, fmt.Errorf("graph: %s gradient: %w", name, err)
					}
					switch x := data(v[w]).(type) {
					case []float32:
						t, dx := reuse[float32](&gbuf, dt, b, cols)
						return t, refGrad(name, w == 1, b, c, stride, k.stats, x, data(v[4]), la, lr, &gidx, g, dx, k.grad32)
					case []float64:
						t, dx := reuse[float64](&gbuf, dt, b, cols)
						return t, refGrad(name, w == 1, b, c, stride, k.stats, x, data(v[4]), la, lr, &gidx, g, dx, k.grad64)
					}
					return nil, fmt.Errorf("graph: %s gradient: unsupported dtype %v", name, dt)
				}, in[0], in[1], in[2], in[3], in[4], grad)
			if err != nil {
				return nil, err
			}
			res[w] = n
		}
		return res, nil
	}
	var all []float64
	return applyScalar(o, func(in []G.Value) (G.Value, error) {
		all, err = statsOf(name, data(in[4]), b, stride, k.stats, all)
		if err != nil {
			return nil, err
		}
		v := k.value(all)
		if dt == tensor.Float32 {
			return G.NewF32(float32(v)), nil
		}
		return G.NewF64(v), nil
	}, a, r, labels, refLabels, stats)
}

// refLabelsOf returns the label slices of the batch (b) and the reference
// set (c).
func refLabelsOf(name string, la, lr G.Value, b, c int) ([]int, []int, error) {
	a, ok1 := la.Data().([]int)
	r, ok2 := lr.Data().([]int)
	if !ok1 || !ok2 || len(a) != b || len(r) != c {
		return nil, nil, fmt.Errorf("graph: %s: labels are %T and %T; want %d and %d ints", name, la.Data(), lr.Data(), b, c)
	}
	return a, r, nil
}

// scalarOf returns a scalar value (a loss's output gradient) as float64.
func scalarOf(v G.Value) (float64, error) {
	switch d := data(v).(type) {
	case float32:
		return float64(d), nil
	case float64:
		return d, nil
	case []float32:
		if len(d) == 1 {
			return float64(d[0]), nil
		}
	case []float64:
		if len(d) == 1 {
			return d[0], nil
		}
	}
	return 0, fmt.Errorf("want a scalar gradient, got %T", v.Data())
}

// statsOf copies the per-row stats (the last ns of each of b rows of
// stride values) into a float64 slice (b×ns).
func statsOf(name string, st any, b, stride, ns int, buf []float64) ([]float64, error) {
	n := b * ns
	if cap(buf) < n {
		buf = make([]float64, n)
	}
	buf = buf[:n]
	switch s := st.(type) {
	case []float32:
		if len(s) == b*stride {
			for i := 0; i < b; i++ {
				for q, v := range s[(i+1)*stride-ns : (i+1)*stride] {
					buf[i*ns+q] = float64(v)
				}
			}
			return buf, nil
		}
	case []float64:
		if len(s) == b*stride {
			for i := 0; i < b; i++ {
				copy(buf[i*ns:(i+1)*ns], s[(i+1)*stride-ns:(i+1)*stride])
			}
			return buf, nil
		}
	}
	return nil, fmt.Errorf("graph: %s: stats hold %T; want %d×%d values", name, st, b, stride)
}

func refRows[T float](name string, b, c, ns int, xa []T, xr any, la, lr []int, idx *refIndex, st []T,
	row func(int, []T, []T, []int, []int, *refIndex, []T, *[2][]T)) error {
	r, ok := xr.([]T)
	if !ok || len(r) != b*c || len(xa) != b*b {
		return fmt.Errorf("graph: %s: matrices hold %d and %T values; want %d and %d", name, len(xa), xr, b*b, b*c)
	}
	idx.build(la, lr)
	parallelRows(b, b+c, func(lo, hi int) {
		tmp := [2][]T{make([]T, b+c), make([]T, b+c)}
		for i := lo; i < hi; i++ {
			row(i, xa[i*b:(i+1)*b], r[i*c:(i+1)*c], la, lr, idx, st[i*ns:(i+1)*ns], &tmp)
		}
	})
	return nil
}

func refGrad[T float](name string, ref bool, b, c, stride, ns int, x []T, st any, la, lr []int, idx *refIndex, g float64, dx []T,
	grad func(int, bool, []T, []int, []int, *refIndex, []float64, []float64, float64, []T, *[2][]T, []T)) error {
	all, err := statsOf(name, st, b, stride, ns, nil)
	if err != nil {
		return err
	}
	wide, _ := st.([]T) // the type was checked by statsOf
	cols, u0 := b, 0    // this part's columns, and where its wide values start
	if ref {
		cols, u0 = c, b
	}
	if len(x) != b*cols {
		return fmt.Errorf("graph: %s gradient: matrix holds %d values; want %d", name, len(x), b*cols)
	}
	if ref {
		idx.build(la, lr)
	}
	parallelRows(b, cols, func(lo, hi int) {
		var tmp [2][]T // no derivative kernel needs scratch rows
		for i := lo; i < hi; i++ {
			var u []T
			if stride > ns {
				u = wide[i*stride+u0 : i*stride+u0+cols]
			}
			grad(i, ref, x[i*cols:(i+1)*cols], la, lr, idx, all[i*ns:(i+1)*ns], all, g, dx[i*cols:(i+1)*cols], &tmp, u)
		}
	})
	return nil
}

// pairClass returns +1 for a positive pair, −1 for a negative one and 0
// for none, for batch row i against column j of the batch (ref false) or
// of the reference set.
func pairClass(li, j, i int, lj int, ref bool) int {
	switch {
	case ref && lj < 0, !ref && j == i:
		return 0
	case lj == li:
		return 1
	}
	return -1
}

// ---- NT-Xent against a reference set ----

// RefNTXent is NT-Xent (Chen et al. 2020; InfoNCE, van den Oord et al.
// 2018) of a batch against itself and a reference set, from the raw
// matrices a (B×B, the batch against the batch) and r (B×R, the batch
// against the reference set) and the labels: with z = scale·x,
//
//	lse_i = log Σ_{k neg of i} e^{z_ik}
//	L = Σ_{i with a negative} Σ_{j pos of i} softplus(lse_i − z_ij)  [/ max(#positive pairs, 1) when mean]
//
// (the positive pairs of rows without a negative count in the divisor, as
// in losses.NTXent). The gradient with respect to a and r is
//
//	∂L/∂x_ij = scale·k·( −σ(lse_i − z_ij) for a positive, S_i·e^{z_ij − lse_i} for a negative )
//
// with S_i = Σ_{j pos} σ(lse_i − z_ij) and k the divisor's inverse. One
// exponential per pair: the forward op keeps e^{z − m} (m a row shift) in
// its B×(B+R+5) output and the derivative ops scale it. float32
// exponentials use package vmath; sums are float64. Memory: one
// B×(B+R+5) buffer and the two gradients, reused from run to run.
func RefNTXent(a, r, labels, refLabels *G.Node, scale float64, mean bool) (*G.Node, error) {
	if math.IsNaN(scale) || math.IsInf(scale, 0) || scale == 0 {
		return nil, fmt.Errorf("graph: ref nt-xent: scale is %v; want a finite non-zero value", scale)
	}
	k := &refKernel{name: fmt.Sprintf("refntxent(scale=%v,mean=%t)", scale, mean), stats: 5, wide: true}
	k.row32 = func(i int, xa, xr []float32, la, lr []int, idx *refIndex, st []float32, tmp *[2][]float32) {
		ntxentRowFast(i, scale, xa, xr, la, lr, idx, st, tmp)
	}
	k.row64 = func(i int, xa, xr []float64, la, lr []int, idx *refIndex, st []float64, tmp *[2][]float64) {
		ntxentRowFast(i, scale, xa, xr, la, lr, idx, st, tmp)
	}
	// stats per row: the shift m and log Σ_neg e^{z − m} (lse is their
	// sum, kept apart so that z − lse loses nothing to lse's rounding), S,
	// ℓ (the row's sum), #positives
	k.value = func(st []float64) float64 {
		var s, n float64
		for i := 0; i < len(st); i += 5 {
			s += st[i+3]
			n += st[i+4]
		}
		if mean {
			s /= max(n, 1)
		}
		return s
	}
	coef := func(all []float64, g float64) float64 {
		if !mean {
			return g * scale
		}
		var n float64
		for i := 4; i < len(all); i += 5 {
			n += all[i]
		}
		return g * scale / max(n, 1)
	}
	k.grad32 = func(i int, ref bool, _ []float32, la, lr []int, idx *refIndex, st, all []float64, g float64, dx []float32, _ *[2][]float32, u []float32) {
		ntxentGradU(i, ref, la, lr, idx, st, coef(all, g), dx, u)
	}
	k.grad64 = func(i int, ref bool, _ []float64, la, lr []int, idx *refIndex, st, all []float64, g float64, dx []float64, _ *[2][]float64, u []float64) {
		ntxentGradU(i, ref, la, lr, idx, st, coef(all, g), dx, u)
	}
	return refLoss(k, a, r, labels, refLabels)
}

// expInPlace sets v[j] = e^{v[j]}: vmath for float32, package math for
// float64.
func expInPlace[T float](v []T) {
	if w, ok := any(v).([]float32); ok {
		vmath.Exp(w, w)
		return
	}
	for j, t := range v {
		v[j] = T(math.Exp(float64(t)))
	}
}

// expInto sets dst[j] = e^{src[j]} (dst at least as long as src).
func expInto[T float](dst, src []T) {
	if w, ok := any(src).([]float32); ok {
		vmath.Exp(any(dst).([]float32), w)
		return
	}
	for j, t := range src {
		dst[j] = T(math.Exp(float64(t)))
	}
}

// softplusSigmoid returns softplus(t) = log(1 + e^t) and σ(t), stable for
// any t, from one exponential.
func softplusSigmoid[T float](t T) (T, T) {
	if is32[T]() {
		a := float32(math.Abs(float64(t)))
		e := vmath.Exp1(-a)
		sp := max(float32(t), 0) + vmath.Log1p1(e)
		if t >= 0 {
			return T(sp), T(1 / (1 + e))
		}
		return T(sp), T(e / (1 + e))
	}
	e := math.Exp(-math.Abs(float64(t)))
	sp := max(float64(t), 0) + math.Log1p(e)
	if t >= 0 {
		return T(sp), T(1 / (1 + e))
	}
	return T(sp), T(e / (1 + e))
}

// ntxentRow writes row i's wide values u_j = e^{z_ij − m} (B + R of them,
// m the largest logit among the negatives) and its stats (m, log Σ_neg u,
// S, ℓ, #positives) into row.
func ntxentRow[T float](i int, scale float64, xa, xr []T, la, lr []int, row []T) {
	c := T(scale)
	li := la[i]
	b := len(xa)
	u, st := row[:b+len(xr)], row[b+len(xr):]
	// the largest logit among the negatives
	m, has := T(0), false
	for j, x := range xa {
		if j != i && la[j] != li && (!has || c*x > m) {
			m, has = c*x, true
		}
	}
	for j, x := range xr {
		if l := lr[j]; l >= 0 && l != li && (!has || c*x > m) {
			m, has = c*x, true
		}
	}
	npos := 0
	for j := range xa {
		if j != i && la[j] == li {
			npos++
		}
	}
	for _, l := range lr {
		if l == li {
			npos++
		}
	}
	st[4] = T(npos)
	if !has {
		st[0], st[1], st[2], st[3] = 0, 0, 0, 0
		clear(u)
		return
	}
	for j, x := range xa {
		u[j] = c*x - m
	}
	for j, x := range xr {
		u[b+j] = c*x - m
	}
	expInPlace(u)
	var s float64
	for j := range xa {
		if j != i && la[j] != li {
			s += float64(u[j])
		}
	}
	for j, l := range lr {
		if l >= 0 && l != li {
			s += float64(u[b+j])
		}
	}
	ls := T(math.Log(s))
	var sum, sig float64
	for j, x := range xa {
		if j != i && la[j] == li {
			sp, sg := softplusSigmoid((m - c*x) + ls)
			sum += float64(sp)
			sig += float64(sg)
		}
	}
	for j, x := range xr {
		if lr[j] == li {
			sp, sg := softplusSigmoid((m - c*x) + ls)
			sum += float64(sp)
			sig += float64(sg)
		}
	}
	st[0], st[1], st[2], st[3] = m, ls, T(sig), T(sum)
}

// ntxentGradU writes row i's gradient of one part (the batch's or the
// reference set's columns) from that part's wide values u = e^{z − m}:
// with e^{z − lse} = u·e^{−ls},
//
//	k·S·e^{−ls}·u for a negative,  −k/(1 + u·e^{−ls}) for a positive
//
// (σ(lse − z) = 1/(1 + e^{z − lse}); u may be +Inf for a positive far
// above the negatives, which gives 0). With a full reference set the
// reference part is written as negatives in one pass and the positives
// (listed by idx) overwritten.
func ntxentGradU[T float](i int, ref bool, la, lr []int, idx *refIndex, st []float64, k float64, dx, u []T) {
	dx = dx[:len(u)]
	if st[2] == 0 || k == 0 { // no negative, or no positive: no gradient
		clear(dx)
		return
	}
	einv := math.Exp(-st[1])
	kn, kp, e := T(k*st[2]*einv), T(k), T(einv)
	if ref && idx.valid {
		for j, v := range u {
			dx[j] = kn * v
		}
		for _, j := range idx.positives(i) {
			dx[j] = -kp / (1 + u[j]*e)
		}
		return
	}
	li := la[i]
	labels := la
	if ref {
		labels = lr
	}
	for j, l := range labels {
		switch pairClass(li, j, i, l, ref) {
		case 1:
			dx[j] = -kp / (1 + u[j]*e)
		case -1:
			dx[j] = kn * u[j]
		default:
			dx[j] = 0
		}
	}
}

// ---- contrastive hinges against a reference set ----

// RefContrastive is the contrastive loss (Hadsell et al. 2006) of a batch
// against itself and a reference set, from the raw matrices a (B×B) and r
// (B×R) and the labels: a positive pair costs h(PosScale·x + PosOffset), a
// negative pair h(NegScale·x + NegOffset), reduced by h.Reduction
// (separately for the two kinds when Balanced, then added). It is
// losses.Contrastive's hinge sums (HingeSum, HingeCount) over the
// concatenated matrix and label masks, in one pass per row forward and one
// per matrix backward.
func RefContrastive(a, r, labels, refLabels *G.Node, h RefHinges) (*G.Node, error) {
	for _, v := range []float64{h.PosScale, h.PosOffset, h.NegScale, h.NegOffset} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("graph: ref contrastive: scales and offsets must be finite; got %+v", h)
		}
	}
	if h.Reduction < RefSum || h.Reduction > RefMeanNonZero {
		return nil, fmt.Errorf("graph: ref contrastive: unknown reduction %v", h.Reduction)
	}
	k := &refKernel{name: fmt.Sprintf("refcontrastive(%+v)", h), stats: 6}
	k.row32 = func(i int, xa, xr []float32, la, lr []int, idx *refIndex, st []float32, tmp *[2][]float32) {
		hingeRowFast(i, h, xa, xr, la, lr, idx, st, tmp)
	}
	k.row64 = func(i int, xa, xr []float64, la, lr []int, idx *refIndex, st []float64, tmp *[2][]float64) {
		hingeRowFast(i, h, xa, xr, la, lr, idx, st, tmp)
	}
	// stats per row: Σ pos terms, #pos terms > 0, Σ neg terms, #neg > 0, #pos, #neg
	sums := func(st []float64) (t [6]float64) {
		for i := 0; i < len(st); i += 6 {
			for q := range t {
				t[q] += st[i+q]
			}
		}
		return t
	}
	// coefficients of the positive and negative sums in the loss
	coefs := func(st []float64) (float64, float64) {
		t := sums(st)
		var dp, dn float64
		switch h.Reduction {
		case RefSum:
			return 1, 1
		case RefMean:
			dp, dn = t[4], t[5]
		default:
			dp, dn = t[1], t[3]
		}
		if h.Balanced {
			return 1 / max(dp, 1), 1 / max(dn, 1)
		}
		d := 1 / max(dp+dn, 1)
		return d, d
	}
	k.value = func(st []float64) float64 {
		t := sums(st)
		kp, kn := coefs(st)
		if !h.Balanced && h.Reduction != RefSum {
			return (t[0] + t[2]) * kp
		}
		return t[0]*kp + t[2]*kn
	}
	k.grad32 = func(i int, ref bool, x []float32, la, lr []int, idx *refIndex, _, all []float64, g float64, dx []float32, _ *[2][]float32, _ []float32) {
		kp, kn := coefs(all)
		hingeGradFast(i, ref, h, x, la, lr, idx, g*kp, g*kn, dx)
	}
	k.grad64 = func(i int, ref bool, x []float64, la, lr []int, idx *refIndex, _, all []float64, g float64, dx []float64, _ *[2][]float64, _ []float64) {
		kp, kn := coefs(all)
		hingeGradFast(i, ref, h, x, la, lr, idx, g*kp, g*kn, dx)
	}
	return refLoss(k, a, r, labels, refLabels)
}

// hinge1 returns h(t) (t > 0 assumed by the caller's test).
func hinge1[T float](t T, squared bool) T {
	if squared {
		return t * t
	}
	return t
}

func hingeRow[T float](i int, h RefHinges, xa, xr []T, la, lr []int, st []T) {
	ps, pa, ns, na := T(h.PosScale), T(h.PosOffset), T(h.NegScale), T(h.NegOffset)
	li := la[i]
	var sp, sn float64
	var cp, cn, np, nn int
	term := func(class int, x T) {
		switch class {
		case 1:
			np++
			if t := ps*x + pa; t > 0 {
				if v := hinge1(t, h.Squared); v > 0 {
					sp += float64(v)
					cp++
				}
			}
		case -1:
			nn++
			if t := ns*x + na; t > 0 {
				if v := hinge1(t, h.Squared); v > 0 {
					sn += float64(v)
					cn++
				}
			}
		}
	}
	for j, x := range xa {
		term(pairClass(li, j, i, la[j], false), x)
	}
	for j, x := range xr {
		term(pairClass(li, j, i, lr[j], true), x)
	}
	st[0], st[1], st[2], st[3], st[4], st[5] = T(sp), T(cp), T(sn), T(cn), T(np), T(nn)
}

func hingeGradRow[T float](i int, ref bool, h RefHinges, x []T, la, lr []int, kp, kn float64, dx []T) {
	ps, pa, ns, na := T(h.PosScale), T(h.PosOffset), T(h.NegScale), T(h.NegOffset)
	gp, gn := T(kp*h.PosScale), T(kn*h.NegScale)
	li := la[i]
	ls := la
	if ref {
		ls = lr
	}
	for j, l := range ls {
		var d T
		switch pairClass(li, j, i, l, ref) {
		case 1:
			if t := ps*x[j] + pa; t > 0 {
				d = gp
				if h.Squared {
					d *= 2 * t
				}
			}
		case -1:
			if t := ns*x[j] + na; t > 0 {
				d = gn
				if h.Squared {
					d *= 2 * t
				}
			}
		}
		dx[j] = d
	}
}
