package eval

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Tile sizes for the float32 matrix product. Gonum's Sgemm runs serially
// (no goroutines of its own) while its operands span fewer than 4 of its
// internal 64×64 blocks, so tiles of 64 queries × 192 references keep the
// parallelism under Options.Workers' control; 192 reference rows (48 KiB
// at dim 64) also stay in cache while the 64 queries stream past them.
const (
	tileQueries = 64
	tileRefs    = 192
)

// problem is the read-only state shared by the workers.
type problem struct {
	q, r   []float32
	ql, rl []int
	dim    int
	nq, nr int
	self   bool // queries and refs are the same rows; skip index i for query i
	k      int

	rnorm   []float32   // squared norms of the references, rounded to float32
	maxNorm float64     // largest Euclidean norm of a reference
	count   map[int]int // references per label

	res []result
}

// result holds one query's metrics; they are summed in query order at the
// end so that the report does not depend on the number of workers.
type result struct {
	p1, rprec, ap float64
	knn           bool
	excluded      bool
}

func newProblem(q []float32, ql []int, r []float32, rl []int, dim, nq, nr int, self bool, k int) *problem {
	p := &problem{q: q, r: r, ql: ql, rl: rl, dim: dim, nq: nq, nr: nr, self: self, k: k,
		rnorm: make([]float32, nr), count: make(map[int]int), res: make([]result, nq)}
	for j := range nr {
		var s float64
		for _, v := range r[j*dim : (j+1)*dim] {
			s += float64(v) * float64(v)
		}
		p.rnorm[j] = float32(s)
		p.maxNorm = max(p.maxNorm, math.Sqrt(s))
		p.count[rl[j]]++
	}
	return p
}

// run evaluates every query and averages the results.
func (p *problem) run(opt Options) Report {
	bs := blockSize(opt, p.nq, p.nr)
	nb := (p.nq + bs - 1) / bs
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
				p.block(w, b*bs, min((b+1)*bs, p.nq))
			}
		}()
	}
	wg.Wait()

	rep := Report{Queries: p.nq, K: p.k}
	var p1, rprec, ap, knn float64
	for _, r := range p.res {
		if r.knn {
			knn++
		}
		if r.excluded {
			rep.Excluded++
			continue
		}
		p1 += r.p1
		rprec += r.rprec
		ap += r.ap
	}
	rep.KNNAccuracy = knn / float64(p.nq)
	n := float64(p.nq - rep.Excluded)
	if n == 0 {
		n = math.NaN()
	}
	rep.PrecisionAt1, rep.RPrecision, rep.MAPAtR = p1/n, rprec/n, ap/n
	return rep
}

// worker holds one goroutine's scratch space.
type worker struct {
	dist    []float32 // block of distances, queries × references
	hist    [2048]int32
	hist2   [2048]int32
	scratch []uint32
	cands   []cand
	tmp     []cand
	group   []exact
	q64     []float64
	votes   map[int]int
}

// cand is a candidate neighbour: its float32 distance bits and its index.
type cand struct {
	key uint32
	idx int32
}

// exact is a candidate neighbour with its float64 distance.
type exact struct {
	d   float64
	idx int32
}

func newWorker(p *problem, bs int) *worker {
	return &worker{
		dist:    make([]float32, bs*p.nr),
		scratch: make([]uint32, p.nr),
		cands:   make([]cand, p.nr),
		q64:     make([]float64, p.dim),
		votes:   make(map[int]int),
	}
}

// block evaluates queries [start, end).
func (p *problem) block(w *worker, start, end int) {
	nb, nr, dim := end-start, p.nr, p.dim
	c := w.dist[:nb*nr]
	impl := gonum.Implementation{}
	for i0 := 0; i0 < nb; i0 += tileQueries {
		mi := min(tileQueries, nb-i0)
		for j0 := 0; j0 < nr; j0 += tileRefs {
			nj := min(tileRefs, nr-j0)
			impl.Sgemm(blas.NoTrans, blas.Trans, mi, nj, dim,
				-2, p.q[(start+i0)*dim:], dim, p.r[j0*dim:], dim,
				0, c[i0*nr+j0:], nr)
		}
	}
	for i := range nb {
		p.query(w, start+i, c[i*nr:(i+1)*nr])
	}
}

// query ranks the references for query qi, given row = -2 q·r for every
// reference r, and records its metrics.
//
// The ranking is by the float64 squared distance d64 (sqDist64) with ties
// broken by lower index. Computing d64 for every reference would be slow,
// so the float32 distances d32 = ‖q‖² + ‖r‖² − 2q·r stand in for it where
// they provably give the same answer: |d32 − d64| ≤ e for every reference
// (errorBound). Then the m nearest references all have d32 ≤ v + 2e, where
// v is the m-th smallest d32, and two references whose d32 differ by more
// than 2e are in the same order by d64. Only runs of candidates closer
// than 2e to each other whose order can change a metric get their float64
// distances computed and are re-sorted; the metrics are then exactly those
// of the float64 ranking.
func (p *problem) query(w *worker, qi int, row []float32) {
	dim := p.dim
	qv := p.q[qi*dim : (qi+1)*dim]
	var qn float64
	for l, v := range qv {
		w.q64[l] = float64(v)
		qn += float64(v) * float64(v)
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
	m := max(rel, p.k)

	var cands []cand
	if e, ok := errorBound(dim, math.Sqrt(qn), p.maxNorm); ok {
		cands = p.nearest(w, row, qn, self, label, m, e)
	} else {
		// float32 could overflow (or dim ≥ 2²³ makes the bound useless):
		// rank every reference in float64.
		cands = p.nearestExact(w, self)
	}
	p.record(w, qi, label, rel, cands[:m])
}

// errorBound returns e ≥ |d32 − d64| for every reference, given the
// query's norm qn, the largest reference norm rn and the dimension, or
// false if float32 arithmetic could overflow.
//
// With u = 2⁻²⁴, d32 = fl(fl(‖q‖²₃₂ + ‖r‖²₃₂) − 2·dot₃₂) where each squared
// norm is rounded once to float32 (error ≤ u‖·‖²), the float32 dot
// product of length dim has error ≤ γ_dim·Σ|q_l r_l| ≤ γ_dim‖q‖‖r‖ with
// γ_dim = dim·u/(1 − dim·u) (Higham 2002, §3.1), and each of the two
// additions adds at most u times a magnitude ≤ (‖q‖+‖r‖)². Summing:
//
//	|d32 − d| ≤ u·(2(‖q‖²+‖r‖²) + (‖q‖+‖r‖)²) + 2γ_dim‖q‖‖r‖ + O(u²)
//	          ≤ 3u(‖q‖+‖r‖)² + 2γ_dim‖q‖‖r‖ + O(u²).
//
// The float64 distance d64 differs from d by at most about dim·2⁻⁵³·d.
// The bound below adds 1% for the O(u²) terms, and an absolute term for
// float32 underflow: each of the 2·dim+4 roundings loses at most 2⁻¹⁵⁰
// besides its relative error, and the dot product's count twice.
func errorBound(dim int, qn, rn float64) (float64, bool) {
	const u = 0x1p-24
	n := float64(dim)
	s2 := (qn + rn) * (qn + rn)
	if !(s2 <= 1e37) || n*u > 0.5 { // float32 overflows at 3.4e38
		return 0, false
	}
	gamma := n * u / (1 - n*u)
	e := 3*u*s2 + 2*gamma*qn*rn + 2*n*0x1p-53*s2
	return 1.01*e + (4*n+8)*0x1p-150, true
}

// nearest returns candidates sorted by (d64, index) whose first m entries
// are the m nearest references; e bounds |d32 − d64|.
func (p *problem) nearest(w *worker, row []float32, qn float64, self, label, m int, e float64) []cand {
	// d32 and a histogram of its top bits, kept in two halves so that
	// consecutive increments of one bucket do not wait on each other.
	qn32 := float32(qn)
	h0, h1 := &w.hist, &w.hist2
	clear(h0[:])
	clear(h1[:])
	rn := p.rnorm[:len(row)]
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
	hist := h0
	if self >= 0 {
		hist[math.Float32bits(row[self])>>20]--
		row[self] = float32(math.Inf(1)) // above every other distance
		hist[math.Float32bits(row[self])>>20]++
	}
	v := float64(math.Float32frombits(kthSmallest(row, m-1, hist, w.scratch)))

	// Candidates: d32 ≤ v + 2e, as float32 bits, in index order.
	t := float32(v + 2*e)
	if float64(t) > v+2*e {
		t = math.Nextafter32(t, 0)
	}
	tk := math.Float32bits(t)
	cands := w.cands[:len(row)]
	n := 0
	for j, d := range row {
		k := math.Float32bits(d)
		cands[n] = cand{k, int32(j)}
		if k <= tk {
			n++
		}
	}
	cands = cands[:n]
	w.tmp = slices.Grow(w.tmp[:0], len(cands))[:len(cands)]
	sortCands(cands, w.tmp[:len(cands)], hist)
	w.cands = cands

	// Runs of candidates whose float32 distances are within 2e of each
	// other may be out of order. Re-sort a run by float64 distance only if
	// its order can change a metric: if it reaches into the k voters, or
	// into the first rel ranks while holding both same-label and
	// other-label references. (Permuting a run whose members are all
	// relevant, or all irrelevant, leaves rel(i) unchanged for every rank.)
	for i := 0; i < m; {
		j := i + 1
		for j < len(cands) && float64(math.Float32frombits(cands[j].key))-float64(math.Float32frombits(cands[j-1].key)) <= 2*e {
			j++
		}
		if j-i > 1 && (i < p.k || p.mixed(cands[i:j], label)) {
			p.resolve(w, cands[i:j])
		}
		i = j
	}
	return cands
}

// mixed reports whether cs holds references with and without label.
func (p *problem) mixed(cs []cand, label int) bool {
	first := p.rl[cs[0].idx] == label
	for _, c := range cs[1:] {
		if (p.rl[c.idx] == label) != first {
			return true
		}
	}
	return false
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
	p.resolve(w, cands)
	return cands
}

// resolve sorts cs by (d64, index).
func (p *problem) resolve(w *worker, cs []cand) {
	g := w.group[:0]
	for _, c := range cs {
		j := int(c.idx)
		g = append(g, exact{sqDist64(w.q64, p.r[j*p.dim:(j+1)*p.dim]), c.idx})
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
	hits := 0
	var ap float64
	for i, c := range top[:rel] {
		if p.rl[c.idx] == label {
			hits++
			ap += float64(hits) / float64(i+1)
		}
	}
	if p.rl[top[0].idx] == label {
		r.p1 = 1
	}
	r.rprec = float64(hits) / float64(rel)
	r.ap = ap / float64(rel)
}
