package eval_test

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/contrastive-go/contrastive/models/eval"
)

// allNear compares every field of two reports, the new metrics included,
// within tol (NaN equals NaN).
func allNear(t *testing.T, got, want eval.Report, tol float64) {
	t.Helper()
	if got.Queries != want.Queries || got.Excluded != want.Excluded || got.K != want.K || got.Depth != want.Depth ||
		!near(got.PrecisionAt1, want.PrecisionAt1, tol) || !near(got.RPrecision, want.RPrecision, tol) ||
		!near(got.MAPAtR, want.MAPAtR, tol) || !near(got.KNNAccuracy, want.KNNAccuracy, tol) ||
		!near(got.MAP, want.MAP, tol) || !near(got.MRR, want.MRR, tol) ||
		!near(got.NMI, want.NMI, tol) || !near(got.AMI, want.AMI, tol) {
		t.Fatalf("report mismatch\n got  %+v\n want %+v", got, want)
	}
}

// oracle is the test oracle for the PML-style metrics: for every query it
// computes every distance by a plain float64 loop (Euclidean: squared
// distance; Cosine: the squared distance of the rows divided by their
// float64 norms and rounded to float32, as eval.Cosine defines it), sorts all references by (distance, index), takes the
// first D as pytorch-metric-learning's knn_labels, and applies
// AccuracyCalculator's formulas to them (relevance mask of min(R, D)
// columns for R-precision and MAP@R; MAP divided by the hits within D, at
// least 1; MRR 0 without a hit within D), then averages over queries or,
// with perClass, over labels of the per-label means (avg_of_avgs). NMI and
// AMI are left NaN.
func oracle(q []float32, ql []int, r []float32, rl []int, dim int, self bool, opt eval.Options) eval.Report {
	nq, nr := len(ql), len(rl)
	count := map[int]int{}
	for _, l := range rl {
		count[l]++
	}
	k := opt.K
	avail := nr
	if self {
		avail--
	}
	if k == 0 {
		k = min(eval.DefaultK, avail)
	}
	depth := opt.Depth
	if depth == 0 {
		depth = avail
	}
	if opt.MaxBinCount {
		depth = 0
		for _, l := range ql {
			depth = max(depth, count[l])
		}
		if self {
			depth--
		}
	}
	norm := func(x []float32) float64 {
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		return math.Sqrt(s)
	}
	type nb struct {
		d float64
		j int
	}
	type perQuery struct {
		label                      int
		excluded, knn              bool
		p1, rprec, mapr, mapk, mrr float64
	}
	var res []perQuery
	for i := range nq {
		qi := q[i*dim : (i+1)*dim]
		var nbs []nb
		for j := range nr {
			if self && j == i {
				continue
			}
			rj := r[j*dim : (j+1)*dim]
			var d float64
			if opt.Distance == eval.Cosine {
				// eval.Cosine's definition: unit rows rounded to float32.
				nq, nr := norm(qi), norm(rj)
				for l := range dim {
					x := float64(float32(float64(qi[l])/nq)) - float64(float32(float64(rj[l])/nr))
					d += x * x
				}
			} else {
				for l := range dim {
					x := float64(qi[l]) - float64(rj[l])
					d += x * x
				}
			}
			nbs = append(nbs, nb{d, j})
		}
		sort.Slice(nbs, func(a, b int) bool {
			return nbs[a].d < nbs[b].d || (nbs[a].d == nbs[b].d && nbs[a].j < nbs[b].j)
		})
		pq := perQuery{label: ql[i]}
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
				pq.knn = rl[n.j] == ql[i]
				break
			}
		}
		R := count[ql[i]]
		if self {
			R--
		}
		if R == 0 {
			pq.excluded = true
			res = append(res, pq)
			continue
		}
		knnLabels := make([]int, depth)
		for c := range depth {
			knnLabels[c] = rl[nbs[c].j]
		}
		// R-precision and MAP@R: relevance mask = the first min(R, D) columns.
		cols := min(R, depth)
		hits, cum := 0, 0
		var sumR float64
		for c := range cols {
			if knnLabels[c] == ql[i] {
				hits++
				sumR += float64(hits) / float64(c+1)
			}
		}
		pq.rprec = float64(hits) / float64(cols)
		pq.mapr = sumR / float64(cols)
		// MAP over all D columns, divided by the hits among them.
		var sumD float64
		for c := range depth {
			if knnLabels[c] == ql[i] {
				cum++
				sumD += float64(cum) / float64(c+1)
			}
		}
		pq.mapk = sumD / float64(max(cum, 1))
		for c := range depth {
			if knnLabels[c] == ql[i] {
				pq.mrr = 1 / float64(c+1)
				break
			}
		}
		if knnLabels[0] == ql[i] {
			pq.p1 = 1
		}
		res = append(res, pq)
	}
	avg := func(skip bool, f func(perQuery) float64) float64 {
		sums, ns := map[int]float64{}, map[int]int{}
		var s float64
		n := 0
		for _, pq := range res {
			if skip && pq.excluded {
				continue
			}
			sums[pq.label] += f(pq)
			ns[pq.label]++
			s += f(pq)
			n++
		}
		if n == 0 {
			return math.NaN()
		}
		if !opt.PerClass {
			return s / float64(n)
		}
		var m float64
		for l, s := range sums {
			m += s / float64(ns[l])
		}
		return m / float64(len(sums))
	}
	rep := eval.Report{Queries: nq, K: k, Depth: depth, NMI: math.NaN(), AMI: math.NaN(), MAP: math.NaN(), MRR: math.NaN()}
	for _, pq := range res {
		if pq.excluded {
			rep.Excluded++
		}
	}
	rep.KNNAccuracy = avg(false, func(pq perQuery) float64 {
		if pq.knn {
			return 1
		}
		return 0
	})
	rep.PrecisionAt1 = avg(true, func(pq perQuery) float64 { return pq.p1 })
	rep.RPrecision = avg(true, func(pq perQuery) float64 { return pq.rprec })
	rep.MAPAtR = avg(true, func(pq perQuery) float64 { return pq.mapr })
	if opt.MAP {
		rep.MAP = avg(true, func(pq perQuery) float64 { return pq.mapk })
	}
	if opt.MRR {
		rep.MRR = avg(true, func(pq perQuery) float64 { return pq.mrr })
	}
	return rep
}

// TestPMLMetricsAgainstOracle compares the search with the oracle on
// random data for every new option; the reports must agree to rounding of
// the averages.
func TestPMLMetricsAgainstOracle(t *testing.T) {
	full := eval.Options{MAP: true, MRR: true}
	with := func(o eval.Options, f func(*eval.Options)) eval.Options { f(&o); return o }
	tests := []struct {
		nq, nr, dim, classes int
		kind                 string
		self                 bool
		opt                  eval.Options
	}{
		{nq: 50, nr: 300, dim: 8, classes: 5, kind: "gauss", opt: full},
		{nq: 50, nr: 300, dim: 8, classes: 5, kind: "gauss", opt: eval.Options{MAP: true}},
		{nq: 50, nr: 300, dim: 8, classes: 5, kind: "gauss", opt: eval.Options{MRR: true, K: 1}},
		{nq: 90, nr: 2000, dim: 64, classes: 10, kind: "collapsed", opt: eval.Options{MRR: true}},
		{nq: 60, nr: 500, dim: 16, classes: 4, kind: "tight", opt: eval.Options{MAP: true}},
		{nq: 40, nr: 200, dim: 8, classes: 5, kind: "gauss", opt: with(full, func(o *eval.Options) { o.Depth = 7 })},
		{nq: 40, nr: 200, dim: 8, classes: 5, kind: "gauss", opt: with(full, func(o *eval.Options) { o.MaxBinCount = true })},
		{nq: 40, nr: 200, dim: 8, classes: 5, kind: "gauss", opt: with(full, func(o *eval.Options) { o.PerClass = true })},
		{nq: 40, nr: 200, dim: 8, classes: 5, kind: "gauss", opt: eval.Options{Depth: 3, PerClass: true}},
		{nq: 60, nr: 250, dim: 6, classes: 4, kind: "gauss", opt: with(full, func(o *eval.Options) { o.Distance = eval.Cosine })},
		{nq: 60, nr: 250, dim: 6, classes: 4, kind: "gauss", opt: eval.Options{Distance: eval.Cosine, K: 9, Depth: 20}},
		{nq: 100, nr: 1000, dim: 5, classes: 3, kind: "grid", opt: with(full, func(o *eval.Options) { o.Depth = 50; o.K = 7 })},
		{nq: 90, nr: 2000, dim: 64, classes: 10, kind: "collapsed", opt: with(full, func(o *eval.Options) { o.BlockSize = 8 })},
		{nq: 100, nr: 600, dim: 16, classes: 5, kind: "twin", opt: with(full, func(o *eval.Options) { o.MaxBinCount = true })},
		{nq: 20, nr: 100, dim: 7, classes: 3, kind: "huge", opt: full},
		{nq: 300, nr: 80, dim: 4, classes: 60, kind: "gauss", opt: with(full, func(o *eval.Options) { o.PerClass = true; o.Depth = 10 })},
		{nq: 200, dim: 9, classes: 5, kind: "gauss", self: true, opt: full},
		{nq: 200, dim: 9, classes: 5, kind: "gauss", self: true, opt: with(full, func(o *eval.Options) { o.MaxBinCount = true; o.PerClass = true })},
		{nq: 200, dim: 12, classes: 40, kind: "unit", self: true, opt: with(full, func(o *eval.Options) { o.Distance = eval.Cosine; o.Depth = 4 })},
		{nq: 400, dim: 2, classes: 3, kind: "grid", self: true, opt: with(full, func(o *eval.Options) { o.K = 10 })},
		{nq: 300, dim: 32, classes: 5, kind: "collapsed", self: true, opt: with(full, func(o *eval.Options) { o.Depth = 30 })},
	}
	for _, tt := range tests {
		for seed := uint64(1); seed <= 2; seed++ {
			name := fmt.Sprintf("%s/self=%v/Q=%d/R=%d/D=%d/C=%d/%v/depth=%d/maxbin=%v/perclass=%v/seed=%d",
				tt.kind, tt.self, tt.nq, tt.nr, tt.dim, tt.classes, tt.opt.Distance, tt.opt.Depth, tt.opt.MaxBinCount, tt.opt.PerClass, seed)
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 17))
				q, ql := genData(rng, tt.nq, tt.dim, tt.classes, tt.kind)
				var got, want eval.Report
				var err error
				if tt.self {
					got, err = eval.SelfRetrieval(q, ql, tt.dim, tt.opt)
					want = oracle(q, ql, q, ql, tt.dim, true, tt.opt)
				} else {
					r, rl := genData(rng, tt.nr, tt.dim, tt.classes, tt.kind)
					got, err = eval.Retrieval(q, ql, r, rl, tt.dim, tt.opt)
					want = oracle(q, ql, r, rl, tt.dim, false, tt.opt)
				}
				noError(t, err)
				allNear(t, got, want, 1e-12)
			})
		}
	}
}

// TestPMLMetricsHand checks the new metrics on crossQueries/crossRefs
// (eval_test.go lists their neighbours). Relevance sequences over all 5
// references (1 = the query's label), q2 being excluded (R = 0):
//
//	q0 label 0, R = 2: labels 1,0,0,1,2 -> rel 0,1,1,0,0
//	q1 label 1, R = 2: labels 1,0,1,0,2 -> rel 1,0,1,0,0
//	q3 label 0, R = 2: labels 1,0,1,0,2 -> rel 0,1,0,1,0
//
// Depth 5 (all): AP = mean of P(i) at the hits:
//
//	q0 (1/2 + 2/3)/2 = 7/12, q1 (1 + 2/3)/2 = 5/6, q3 (1/2 + 2/4)/2 = 1/2
//	MAP = (7/12 + 10/12 + 6/12)/3 = 23/36; RR 1/2, 1, 1/2 -> MRR 2/3.
//
// Depth 2 (= MaxBinCount: reference counts 2, 2, 1 for labels 1, 0, 2; the
// query labels 0, 1, 3 have 2, 2, 0): MAP divides by the hits within 2:
//
//	q0 rel 0,1 -> (1/2)/1 = 1/2; q1 rel 1,0 -> 1; q3 rel 0,1 -> 1/2 => MAP 2/3
//	MRR (1/2 + 1 + 1/2)/3 = 2/3; R-precision and MAP@R read min(R, 2) = 2: unchanged.
//
// Depth 1: min(R, 1) = 1 column: R-precision = MAP@R = P@1 = 1/3; MAP: q0 0
// (no hit: 0/1), q1 1, q3 0 -> 1/3; MRR 1/3.
//
// PerClass, depth 5: labels 0 (q0, q3) and 1 (q1); label 3 (q2) is excluded
// except for k-NN. P@1: class 0 (0+0)/2, class 1 1 -> 1/2. R-precision
// all 1/2 -> 1/2. MAP@R: class 0 (1/4+1/4)/2 = 1/4, class 1 1/2 -> 3/8.
// MAP: class 0 (7/12+1/2)/2 = 13/24, class 1 5/6 -> (13/24+20/24)/2 = 11/16.
// MRR: class 0 1/2, class 1 1 -> 3/4. 1-NN: q0 nearest label 1 (wrong),
// q1 right, q2 wrong, q3 wrong: classes 0: 0, 1: 1, 3: 0 -> 1/3 (globally 1/4).
func TestPMLMetricsHand(t *testing.T) {
	nan := math.NaN()
	base := eval.Report{PrecisionAt1: 1.0 / 3, RPrecision: 0.5, MAPAtR: 1.0 / 3, KNNAccuracy: 0.25, Queries: 4, Excluded: 1, K: 5,
		NMI: nan, AMI: nan}
	set := func(f func(*eval.Report)) eval.Report { r := base; f(&r); return r }
	tests := []struct {
		name string
		opt  eval.Options
		want eval.Report
	}{
		{"depth all", eval.Options{MAP: true, MRR: true},
			set(func(r *eval.Report) { r.MAP, r.MRR, r.Depth = 23.0/36, 2.0/3, 5 })},
		{"depth all/MAP only", eval.Options{MAP: true},
			set(func(r *eval.Report) { r.MAP, r.MRR, r.Depth = 23.0/36, nan, 5 })},
		{"depth 2", eval.Options{MAP: true, MRR: true, Depth: 2},
			set(func(r *eval.Report) { r.MAP, r.MRR, r.Depth = 2.0/3, 2.0/3, 2 })},
		{"max bin count", eval.Options{MAP: true, MRR: true, MaxBinCount: true},
			set(func(r *eval.Report) { r.MAP, r.MRR, r.Depth = 2.0/3, 2.0/3, 2 })},
		{"depth 1", eval.Options{MAP: true, MRR: true, Depth: 1},
			set(func(r *eval.Report) { r.RPrecision, r.MAPAtR, r.MAP, r.MRR, r.Depth = 1.0/3, 1.0/3, 1.0/3, 1.0/3, 1 })},
		{"depth 1/default metrics", eval.Options{Depth: 1},
			set(func(r *eval.Report) { r.RPrecision, r.MAPAtR, r.MAP, r.MRR, r.Depth = 1.0/3, 1.0/3, nan, nan, 1 })},
		{"per class/K=1", eval.Options{MAP: true, MRR: true, PerClass: true, K: 1},
			eval.Report{PrecisionAt1: 0.5, RPrecision: 0.5, MAPAtR: 3.0 / 8, KNNAccuracy: 1.0 / 3, MAP: 11.0 / 16, MRR: 0.75,
				NMI: nan, AMI: nan, Queries: 4, Excluded: 1, K: 1, Depth: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eval.Retrieval(crossQueries, crossQLabels, crossRefs, crossRefLabels, 1, tt.opt)
			noError(t, err)
			allNear(t, got, tt.want, tol)
			allNear(t, oracle(crossQueries, crossQLabels, crossRefs, crossRefLabels, 1, false, tt.opt), tt.want, tol)
		})
	}
}

// TestCosineHand: query (1, 0), label 0, against four references
//
//	ref  vector    label  cos                 squared Euclidean
//	0    (2, 0.1)  1      2/√4.01 ≈ 0.99875   1.01
//	1    (1, 1)    0      1/√2 ≈ 0.7071       1
//	2    (−1, 0)   0      −1                  4
//	3    (0, 3)    1      0                   10
//
// Cosine order 0, 1, 3, 2: rel 0,1,0,1 (R = 2): P@1 0, R-precision 1/2,
// MAP@R (1/2)/2 = 1/4, MAP (1/2 + 2/4)/2 = 1/2, MRR 1/2; 1-NN wrong.
// Euclidean order 1, 0, 2, 3: rel 1,0,1,0: P@1 1, R-precision 1/2,
// MAP@R 1/2, MAP (1 + 2/3)/2 = 5/6, MRR 1; 1-NN right.
func TestCosineHand(t *testing.T) {
	q, ql := []float32{1, 0}, []int{0}
	r, rl := []float32{2, 0.1, 1, 1, -1, 0, 0, 3}, []int{1, 0, 0, 1}
	nan := math.NaN()
	for _, tt := range []struct {
		d    eval.Distance
		want eval.Report
	}{
		{eval.Cosine, eval.Report{PrecisionAt1: 0, RPrecision: 0.5, MAPAtR: 0.25, MAP: 0.5, MRR: 0.5, KNNAccuracy: 0,
			NMI: nan, AMI: nan, Queries: 1, K: 1, Depth: 4}},
		{eval.Euclidean, eval.Report{PrecisionAt1: 1, RPrecision: 0.5, MAPAtR: 0.5, MAP: 5.0 / 6, MRR: 1, KNNAccuracy: 1,
			NMI: nan, AMI: nan, Queries: 1, K: 1, Depth: 4}},
	} {
		t.Run(tt.d.String(), func(t *testing.T) {
			opt := eval.Options{Distance: tt.d, K: 1, MAP: true, MRR: true}
			got, err := eval.Retrieval(q, ql, r, rl, 2, opt)
			noError(t, err)
			allNear(t, got, tt.want, tol)
			// Scaling a row does not change its cosines.
			scaled := []float32{20, 1, 0.5, 0.5, -3, 0, 0, 0.25}
			got, err = eval.Retrieval([]float32{7, 0}, ql, scaled, rl, 2, opt)
			noError(t, err)
			if tt.d == eval.Cosine {
				allNear(t, got, tt.want, tol)
			}
		})
	}
}

// TestEdgeCases covers one class, singletons and all-tied distances.
func TestEdgeCases(t *testing.T) {
	nan := math.NaN()
	full := eval.Options{MAP: true, MRR: true, Clusters: true}
	tests := []struct {
		name   string
		x      []float32
		labels []int
		dim    int
		opt    eval.Options
		want   eval.Report
	}{
		{
			// One class: every neighbour is relevant, so every metric is 1;
			// k-means with k = 1 puts everything in one cluster, and two
			// one-group labellings score NMI = AMI = 1 (scikit-learn's
			// convention).
			name: "one class", x: []float32{0, 1, 5, 9, 2}, labels: []int{3, 3, 3, 3, 3}, dim: 1, opt: full,
			want: eval.Report{PrecisionAt1: 1, RPrecision: 1, MAPAtR: 1, KNNAccuracy: 1, MAP: 1, MRR: 1, NMI: 1, AMI: 1,
				Queries: 5, K: 4, Depth: 4},
		},
		{
			// Singletons: no query has a same-label neighbour, so every
			// query is excluded and the averages are NaN; k-NN is always
			// wrong. k-means with k = 4 gives the 4 distinct points a
			// cluster each (k-means++ never picks a point twice while
			// another has positive distance): labels and clusters are
			// both all-distinct, MI = H = ln 4, NMI = 1. E[MI] = ln 4 as
			// well (each of the 16 cells has n_ij = 1 with probability
			// 1/4, term (1/4) ln 4), so AMI = 0/eps: its numerator is
			// MI − E[MI], which rounding leaves at 0 or ± a few ulps;
			// the test skips AMI here (see TestAMIHand for the rule).
			name: "singletons", x: []float32{0, 1, 5, 9}, labels: []int{0, 1, 2, 3}, dim: 1, opt: eval.Options{MAP: true, MRR: true},
			want: eval.Report{PrecisionAt1: nan, RPrecision: nan, MAPAtR: nan, KNNAccuracy: 0, MAP: nan, MRR: nan, NMI: nan, AMI: nan,
				Queries: 4, Excluded: 4, K: 3, Depth: 3},
		},
		{
			// All rows equal: every distance ties and the ranking is by
			// index. Labels 0,1,0,1:
			//   row 0: rows 1,2,3 labels 1,0,1; R = 1: P@1 0, R-prec 0, AP@R 0; MAP P(2) = 1/2; RR 1/2
			//   row 1: rows 0,2,3 labels 0,0,1; R = 1: 0, 0, 0; MAP 1/3; RR 1/3
			//   row 2: rows 0,1,3 labels 0,1,1; R = 1: 1, 1, 1; MAP 1; RR 1
			//   row 3: rows 0,1,2 labels 0,1,0; R = 1: 0, 0, 0; MAP 1/2; RR 1/2
			// P@1 = R-prec = MAP@R = 1/4; MAP = MRR = (1/2 + 1/3 + 1 + 1/2)/4 = 7/12.
			// 1-NN: rows 0 (label 1 nearest), 1 (0), 2 (0), 3 (0) -> right for 2 only: 1/4.
			// k-means, k = 2: k-means++ finds every row at distance 0 of the
			// first centre and takes the lowest unchosen row; both centres
			// coincide, ties go to centre 0, so the clustering has one
			// group: MI = 0 -> NMI 0; E[MI] = 0 (one group), AMI = 0/(ln 2 / 2) = 0.
			name: "all tied", x: []float32{2, 2, 2, 2, 2, 2, 2, 2}, labels: []int{0, 1, 0, 1}, dim: 2,
			opt: eval.Options{MAP: true, MRR: true, Clusters: true, K: 1},
			want: eval.Report{PrecisionAt1: 0.25, RPrecision: 0.25, MAPAtR: 0.25, KNNAccuracy: 0.25, MAP: 7.0 / 12, MRR: 7.0 / 12,
				NMI: 0, AMI: 0, Queries: 4, K: 1, Depth: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eval.SelfRetrieval(tt.x, tt.labels, tt.dim, tt.opt)
			noError(t, err)
			allNear(t, got, tt.want, tol)
			want := oracle(tt.x, tt.labels, tt.x, tt.labels, tt.dim, true, tt.opt)
			want.NMI, want.AMI = tt.want.NMI, tt.want.AMI
			allNear(t, got, want, tol)
		})
	}
}

// TestOptionErrors: bad new options get clear errors and a zero Report.
func TestOptionErrors(t *testing.T) {
	two := []float32{0, 1, 2, 3}
	tests := []struct {
		name string
		run  func() (eval.Report, error)
		want string
	}{
		{"Retrieval/Depth too large", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{Depth: 3})
		}, "eval: Depth = 3 exceeds the 2 references"},
		{"SelfRetrieval/Depth too large", func() (eval.Report, error) {
			return eval.SelfRetrieval(two, []int{0, 1}, 2, eval.Options{Depth: 2})
		}, "eval: Depth = 2 exceeds the 1 other rows a query can retrieve (2 rows minus itself)"},
		{"Depth negative", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{Depth: -1})
		}, "eval: Depth must be non-negative, got -1"},
		{"Depth and MaxBinCount", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{Depth: 1, MaxBinCount: true})
		}, "eval: Depth = 1 and MaxBinCount both set; MaxBinCount chooses the depth"},
		{"MaxBinCount with singletons", func() (eval.Report, error) {
			return eval.SelfRetrieval(two, []int{0, 1}, 2, eval.Options{MaxBinCount: true})
		}, "eval: MaxBinCount gives depth 0: no query has a same-label reference"},
		{"unknown distance", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{Distance: 7})
		}, "eval: unknown Distance(7): want Euclidean or Cosine"},
		{"cosine/zero query", func() (eval.Report, error) {
			return eval.Retrieval([]float32{1, 1, 0, 0}, []int{0, 1}, two, []int{0, 1}, 2, eval.Options{Distance: eval.Cosine})
		}, "eval: queries row 1 is zero and has no cosine with anything"},
		{"cosine/zero ref", func() (eval.Report, error) {
			return eval.Retrieval(two, []int{0, 1}, []float32{0, 0, 1, 1}, []int{0, 1}, 2, eval.Options{Distance: eval.Cosine})
		}, "eval: refs row 0 is zero and has no cosine with anything"},
		{"cosine/zero self row", func() (eval.Report, error) {
			return eval.SelfRetrieval([]float32{1, 2, 0, 0, 3, 4}, []int{0, 1, 0}, 2, eval.Options{Distance: eval.Cosine})
		}, "eval: emb row 1 is zero and has no cosine with anything"},
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

// binom is C(n, k) exactly.
func binom(n, k int) *big.Int {
	if k < 0 || k > n {
		return big.NewInt(0)
	}
	return new(big.Int).Binomial(int64(n), int64(k))
}

// infoOracle computes NMI and AMI of two labellings straight from the
// definitions (Vinh, Epps and Bailey 2010): the contingency table by
// counting pairs, entropies and MI as sums of p·ln p, and E[MI] by
// enumerating every cell value n_ij with its exact hypergeometric
// probability C(b_j, n_ij)·C(n−b_j, a_i−n_ij)/C(n, a_i) in big integers
// (the chance that a random labelling with the same group sizes puts n_ij
// of class i's a_i items among cluster j's b_j). Arithmetic-mean
// normalisation and scikit-learn's special cases: both one group -> 1;
// NMI 0 when MI is 0; denominator kept ≥ eps in magnitude.
func infoOracle(u, v []int) (nmi, ami float64) {
	n := len(u)
	groups := func(x []int) map[int]int {
		m := map[int]int{}
		for _, l := range x {
			m[l]++
		}
		return m
	}
	a, b := groups(u), groups(v)
	if len(a) == 1 && len(b) == 1 {
		return 1, 1
	}
	cell := map[[2]int]int{}
	for i := range u {
		cell[[2]int{u[i], v[i]}]++
	}
	N := float64(n)
	var mi, hu, hv float64
	for key, c := range cell {
		p := float64(c) / N
		mi += p * math.Log(p/((float64(a[key[0]])/N)*(float64(b[key[1]])/N)))
	}
	mi = max(mi, 0)
	for _, c := range a {
		p := float64(c) / N
		hu -= p * math.Log(p)
	}
	for _, c := range b {
		p := float64(c) / N
		hv -= p * math.Log(p)
	}
	mean := (hu + hv) / 2
	if mi == 0 {
		nmi = 0
	} else {
		nmi = mi / mean
	}
	var emi float64
	if len(a) > 1 && len(b) > 1 {
		for _, ai := range a {
			for _, bj := range b {
				total := binom(n, ai)
				for nij := 1; nij <= min(ai, bj); nij++ {
					ways := new(big.Int).Mul(binom(bj, nij), binom(n-bj, ai-nij))
					if ways.Sign() == 0 {
						continue
					}
					prob, _ := new(big.Rat).SetFrac(ways, total).Float64()
					x := float64(nij)
					emi += x / N * math.Log(N*x/(float64(ai)*float64(bj))) * prob
				}
			}
		}
	}
	den := mean - emi
	if den < 0 {
		den = min(den, -0x1p-52)
	} else {
		den = max(den, 0x1p-52)
	}
	return nmi, (mi - emi) / den
}

// TestInfoHand: hand-derived NMI and AMI.
func TestInfoHand(t *testing.T) {
	ln2, ln3 := math.Log(2), math.Log(3)
	tests := []struct {
		name     string
		u, v     []int
		nmi, ami float64
	}{
		// Identical split: MI = H = ln 2 -> NMI 1; AMI (MI−E)/(H−E) = 1.
		{"identical", []int{0, 0, 1, 1}, []int{5, 5, 9, 9}, 1, 1},
		// Crossed: every cell n_ij = 1 = a_i b_j / n, MI = 0 -> NMI 0.
		// E[MI]: a = b = (2, 2), n = 4; per cell n_ij = 1 has probability
		// C(2,1)C(2,1)/C(4,2) = 4/6 and term (1/4) ln(4·1/4) = 0, n_ij = 2
		// probability 1/6 and term (2/4) ln(4·2/4) = ln 2 / 2: E = 4·(ln 2/12)
		// = ln 2 / 3. AMI = (0 − ln2/3)/(ln 2 − ln2/3) = −1/2.
		{"crossed", []int{0, 0, 1, 1}, []int{0, 1, 0, 1}, 0, -0.5},
		// One labelling has one group: MI = 0 -> NMI 0; E[MI] = 0 and the
		// denominator (ln 2 + 0)/2 > 0 -> AMI 0.
		{"one cluster", []int{0, 0, 1, 1}, []int{4, 4, 4, 4}, 0, 0},
		{"one item", []int{7}, []int{3}, 1, 1},
	}
	// Classes (3, 3) against clusters (2, 2, 2) with cells 2,1 / 1,2:
	// MI = 2·(2/6) ln(6·2/(3·2)) + 2·(1/6) ln(6·1/(3·2)) = (2/3) ln 2,
	// H(U) = ln 2, H(V) = ln 3: NMI = (2/3) ln 2 / ((ln 2 + ln 3)/2).
	tests = append(tests, struct {
		name     string
		u, v     []int
		nmi, ami float64
	}{"3+3 vs 2+2+2", []int{0, 0, 0, 1, 1, 1}, []int{0, 0, 1, 1, 2, 2}, (4.0 / 3) * ln2 / (ln2 + ln3), math.NaN()})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nmi, err := eval.NMI(tt.u, tt.v)
			noError(t, err)
			ami, err := eval.AMI(tt.u, tt.v)
			noError(t, err)
			on, oa := infoOracle(tt.u, tt.v)
			if !near(nmi, tt.nmi, 1e-14) || !near(on, tt.nmi, 1e-14) {
				t.Fatalf("NMI %v (oracle %v), want %v", nmi, on, tt.nmi)
			}
			if !math.IsNaN(tt.ami) && (!near(ami, tt.ami, 1e-14) || !near(oa, tt.ami, 1e-14)) {
				t.Fatalf("AMI %v (oracle %v), want %v", ami, oa, tt.ami)
			}
			if !near(ami, oa, 1e-12) {
				t.Fatalf("AMI %v, oracle %v", ami, oa)
			}
		})
	}
}

// TestInfoAgainstOracle: NMI and AMI against infoOracle on random
// labellings of up to 60 items with 1 to 6 groups each.
func TestInfoAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n := 1 + rng.IntN(60)
		cu, cv := 1+rng.IntN(6), 1+rng.IntN(6)
		u, v := make([]int, n), make([]int, n)
		for i := range n {
			u[i] = rng.IntN(cu) * 3 // arbitrary label values
			if rng.IntN(3) == 0 {
				v[i] = u[i] // some agreement
			} else {
				v[i] = -rng.IntN(cv)
			}
		}
		nmi, err := eval.NMI(u, v)
		noError(t, err)
		ami, err := eval.AMI(u, v)
		noError(t, err)
		on, oa := infoOracle(u, v)
		// AMI's denominator can be near 0 (E[MI] near the mean entropy);
		// compare the numerator-scale difference instead there.
		if !near(nmi, on, 1e-12) || !near(ami, oa, 1e-9) {
			t.Fatalf("trial %d (n=%d): NMI %v oracle %v, AMI %v oracle %v\nu %v\nv %v", trial, n, nmi, on, ami, oa, u, v)
		}
	}
}

// TestInfoErrors: mismatched or empty labellings.
func TestInfoErrors(t *testing.T) {
	for _, f := range []struct {
		name string
		fn   func([]int, []int) (float64, error)
	}{{"NMI", eval.NMI}, {"AMI", eval.AMI}} {
		if _, err := f.fn([]int{0, 1}, []int{0}); err == nil || err.Error() != "eval: labels has 2 entries, clusters has 1" {
			t.Fatalf("%s: error %v", f.name, err)
		}
		if _, err := f.fn(nil, nil); err == nil || err.Error() != "eval: labels is empty" {
			t.Fatalf("%s: error %v", f.name, err)
		}
	}
}

// sepBlobs returns n rows around k well-separated centres (distance 100
// apart along axes, noise 1) and each row's blob.
func sepBlobs(rng *rand.Rand, n, dim, k int) ([]float32, []int) {
	x := make([]float32, n*dim)
	blob := make([]int, n)
	for i := range n {
		b := rng.IntN(k)
		blob[i] = b
		for t := range dim {
			v := rng.NormFloat64()
			if t == b%dim {
				v += 100 * float64(1+b/dim)
			}
			x[i*dim+t] = float32(v)
		}
	}
	return x, blob
}

// TestKMeans: well-separated blobs are recovered (NMI 1 against the
// blobs), the result is a Lloyd fixed point checked in float64, and it
// depends on the seed only, not on Workers.
func TestKMeans(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x, blob := sepBlobs(rng, 3000, 16, 10)
	base, err := eval.KMeans(x, 16, 10, eval.KMeansOptions{Seed: 1, Workers: 1})
	noError(t, err)
	nmi, err := eval.NMI(blob, base)
	noError(t, err)
	if nmi != 1 {
		t.Fatalf("NMI against the blobs %v, want 1", nmi)
	}
	for _, w := range []int{0, 2, 5} {
		got, err := eval.KMeans(x, 16, 10, eval.KMeansOptions{Seed: 1, Workers: w})
		noError(t, err)
		for i := range got {
			if got[i] != base[i] {
				t.Fatalf("Workers %d: row %d in cluster %d, %d with 1 worker", w, i, got[i], base[i])
			}
		}
	}
	// Fixed point on overlapping data: every row is (within float32
	// rounding of the distances) nearest to the mean of its cluster.
	y, _ := genData(rand.New(rand.NewPCG(7, 8)), 2000, 8, 6, "gauss")
	cl, err := eval.KMeans(y, 8, 6, eval.KMeansOptions{Seed: 3})
	noError(t, err)
	dim, k := 8, 6
	means := make([]float64, k*dim)
	counts := make([]int, k)
	for i, c := range cl {
		counts[c]++
		for d := range dim {
			means[c*dim+d] += float64(y[i*dim+d])
		}
	}
	for c := range k {
		if counts[c] == 0 {
			t.Fatalf("cluster %d is empty", c)
		}
		for d := range dim {
			means[c*dim+d] /= float64(counts[c])
		}
	}
	for i, c := range cl {
		dist := func(j int) float64 {
			var s float64
			for d := range dim {
				e := float64(y[i*dim+d]) - means[j*dim+d]
				s += e * e
			}
			return s
		}
		own := dist(c)
		for j := range k {
			if d := dist(j); d < own-1e-4*(1+own) {
				t.Fatalf("row %d: cluster %d at %v, but centre %d at %v", i, c, own, j, d)
			}
		}
	}
}

// TestKMeansErrors: bad arguments.
func TestKMeansErrors(t *testing.T) {
	x := []float32{0, 1, 2, 3}
	for _, tt := range []struct {
		name string
		x    []float32
		dim  int
		k    int
		opt  eval.KMeansOptions
		want string
	}{
		{"dim", x, 0, 1, eval.KMeansOptions{}, "eval: dim must be positive, got 0"},
		{"rows", x, 3, 1, eval.KMeansOptions{}, "eval: x has 4 values, not a multiple of dim = 3"},
		{"empty", nil, 2, 1, eval.KMeansOptions{}, "eval: x is empty"},
		{"k 0", x, 2, 0, eval.KMeansOptions{}, "eval: k-means needs 1 ≤ k ≤ 2 rows, got k = 0"},
		{"k > n", x, 2, 3, eval.KMeansOptions{}, "eval: k-means needs 1 ≤ k ≤ 2 rows, got k = 3"},
		{"iterations", x, 2, 1, eval.KMeansOptions{MaxIterations: -1}, "eval: MaxIterations must be non-negative, got -1"},
		{"workers", x, 2, 1, eval.KMeansOptions{Workers: -1}, "eval: Workers must be non-negative, got -1"},
		{"NaN", []float32{0, 1, float32(math.NaN()), 3}, 2, 1, eval.KMeansOptions{}, "eval: x row 1 has a non-finite value NaN at column 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := eval.KMeans(tt.x, tt.dim, tt.k, tt.opt)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestClustersInReport: Options.Clusters reports NMI and AMI of KMeans on
// the queries with k = the number of query labels.
func TestClustersInReport(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	q, ql := genData(rng, 400, 8, 5, "gauss")
	r, rl := genData(rng, 500, 8, 5, "gauss")
	rep, err := eval.Retrieval(q, ql, r, rl, 8, eval.Options{Clusters: true, Seed: 4})
	noError(t, err)
	cl, err := eval.KMeans(q, 8, 5, eval.KMeansOptions{Seed: 4})
	noError(t, err)
	nmi, ami := infoOracle(ql, cl)
	if !near(rep.NMI, nmi, 1e-12) || !near(rep.AMI, ami, 1e-12) {
		t.Fatalf("NMI %v AMI %v, want %v %v", rep.NMI, rep.AMI, nmi, ami)
	}
	if !(rep.NMI > 0.3) || math.IsNaN(rep.AMI) {
		t.Fatalf("NMI %v AMI %v: gauss classes should cluster", rep.NMI, rep.AMI)
	}
}

// BenchmarkKMeans times KMeans of 60,000 × 64 rows (10 classes, like the
// MNIST training embeddings) and NMI/AMI of the result.
func BenchmarkKMeans(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, labels := genData(rng, 60000, 64, 10, "unit")
	b.Run("N=60000/D=64/k=10", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := eval.KMeans(x, 64, 10, eval.KMeansOptions{Seed: 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
	cl, err := eval.KMeans(x, 64, 10, eval.KMeansOptions{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("NMI+AMI/N=60000", func(b *testing.B) {
		for b.Loop() {
			if _, err := eval.NMI(labels, cl); err != nil {
				b.Fatal(err)
			}
			if _, err := eval.AMI(labels, cl); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRetrievalOptions times the default metrics against the options
// that read deeper or rank differently, on "collapsed" data like trained
// MNIST embeddings (10 classes, R = nr/10).
func BenchmarkRetrievalOptions(b *testing.B) {
	for _, size := range []struct{ q, r, d int }{{1000, 6000, 64}, {10000, 60000, 64}} {
		rng := rand.New(rand.NewPCG(1, 2))
		q, ql := genData(rng, size.q, size.d, 10, "collapsed")
		r, rl := genData(rng, size.r, size.d, 10, "collapsed")
		for _, o := range []struct {
			name string
			opt  eval.Options
		}{
			{"default", eval.Options{}},
			{"cosine", eval.Options{Distance: eval.Cosine}},
			{"MAP+MRR/max_bin_count", eval.Options{MAP: true, MRR: true, MaxBinCount: true}},
			{"MAP+MRR/all", eval.Options{MAP: true, MRR: true}},
			{"clusters", eval.Options{Clusters: true}},
		} {
			b.Run(fmt.Sprintf("Q=%d/R=%d/D=%d/%s", size.q, size.r, size.d, o.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := eval.Retrieval(q, ql, r, rl, size.d, o.opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
