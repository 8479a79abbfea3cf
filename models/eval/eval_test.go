package eval_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/contrastive-go/contrastive/models/eval"
)

// The house style asks for testify's require, but go.sum lacks the checksum
// of go.yaml.in/yaml/v3, which testify v1.12.1's assert package imports, so
// importing it fails to build; these helpers stand in for it.

func noError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// near reports whether got and want agree within an absolute plus relative
// tolerance; two NaNs agree.
func near(got, want, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= tol+tol*math.Abs(want)
}

func reportsNear(t *testing.T, got, want eval.Report, tol float64) {
	t.Helper()
	if got.Queries != want.Queries || got.Excluded != want.Excluded || got.K != want.K ||
		!near(got.PrecisionAt1, want.PrecisionAt1, tol) || !near(got.RPrecision, want.RPrecision, tol) ||
		!near(got.MAPAtR, want.MAPAtR, tol) || !near(got.KNNAccuracy, want.KNNAccuracy, tol) {
		t.Fatalf("report mismatch\n got  %+v\n want %+v", got, want)
	}
}

// reportsEqual requires bit-for-bit equal metrics (NaN equals NaN).
func reportsEqual(t *testing.T, got, want eval.Report) {
	t.Helper()
	same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	if got.Queries != want.Queries || got.Excluded != want.Excluded || got.K != want.K ||
		!same(got.PrecisionAt1, want.PrecisionAt1) || !same(got.RPrecision, want.RPrecision) ||
		!same(got.MAPAtR, want.MAPAtR) || !same(got.KNNAccuracy, want.KNNAccuracy) {
		t.Fatalf("report mismatch\n got  %+v\n want %+v", got, want)
	}
}

const tol = 1e-12

// Hand-computed cases. Embeddings are 1- or 2-dimensional so that squared
// distances can be read off; each comment lists a query's neighbours as
// index(squared distance):label, nearest first.

// crossRefs: five references on a line.
var (
	crossRefs      = []float32{2, 0, 4, 5, 10}
	crossRefLabels = []int{1, 0, 0, 1, 2}
	crossQueries   = []float32{1, 4.75, 9, 3}
	crossQLabels   = []int{0, 1, 3, 0}
)

// Neighbours of crossQueries (ties in distance go to the lower index):
//
//	q0 = 1    label 0, R = 2: 0(1):1 1(1):0 2(9):0 3(16):1 4(81):2   tie 0/1 -> ref 0 first
//	q1 = 4.75 label 1, R = 2: 3(0.0625):1 2(0.5625):0 0(7.5625):1 1(22.5625):0 4(27.5625):2
//	q2 = 9    label 3, R = 0: 4(1):2 3(16):1 2(25):0 0(49):1 1(81):0   excluded
//	q3 = 3    label 0, R = 2: 0(1):1 2(1):0 3(4):1 1(9):0 4(49):2      tie 0/2 -> ref 0 first
//
// Per query (P@1, R-precision, AP@R):
//
//	q0: rel = 0,1       -> P@1 0, R-prec 1/2, AP (1/2)(1/2)   = 1/4
//	q1: rel = 1,0       -> P@1 1, R-prec 1/2, AP (1/2)(1/1)   = 1/2
//	q3: rel = 0,1       -> P@1 0, R-prec 1/2, AP (1/2)(1/2)   = 1/4
//
// Means over the 3 non-excluded queries: P@1 1/3, R-prec 1/2, MAP@R 1/3.
//
// k-NN votes, K = 3 (vote ties go to the label ranked first):
//
//	q0: 1,0,0 -> 0 right; q1: 1,0,1 -> 1 right; q2: 2,1,0 -> 2 wrong; q3: 1,0,1 -> 1 wrong  => 2/4
//
// K = 4:
//
//	q0: 1,0,0,1 -> tie, 1 wrong; q1: 1,0,1,0 -> tie, 1 right; q2: 2,1,0,1 -> 1 wrong;
//	q3: 1,0,1,0 -> tie, 1 wrong  => 1/4
//
// K = 0 means 5 (all references):
//
//	q0: 1,0,0,1,2 -> tie, 1 wrong; q1: 1,0,1,0,2 -> tie, 1 right; q2: 2,1,0,1,0 -> tie, 1 wrong;
//	q3: 1,0,1,0,2 -> tie, 1 wrong  => 1/4

// selfEmb: five 2-D points; rows 0 and 1 are the same point.
var (
	selfEmb    = []float32{0, 0, 0, 0, 3, 0, 0, 4, 3, 4}
	selfLabels = []int{0, 1, 0, 1, 2}
)

// Squared distances: d01 = 0, d02 = 9, d03 = 16, d04 = 25, d12 = 9, d13 = 16,
// d14 = 25, d23 = 25, d24 = 16, d34 = 9. Neighbours (never the query itself;
// row 1 duplicates row 0 and is a neighbour of row 0 at distance 0):
//
//	e0 label 0, R = 1: 1(0):1 2(9):0 3(16):1 4(25):2   -> P@1 0, R-prec 0, AP 0
//	e1 label 1, R = 1: 0(0):0 2(9):0 3(16):1 4(25):2   -> P@1 0, R-prec 0, AP 0
//	e2 label 0, R = 1: 0(9):0 1(9):1 4(16):2 3(25):1   -> tie 0/1 -> row 0 first: P@1 1, R-prec 1, AP 1
//	e3 label 1, R = 1: 4(9):2 0(16):0 1(16):1 2(25):0  -> P@1 0, R-prec 0, AP 0
//	e4 label 2, R = 0: 3(9):1 2(16):0 0(25):0 1(25):1  -> excluded
//
// Means over 4 queries: P@1 = R-prec = MAP@R = 1/4.
//
// K = 3: e0 1,0,1 -> 1 wrong; e1 0,0,1 -> 0 wrong; e2 0,1,2 -> tie, 0 right;
// e3 2,0,1 -> tie, 2 wrong; e4 1,0,0 -> 0 wrong  => 1/5.
// K = 0 means min(5, 5-1) = 4: e0 1,0,1,2 -> 1 wrong; e1 0,0,1,2 -> 0 wrong;
// e2 0,1,2,1 -> 1 wrong; e3 2,0,1,0 -> 0 wrong; e4 1,0,0,1 -> tie, 1 wrong  => 0.

func TestRetrievalHand(t *testing.T) {
	tests := []struct {
		name string
		opt  eval.Options
		want eval.Report
	}{
		{"K=3", eval.Options{K: 3},
			eval.Report{PrecisionAt1: 1.0 / 3, RPrecision: 0.5, MAPAtR: 1.0 / 3, KNNAccuracy: 0.5, Queries: 4, Excluded: 1, K: 3}},
		{"K=4", eval.Options{K: 4},
			eval.Report{PrecisionAt1: 1.0 / 3, RPrecision: 0.5, MAPAtR: 1.0 / 3, KNNAccuracy: 0.25, Queries: 4, Excluded: 1, K: 4}},
		{"default K", eval.Options{},
			eval.Report{PrecisionAt1: 1.0 / 3, RPrecision: 0.5, MAPAtR: 1.0 / 3, KNNAccuracy: 0.25, Queries: 4, Excluded: 1, K: 5}},
		{"K=3/one query per block/one worker", eval.Options{K: 3, BlockSize: 1, Workers: 1},
			eval.Report{PrecisionAt1: 1.0 / 3, RPrecision: 0.5, MAPAtR: 1.0 / 3, KNNAccuracy: 0.5, Queries: 4, Excluded: 1, K: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eval.Retrieval(crossQueries, crossQLabels, crossRefs, crossRefLabels, 1, tt.opt)
			noError(t, err)
			reportsNear(t, got, tt.want, tol)
		})
	}
}

func TestSelfRetrievalHand(t *testing.T) {
	tests := []struct {
		name string
		opt  eval.Options
		want eval.Report
	}{
		{"K=3", eval.Options{K: 3},
			eval.Report{PrecisionAt1: 0.25, RPrecision: 0.25, MAPAtR: 0.25, KNNAccuracy: 0.2, Queries: 5, Excluded: 1, K: 3}},
		{"default K is n-1", eval.Options{},
			eval.Report{PrecisionAt1: 0.25, RPrecision: 0.25, MAPAtR: 0.25, KNNAccuracy: 0, Queries: 5, Excluded: 1, K: 4}},
		{"K=3/blocks of 2/3 workers", eval.Options{K: 3, BlockSize: 2, Workers: 3},
			eval.Report{PrecisionAt1: 0.25, RPrecision: 0.25, MAPAtR: 0.25, KNNAccuracy: 0.2, Queries: 5, Excluded: 1, K: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eval.SelfRetrieval(selfEmb, selfLabels, 2, tt.opt)
			noError(t, err)
			reportsNear(t, got, tt.want, tol)
		})
	}
}

func TestSmallCases(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		q      []float32
		ql     []int
		r      []float32
		rl     []int // nil: self-retrieval on q
		dim, k int
		want   eval.Report
	}{
		{
			// No reference has label 1: every query is excluded, the three
			// averages are 0/0, and k-NN (nearest is label 0) is wrong for both.
			name: "all excluded", q: []float32{0, 1}, ql: []int{1, 1}, r: []float32{0, 5}, rl: []int{0, 0}, dim: 1, k: 1,
			want: eval.Report{PrecisionAt1: nan, RPrecision: nan, MAPAtR: nan, KNNAccuracy: 0, Queries: 2, Excluded: 2, K: 1},
		},
		{
			// Self: rows 0 and 2 are the same point (label 0), row 1 (label 1)
			// is the same point too. Row 0's neighbours: 1(0):1, 2(0):0 (tie,
			// lower index first) -> P@1 0; R = 1, R-prec 0, AP 0.
			// Row 1: 0(0):0, 2(0):0 -> R = 0, excluded; K=1 vote 0 wrong.
			// Row 2: 0(0):0, 1(0):1 -> P@1 1, R-prec 1, AP 1.
			// Means over 2: 1/2 each; k-NN (K=1): row 0 wrong, row 2 right -> 1/3.
			name: "self/all duplicates", q: []float32{7, 7, 7}, ql: []int{0, 1, 0}, dim: 1, k: 1,
			want: eval.Report{PrecisionAt1: 0.5, RPrecision: 0.5, MAPAtR: 0.5, KNNAccuracy: 1.0 / 3, Queries: 3, Excluded: 1, K: 1},
		},
		{
			// Query 0 at (1,1) label 0 against refs a=(0,0):0, b=(2,2):1,
			// c=(1,3):0, d=(3,1):0. Squared distances: a 2, b 2, c 4, d 4.
			// Order a, b (tie -> index), c, d (tie -> index); labels 0,1,0,0.
			// R = 3: rel 1,0,1 -> P@1 1, R-prec 2/3, AP (1/3)(1/1 + 2/3) = 5/9.
			// K=2 votes 0,1 -> tie, 0 ranked first -> right.
			name: "2-D ties", q: []float32{1, 1}, ql: []int{0},
			r: []float32{0, 0, 2, 2, 1, 3, 3, 1}, rl: []int{0, 1, 0, 0}, dim: 2, k: 2,
			want: eval.Report{PrecisionAt1: 1, RPrecision: 2.0 / 3, MAPAtR: 5.0 / 9, KNNAccuracy: 1, Queries: 1, Excluded: 0, K: 2},
		},
		{
			// The same but with refs listed b, a, d, c: the ties now go to b
			// (label 1) and c. Order b, a, c, d: labels 1,0,0,0.
			// R = 3: rel 0,1,1 -> P@1 0, R-prec 2/3, AP (1/3)(1/2 + 2/3) = 7/18.
			// K=2 votes 1,0 -> tie, 1 ranked first -> wrong.
			name: "2-D ties/reordered", q: []float32{1, 1}, ql: []int{0},
			r: []float32{2, 2, 0, 0, 3, 1, 1, 3}, rl: []int{1, 0, 0, 0}, dim: 2, k: 2,
			want: eval.Report{PrecisionAt1: 0, RPrecision: 2.0 / 3, MAPAtR: 7.0 / 18, KNNAccuracy: 0, Queries: 1, Excluded: 0, K: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got eval.Report
			var err error
			if tt.rl == nil {
				got, err = eval.SelfRetrieval(tt.q, tt.ql, tt.dim, eval.Options{K: tt.k})
			} else {
				got, err = eval.Retrieval(tt.q, tt.ql, tt.r, tt.rl, tt.dim, eval.Options{K: tt.k})
			}
			noError(t, err)
			reportsNear(t, got, tt.want, tol)
		})
	}
}

// TestFloat32Misorder pins a case where the float32 distances order the
// k-NN voters wrongly and no same-label reference is near them: only the
// rule that every possible voter is ranked in float64 gets the vote right.
//
// One dimension; queries ±1000.37 (label 0), references mirrored at ± the
// values below, so every label's mean is 0, both queries share a block,
// and its mean (0) does not move them. The float32 distance
// ‖q‖² + ‖r‖² − 2q·r is then off by up to about 0.5 around 1e6 − 1e6:
//
//	ref          label  d64 = (q−r)²  float32 distance
//	1000.42      0      0.0025        (far below the rest)
//	1000.47      0      0.01
//	1002.52795   2      4.65679       4.75
//	1002.52814   1      4.65758       4.625
//	1002.53467   1      4.68581       4.625
//	1002.53577   1      4.69057       4.625
//	1002.5364    1      4.69321       4.625
//
// By d64 the K = 5 nearest are 0, 0, 2, 1, 1: labels 0 and 1 tie with 2
// votes and 0 is ranked first, so the vote is right; by the float32
// distances they would be 0, 0, 1, 1, 1 and label 1 would win. R = 4 (the
// mirrored label-0 references count): rel = 1,1,0,0 -> P@1 1,
// R-precision 1/2, AP (1/4)(1/1 + 2/2) = 1/2.
func TestFloat32Misorder(t *testing.T) {
	half := []float32{1000.42, 1000.47, 1002.52795, 1002.52814, 1002.53467, 1002.53577, 1002.5364}
	halfLabels := []int{0, 0, 2, 1, 1, 1, 1}
	var refs []float32
	var labels []int
	for _, sign := range []float32{1, -1} {
		for i, v := range half {
			refs = append(refs, sign*v)
			labels = append(labels, halfLabels[i])
		}
	}
	q, ql := []float32{1000.37, -1000.37}, []int{0, 0}
	got, err := eval.Retrieval(q, ql, refs, labels, 1, eval.Options{K: 5})
	noError(t, err)
	want := eval.Report{PrecisionAt1: 1, RPrecision: 0.5, MAPAtR: 0.5, KNNAccuracy: 1, Queries: 2, K: 5}
	reportsEqual(t, got, want)
	reportsEqual(t, bruteForce(q, ql, refs, labels, 1, false, 5), want)
}

// bruteForce is the test oracle: for every query it computes the float64
// squared distance to every reference by a plain loop, sorts all of them
// by (distance, index), and applies the definitions in doc.go.
func bruteForce(q []float32, ql []int, r []float32, rl []int, dim int, self bool, k int) eval.Report {
	nq, nr := len(ql), len(rl)
	count := map[int]int{}
	for _, l := range rl {
		count[l]++
	}
	type nb struct {
		d float64
		j int
	}
	rep := eval.Report{Queries: nq, K: k}
	var p1, rprec, ap, knn float64
	for i := range nq {
		var nbs []nb
		for j := range nr {
			if self && j == i {
				continue
			}
			var d float64
			for l := range dim {
				x := float64(q[i*dim+l]) - float64(r[j*dim+l])
				d += x * x
			}
			nbs = append(nbs, nb{d, j})
		}
		sort.Slice(nbs, func(a, b int) bool {
			return nbs[a].d < nbs[b].d || (nbs[a].d == nbs[b].d && nbs[a].j < nbs[b].j)
		})
		// k-NN: count votes; the winner is the first label in rank order
		// whose count is the maximum.
		votes := map[int]int{}
		for _, n := range nbs[:k] {
			votes[rl[n.j]]++
		}
		most := 0
		for _, c := range votes {
			most = max(most, c)
		}
		for _, n := range nbs[:k] {
			if votes[rl[n.j]] == most {
				if rl[n.j] == ql[i] {
					knn++
				}
				break
			}
		}
		R := count[ql[i]]
		if self {
			R--
		}
		if R == 0 {
			rep.Excluded++
			continue
		}
		if rl[nbs[0].j] == ql[i] {
			p1++
		}
		hits := 0
		var sum float64
		for rank, n := range nbs[:R] {
			if rl[n.j] == ql[i] {
				hits++
				sum += float64(hits) / float64(rank+1)
			}
		}
		rprec += float64(hits) / float64(R)
		ap += sum / float64(R)
	}
	rep.KNNAccuracy = knn / float64(nq)
	n := float64(nq - rep.Excluded)
	if n == 0 {
		n = math.NaN()
	}
	rep.PrecisionAt1, rep.RPrecision, rep.MAPAtR = p1/n, rprec/n, ap/n
	return rep
}

// genData returns n rows of dim values and labels drawn from classes.
// kind "gauss": class centre plus N(0,1) noise; "unit": the same scaled to
// unit norm; "grid": integers in [-2, 2] (many exact distance ties);
// "offset": gauss plus 1000 on every coordinate (large float32 rounding
// error relative to the distances); "huge": gauss times 1e19 (float32
// squared norms overflow); "tiny": gauss times 1e-25 (float32 products
// underflow); "tight": unit-norm clusters of radius about 0.05 around the
// class centres; "collapsed": every row within about 0.02 of one unit
// vector, classes 0.01 apart (like the L2-normalised embeddings of a
// briefly trained model: squared distances near 1e-4, comparable to the
// float32 rounding error of ‖q‖² + ‖r‖² − 2q·r); "twin": rows alternate
// between two clusters of radius about 0.01 at ± class 0's centre, with
// labels unrelated to the cluster (a block of queries spans both, so its
// mean is near the origin and the float32 distances, off by about 1e-4
// against within-cluster distances near 1e-4, order almost nothing).
func genData(rng *rand.Rand, n, dim, classes int, kind string) ([]float32, []int) {
	centres := make([]float64, classes*dim)
	for i := range centres {
		centres[i] = rng.NormFloat64()
	}
	x := make([]float32, n*dim)
	labels := make([]int, n)
	for i := range n {
		c := rng.IntN(classes)
		labels[i] = c - classes/2 // negative labels too
		row := x[i*dim : (i+1)*dim]
		var norm float64
		v := make([]float64, dim)
		for l := range dim {
			v[l] = centres[c*dim+l] + rng.NormFloat64()
			norm += v[l] * v[l]
		}
		for l := range dim {
			switch kind {
			case "gauss":
				row[l] = float32(v[l])
			case "unit":
				row[l] = float32(v[l] / math.Sqrt(norm))
			case "grid":
				row[l] = float32(rng.IntN(5) - 2)
			case "offset":
				row[l] = float32(1000 + v[l])
			case "huge":
				row[l] = float32(1e19 * v[l])
			case "tiny":
				row[l] = float32(1e-25 * v[l])
			case "tight":
				row[l] = float32(centres[c*dim+l] + 0.05*(v[l]-centres[c*dim+l]))
			case "collapsed":
				row[l] = float32(1 + 0.01*centres[c*dim+l] + 0.004*(v[l]-centres[c*dim+l]))
			case "twin":
				row[l] = float32(float64(1-2*(i%2))*centres[l] + 0.001*(v[l]-centres[c*dim+l]))
			}
		}
		if kind == "tight" || kind == "collapsed" {
			var s float64
			for _, x := range row {
				s += float64(x) * float64(x)
			}
			for l := range row {
				row[l] = float32(float64(row[l]) / math.Sqrt(s))
			}
		}
	}
	return x, labels
}

// TestAgainstBruteForce compares the fast path with the oracle on random
// data. The metrics must be identical: both rank by float64 squared
// distance with ties to the lower index; the only possible difference is
// the summation order of the float64 distance, which only matters for
// distances within a few ulps of each other (none occur here; "grid"
// distances are small integers, exact in any order, so its many exact ties
// are compared exactly too).
func TestAgainstBruteForce(t *testing.T) {
	tests := []struct {
		nq, nr, dim, classes int
		kind                 string
		self                 bool
		opt                  eval.Options
	}{
		{nq: 50, nr: 300, dim: 8, classes: 5, kind: "gauss"},
		{nq: 7, nr: 500, dim: 3, classes: 2, kind: "gauss", opt: eval.Options{K: 11}},
		{nq: 130, nr: 400, dim: 65, classes: 10, kind: "unit", opt: eval.Options{BlockSize: 7, Workers: 3}},
		{nq: 200, nr: 200, dim: 1, classes: 3, kind: "gauss", opt: eval.Options{K: 1}},
		{nq: 100, nr: 1000, dim: 5, classes: 3, kind: "grid", opt: eval.Options{K: 7}},
		{nq: 100, nr: 300, dim: 130, classes: 4, kind: "grid"},
		{nq: 60, nr: 500, dim: 16, classes: 4, kind: "offset"},
		{nq: 20, nr: 100, dim: 7, classes: 3, kind: "huge"},
		{nq: 20, nr: 100, dim: 6, classes: 3, kind: "tiny"},
		{nq: 150, nr: 2000, dim: 33, classes: 2, kind: "gauss", opt: eval.Options{BlockSize: 64}},
		{nq: 300, nr: 80, dim: 4, classes: 60, kind: "gauss", opt: eval.Options{K: 80}},
		{nq: 300, dim: 9, classes: 5, kind: "gauss", self: true},
		{nq: 257, dim: 64, classes: 40, kind: "unit", self: true, opt: eval.Options{K: 3, BlockSize: 16}},
		{nq: 400, dim: 2, classes: 3, kind: "grid", self: true, opt: eval.Options{K: 10, Workers: 1}},
		{nq: 50, dim: 12, classes: 3, kind: "huge", self: true},
		{nq: 2, dim: 3, classes: 1, kind: "gauss", self: true},
		// Clustered unit-norm data, where float32 distances alone cannot
		// rank the neighbours: queries are grouped by nearest class mean,
		// moved by their block's mean, and near ties resolved in float64.
		{nq: 120, nr: 3000, dim: 16, classes: 4, kind: "collapsed"},
		{nq: 90, nr: 2000, dim: 64, classes: 10, kind: "collapsed", opt: eval.Options{K: 9, BlockSize: 8, Workers: 2}},
		{nq: 100, nr: 2500, dim: 24, classes: 6, kind: "tight", opt: eval.Options{BlockSize: 13}},
		{nq: 600, dim: 32, classes: 5, kind: "collapsed", self: true},
		{nq: 500, dim: 8, classes: 70, kind: "tight", self: true, opt: eval.Options{K: 4}},
		// Nearly every candidate needs its float64 distance.
		{nq: 100, nr: 600, dim: 16, classes: 5, kind: "twin", opt: eval.Options{K: 7}},
		{nq: 300, dim: 32, classes: 3, kind: "twin", self: true},
	}
	for _, tt := range tests {
		for seed := uint64(1); seed <= 3; seed++ {
			name := fmt.Sprintf("%s/self=%v/Q=%d/R=%d/D=%d/C=%d/K=%d/B=%d/seed=%d",
				tt.kind, tt.self, tt.nq, tt.nr, tt.dim, tt.classes, tt.opt.K, tt.opt.BlockSize, seed)
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				q, ql := genData(rng, tt.nq, tt.dim, tt.classes, tt.kind)
				var got, want eval.Report
				var err error
				if tt.self {
					k := tt.opt.K
					if k == 0 {
						k = min(eval.DefaultK, tt.nq-1)
					}
					got, err = eval.SelfRetrieval(q, ql, tt.dim, tt.opt)
					want = bruteForce(q, ql, q, ql, tt.dim, true, k)
				} else {
					r, rl := genData(rng, tt.nr, tt.dim, tt.classes, tt.kind)
					k := tt.opt.K
					if k == 0 {
						k = min(eval.DefaultK, tt.nr)
					}
					got, err = eval.Retrieval(q, ql, r, rl, tt.dim, tt.opt)
					want = bruteForce(q, ql, r, rl, tt.dim, false, k)
				}
				noError(t, err)
				reportsEqual(t, got, want)
			})
		}
	}
}

// TestWorkersBlockSize checks that the report does not depend on how the
// queries are split into blocks and workers.
func TestWorkersBlockSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	x, labels := genData(rng, 333, 10, 4, "gauss")
	base, err := eval.SelfRetrieval(x, labels, 10, eval.Options{BlockSize: 333, Workers: 1})
	noError(t, err)
	for _, opt := range []eval.Options{{}, {BlockSize: 1}, {BlockSize: 5, Workers: 2}, {BlockSize: 100, Workers: 8}, {BlockSize: 1000}} {
		t.Run(fmt.Sprintf("B=%d/W=%d", opt.BlockSize, opt.Workers), func(t *testing.T) {
			got, err := eval.SelfRetrieval(x, labels, 10, opt)
			noError(t, err)
			reportsEqual(t, got, base)
		})
	}
}

func TestErrors(t *testing.T) {
	two := []float32{0, 1, 2, 3} // 2 rows at dim 2
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name string
		run  func() (eval.Report, error)
		want string
	}{
		{"Retrieval/dim 0", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, 0, eval.Options{})
		}, "eval: dim must be positive, got 0"},
		{"Retrieval/dim -2", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, -2, eval.Options{})
		}, "eval: dim must be positive, got -2"},
		{"Retrieval/queries not whole rows", func() (eval.Report, error) {
			return eval.Retrieval(two[:3], []int{0}, two, []int{0, 1}, 2, eval.Options{})
		}, "eval: queries has 3 values, not a multiple of dim = 2"},
		{"Retrieval/query labels", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0}, two, []int{0, 1}, 2, eval.Options{})
		}, "eval: queryLabels has 1 entries, queries have 2 rows"},
		{"Retrieval/no queries", func() (eval.Report, error) {
			return eval.Retrieval(nil, nil, two, []int{0, 1}, 2, eval.Options{})
		}, "eval: queries is empty"},
		{"Retrieval/refs not whole rows", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two[:1], nil, 2, eval.Options{})
		}, "eval: refs has 1 values, not a multiple of dim = 2"},
		{"Retrieval/ref labels", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1, 2}, 2, eval.Options{})
		}, "eval: refLabels has 3 entries, refs have 2 rows"},
		{"Retrieval/no refs", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, []float32{}, []int{}, 2, eval.Options{})
		}, "eval: refs is empty"},
		{"Retrieval/K negative", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{K: -1})
		}, "eval: K must be non-negative, got -1"},
		{"Retrieval/BlockSize negative", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{BlockSize: -3})
		}, "eval: BlockSize must be non-negative, got -3"},
		{"Retrieval/Workers negative", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{Workers: -1})
		}, "eval: Workers must be non-negative, got -1"},
		{"Retrieval/K too large", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{K: 3})
		}, "eval: K = 3 exceeds the 2 references"},
		{"Retrieval/NaN query", func() (eval.Report, error) {
			return eval.Retrieval([]float32{0, 1, 2, nan}, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{})
		}, "eval: queries row 1 has a non-finite value NaN at column 1"},
		{"Retrieval/Inf ref", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, []float32{inf, 1, 2, 3}, []int{0, 1}, 2, eval.Options{})
		}, "eval: refs row 0 has a non-finite value +Inf at column 0"},
		{"Retrieval/-Inf ref", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, []float32{0, 1, -inf, 3}, []int{0, 1}, 2, eval.Options{})
		}, "eval: refs row 1 has a non-finite value -Inf at column 0"},
		{"SelfRetrieval/dim 0", func() (eval.Report, error) {
			return eval.SelfRetrieval(two, []int{0, 1}, 0, eval.Options{})
		}, "eval: dim must be positive, got 0"},
		{"SelfRetrieval/not whole rows", func() (eval.Report, error) {
			return eval.SelfRetrieval(two, []int{0}, 3, eval.Options{})
		}, "eval: emb has 4 values, not a multiple of dim = 3"},
		{"SelfRetrieval/labels", func() (eval.Report, error) {
			return eval.SelfRetrieval(two, []int{0, 1, 2}, 2, eval.Options{})
		}, "eval: labels has 3 entries, emb have 2 rows"},
		{"SelfRetrieval/empty", func() (eval.Report, error) {
			return eval.SelfRetrieval(nil, nil, 2, eval.Options{})
		}, "eval: emb is empty"},
		{"SelfRetrieval/one row", func() (eval.Report, error) {
			return eval.SelfRetrieval(two[:2], []int{0}, 2, eval.Options{})
		}, "eval: self-retrieval needs at least 2 rows, got 1"},
		{"SelfRetrieval/K negative", func() (eval.Report, error) {
			return eval.SelfRetrieval(two, []int{0, 1}, 2, eval.Options{K: -5})
		}, "eval: K must be non-negative, got -5"},
		{"SelfRetrieval/BlockSize negative", func() (eval.Report, error) {
			return eval.SelfRetrieval(two, []int{0, 1}, 2, eval.Options{BlockSize: -1})
		}, "eval: BlockSize must be non-negative, got -1"},
		{"SelfRetrieval/Workers negative", func() (eval.Report, error) {
			return eval.SelfRetrieval(two, []int{0, 1}, 2, eval.Options{Workers: -2})
		}, "eval: Workers must be non-negative, got -2"},
		{"SelfRetrieval/K too large", func() (eval.Report, error) {
			return eval.SelfRetrieval(two, []int{0, 1}, 2, eval.Options{K: 2})
		}, "eval: K = 2 exceeds the 1 other rows a query can retrieve (2 rows minus itself)"},
		{"SelfRetrieval/NaN", func() (eval.Report, error) {
			return eval.SelfRetrieval([]float32{0, 1, 2, 3, 4, nan}, []int{0, 1, 2}, 2, eval.Options{})
		}, "eval: emb row 2 has a non-finite value NaN at column 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := tt.run()
			if err == nil {
				t.Fatalf("no error, report %+v; want %q", rep, tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("error %q, want %q", err, tt.want)
			}
			if rep != (eval.Report{}) {
				t.Fatalf("report %+v returned with the error, want the zero Report", rep)
			}
		})
	}
}

// BenchmarkRetrieval times exact retrieval of Q queries against R
// references of dimension D with 10 classes (R/10 same-label references
// per query, as in MNIST) and the default options, on "unit" data and on
// "collapsed" data (like trained MNIST embeddings: every distance near the
// float32 rounding error of the matrix-product formula).
func BenchmarkRetrieval(b *testing.B) {
	for _, size := range []struct {
		q, r, d int
		kind    string
	}{{1000, 6000, 64, "unit"}, {10000, 60000, 64, "unit"}, {1000, 6000, 64, "collapsed"}, {10000, 60000, 64, "collapsed"}} {
		name := fmt.Sprintf("Q=%d/R=%d/D=%d", size.q, size.r, size.d)
		if size.kind != "unit" {
			name += "/" + size.kind
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			q, ql := genData(rng, size.q, size.d, 10, size.kind)
			r, rl := genData(rng, size.r, size.d, 10, size.kind)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eval.Retrieval(q, ql, r, rl, size.d, eval.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
