package eval

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"

	"github.com/contrastive-go/contrastive/graph/gemm"
)

// Tile sizes for the float32 matrix product (graph/gemm's Sgemm, which runs
// on the calling goroutine, so the parallelism stays under Options.Workers'
// control). Each tile of references is copied, moved and transposed
// (dim × 192, 48 KiB at dim 64) and stays in cache while the 64 queries
// stream past it. The tiles were sized for gonum's Sgemm (serial below 4 of
// its 64×64 blocks, faster on NoTrans×NoTrans); graph/gemm packs both
// operands itself, so the transposed copy only serves the moving.
const (
	tileQueries = 64
	tileRefs    = 192
)

// maxAnchors is the largest number of reference labels for which queries
// are grouped by their nearest label mean before being cut into blocks.
const maxAnchors = 64

// problem is the read-only state shared by the workers.
type problem struct {
	q, r   []float32
	ql, rl []int
	dim    int
	nq, nr int
	self   bool // queries and refs are the same rows; skip index i for query i
	k      int

	// depth is the number of nearest references the retrieval metrics
	// read (PML's k); full says that MAP or MRR is wanted, so every query
	// ranks its depth nearest references, not only max(min(R, depth), k).
	depth            int
	full             bool // wantMAP || wantMRR
	wantMAP, wantMRR bool
	perClass         bool

	count map[int]int // references per label

	// order lists the queries grouped so that each block's queries lie
	// near one another; block b is order[bounds[b]:bounds[b+1]].
	order  []int32
	bounds []int

	res []result
}

// result holds one query's metrics; they are summed in query order at the
// end so that the report does not depend on the number of workers.
type result struct {
	p1, rprec, ap float64
	mapk, rr      float64 // average precision and reciprocal rank within depth
	knn           bool
	excluded      bool
}

func newProblem(q []float32, ql []int, r []float32, rl []int, dim, nq, nr int, self bool, k int) *problem {
	avail := nr
	if self {
		avail--
	}
	p := &problem{q: q, r: r, ql: ql, rl: rl, dim: dim, nq: nq, nr: nr, self: self, k: k, depth: avail,
		count: make(map[int]int), res: make([]result, nq)}
	for _, l := range rl {
		p.count[l]++
	}
	return p
}

// plan fills p.order and p.bounds for blocks of at most bs queries.
//
// The float32 distances are computed after moving each block's queries and
// all references by the block's mean query (distances do not change), and
// their error bound shrinks with the norms of the moved vectors, so a block
// should hold queries that lie near one another. With at most maxAnchors
// reference labels, each query is assigned to the nearest mean of a
// label's references (ties to the lower label), queries are ordered by
// that label and then by index, and blocks never span two labels; with
// more labels, blocks are cut from the queries in index order. Either way
// the grouping only affects speed: the metrics are exact for any blocks.
func (p *problem) plan(bs int) {
	dim := p.dim
	group := make([]int32, p.nq)
	labels := make([]int, 0, len(p.count))
	for l := range p.count {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	ng := 1
	if len(labels) > 1 && len(labels) <= maxAnchors {
		ng = len(labels)
		slot := make(map[int]int, ng)
		for a, l := range labels {
			slot[l] = a
		}
		means := make([]float64, ng*dim)
		for j, l := range p.rl {
			a := slot[l]
			for t, v := range p.r[j*dim : (j+1)*dim] {
				means[a*dim+t] += float64(v)
			}
		}
		for a, l := range labels {
			for t := range dim {
				means[a*dim+t] /= float64(p.count[l])
			}
		}
		for i := range p.nq {
			qv := p.q[i*dim : (i+1)*dim]
			best, bestD := 0, math.Inf(1)
			for a := range ng {
				var d float64
				for t, v := range qv {
					x := float64(v) - means[a*dim+t]
					d += x * x
				}
				if d < bestD {
					best, bestD = a, d
				}
			}
			group[i] = int32(best)
		}
	}
	// Counting sort by group, stable in query index.
	start := make([]int, ng+1)
	for _, g := range group {
		start[g+1]++
	}
	for g := range ng {
		start[g+1] += start[g]
	}
	p.order = make([]int32, p.nq)
	next := slices.Clone(start[:ng])
	for i, g := range group {
		p.order[next[g]] = int32(i)
		next[g]++
	}
	p.bounds = p.bounds[:0]
	for g := range ng {
		for b := start[g]; b < start[g+1]; b += bs {
			p.bounds = append(p.bounds, b)
		}
	}
	p.bounds = append(p.bounds, p.nq)
}

// run evaluates every query and averages the results.
func (p *problem) run(opt Options) Report {
	bs := blockSize(opt, p.nq, p.nr)
	p.plan(bs)
	nb := len(p.bounds) - 1
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers(opt, nb) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(p, bs)
			for {
				b := int(next.Add(1)) - 1
				if b >= nb {
					return
				}
				p.block(w, p.order[p.bounds[b]:p.bounds[b+1]])
			}
		}()
	}
	wg.Wait()

	rep := Report{Queries: p.nq, K: p.k, Depth: p.depth}
	for _, r := range p.res {
		if r.excluded {
			rep.Excluded++
		}
	}
	rep.KNNAccuracy = p.mean(false, func(r *result) float64 {
		if r.knn {
			return 1
		}
		return 0
	})
	rep.PrecisionAt1 = p.mean(true, func(r *result) float64 { return r.p1 })
	rep.RPrecision = p.mean(true, func(r *result) float64 { return r.rprec })
	rep.MAPAtR = p.mean(true, func(r *result) float64 { return r.ap })
	rep.MAP = p.mean(true, func(r *result) float64 { return r.mapk })
	rep.MRR = p.mean(true, func(r *result) float64 { return r.rr })
	return rep
}

// mean averages f over the queries, leaving out the excluded ones if
// skip, in query order; with p.perClass it averages f over the queries of
// each label, then the labels' means in increasing label order. It is NaN
// when no query is left.
func (p *problem) mean(skip bool, f func(*result) float64) float64 {
	if !p.perClass {
		var s float64
		n := 0
		for i := range p.res {
			if r := &p.res[i]; !skip || !r.excluded {
				s += f(r)
				n++
			}
		}
		if n == 0 {
			return math.NaN()
		}
		return s / float64(n)
	}
	type acc struct {
		s float64
		n int
	}
	byLabel := map[int]*acc{}
	for i := range p.res {
		if r := &p.res[i]; !skip || !r.excluded {
			a := byLabel[p.ql[i]]
			if a == nil {
				a = &acc{}
				byLabel[p.ql[i]] = a
			}
			a.s += f(r)
			a.n++
		}
	}
	if len(byLabel) == 0 {
		return math.NaN()
	}
	labels := make([]int, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	var s float64
	for _, l := range labels {
		a := byLabel[l]
		s += a.s / float64(a.n)
	}
	return s / float64(len(labels))
}

// worker holds one goroutine's scratch space.
type worker struct {
	dist    []float32 // block of distances, queries × references
	centre  []float32 // the block's mean query
	c64     []float64
	moved   bool      // centre is not 0
	qc      []float32 // the block's queries minus centre
	qn      []float64 // their squared norms
	rc      []float32 // one tile of references minus centre
	rn      []float32 // squared norms of all references minus centre
	hist    [2048]int32
	hist2   [2048]int32
	scratch []uint32
	cands   []cand
	tmp     []cand
	unsure  []bool
	group   []exact
	q64     []float64
	votes   map[int]int
}

// cand is a candidate neighbour: its float32 distance bits and its index.
type cand struct {
	key uint32
	idx int32
}

// exact is a candidate neighbour with the distance it is sorted by.
type exact struct {
	d   float64
	idx int32
}

func newWorker(p *problem, bs int) *worker {
	return &worker{
		dist:    make([]float32, bs*p.nr),
		centre:  make([]float32, p.dim),
		c64:     make([]float64, p.dim),
		qc:      make([]float32, bs*p.dim),
		qn:      make([]float64, bs),
		rc:      make([]float32, tileRefs*p.dim),
		rn:      make([]float32, p.nr),
		scratch: make([]uint32, p.nr),
		cands:   make([]cand, p.nr),
		q64:     make([]float64, p.dim),
		votes:   make(map[int]int),
	}
}

// block evaluates the queries qs.
func (p *problem) block(w *worker, qs []int32) {
	maxRn := p.distances(w, qs)
	nr := p.nr
	for i, qi := range qs {
		p.query(w, int(qi), w.dist[i*nr:(i+1)*nr], w.qn[i], maxRn)
	}
}

// distances fills w.dist with −2q'·r' for every query of qs (one row of
// nr per query) and reference, w.qn with ‖q'‖², w.rn with ‖r'‖² rounded to
// float32, and w.moved, and returns the largest w.rn.
//
// Distances do not change when every vector is moved by the same amount,
// but the float32 rounding error of ‖q‖² + ‖r‖² − 2q·r grows with the
// norms (see errorBound). So when the block's queries lie closer to their
// mean c than to the origin (within half their largest norm), the queries
// and the references are first moved by c, rounded to float32:
// q' = fl(q − c), r' = fl(r − c), and the product is taken of those; else
// c = 0 and q' = q, r' = r. For embeddings that occupy a small region far
// from the origin (L2-normalised embeddings of a trained model, data with
// a large common offset) this shrinks the norms, and with them the error
// bound, by orders of magnitude.
func (p *problem) distances(w *worker, qs []int32) float32 {
	nb, nr, dim := len(qs), p.nr, p.dim
	clear(w.c64)
	var maxQ float64
	for _, qi := range qs {
		var s float64
		for t, v := range p.q[int(qi)*dim : (int(qi)+1)*dim] {
			w.c64[t] += float64(v)
			s += float64(v) * float64(v)
		}
		maxQ = max(maxQ, s)
	}
	for t, s := range w.c64 {
		w.centre[t] = float32(s / float64(nb))
	}
	var maxQc float64
	for i, qi := range qs {
		w.qn[i] = sub(w.qc[i*dim:(i+1)*dim], p.q[int(qi)*dim:(int(qi)+1)*dim], w.centre)
		maxQc = max(maxQc, w.qn[i])
	}
	w.moved = maxQc <= maxQ/4 // squared norms: within half the largest norm
	if !w.moved {
		clear(w.centre)
		for i, qi := range qs {
			w.qn[i] = sub(w.qc[i*dim:(i+1)*dim], p.q[int(qi)*dim:(int(qi)+1)*dim], w.centre)
		}
	}
	c := w.dist[:nb*nr]
	var maxRn float32
	for j0 := 0; j0 < nr; j0 += tileRefs {
		nj := min(tileRefs, nr-j0)
		rc := w.rc[:dim*nj] // dim × nj: the tile moved and transposed
		for j := range nj {
			var s float64
			for t, v := range p.r[(j0+j)*dim : (j0+j+1)*dim] {
				x := v - w.centre[t]
				rc[t*nj+j] = x
				s += float64(x) * float64(x)
			}
			w.rn[j0+j] = float32(s)
			maxRn = max(maxRn, float32(s))
		}
		for i0 := 0; i0 < nb; i0 += tileQueries {
			mi := min(tileQueries, nb-i0)
			gemm.Sgemm(blas.NoTrans, blas.NoTrans, mi, nj, dim,
				-2, w.qc[i0*dim:], dim, rc, nj,
				0, c[i0*nr+j0:], nr)
		}
	}
	return maxRn
}

// sub sets dst = fl(x − c) elementwise in float32 and returns ‖dst‖² in
// float64 (+Inf if a difference overflows float32).
func sub(dst, x, c []float32) float64 {
	dst, c = dst[:len(x)], c[:len(x)]
	var s float64
	for t, v := range x {
		d := v - c[t]
		dst[t] = d
		s += float64(d) * float64(d)
	}
	return s
}

// query ranks the references for query qi, given row = -2 q'·r' for every
// reference (q' and r' moved by the block's centre), the squared norm qn of
// q' and the largest squared norm maxRn of an r' (as held in w.rn), and
// records its metrics.
//
// The ranking is by the float64 squared distance d64 (sqDist64, on the
// unmoved inputs) with ties broken by lower index. Computing d64 for every
// reference would be slow, so the float32 distances
// d32 = ‖q'‖² + ‖r'‖² − 2q'·r' stand in for it where they provably give
// the same answer: |d32 − d64| ≤ e for every reference (errorBound). Then
// the m nearest references all have d32 ≤ v + 2e, where v is the m-th
// smallest d32, and two references whose d32 differ by more than 2e are in
// the same order by d64. Only references whose order can change a metric
// get their float64 distances computed (see nearest); the metrics are then
// exactly those of the float64 ranking.
func (p *problem) query(w *worker, qi int, row []float32, qn float64, maxRn float32) {
	dim := p.dim
	for t, v := range p.q[qi*dim : (qi+1)*dim] {
		w.q64[t] = float64(v)
	}
	self := -1
	if p.self {
		self = qi
	}
	label := p.ql[qi]
	rel := p.count[label]
	if p.self {
		rel--
	}
	// The ranks the metrics read: the K voters and the first min(R, depth)
	// for R-precision and MAP@R. MAP and MRR can need all depth, but
	// usually do not (see complete), so the search goes deeper only when
	// they do.
	m := max(min(rel, p.depth), p.k)

	var cands []cand
	qnorm := math.Sqrt(qn)
	if e, ok := errorBound(dim, qnorm, normOf(maxRn), w.moved); ok {
		p.distances32(w, row, qn, self)
		cands = p.nearest(w, row, qnorm, label, m, e)
		if p.full && !p.complete(label, rel, cands[:m]) {
			m = max(m, min(p.depth, p.reach(row, label, e)))
			p.histogram(w, row)
			cands = p.nearest(w, row, qnorm, label, m, e)
		}
	} else {
		// float32 could overflow (or dim ≥ 2²³ makes the bound useless):
		// rank every reference in float64.
		cands = p.nearestExact(w, self)
		if p.full {
			m = max(p.depth, p.k)
		}
	}
	p.record(w, qi, label, rel, cands[:m])
}

// reach returns a number of nearest references that includes every
// same-label reference (for MAP) and the first one (for MRR), given the
// float32 distances in row and their error bound e: the references with
// d32 ≤ t + 2e, where t is the largest d32 of a same-label reference (MAP)
// or the smallest (MRR). Every reference ranked before a same-label
// reference j has d64 ≤ d64(j) ≤ d32(j) + e, so d32 ≤ d32(j) + 2e.
func (p *problem) reach(row []float32, label int, e float64) int {
	lo, hi := float32(math.Inf(1)), float32(0)
	for j, d := range row {
		if p.rl[j] == label && !math.IsInf(float64(d), 1) {
			lo, hi = min(lo, d), max(hi, d)
		}
	}
	var t float32
	if p.wantMRR {
		t = lo
	}
	if p.wantMAP {
		t = hi
	}
	tk := below(float64(t) + 2*e)
	n := 0
	for _, d := range row {
		if math.Float32bits(d) <= tk {
			n++
		}
	}
	return n
}

// complete reports whether the m = len(top) nearest references determine
// the query's MAP and MRR (when wanted) up to depth D: m ≥ D; or, for
// MRR, a same-label reference is among them; and for MAP, its R
// same-label references are the first R (then AP = 1, and no same-label
// reference is left beyond).
func (p *problem) complete(label, rel int, top []cand) bool {
	if rel == 0 || len(top) >= p.depth {
		return true
	}
	if p.wantMRR && !slices.ContainsFunc(top, func(c cand) bool { return p.rl[c.idx] == label }) {
		return false
	}
	if p.wantMAP {
		if rel > len(top) {
			return false
		}
		for _, c := range top[:rel] {
			if p.rl[c.idx] != label {
				return false
			}
		}
	}
	return true
}

// normOf returns an upper bound on the norm of a vector whose squared norm,
// computed in float64 and rounded to float32, is sq.
func normOf(sq float32) float64 {
	return math.Sqrt(float64(sq)) * (1 + 0x1p-22)
}

// errorBound returns e ≥ |d32 − d64| for every reference whose moved
// vector r' has norm at most rn, given the norm qn of the query's moved
// vector q', the dimension, and whether the vectors were moved by a
// centre c ≠ 0, or false if float32 arithmetic could overflow.
//
// With u = 2⁻²⁴, d32 = fl(fl(‖q'‖²₃₂ + ‖r'‖²₃₂) − 2·dot₃₂) where each
// squared norm is rounded once to float32 (error ≤ u‖·‖²), the float32
// dot product of length dim has error ≤ γ_dim·Σ|q'_l r'_l| ≤ γ_dim‖q'‖‖r'‖
// with γ_dim = dim·u/(1 − dim·u) for any order of summation (Higham 2002,
// §3.1), and each of the two additions adds at most u times a magnitude
// ≤ (‖q'‖+‖r'‖)². Summing:
//
//	|d32 − ‖q'−r'‖²| ≤ u·(2(‖q'‖²+‖r'‖²) + (‖q'‖+‖r'‖)²) + 2γ_dim‖q'‖‖r'‖ + O(u²)
//	                 ≤ 3u(‖q'‖+‖r'‖)² + 2γ_dim‖q'‖‖r'‖ + O(u²).
//
// Moving by c ≠ 0 rounds once per element: q' − r' = (q − r) + δ with
// ‖δ‖ ≤ u(‖q−c‖ + ‖r−c‖) (a difference of float32 values that lands in the
// subnormal range is exact), so ‖q'−r'‖² is within 2u(‖q'‖+‖r'‖)² + O(u²)
// of d = ‖q−r‖²; with c = 0 it is d. The float64 distance d64 differs from
// d by at most about dim·2⁻⁵³·d ≤ dim·2⁻⁵³(‖q'‖+‖r'‖)². The bound below adds
// 1% for the O(u²) terms, and an absolute term for float32 underflow: each
// of the 2·dim+4 roundings loses at most 2⁻¹⁵⁰ besides its relative error,
// and the dot product's count twice.
func errorBound(dim int, qn, rn float64, moved bool) (float64, bool) {
	const u = 0x1p-24
	n := float64(dim)
	s2 := (qn + rn) * (qn + rn)
	if !(s2 <= 1e37) || n*u > 0.5 { // float32 overflows at 3.4e38
		return 0, false
	}
	gamma := n * u / (1 - n*u)
	c := 3 * u
	if moved {
		c = 5 * u
	}
	e := c*s2 + 2*gamma*qn*rn + 2*n*0x1p-53*s2
	return 1.01*e + (4*n+8)*0x1p-150, true
}

// distances32 turns row (−2q'·r' per reference) into the float32 distances
// d32 = ‖q'‖² + ‖r'‖² − 2q'·r', clamped at +0, sets row[self] (if self ≥
// 0) above every distance, and fills w.hist with the histogram of the
// distances' top bits.
func (p *problem) distances32(w *worker, row []float32, qn float64, self int) {
	// The histogram is kept in two halves so that consecutive increments
	// of one bucket do not wait on each other.
	qn32 := float32(qn)
	h0, h1 := &w.hist, &w.hist2
	clear(h0[:])
	clear(h1[:])
	rn := w.rn[:len(row)]
	j := 0
	for ; j+2 <= len(row); j += 2 {
		d0 := qn32 + rn[j] + row[j]
		d1 := qn32 + rn[j+1] + row[j+1]
		if !(d0 > 0) { // also turns -0 into +0, so the bits order like the values
			d0 = 0
		}
		if !(d1 > 0) {
			d1 = 0
		}
		row[j], row[j+1] = d0, d1
		h0[(math.Float32bits(d0)>>20)&2047]++
		h1[(math.Float32bits(d1)>>20)&2047]++
	}
	for ; j < len(row); j++ {
		d := qn32 + rn[j] + row[j]
		if !(d > 0) {
			d = 0
		}
		row[j] = d
		h0[(math.Float32bits(d)>>20)&2047]++
	}
	for b, c := range h1 {
		h0[b] += c
	}
	if self >= 0 {
		h0[math.Float32bits(row[self])>>20]--
		row[self] = float32(math.Inf(1)) // above every other distance
		h0[math.Float32bits(row[self])>>20]++
	}
}

// histogram refills w.hist with the histogram of the top bits of the
// distances row holds (after distances32; nearest clobbers it).
func (p *problem) histogram(w *worker, row []float32) {
	clear(w.hist[:])
	for _, d := range row {
		w.hist[math.Float32bits(d)>>20]++
	}
}

// nearest returns candidates whose first m ≥ k entries are the m
// nearest references, in an order that agrees with the (d64, index)
// ranking in everything the metrics read: the first k entries are the k
// nearest in order, and the sequence of same-label and other-label
// references is that of the ranking. e bounds |d32 − d64| for every
// reference; qn and qnorm are the squared norm and norm of q'.
func (p *problem) nearest(w *worker, row []float32, qnorm float64, label, m int, e float64) []cand {
	hist := &w.hist
	v := float64(math.Float32frombits(kthSmallest(row, m-1, hist, w.scratch)))

	// Candidates: d32 ≤ v + 2e, as float32 bits, in index order. e covers
	// the reference farthest from the centre; the candidates, which lie
	// near the query, usually have much smaller norms, so a bound e2 ≤ e
	// from their largest norm narrows them further (every reference that
	// can be among the m nearest is a candidate, so e2 bounds the error of
	// all that matter).
	tk := below(v + 2*e)
	cands := w.cands[:len(row)]
	n := 0
	for j, d := range row {
		k := math.Float32bits(d)
		cands[n] = cand{k, int32(j)}
		inc := 0
		if k <= tk {
			inc = 1
		}
		n += inc
	}
	var maxRn float32
	for _, c := range cands[:n] {
		maxRn = max(maxRn, w.rn[c.idx])
	}
	if e2, ok := errorBound(p.dim, qnorm, normOf(maxRn), w.moved); ok && e2 < e {
		e = e2
		tk = below(v + 2*e)
		n2 := 0
		for _, c := range cands[:n] {
			cands[n2] = c
			if c.key <= tk {
				n2++
			}
		}
		n = n2
	}
	cands = cands[:n]
	w.tmp = slices.Grow(w.tmp[:0], len(cands))[:len(cands)]
	sortCands(cands, w.tmp[:len(cands)], hist)
	w.cands = cands

	// Runs of candidates whose float32 distances are within 2e of each
	// other may be out of order; runs are in order among themselves. Only
	// the runs up to the one holding rank m matter.
	twoE := 2 * e
	d := func(i int) float64 { return float64(math.Float32frombits(cands[i].key)) }
	end := m
	for end < len(cands) && d(end)-d(end-1) <= twoE {
		end++
	}
	// A candidate is unsure, and needs its float64 distance, if it can be
	// among the k voters (d32 ≤ d32 of the k-th + 2e: the k-NN vote reads
	// labels and their order), or if a candidate of the other relevance
	// (same label as the query or not) lies within 2e of it: MAP@R and
	// R-precision read only the sequence of relevant and irrelevant
	// references, and two candidates more than 2e apart compare the same
	// way by d32 and by d64.
	unsure := slices.Grow(w.unsure[:0], end)[:end]
	w.unsure = unsure
	vk := d(p.k-1) + twoE
	lastIn, lastOut := math.Inf(-1), math.Inf(-1)
	for i := range end {
		di := d(i)
		if p.rl[cands[i].idx] == label {
			unsure[i] = di <= vk || di-lastOut <= twoE
			lastIn = di
		} else {
			unsure[i] = di <= vk || di-lastIn <= twoE
			lastOut = di
		}
	}
	nextIn, nextOut := math.Inf(1), math.Inf(1)
	for i := end - 1; i >= 0; i-- {
		di := d(i)
		if p.rl[cands[i].idx] == label {
			unsure[i] = unsure[i] || nextOut-di <= twoE
			nextIn = di
		} else {
			unsure[i] = unsure[i] || nextIn-di <= twoE
			nextOut = di
		}
	}
	// Sort each run holding an unsure candidate by d64 for the unsure ones
	// and d32 for the rest, then by index. This order puts the k nearest
	// first, in order, and agrees with the (d64, index) ranking on every
	// pair of candidates of different relevance: such a pair is either
	// both unsure, and compared by d64, or more than 2e apart, where
	// either distance orders it correctly. That fixes the sequence of
	// relevant and irrelevant references.
	for i := 0; i < end; {
		j, any := i+1, unsure[i]
		for j < end && d(j)-d(j-1) <= twoE {
			any = any || unsure[j]
			j++
		}
		if j-i > 1 && any {
			p.resolve(w, cands[i:j], unsure[i:j])
		}
		i = j
	}
	return cands
}

// below returns the bits of the largest float32 ≤ x (x ≥ 0).
func below(x float64) uint32 {
	t := float32(x)
	if float64(t) > x {
		t = math.Nextafter32(t, 0)
	}
	return math.Float32bits(t)
}

// nearestExact returns all references but self sorted by (d64, index).
func (p *problem) nearestExact(w *worker, self int) []cand {
	cands := w.cands[:0]
	for j := range p.nr {
		if j != self {
			cands = append(cands, cand{idx: int32(j)})
		}
	}
	w.cands = cands
	p.resolve(w, cands, nil)
	return cands
}

// resolve sorts cs by (d, index), where d is d64 for the candidates marked
// in unsure (all if unsure is nil) and d32 for the others.
func (p *problem) resolve(w *worker, cs []cand, unsure []bool) {
	g := w.group[:0]
	for i, c := range cs {
		var d float64
		if unsure == nil || unsure[i] {
			j := int(c.idx)
			d = sqDist64(w.q64, p.r[j*p.dim:(j+1)*p.dim])
		} else {
			d = float64(math.Float32frombits(c.key))
		}
		g = append(g, exact{d, c.idx})
	}
	w.group = g
	if len(g) <= 16 {
		for i := 1; i < len(g); i++ {
			for k := i; k > 0 && less(g[k], g[k-1]); k-- {
				g[k], g[k-1] = g[k-1], g[k]
			}
		}
	} else {
		slices.SortFunc(g, func(a, b exact) int {
			switch {
			case less(a, b):
				return -1
			case less(b, a):
				return 1
			}
			return 0
		})
	}
	for i, x := range g {
		cs[i].idx = x.idx
	}
}

func less(a, b exact) bool {
	return a.d < b.d || (a.d == b.d && a.idx < b.idx)
}

// sqDist64 is the squared Euclidean distance between q and r in float64.
// The explicit conversions keep the compiler from fusing multiply and add,
// so the result is the same on every platform.
func sqDist64(q []float64, r []float32) float64 {
	var s0, s1, s2, s3 float64
	r = r[:len(q)]
	l := 0
	for ; l+4 <= len(q); l += 4 {
		d0 := q[l] - float64(r[l])
		d1 := q[l+1] - float64(r[l+1])
		d2 := q[l+2] - float64(r[l+2])
		d3 := q[l+3] - float64(r[l+3])
		s0 += float64(d0 * d0)
		s1 += float64(d1 * d1)
		s2 += float64(d2 * d2)
		s3 += float64(d3 * d3)
	}
	for ; l < len(q); l++ {
		d := q[l] - float64(r[l])
		s0 += float64(d * d)
	}
	return (s0 + s1) + (s2 + s3)
}

// record computes query qi's metrics from its m nearest references, nearest
// first; rel is the number of references with its label.
//
// As in pytorch-metric-learning's AccuracyCalculator, with D = p.depth:
// R-precision and MAP@R read the first min(R, D) references and divide by
// min(R, D); MAP sums P(i)·rel(i) over the first D and divides by the
// number of same-label references among them (1 if none); MRR is 1/i for
// the first same-label reference at rank i ≤ D, else 0.
func (p *problem) record(w *worker, qi, label, rel int, top []cand) {
	r := &p.res[qi]
	clear(w.votes)
	for _, c := range top[:p.k] {
		w.votes[p.rl[c.idx]]++
	}
	// Of the labels with the most votes, the one whose best-ranked member
	// comes first wins.
	best, winner := 0, 0
	for _, c := range top[:p.k] {
		if l := p.rl[c.idx]; w.votes[l] > best {
			best, winner = w.votes[l], l
		}
	}
	r.knn = winner == label
	if rel == 0 {
		r.excluded = true
		return
	}
	d := min(rel, p.depth)
	hits := 0
	var ap float64
	for i, c := range top[:d] {
		if p.rl[c.idx] == label {
			hits++
			ap += float64(hits) / float64(i+1)
		}
	}
	if p.rl[top[0].idx] == label {
		r.p1 = 1
	}
	r.rprec = float64(hits) / float64(d)
	r.ap = ap / float64(d)
	if !p.full {
		return
	}
	// Continue the same sums to depth D, or as far as top reaches when
	// complete found that no same-label reference lies beyond.
	reach := min(p.depth, len(top))
	for i := d; i < reach; i++ {
		if p.rl[top[i].idx] == label {
			hits++
			ap += float64(hits) / float64(i+1)
		}
	}
	r.mapk = ap / float64(max(hits, 1))
	for i, c := range top[:reach] {
		if p.rl[c.idx] == label {
			r.rr = 1 / float64(i+1)
			break
		}
	}
}
