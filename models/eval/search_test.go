package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// clusterRows returns n rows of dim values with labels in [0, classes):
// kind "gauss": class centre plus N(0,1) noise; "collapsed": every row
// within about 0.02 of one unit vector, classes 0.01 apart; "offset":
// gauss plus 1000; "tiny": gauss times 1e-25.
func clusterRows(rng *rand.Rand, centres []float64, n, dim int, kind string) ([]float32, []int) {
	classes := len(centres) / dim
	x := make([]float32, n*dim)
	labels := make([]int, n)
	for i := range n {
		c := rng.IntN(classes)
		labels[i] = c
		row := x[i*dim : (i+1)*dim]
		for l := range row {
			g := centres[c*dim+l]
			switch kind {
			case "gauss":
				row[l] = float32(g + rng.NormFloat64())
			case "collapsed":
				row[l] = float32(1 + 0.01*g + 0.004*rng.NormFloat64())
			case "offset":
				row[l] = float32(1000 + g + rng.NormFloat64())
			case "tiny":
				row[l] = float32(1e-25 * (g + rng.NormFloat64()))
			}
		}
		if kind == "collapsed" {
			var s float64
			for _, v := range row {
				s += float64(v) * float64(v)
			}
			for l := range row {
				row[l] = float32(float64(row[l]) / math.Sqrt(s))
			}
		}
	}
	return x, labels
}

// TestErrorBound checks the premise of the search: for every query and
// reference, the float32 distance computed from a block's moved vectors is
// within errorBound of the float64 distance, using each reference's own
// norm (the search uses the largest norm of a set, which is larger). On
// data far from the origin relative to its spread, blocks must be moved
// and the bound must be small next to the distances.
func TestErrorBound(t *testing.T) {
	const nq, nr, dim, classes = 150, 600, 24, 4
	for _, kind := range []string{"gauss", "collapsed", "offset", "tiny"} {
		t.Run(kind, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			centres := make([]float64, classes*dim)
			for i := range centres {
				centres[i] = rng.NormFloat64()
			}
			q, ql := clusterRows(rng, centres, nq, dim, kind)
			r, rl := clusterRows(rng, centres, nr, dim, kind)
			p := newProblem(q, ql, r, rl, dim, nq, nr, false, 5)
			p.plan(64)
			w := newWorker(p, 64)
			var maxR float64 // largest norm of an unmoved reference
			for j := range nr {
				var s float64
				for _, v := range r[j*dim : (j+1)*dim] {
					s += float64(v) * float64(v)
				}
				maxR = max(maxR, math.Sqrt(s))
			}
			worst := 0.0         // largest |d32 − d64| / e
			var ratios []float64 // e over the median d64, per query
			var gains []float64  // e unmoved over e, per query
			for b := range len(p.bounds) - 1 {
				qs := p.order[p.bounds[b]:p.bounds[b+1]]
				maxRn := p.distances(w, qs)
				if kind == "collapsed" || kind == "offset" {
					if !w.moved {
						t.Fatalf("block %d not moved", b)
					}
				}
				q64 := make([]float64, dim)
				d64s := make([]float64, nr)
				for i, qi := range qs {
					for l, v := range q[int(qi)*dim : (int(qi)+1)*dim] {
						q64[l] = float64(v)
					}
					row := w.dist[i*nr : (i+1)*nr]
					qnorm := math.Sqrt(w.qn[i])
					for j := range nr {
						d32 := float32(w.qn[i]) + w.rn[j] + row[j]
						if !(d32 > 0) {
							d32 = 0
						}
						d64 := sqDist64(q64, r[j*dim:(j+1)*dim])
						d64s[j] = d64
						e, ok := errorBound(dim, qnorm, normOf(w.rn[j]), w.moved)
						if !ok {
							t.Fatalf("query %d ref %d: bound reports overflow", qi, j)
						}
						err := math.Abs(float64(d32) - d64)
						if err > e {
							t.Fatalf("query %d ref %d (moved %v): |d32 − d64| = |%g − %g| = %g > bound %g",
								qi, j, w.moved, d32, d64, err, e)
						}
						worst = max(worst, err/e)
					}
					e, _ := errorBound(dim, qnorm, normOf(maxRn), w.moved)
					var qn float64
					for _, v := range q64 {
						qn += v * v
					}
					e0, _ := errorBound(dim, math.Sqrt(qn), maxR, false)
					slices.Sort(d64s)
					ratios = append(ratios, e/d64s[nr/2])
					gains = append(gains, e0/e)
				}
			}
			slices.Sort(ratios)
			slices.Sort(gains)
			t.Logf("largest error / bound %.3g; bound / median distance: median %.3g, max %.3g; unmoved bound / bound: min %.3g",
				worst, ratios[len(ratios)/2], ratios[len(ratios)-1], gains[0])
			if kind == "collapsed" || kind == "offset" {
				if gains[0] < 100 {
					t.Fatalf("moving shrinks the bound only %.3g-fold for some query, want ≥ 100", gains[0])
				}
			}
		})
	}
}

// TestPlan checks that the query order is a permutation, that blocks hold
// at most bs queries, and that with few labels no block mixes queries
// whose nearest label mean differs.
func TestPlan(t *testing.T) {
	const nq, nr, dim, classes = 300, 500, 6, 5
	rng := rand.New(rand.NewPCG(8, 9))
	centres := make([]float64, classes*dim)
	for i := range centres {
		centres[i] = 10 * rng.NormFloat64()
	}
	q, ql := clusterRows(rng, centres, nq, dim, "gauss")
	r, rl := clusterRows(rng, centres, nr, dim, "gauss")
	for _, bs := range []int{1, 7, 64, 300} {
		t.Run(fmt.Sprintf("bs=%d", bs), func(t *testing.T) {
			p := newProblem(q, ql, r, rl, dim, nq, nr, false, 5)
			p.plan(bs)
			seen := make([]bool, nq)
			for _, qi := range p.order {
				if seen[qi] {
					t.Fatalf("query %d listed twice", qi)
				}
				seen[qi] = true
			}
			if len(p.order) != nq || p.bounds[0] != 0 || p.bounds[len(p.bounds)-1] != nq {
				t.Fatalf("order has %d queries, bounds %v…%v", len(p.order), p.bounds[0], p.bounds[len(p.bounds)-1])
			}
			for b := range len(p.bounds) - 1 {
				qs := p.order[p.bounds[b]:p.bounds[b+1]]
				if len(qs) == 0 || len(qs) > bs {
					t.Fatalf("block %d has %d queries, want 1..%d", b, len(qs), bs)
				}
				// Well-separated classes: a query's nearest label mean is
				// its own label's, so a block holds one label.
				for _, qi := range qs {
					if ql[qi] != ql[qs[0]] {
						t.Fatalf("block %d mixes labels %d and %d", b, ql[qs[0]], ql[qi])
					}
				}
			}
		})
	}
}
