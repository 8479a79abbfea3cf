package graph

import (
	"fmt"
	"hash"
	"math"
	"runtime"
	"sync"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Fused primitives of the losses: the pairwise matrix, masked row
// reductions and softplus, each one op (and one derivative op per input)
// that makes a single pass over its B×C output into a buffer it owns and
// reuses from run to run, instead of the 5–10 Gorgonia ops (each a fresh
// B×C temporary) of the compositions they replace. The losses stay
// compositions of graph ops and their gradients still come from G.Grad.

// fusedOp is a differentiable op from plain float32/float64 kernels. name
// spells out every parameter (Gorgonia merges ops that hash alike); diff,
// when set, builds the gradient nodes of the inputs flagged in wrt.
type fusedOp struct {
	opBase
	name  string
	arity int
	typ   hm.Type
	f32   func(in [][]float32, out []float32) error
	f64   func(in [][]float64, out []float64) error
	wrt   []bool
	diff  func(in G.Nodes, out, grad *G.Node) (G.Nodes, error)
	node  *G.Node // the op's node, for kept
	seen  int     // the graph's node count when kept last looked
	keep  bool    // and its answer
}

func (o *fusedOp) Arity() int            { return o.arity }
func (o *fusedOp) Type() hm.Type         { return o.typ }
func (o *fusedOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s%v%v", o.name, o.shape, o.dt) }
func (o *fusedOp) Hashcode() uint32      { return hashOf(o) }
func (o *fusedOp) String() string        { return o.name }
func (o *fusedOp) Do(in ...G.Value) (G.Value, error) {
	return o.UsePreallocDo(nil, in...)
}

// UsePreallocDo implements G.UsePreallocDoer.
func (o *fusedOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return doFloat(&o.opBase, o.name, prealloc,
		func(out []float32) error {
			v, err := fusedFloats[float32](o.name, in)
			if err != nil {
				return err
			}
			return o.f32(v, out)
		},
		func(out []float64) error {
			v, err := fusedFloats[float64](o.name, in)
			if err != nil {
				return err
			}
			return o.f64(v, out)
		})
}

// fusedFloats returns the inputs' backing slices; a scalar (a scalar
// op's output gradient) becomes a slice of one.
func fusedFloats[T float](name string, in []G.Value) ([][]T, error) {
	out := make([][]T, len(in))
	for i, v := range in {
		switch d := data(v).(type) {
		case []T:
			out[i] = d
		case T:
			out[i] = []T{d}
		default:
			return nil, fmt.Errorf("graph: %s: input %d holds %T", name, i, d)
		}
	}
	return out, nil
}

func (o *fusedOp) DiffWRT(n int) []bool {
	if o.diff == nil {
		return make([]bool, n)
	}
	return append([]bool(nil), o.wrt...)
}

func (o *fusedOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if o.diff == nil {
		return make(G.Nodes, len(in)), nil
	}
	return o.diff(in, out, grad)
}

// applyFused adds o to the graph; the types are the inputs' and the
// output's (o.dt of o.shape's rank).
func applyFused(o *fusedOp, inputs ...*G.Node) (*G.Node, error) {
	ts := make(hm.Types, 0, len(inputs)+1)
	for _, n := range inputs {
		ts = append(ts, n.Type())
	}
	o.arity = len(inputs)
	o.typ = hm.NewFnType(append(ts, nodeType(o.dt, len(o.shape)))...)
	n, err := G.ApplyOp(o, inputs...)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", o.name, err)
	}
	if n.Op() == G.Op(o) { // not merged into an equal node built before
		o.node = n
	}
	return n, nil
}

// kept reports whether the op's output buffer holds, at the start of a
// run, what the op wrote into it the run before: no op that reads the
// output may write into it (Gorgonia writes an op's result into an input's
// memory only when the op says it overwrites that input). A kernel may then
// leave alone the entries it knows are still 0 (the padding of a
// fixed-capacity selection). The answer is kept until the graph gains
// nodes (G.Grad adds readers).
func (o *fusedOp) kept() bool {
	if o.node == nil || o.out == nil {
		return false
	}
	g := o.node.Graph()
	if n := len(g.AllNodes()); n != o.seen {
		o.seen, o.keep = n, Unwritten(o.node, nil)
	}
	return o.keep
}

// Unwritten reports whether no op that reads n, other than skip (nil:
// none), may overwrite it: Gorgonia writes an op's result into an input's
// memory only when the op says it overwrites that input
// (OverwritesInput). An op may then hand on, or keep from run to run, the
// value it gives n without a copy.
func Unwritten(n, skip *G.Node) bool {
	g := n.Graph()
	for it := g.To(n.ID()); it.Next(); {
		r, ok := it.Node().(*G.Node)
		if !ok || r.Op() == nil {
			return false
		}
		if r == skip {
			continue
		}
		w := r.Op().OverwritesInput()
		if w < 0 {
			continue
		}
		in := g.From(r.ID())
		for i := 0; in.Next(); i++ {
			if c, _ := in.Node().(*G.Node); i == w && c == n {
				return false
			}
		}
	}
	return true
}

// parallelMin is the work (elements of a B×C pass) below which a kernel
// stays on one goroutine.
const parallelMin = 1 << 16

// parallelRows runs f over [0, n) split into contiguous row blocks, one per
// core when the pass is large (n·cols ≥ parallelMin), else in one call.
func parallelRows(n, cols int, f func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if p > n {
		p = n
	}
	if p < 2 || n*cols < parallelMin {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + p - 1) / p
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// productMin is the work (multiply-adds m·n·k) from which parallelProduct
// splits a matrix product over the cores: about 40 µs on one core.
const productMin = 1 << 21

// parallelProduct is product (C = alpha·op(A)·op(B) + beta·C) with the m
// rows of C split into contiguous blocks, one per core, when the product is
// large (m·n·k ≥ productMin and at least 24 rows a block). Each block is
// a product of its rows of op(A) with all of op(B), so every entry is the
// same sum over k as in one call.
func parallelProduct[T float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	const rowStep = 24 // whole tiles of every gemm kernel (6, 24 and 4 rows)
	p := min(runtime.GOMAXPROCS(0), m/rowStep)
	if p < 2 || m*n*k < productMin {
		product(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	step := ((m+p-1)/p + rowStep - 1) / rowStep * rowStep
	block := func(lo int) {
		hi := min(lo+step, m)
		var ab []T
		if ta {
			ab = a[lo:] // columns lo.. of A (rows of Aᵀ)
		} else {
			ab = a[lo*lda:] // rows lo.. of A
		}
		product(ta, tb, hi-lo, n, k, alpha, ab, lda, b, ldb, beta, c[lo*ldc:], ldc)
	}
	var wg sync.WaitGroup
	for lo := step; lo < m; lo += step {
		wg.Add(1)
		go func() {
			defer wg.Done()
			block(lo)
		}()
	}
	block(0) // the first block on the calling goroutine
	wg.Wait()
}

// ---- pairwise matrix ----

type pairKind int

const (
	pairDot pairKind = iota
	pairSq
	pairEuclid
)

func (k pairKind) String() string {
	return [...]string{"dot", "sqeuclid", "euclid"}[k]
}

// pairMatrix returns the B×R matrix of kind between the rows of x (B×D) and
// y (R×D) in one op: x·yᵀ (dot); max(0, ||x_i||² + ||y_j||² − 2x_i·y_j)
// (sqeuclid) with an exact 0 diagonal when x and y are the same node; or
// its SafeSqrt (euclid). The gradient of each input is one derivative op
// (one matrix product and one pass).
func pairMatrix(kind pairKind, x, y *G.Node) (*G.Node, error) {
	return scaledPairMatrix(kind, x, y, 1)
}

// scaledPairMatrix is pairMatrix times alpha; alpha ≠ 1 only for pairDot,
// where it is the factor of the matrix products (z = α·x·yᵀ: a softmax
// loss's 1/τ costs no pass of its own).
func scaledPairMatrix(kind pairKind, x, y *G.Node, alpha float64) (*G.Node, error) {
	if alpha != 1 && kind != pairDot {
		return nil, fmt.Errorf("graph: pairmatrix: a scale only applies to dot products, not %v", kind)
	}
	self := x == y
	b, r, d := x.Shape()[0], y.Shape()[0], x.Shape()[1]
	eps := sqrtEpsilon(x.Dtype())
	scaled := "" // the names of unscaled matrices are those of before the scale
	if alpha != 1 {
		scaled = fmt.Sprintf(",scale=%v", alpha)
	}
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{b, r}},
		name: fmt.Sprintf("pairmatrix(%v,self=%t,%dx%dx%d%s)", kind, self, b, r, d, scaled)}
	var s32 scratch
	var s64 scratch
	o.f32 = func(in [][]float32, out []float32) error {
		return pairFwd(kind, self, b, r, d, eps, alpha, in, out, &s32)
	}
	o.f64 = func(in [][]float64, out []float64) error {
		return pairFwd(kind, self, b, r, d, eps, alpha, in, out, &s64)
	}
	inputs := G.Nodes{x}
	o.wrt = []bool{true}
	if !self {
		inputs = append(inputs, y)
		o.wrt = []bool{true, !NoGradient(y)} // a reference set gets no B×R×D gradient product
	}
	o.diff = func(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
		res := make(G.Nodes, len(in))
		for w := range in {
			if !o.wrt[w] {
				continue
			}
			shape := tensor.Shape{b, d}
			if w == 1 {
				shape = tensor.Shape{r, d}
			}
			g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape},
				name: fmt.Sprintf("pairmatrix_d%d(%v,self=%t,%dx%dx%d%s)", w, kind, self, b, r, d, scaled)}
			var g32, g64 [2]scratch
			g.f32 = func(v [][]float32, dx []float32) error {
				return pairGrad(kind, self, w, b, r, d, alpha, v, dx, &g32)
			}
			g.f64 = func(v [][]float64, dx []float64) error {
				return pairGrad(kind, self, w, b, r, d, alpha, v, dx, &g64)
			}
			args := append(append(G.Nodes{}, in...), out, grad)
			n, err := applyFused(g, args...)
			if err != nil {
				return nil, err
			}
			res[w] = n
		}
		return res, nil
	}
	return applyFused(o, inputs...)
}

func checkLen[T float](name string, v []T, n int) error {
	if len(v) != n {
		return fmt.Errorf("graph: %s: input holds %d values; want %d", name, len(v), n)
	}
	return nil
}

func sqNorms[T float](x []T, n, d int, out []T) {
	for i := 0; i < n; i++ {
		var s T
		for _, e := range x[i*d : (i+1)*d] {
			s += e * e
		}
		out[i] = s
	}
}

func pairFwd[T float](kind pairKind, self bool, b, r, d int, eps, alpha float64, in [][]T, out []T, s *scratch) error {
	x, y := in[0], in[0]
	if !self {
		y = in[1]
	}
	if err := checkLen("pairmatrix", x, b*d); err != nil {
		return err
	}
	if err := checkLen("pairmatrix", y, r*d); err != nil {
		return err
	}
	parallelProduct(false, true, b, r, d, T(alpha), x, d, y, d, 0, out, r)
	if kind == pairDot {
		return nil
	}
	norms := get[T](s, b+r)
	nx, ny := norms[:b], norms[b:]
	sqNorms(x, b, d, nx)
	if self {
		copy(ny, nx)
	} else {
		sqNorms(y, r, d, ny)
	}
	e := T(eps)
	parallelRows(b, r, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := out[i*r : (i+1)*r]
			xi, yn := nx[i], ny[:len(row)]
			if kind == pairEuclid {
				for j, p := range row {
					v := (xi + yn[j]) - 2*p
					if v > e { // v ≤ e (or NaN) gives 0, as the clamp at 0 and then at e do
						v = T(math.Sqrt(float64(v)))
					} else {
						v = 0
					}
					row[j] = v
				}
			} else {
				for j, p := range row {
					v := (xi + yn[j]) - 2*p
					if !(v > 0) {
						v = 0
					}
					row[j] = v
				}
			}
			if self {
				row[i] = 0
			}
		}
	})
	return nil
}

// pairGrad is the gradient with respect to input w (0: x, 1: y) from the
// inputs (x, [y], out, grad).
func pairGrad[T float](kind pairKind, self bool, w, b, r, d int, scale float64, in [][]T, dx []T, s *[2]scratch) error {
	x, y := in[0], in[0]
	k := 1
	if !self {
		y = in[1]
		k = 2
	}
	out, g := in[k], in[k+1]
	if err := checkLen("pairmatrix gradient", g, b*r); err != nil {
		return err
	}
	if err := checkLen("pairmatrix gradient", out, b*r); err != nil {
		return err
	}
	// S = ∂L/∂(x_i·y_j) up to the factor −2 of the distances
	var S []T
	switch {
	case kind == pairDot && !self:
		S = g
	case kind == pairDot: // x feeds both sides: S = g + gᵀ
		S = get[T](&s[0], b*r)
		symmetrizeInto(S, g, b)
	default:
		S = get[T](&s[0], b*r)
		parallelRows(b, r, func(lo, hi int) {
			gs, os, ss := g[lo*r:hi*r], out[lo*r:hi*r], S[lo*r:hi*r]
			switch kind {
			case pairSq:
				for j, o := range os {
					ss[j] = 0
					if o > 0 {
						ss[j] = gs[j]
					}
				}
			default:
				for j, o := range os {
					ss[j] = 0
					if o > 0 {
						ss[j] = gs[j] / (2 * o)
					}
				}
			}
		})
	}
	if self && kind != pairDot { // x feeds both sides: S + Sᵀ
		symmetrize(S, b)
	}
	alpha := T(scale) // 1 except for a scaled dot product
	if kind != pairDot {
		alpha = -2
	}
	if w == 0 {
		parallelProduct(false, false, b, d, r, alpha, S, r, y, d, 0, dx, d)
	} else {
		parallelProduct(true, false, r, d, b, alpha, S, r, x, d, 0, dx, d)
	}
	if kind == pairDot {
		return nil
	}
	// + 2·(Σ S)·own row
	n, own := b, x
	if w == 1 {
		n, own = r, y
	}
	sums := get[T](&s[1], n)
	if w == 0 {
		parallelRows(n, r, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				sums[i] = sum4(S[i*r : (i+1)*r])
			}
		})
	} else {
		clear(sums)
		for q := 0; q < b; q++ {
			for j, v := range S[q*r : (q+1)*r] {
				sums[j] += v
			}
		}
	}
	for i, t := range sums {
		t *= 2
		row, o := dx[i*d:(i+1)*d], own[i*d:(i+1)*d]
		for c := range row {
			row[c] += t * o[c]
		}
	}
	return nil
}

// symTile is the side of the tiles of symmetrize.
const symTile = 64

// symmetrize sets the b×b matrix S to S + Sᵀ in place (symmetrizeInto).
func symmetrize[T float](S []T, b int) { symmetrizeInto(S, S, b) }

// symmetrizeInto sets dst to src + srcᵀ (b×b; dst may be src), a pair of
// tiles at a time: the tile below the diagonal is copied row by row into a
// small buffer, added there, and copied back, so that no pass walks a
// column (at b = 1024 a column's entries are 4 KiB apart, all in one set
// of the level-1 cache). Tile rows run in parallel for a large matrix;
// every entry is written by one goroutine.
func symmetrizeInto[T float](dst, src []T, b int) {
	const mask = symTile*symTile - 1
	nt := (b + symTile - 1) / symTile
	parallelRows(nt, b*symTile, func(lo, hi int) {
		var buf [symTile * symTile]T
		for t := lo; t < hi; t++ {
			i0, i1 := t*symTile, min((t+1)*symTile, b)
			for i := i0; i < i1; i++ { // the diagonal tile
				for j := i + 1; j < i1; j++ {
					v := src[i*b+j] + src[j*b+i]
					dst[i*b+j], dst[j*b+i] = v, v
				}
				dst[i*b+i] = 2 * src[i*b+i]
			}
			h := i1 - i0
			for j0 := i1; j0 < b; j0 += symTile {
				j1 := min(j0+symTile, b)
				for j := j0; j < j1; j++ { // buf[j−j0][i−i0] = src_ji
					copy(buf[(j-j0)*symTile:(j-j0)*symTile+h], src[j*b+i0:j*b+i1])
				}
				for i := i0; i < i1; i++ {
					srow := src[i*b+j0 : i*b+j1]
					drow := dst[i*b+j0 : i*b+j1]
					drow = drow[:len(srow)]
					for jj, v := range srow {
						k := (jj*symTile + i - i0) & mask
						v += buf[k]
						drow[jj], buf[k] = v, v
					}
				}
				for j := j0; j < j1; j++ {
					copy(dst[j*b+i0:j*b+i1], buf[(j-j0)*symTile:(j-j0)*symTile+h])
				}
			}
		}
	})
}

// ---- masked row reductions ----

type rowRed int

const (
	redMax rowRed = iota
	redMin
	redLSE
	redLog1pSE
	redSum
)

func (k rowRed) String() string {
	return [...]string{"max", "min", "logsumexp", "log1psumexp", "sum"}[k]
}

// maskedRow returns the length-B vector of a masked reduction of each row
// of x (B×C) over the entries where mask (B×C, no gradient) is non-zero, in
// one op: the extreme (gradient to the first extreme by column), or
// log Σ_j mask_ij·e^{x_ij} (log(1 + Σ …) with redLog1pSE), shifted by the
// row maximum; an empty row gives 0 and no gradient. The derivative op is
// one pass: g_i at the extreme, or g_i·mask_ij·e^{x_ij − out_i}.
func maskedRow(kind rowRed, x, mask *G.Node) (*G.Node, error) {
	return maskedRowOf(kind, x, mask, rowAffine{})
}

// rowAffine, when on, has a masked row reduction read scale·x + offset
// (Affine's values, computed a row at a time into scratch) instead of x,
// and its derivative op scale its result (Affine's derivative).
type rowAffine struct {
	on            bool
	scale, offset float64
}

func (a rowAffine) String() string {
	if !a.on {
		return ""
	}
	return fmt.Sprintf(",affine(%v,%v)", a.scale, a.offset)
}

// row returns xr, or its affine transform in tmp.
func affineRow[T float](a rowAffine, xr, tmp []T) []T {
	if !a.on {
		return xr
	}
	s, c := T(a.scale), T(a.offset)
	tmp = tmp[:len(xr)]
	switch { // Affine's cases, for the same values
	case c == 0 && s == -1:
		for j, v := range xr {
			tmp[j] = -v
		}
	case c == 0:
		for j, v := range xr {
			tmp[j] = s * v
		}
	default:
		for j, v := range xr {
			tmp[j] = s*v + c
		}
	}
	return tmp
}

// scaleRow multiplies a derivative row by the affine scale, as Affine's
// derivative op does.
func scaleRow[T float](a rowAffine, dr []T) {
	if !a.on {
		return
	}
	s := T(a.scale)
	if s == -1 {
		for j, v := range dr {
			dr[j] = -v
		}
		return
	}
	for j, v := range dr {
		dr[j] = s * v
	}
}

func maskedRowOf(kind rowRed, x, mask *G.Node, aff rowAffine) (*G.Node, error) {
	b, c := x.Shape()[0], x.Shape()[1]
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{b}},
		name: fmt.Sprintf("maskedrow(%v,%dx%d%v)", kind, b, c, aff)}
	o.f32 = func(in [][]float32, out []float32) error { return maskedRowFwd(kind, aff, b, c, in, out) }
	o.f64 = func(in [][]float64, out []float64) error { return maskedRowFwd(kind, aff, b, c, in, out) }
	o.wrt = []bool{true, false}
	o.diff = func(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{b, c}},
			name: fmt.Sprintf("maskedrow_dx(%v,%dx%d%v)", kind, b, c, aff)}
		g.f32 = func(v [][]float32, dx []float32) error { return maskedRowGrad(kind, aff, b, c, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return maskedRowGrad(kind, aff, b, c, v, dx) }
		n, err := applyFused(g, in[0], in[1], out, grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n, nil}, nil
	}
	return applyFused(o, x, mask)
}

// maskedDot returns Σ_j m_j·x_j over the non-zero m_j (a masked-out x_j
// is not read, so it may be infinite), on four accumulators.
func maskedDot[T float](x, m []T) T {
	var s0, s1, s2, s3 T
	j := 0
	for ; j+4 <= len(m); j += 4 {
		if w := m[j]; w != 0 {
			s0 += w * x[j]
		}
		if w := m[j+1]; w != 0 {
			s1 += w * x[j+1]
		}
		if w := m[j+2]; w != 0 {
			s2 += w * x[j+2]
		}
		if w := m[j+3]; w != 0 {
			s3 += w * x[j+3]
		}
	}
	for ; j < len(m); j++ {
		if w := m[j]; w != 0 {
			s0 += w * x[j]
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// extremeAt returns the column of the masked extreme of a row, −1 if none.
func extremeAt[T float](x, m []T, max bool) int {
	best := -1
	for j, w := range m {
		if w == 0 {
			continue
		}
		if best < 0 || (max && x[j] > x[best]) || (!max && x[j] < x[best]) {
			best = j
		}
	}
	return best
}

func maskedRowFwd[T float](kind rowRed, aff rowAffine, b, c int, in [][]T, out []T) error {
	x, m := in[0], in[1]
	if err := checkLen("maskedrow", x, b*c); err != nil {
		return err
	}
	if err := checkLen("maskedrow", m, b*c); err != nil {
		return err
	}
	if x32, ok := as32(x); ok && (kind == redLSE || kind == redLog1pSE) {
		lseRows32(kind, aff, b, c, x32, any(m).([]float32), any(out).([]float32))
		return nil
	}
	parallelRows(b, c, func(lo, hi int) {
		var tmp []T
		if aff.on {
			tmp = make([]T, c)
		}
		for i := lo; i < hi; i++ {
			xr, mr := affineRow(aff, x[i*c:(i+1)*c], tmp), m[i*c:(i+1)*c]
			if kind == redSum {
				out[i] = maskedDot(xr, mr)
				continue
			}
			if kind == redMax || kind == redMin {
				out[i] = 0
				if k := extremeAt(xr, mr, kind == redMax); k >= 0 {
					out[i] = xr[k]
				}
				continue
			}
			k := extremeAt(xr, mr, true)
			var mx float64
			if k >= 0 {
				mx = float64(xr[k])
			}
			if kind == redLog1pSE && mx < 0 {
				mx = 0
			}
			var s float64
			tm := T(mx)
			for j, w := range mr {
				if w != 0 {
					s += float64(w * expT(xr[j]-tm))
				}
			}
			switch {
			case kind == redLog1pSE:
				// log(1 + Σ e^x) = m + log1p(expm1(−m) + Σ e^(x−m))
				out[i] = T(mx + math.Log1p(math.Expm1(-mx)+s))
			case k < 0:
				out[i] = 0
			default:
				out[i] = T(mx + math.Log(s))
			}
		}
	})
	return nil
}

func maskedRowGrad[T float](kind rowRed, aff rowAffine, b, c int, in [][]T, dx []T) error {
	x, m, out, g := in[0], in[1], in[2], in[3]
	if err := checkLen("maskedrow gradient", g, b); err != nil {
		return err
	}
	if x32, ok := as32(x); ok && (kind == redLSE || kind == redLog1pSE) {
		lseGrad32(aff, b, c, x32, any(m).([]float32), any(out).([]float32), any(g).([]float32), any(dx).([]float32))
		return nil
	}
	parallelRows(b, c, func(lo, hi int) {
		var tmp []T
		if aff.on {
			tmp = make([]T, c)
		}
		for i := lo; i < hi; i++ {
			dr := dx[i*c : (i+1)*c]
			maskedRowGradRow(kind, affineRow(aff, x[i*c:(i+1)*c], tmp), m[i*c:(i+1)*c], dr, g[i], out[i])
			scaleRow(aff, dr)
		}
	})
	return nil
}

// maskedRowGradRow is maskedRowGrad's row: the derivative dr of row xr
// (mask mr, output o, output gradient gi).
func maskedRowGradRow[T float](kind rowRed, xr, mr, dr []T, gi, oi T) {
	clear(dr)
	switch kind {
	case redSum:
		for j, w := range mr {
			if w != 0 {
				dr[j] = gi * w
			}
		}
	case redMax, redMin:
		if k := extremeAt(xr, mr, kind == redMax); k >= 0 {
			dr[k] = gi
		}
	default:
		for j, w := range mr {
			if w != 0 {
				dr[j] = gi * w * expT(xr[j]-oi)
			}
		}
	}
}

// ---- softplus ----

// softplusOp returns log(1 + eˣ) elementwise in one op, computed as
// max(x, 0) + log1p(e^{−|x|}); its derivative op is g·σ(x).
func softplusOp(x *G.Node) (*G.Node, error) {
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: shape}, name: "softplus"}
	o.f32 = func(in [][]float32, out []float32) error { return softplusFwd(n, in, out) }
	o.f64 = func(in [][]float64, out []float64) error { return softplusFwd(n, in, out) }
	o.wrt = []bool{true}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape.Clone()}, name: "softplus_dx"}
		g.f32 = func(v [][]float32, dx []float32) error { return softplusGrad(n, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return softplusGrad(n, v, dx) }
		d, err := applyFused(g, in[0], grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{d}, nil
	}
	return applyFused(o, x)
}

func softplusFwd[T float](n int, in [][]T, out []T) error {
	x := in[0]
	if err := checkLen("softplus", x, n); err != nil {
		return err
	}
	parallelRows(n/1024+1, 1024, func(lo, hi int) {
		for i := lo * 1024; i < min(hi*1024, n); i++ {
			out[i] = softplusT(x[i])
		}
	})
	return nil
}

func softplusGrad[T float](n int, in [][]T, dx []T) error {
	x, g := in[0], in[1]
	if err := checkLen("softplus gradient", g, n); err != nil {
		return err
	}
	parallelRows(n/1024+1, 1024, func(lo, hi int) {
		for i := lo * 1024; i < min(hi*1024, n); i++ {
			dx[i] = g[i] * sigmoidT(x[i]) // σ, stable on both sides
		}
	})
	return nil
}

// ---- pairwise combinations of a per-row value ----

// pairVec returns the B×B matrix of max(v_i, v_j) (logAddExp false) or
// log(e^{v_i} + e^{v_j}) over the rows flagged in has (a 0/1 vector without
// gradient; an unflagged row drops out, and an entry where neither is
// flagged is 0), in one op without the B×B operands of the broadcasts. The
// derivative op gives dv_k = Σ_q g_kq·∂out_kq/∂v_k + Σ_p g_pk·∂out_pk/∂v_k:
// for the max the full gradient goes to one side (i on ties), for
// log-add-exp each side gets e^{v − out}.
func pairVec(logAddExp bool, v, has *G.Node) (*G.Node, error) {
	b := v.Shape()[0]
	o := &fusedOp{opBase: opBase{dt: v.Dtype(), shape: tensor.Shape{b, b}},
		name: fmt.Sprintf("pairvec(lae=%t,%d)", logAddExp, b)}
	var s32, s64 scratch
	o.f32 = func(in [][]float32, out []float32) error { return pairVecFwd(logAddExp, b, in, out, &s32) }
	o.f64 = func(in [][]float64, out []float64) error { return pairVecFwd(logAddExp, b, in, out, &s64) }
	o.wrt = []bool{true, false}
	o.diff = func(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: tensor.Shape{b}},
			name: fmt.Sprintf("pairvec_dv(lae=%t,%d)", logAddExp, b)}
		var g32, g64 scratch
		g.f32 = func(x [][]float32, dv []float32) error { return pairVecGrad(logAddExp, b, x, dv, &g32) }
		g.f64 = func(x [][]float64, dv []float64) error { return pairVecGrad(logAddExp, b, x, dv, &g64) }
		n, err := applyFused(g, in[0], in[1], out, grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{n, nil}, nil
	}
	return applyFused(o, v, has)
}

// pairWinner returns which side of (i, j) the max takes: 1 for i, 2 for j,
// 0 for neither (ties go to i).
func pairWinner[T float](v, has []T, i, j int) int {
	hi, hj := has[i] != 0, has[j] != 0
	switch {
	case hi && (!hj || v[i] >= v[j]):
		return 1
	case hj:
		return 2
	}
	return 0
}

func pairVecFwd[T float](lae bool, b int, in [][]T, out []T, s *scratch) error {
	v, has := in[0], in[1]
	if err := checkLen("pairvec", v, b); err != nil {
		return err
	}
	if err := checkLen("pairvec", has, b); err != nil {
		return err
	}
	var ev []float64
	var mx float64
	if lae {
		ev, mx = pairExps(v, has, s)
		if v32, ok := as32(v); ok {
			pairLAE32(b, v32, any(has).([]float32), any(out).([]float32), ev, mx)
			return nil
		}
	}
	parallelRows(b, b, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := out[i*b : (i+1)*b]
			for j := range row {
				switch w := pairWinner(v, has, i, j); {
				case w == 0:
					row[j] = 0
				case !lae || has[i] == 0 || has[j] == 0:
					row[j] = v[i]
					if w == 2 {
						row[j] = v[j]
					}
				default:
					row[j] = logAddExpT(v[i], v[j], ev[i], ev[j], mx)
				}
			}
		}
	})
	return nil
}

// pairExps returns e^{v_k − m} for the flagged k (0 elsewhere) and m, the
// largest flagged v.
func pairExps[T float](v, has []T, s *scratch) ([]float64, float64) {
	ev := get[float64](s, len(v))
	mx := math.Inf(-1)
	for k, h := range has {
		if h != 0 {
			mx = math.Max(mx, float64(v[k]))
		}
	}
	for k, h := range has {
		ev[k] = 0
		if h != 0 {
			ev[k] = math.Exp(float64(v[k]) - mx)
		}
	}
	return ev, mx
}

// lseTiny is the sum of shifted exponentials below which logAddExp falls
// back to the form that cannot underflow.
const lseTiny = 1e-280

// logAddExp is log(e^a + e^c) from ea = e^{a−m}, ec = e^{c−m}: one log,
// or max + log1p(e^{−|a−c|}) when both terms underflow.
func logAddExp(a, c, ea, ec, m float64) float64 {
	if t := ea + ec; t > lseTiny {
		return m + math.Log(t)
	}
	if a < c {
		a, c = c, a
	}
	return a + math.Log1p(math.Exp(c-a))
}

// logAddExpT is logAddExp in T's precision (float32's fallback threshold
// is its own smallest normal range).
func logAddExpT[T float](a, c T, ea, ec, m float64) T {
	if !is32[T]() {
		return T(logAddExp(float64(a), float64(c), ea, ec, m))
	}
	if t := ea + ec; t > 1e-30 {
		return T(m) + logT(T(t))
	}
	if a < c {
		a, c = c, a
	}
	return a + log1pT(expT(c-a))
}

func pairVecGrad[T float](lae bool, b int, in [][]T, dv []T, s *scratch) error {
	v, has, out, g := in[0], in[1], in[2], in[3]
	if err := checkLen("pairvec gradient", g, b*b); err != nil {
		return err
	}
	if err := checkLen("pairvec gradient", v, b); err != nil {
		return err
	}
	var ev []float64
	if lae {
		ev, _ = pairExps(v, has, s)
	}
	// share of entry (p, q) that goes to side k ∈ {p, q}
	share := func(p, q, k int) float64 {
		if has[k] == 0 {
			return 0
		}
		if lae {
			if t := ev[p] + ev[q]; has[p] != 0 && has[q] != 0 && t > lseTiny {
				return ev[k] / t // e^{v_k − out_pq}
			}
			return math.Exp(float64(v[k]) - float64(out[p*b+q]))
		}
		w := pairWinner(v, has, p, q)
		if (w == 1 && k == p) || (w == 2 && k == q && k != p) {
			return 1
		}
		return 0
	}
	if lae && allActive(has) { // every row flagged (a P×K batch): share without the flag tests
		parallelRows(b, b, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				var s float64
				ek, vk := ev[k], float64(v[k])
				for q := 0; q < b; q++ {
					if gk := g[k*b+q]; gk != 0 {
						var f float64
						if t := ek + ev[q]; t > lseTiny {
							f = ek / t
						} else {
							f = math.Exp(vk - float64(out[k*b+q]))
						}
						if q == k {
							f *= 2
						}
						s += float64(gk) * f
					}
					if gq := g[q*b+k]; gq != 0 && q != k {
						var f float64
						if t := ev[q] + ek; t > lseTiny {
							f = ek / t
						} else {
							f = math.Exp(vk - float64(out[q*b+k]))
						}
						s += float64(gq) * f
					}
				}
				dv[k] = T(s)
			}
		})
		return nil
	}
	parallelRows(b, b, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			var s float64
			for q := 0; q < b; q++ {
				if gk := g[k*b+q]; gk != 0 {
					f := share(k, q, k)
					if lae && q == k { // both terms of log(e^{v_k} + e^{v_k})
						f *= 2
					}
					s += float64(gk) * f
				}
				if gq := g[q*b+k]; gq != 0 && q != k {
					s += float64(gq) * share(q, k, k)
				}
			}
			dv[k] = T(s)
		}
	})
	return nil
}

// ---- weighted hinge sum ----

// HingeSum returns the scalar Σ_ij w_ij·h(scale·x_ij + offset) with
// h(t) = max(0, t), or max(0, t)² when squared, for x and w of one shape
// (matrices or vectors; w, pair weights or a mask, gets no gradient). It
// is the sum of a contrastive loss's hinge terms (or of a triplet loss's
// over its mined slots) in one op, without the temporaries of the shift,
// the hinge, the square and the product; its derivative op is one pass,
// g·w_ij·scale·h′.
func HingeSum(x, w *G.Node, scale, offset float64, squared bool) (*G.Node, error) {
	return hingeSumOp(x, nil, w, scale, offset, squared)
}

// HingeSumAdd is HingeSum of x + y (x and y of w's shape, both receiving
// the gradient) without the sum's matrix: the sum of the lifted loss's
// hinge terms max(0, D_ij + pair_ij)² in one op, where an Add and HingeSum
// are two passes. The sum is rounded to the dtype before the hinge, as the
// Add rounds it.
func HingeSumAdd(x, y, w *G.Node, scale, offset float64, squared bool) (*G.Node, error) {
	if y == nil {
		return nil, fmt.Errorf("graph: hinge sum: nil input")
	}
	return hingeSumOp(x, y, w, scale, offset, squared)
}

func hingeSumOp(x, y, w *G.Node, scale, offset float64, squared bool) (*G.Node, error) {
	if err := checkSameShape("hinge sum", x, w); err != nil {
		return nil, err
	}
	add := y != nil
	if add {
		if err := checkSameShape("hinge sum", y, w); err != nil {
			return nil, err
		}
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) || math.IsNaN(offset) || math.IsInf(offset, 0) {
		return nil, fmt.Errorf("graph: hinge sum: scale %v and offset %v must be finite", scale, offset)
	}
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	name := fmt.Sprintf("hingesum(scale=%v,offset=%v,sq=%t)", scale, offset, squared)
	if add {
		name = fmt.Sprintf("hingesumadd(scale=%v,offset=%v,sq=%t)", scale, offset, squared)
	}
	inputs := []*G.Node{x, w}
	if add {
		inputs = []*G.Node{x, y, w}
	}
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.ScalarShape()}, name: name}
	o.wrt = []bool{true, false}
	if add {
		o.wrt = []bool{true, true, false}
	}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape.Clone()}, name: name + "_dx"}
		g.f32 = func(v [][]float32, dx []float32) error { return hingeGrad(n, scale, offset, squared, add, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return hingeGrad(n, scale, offset, squared, add, v, dx) }
		d, err := applyFused(g, append(append(G.Nodes(nil), in...), grad)...)
		if err != nil {
			return nil, err
		}
		if add {
			return G.Nodes{d, d, nil}, nil // ∂/∂x = ∂/∂y
		}
		return G.Nodes{d, nil}, nil
	}
	return applyScalar(o, func(in []G.Value) (G.Value, error) {
		return scalarDo(name, o.dt, in,
			func(v [][]float32) (float64, error) {
				return hingeSum(n, scale, offset, squared, v[0], hingeY(add, v), v[len(v)-1])
			},
			func(v [][]float64) (float64, error) {
				return hingeSum(n, scale, offset, squared, v[0], hingeY(add, v), v[len(v)-1])
			})
	}, inputs...)
}

// hingeY returns y of HingeSumAdd's inputs (x, y, w), nil for HingeSum's.
func hingeY[T float](add bool, v [][]T) []T {
	if add {
		return v[1]
	}
	return nil
}

// scalarOp is a fusedOp whose output is a scalar value (not a dense buffer).
type scalarOp struct {
	*fusedOp
	do func(in []G.Value) (G.Value, error)
}

func (o *scalarOp) Do(in ...G.Value) (G.Value, error) { return o.do(in) }

// UsePreallocDo ignores prealloc: a scalar is a fresh value each run.
func (o *scalarOp) UsePreallocDo(_ G.Value, in ...G.Value) (G.Value, error) { return o.do(in) }
func (o *scalarOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func applyScalar(o *fusedOp, do func(in []G.Value) (G.Value, error), inputs ...*G.Node) (*G.Node, error) {
	ts := make(hm.Types, 0, len(inputs)+1)
	for _, n := range inputs {
		ts = append(ts, n.Type())
	}
	o.arity = len(inputs)
	o.typ = hm.NewFnType(append(ts, o.dt)...)
	n, err := G.ApplyOp(&scalarOp{fusedOp: o, do: do}, inputs...)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", o.name, err)
	}
	return n, nil
}

// scalarDo runs the float32 or float64 body of a scalar op on its inputs
// (their flat backings, dtype dt) and wraps the sum in a scalar value.
func scalarDo(name string, dt tensor.Dtype, in []G.Value, f32 func([][]float32) (float64, error), f64 func([][]float64) (float64, error)) (G.Value, error) {
	switch dt {
	case tensor.Float32:
		v, err := fusedFloats[float32](name, in)
		if err != nil {
			return nil, err
		}
		s, err := f32(v)
		return G.NewF32(float32(s)), err
	case tensor.Float64:
		v, err := fusedFloats[float64](name, in)
		if err != nil {
			return nil, err
		}
		s, err := f64(v)
		return G.NewF64(s), err
	}
	return nil, fmt.Errorf("graph: %s: unsupported dtype %v", name, dt)
}

// hingeSum is HingeSum's value, of x + y when y is not nil (HingeSumAdd).
func hingeSum[T float](n int, scale, offset float64, squared bool, x, y, w []T) (float64, error) {
	if err := checkLen("hinge sum", x, n); err != nil {
		return 0, err
	}
	if err := checkLen("hinge sum", w, n); err != nil {
		return 0, err
	}
	if y != nil {
		if err := checkLen("hinge sum", y, n); err != nil {
			return 0, err
		}
	}
	a, c := T(scale), T(offset)
	return blockSum(n, func(lo, hi int) float64 {
		var s float64
		for i := lo; i < hi; i++ {
			if wi := w[i]; wi != 0 {
				xi := x[i]
				if y != nil {
					xi += y[i]
				}
				if t := a*xi + c; t > 0 {
					if squared {
						t *= t
					}
					s += float64(wi * t)
				}
			}
		}
		return s
	}), nil
}

// hingeGrad is HingeSum's derivative from (x, w, g), or HingeSumAdd's
// from (x, y, w, g) when add is set.
func hingeGrad[T float](n int, scale, offset float64, squared, add bool, in [][]T, dx []T) error {
	var y []T
	if add {
		y, in = in[1], append([][]T{in[0]}, in[2:]...)
		if err := checkLen("hinge sum gradient", y, n); err != nil {
			return err
		}
	}
	x, w, g := in[0], in[1], in[2]
	if err := checkLen("hinge sum gradient", x, n); err != nil {
		return err
	}
	if err := checkLen("hinge sum gradient", w, n); err != nil {
		return err
	}
	if len(g) != 1 {
		return fmt.Errorf("graph: hinge sum gradient: want a scalar gradient, got %d values", len(g))
	}
	a, c, gs := T(scale), T(offset), g[0]
	parallelRows((n+sumBlock-1)/sumBlock, sumBlock, func(lo, hi int) {
		for i := lo * sumBlock; i < min(hi*sumBlock, n); i++ {
			dx[i] = 0
			wi := w[i]
			if wi == 0 {
				continue
			}
			xi := x[i]
			if y != nil {
				xi += y[i]
			}
			if t := a*xi + c; t > 0 {
				d := gs * wi * a
				if squared {
					d *= 2 * t
				}
				dx[i] = d
			}
		}
	})
	return nil
}

// ---- logistic pair sum ----

// SoftplusSum returns the scalar
//
//	Σ_ij p_ij·softplus(−(a·x_ij − c)) + n_ij·softplus(a·x_ij − c)
//
// for x, p and n of one shape, a = scale and a scalar c; only x gets a
// gradient (p and n weigh the data and noise pairs, c is a shift computed
// from counts). It is the binary logistic loss of noise-contrastive
// estimation (Gutmann & Hyvärinen 2010) over a pair matrix in one op,
// without the B×B temporaries of the weights, signs and softplus; the
// derivative op is one pass, g·a·(n_ij·σ(t) − p_ij·σ(−t)) with t = a·x − c.
func SoftplusSum(x, p, n, c *G.Node, scale float64) (*G.Node, error) {
	if err := checkMasked("softplus sum", x, p); err != nil {
		return nil, err
	}
	if err := checkMasked("softplus sum", x, n); err != nil {
		return nil, err
	}
	if c == nil || !c.IsScalar() || c.Dtype() != x.Dtype() {
		return nil, fmt.Errorf("graph: softplus sum: c must be a scalar of x's dtype %v", x.Dtype())
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("graph: softplus sum: scale %v must be finite", scale)
	}
	shape := x.Shape().Clone()
	size := shape.TotalSize()
	name := fmt.Sprintf("softplussum(scale=%v)", scale)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.ScalarShape()}, name: name}
	o.wrt = []bool{true, false, false, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape.Clone()}, name: name + "_dx"}
		g.f32 = func(v [][]float32, dx []float32) error { return softplusSumGrad(size, scale, v, dx) }
		g.f64 = func(v [][]float64, dx []float64) error { return softplusSumGrad(size, scale, v, dx) }
		d, err := applyFused(g, in[0], in[1], in[2], in[3], grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{d, nil, nil, nil}, nil
	}
	return applyScalar(o, func(in []G.Value) (G.Value, error) {
		return scalarDo(name, o.dt, in,
			func(v [][]float32) (float64, error) { return softplusSum(size, scale, v) },
			func(v [][]float64) (float64, error) { return softplusSum(size, scale, v) })
	}, x, p, n, c)
}

// softplus1 is log(1 + eᵗ), stable for any t.
func softplus1(t float64) float64 {
	if t >= 0 {
		return t + math.Log1p(math.Exp(-t))
	}
	return math.Log1p(math.Exp(t))
}

// sigmoid is 1/(1 + e^{−t}), stable for any t.
func sigmoid(t float64) float64 {
	if t >= 0 {
		return 1 / (1 + math.Exp(-t))
	}
	e := math.Exp(t)
	return e / (1 + e)
}

func softplusSum[T float](size int, scale float64, in [][]T) (float64, error) {
	x, p, n := in[0], in[1], in[2]
	for _, v := range [][]T{x, p, n} {
		if err := checkLen("softplus sum", v, size); err != nil {
			return 0, err
		}
	}
	if len(in[3]) != 1 {
		return 0, fmt.Errorf("graph: softplus sum: c holds %d values; want a scalar", len(in[3]))
	}
	c, a := in[3][0], T(scale)
	if x32, ok := as32(x); ok {
		return softplusSum32(size, float32(a), float32(c), x32, any(p).([]float32), any(n).([]float32)), nil
	}
	return blockSum(size, func(lo, hi int) float64 {
		var sum float64
		for i := lo; i < hi; i++ {
			pi, ni := p[i], n[i]
			if pi == 0 && ni == 0 {
				continue
			}
			t := a*x[i] - c
			if pi != 0 {
				sum += float64(pi * softplusT(-t))
			}
			if ni != 0 {
				sum += float64(ni * softplusT(t))
			}
		}
		return sum
	}), nil
}

func softplusSumGrad[T float](size int, scale float64, in [][]T, dx []T) error {
	x, p, n, g := in[0], in[1], in[2], in[4]
	if err := checkLen("softplus sum gradient", x, size); err != nil {
		return err
	}
	if len(in[3]) != 1 || len(g) != 1 {
		return fmt.Errorf("graph: softplus sum gradient: c and the gradient must be scalars")
	}
	c, gs, a := in[3][0], g[0], T(scale)
	if x32, ok := as32(x); ok {
		softplusSumGrad32(size, float32(a), float32(c), float32(gs), x32, any(p).([]float32), any(n).([]float32), any(dx).([]float32))
		return nil
	}
	parallelRows((size+sumBlock-1)/sumBlock, sumBlock, func(lo, hi int) {
		for i := lo * sumBlock; i < min(hi*sumBlock, size); i++ {
			pi, ni := p[i], n[i]
			dx[i] = 0
			if pi == 0 && ni == 0 {
				continue
			}
			t := a*x[i] - c
			var d T
			if ni != 0 {
				d += ni * sigmoidT(t)
			}
			if pi != 0 {
				d -= pi * sigmoidT(-t) // not 1 − σ(t), which cancels for large t
			}
			dx[i] = gs * a * d
		}
	})
	return nil
}

// sumBlock is the number of elements per block of blockSum.
const sumBlock = 4096

// blockSum returns Σ f(lo, hi) over [0, n) in blocks of sumBlock, the
// blocks spread over the cores (parallelRows) and their partial sums added
// in block order, so the result does not depend on the number of cores.
func blockSum(n int, f func(lo, hi int) float64) float64 {
	nb := (n + sumBlock - 1) / sumBlock
	part := make([]float64, nb)
	parallelRows(nb, sumBlock, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			part[k] = f(k*sumBlock, min((k+1)*sumBlock, n))
		}
	})
	var s float64
	for _, p := range part {
		s += p
	}
	return s
}

// ---- column broadcasts ----

// colOp returns x − v_i (mul false) or x·v_i (mul true) for x (B×C) and v
// (B) in one op, without Gorgonia's repeated B×C copy of v; the derivative
// ops are dx = g (or g·v_i) and dv_i = −Σ_j g_ij (or Σ_j g_ij·x_ij).
func colOp(mul bool, x, v *G.Node) (*G.Node, error) {
	if x.Dims() != 2 || v.Dims() != 1 || x.Shape()[0] != v.Shape()[0] {
		return nil, fmt.Errorf("graph: column broadcast: x %v and v %v must be B×C and B", x.Shape(), v.Shape())
	}
	if x.Dtype() != v.Dtype() {
		return nil, fmt.Errorf("graph: column broadcast: x is %v but v is %v", x.Dtype(), v.Dtype())
	}
	if _, err := FloatDtype("column broadcast input", x); err != nil {
		return nil, err
	}
	b, c := x.Shape()[0], x.Shape()[1]
	name := fmt.Sprintf("col(mul=%t,%dx%d)", mul, b, c)
	o := &fusedOp{opBase: opBase{dt: x.Dtype(), shape: tensor.Shape{b, c}}, name: name}
	o.f32 = func(in [][]float32, out []float32) error { return colFwd(mul, b, c, in, out) }
	o.f64 = func(in [][]float64, out []float64) error { return colFwd(mul, b, c, in, out) }
	o.wrt = []bool{true, true}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		res := make(G.Nodes, 2)
		for w, shape := range []tensor.Shape{{b, c}, {b}} {
			g := &fusedOp{opBase: opBase{dt: o.dt, shape: shape}, name: fmt.Sprintf("%s_d%d", name, w)}
			g.f32 = func(v [][]float32, d []float32) error { return colGrad(mul, w, b, c, v, d) }
			g.f64 = func(v [][]float64, d []float64) error { return colGrad(mul, w, b, c, v, d) }
			n, err := applyFused(g, in[0], in[1], grad)
			if err != nil {
				return nil, err
			}
			res[w] = n
		}
		return res, nil
	}
	return applyFused(o, x, v)
}

func colFwd[T float](mul bool, b, c int, in [][]T, out []T) error {
	x, v := in[0], in[1]
	if err := checkLen("column broadcast", x, b*c); err != nil {
		return err
	}
	if err := checkLen("column broadcast", v, b); err != nil {
		return err
	}
	parallelRows(b, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, or, vi := x[i*c:(i+1)*c], out[i*c:(i+1)*c], v[i]
			if mul {
				for j, e := range xr {
					or[j] = e * vi
				}
			} else {
				for j, e := range xr {
					or[j] = e - vi
				}
			}
		}
	})
	return nil
}

func colGrad[T float](mul bool, w, b, c int, in [][]T, d []T) error {
	x, v, g := in[0], in[1], in[2]
	if err := checkLen("column broadcast gradient", g, b*c); err != nil {
		return err
	}
	parallelRows(b, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gr, xr := g[i*c:(i+1)*c], x[i*c:(i+1)*c]
			switch {
			case w == 0 && mul:
				for j, e := range gr {
					d[i*c+j] = e * v[i]
				}
			case w == 0:
				copy(d[i*c:(i+1)*c], gr)
			case mul:
				var s T
				for j, e := range gr {
					s += e * xr[j]
				}
				d[i] = s
			default:
				var s T
				for _, e := range gr {
					s += e
				}
				d[i] = -s
			}
		}
	})
	return nil
}
