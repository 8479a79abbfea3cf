package mining_test

// Brute-force oracles, written independently of the miners: they read the
// raw matrix entries and flip the comparisons by hand for similarities
// (they never call Batch.Dissimilarity or Batch.Closer), enumerate every
// candidate, and break ties by a stable sort over increasing batch index.

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/contrastive-go/contrastive/mining"
)

type triplet = [3]int
type pair = [2]int

// mat is a test batch.
type mat struct {
	v      []float64
	larger bool
	labels []int
	dim    int
}

func (m mat) n() int              { return len(m.labels) }
func (m mat) at(i, j int) float64 { return m.v[i*len(m.labels)+j] }
func (m mat) same(i, j int) bool  { return m.labels[i] == m.labels[j] }
func (m mat) batch() mining.Batch {
	return mining.Batch{Dist: m.v, LargerIsCloser: m.larger, Labels: m.labels, Dim: m.dim}
}

// farther reports whether entry x is strictly farther than entry y.
func (m mat) farther(x, y float64) bool {
	if m.larger {
		return x < y
	}
	return x > y
}

// positives and negatives of anchor a, in increasing index order.
func (m mat) positives(a int) []int {
	var out []int
	for j := 0; j < m.n(); j++ {
		if j != a && m.same(a, j) {
			out = append(out, j)
		}
	}
	return out
}

func (m mat) negatives(a int) []int {
	var out []int
	for j := 0; j < m.n(); j++ {
		if !m.same(a, j) {
			out = append(out, j)
		}
	}
	return out
}

// farthestFirst sorts candidates of row a farthest first, lowest index
// first among equal entries; closestFirst the other way round.
func (m mat) farthestFirst(a int, c []int) []int {
	c = slices.Clone(c)
	sort.SliceStable(c, func(x, y int) bool { return m.farther(m.at(a, c[x]), m.at(a, c[y])) })
	return c
}

func (m mat) closestFirst(a int, c []int) []int {
	c = slices.Clone(c)
	sort.SliceStable(c, func(x, y int) bool { return m.farther(m.at(a, c[y]), m.at(a, c[x])) })
	return c
}

func oracleBatchHard(m mat) []triplet {
	var out []triplet
	for a := 0; a < m.n(); a++ {
		pos, neg := m.positives(a), m.negatives(a)
		if len(pos) == 0 || len(neg) == 0 {
			continue
		}
		out = append(out, triplet{a, m.farthestFirst(a, pos)[0], m.closestFirst(a, neg)[0]})
	}
	return out
}

func oracleAllTriplets(m mat, onlyViolating bool, margin float64) []triplet {
	var out []triplet
	for a := 0; a < m.n(); a++ {
		for _, p := range m.positives(a) {
			for _, n := range m.negatives(a) {
				var hinge float64 // argument of the triplet loss's hinge
				if m.larger {
					hinge = m.at(a, n) - m.at(a, p) + margin
				} else {
					hinge = m.at(a, p) - m.at(a, n) + margin
				}
				if !onlyViolating || hinge > 0 {
					out = append(out, triplet{a, p, n})
				}
			}
		}
	}
	return out
}

func oracleSemiHard(m mat, margin float64, fb mining.SemiHardFallback) []triplet {
	var out []triplet
	for a := 0; a < m.n(); a++ {
		neg := m.negatives(a)
		if len(neg) == 0 {
			continue
		}
		for _, p := range m.positives(a) {
			ap := m.at(a, p)
			var window []int
			for _, n := range neg {
				an := m.at(a, n)
				if !m.larger && an > ap && an < ap+margin || m.larger && an < ap && an > ap-margin {
					window = append(window, n)
				}
			}
			switch {
			case len(window) > 0:
				out = append(out, triplet{a, p, m.closestFirst(a, window)[0]})
			case fb == mining.FallbackFarthest:
				out = append(out, triplet{a, p, m.farthestFirst(a, neg)[0]})
			case fb == mining.FallbackHardest:
				out = append(out, triplet{a, p, m.closestFirst(a, neg)[0]})
			}
		}
	}
	return out
}

// oracleOfType follows pytorch-metric-learning's TripletMarginMiner line by
// line: triplet_margin = ap − an for similarities, an − ap for distances.
func oracleOfType(m mat, typ mining.TripletType, margin float64) []triplet {
	var out []triplet
	for a := 0; a < m.n(); a++ {
		for _, p := range m.positives(a) {
			for _, n := range m.negatives(a) {
				tm := m.at(a, n) - m.at(a, p)
				if m.larger {
					tm = m.at(a, p) - m.at(a, n)
				}
				var keep bool
				switch typ {
				case mining.TypeEasy:
					keep = tm > margin
				case mining.TypeHard:
					keep = tm <= margin && tm <= 0
				case mining.TypeSemiHard:
					keep = tm <= margin && tm > 0
				case mining.TypeAll:
					keep = tm <= margin
				}
				if keep {
					out = append(out, triplet{a, p, n})
				}
			}
		}
	}
	return out
}

// oracleMultiSimilarity follows PML's MultiSimilarityMiner.
func oracleMultiSimilarity(m mat, eps float64) (pos, neg []pair) {
	for i := 0; i < m.n(); i++ {
		P, N := m.positives(i), m.negatives(i)
		if len(P) == 0 || len(N) == 0 {
			continue
		}
		minPos, maxPos := math.Inf(1), math.Inf(-1)
		for _, j := range P {
			minPos, maxPos = math.Min(minPos, m.at(i, j)), math.Max(maxPos, m.at(i, j))
		}
		minNeg, maxNeg := math.Inf(1), math.Inf(-1)
		for _, k := range N {
			minNeg, maxNeg = math.Min(minNeg, m.at(i, k)), math.Max(maxNeg, m.at(i, k))
		}
		for _, j := range P {
			if m.larger && m.at(i, j)-eps < maxNeg || !m.larger && m.at(i, j)+eps > minNeg {
				pos = append(pos, pair{i, j})
			}
		}
		for _, k := range N {
			if m.larger && m.at(i, k)+eps > minPos || !m.larger && m.at(i, k)-eps < maxPos {
				neg = append(neg, pair{i, k})
			}
		}
	}
	return pos, neg
}

// oraclePairMargin follows PML's PairMarginMiner.
func oraclePairMargin(m mat, posMargin, negMargin float64) (pos, neg []pair) {
	for i := 0; i < m.n(); i++ {
		for _, j := range m.positives(i) {
			if m.larger && m.at(i, j) < posMargin || !m.larger && m.at(i, j) > posMargin {
				pos = append(pos, pair{i, j})
			}
		}
		for _, k := range m.negatives(i) {
			if m.larger && m.at(i, k) > negMargin || !m.larger && m.at(i, k) < negMargin {
				neg = append(neg, pair{i, k})
			}
		}
	}
	return pos, neg
}

// tripletsOf returns the filled slots of t, sorted.
func tripletsOf(t *mining.TripletList) []triplet {
	out := make([]triplet, t.Len())
	for k := range out {
		out[k] = triplet{t.Anchor[k], t.Positive[k], t.Negative[k]}
	}
	return sortedTriplets(out)
}

func pairsOf(p *mining.PairList) []pair {
	out := make([]pair, p.Len())
	for k := range out {
		out[k] = pair{p.I[k], p.J[k]}
	}
	return sortedPairs(out)
}

func sortedTriplets(t []triplet) []triplet {
	t = slices.Clone(t)
	slices.SortFunc(t, func(x, y triplet) int {
		for i := range x {
			if x[i] != y[i] {
				return x[i] - y[i]
			}
		}
		return 0
	})
	if t == nil {
		t = []triplet{}
	}
	return t
}

func sortedPairs(p []pair) []pair {
	p = slices.Clone(p)
	slices.SortFunc(p, func(x, y pair) int {
		if x[0] != y[0] {
			return x[0] - y[0]
		}
		return x[1] - y[1]
	})
	if p == nil {
		p = []pair{}
	}
	return p
}

// embeddings returns b L2-normalised random vectors of dimension d.
func embeddings(r *rand.Rand, b, d int) [][]float64 {
	x := make([][]float64, b)
	for i := range x {
		x[i] = make([]float64, d)
		s := 0.0
		for k := range x[i] {
			x[i][k] = r.NormFloat64()
			s += x[i][k] * x[i][k]
		}
		s = math.Sqrt(s)
		if s == 0 {
			x[i][0], s = 1, 1
		}
		for k := range x[i] {
			x[i][k] /= s
		}
	}
	return x
}

// euclidean returns the B×B matrix of Euclidean distances, rounded to
// multiples of quantum when quantum > 0 (to create ties).
func euclidean(x [][]float64, quantum float64) []float64 {
	b := len(x)
	out := make([]float64, b*b)
	for i := range x {
		for j := range x {
			s := 0.0
			for k := range x[i] {
				d := x[i][k] - x[j][k]
				s += d * d
			}
			v := math.Sqrt(s)
			if quantum > 0 {
				v = math.Round(v/quantum) * quantum
			}
			out[i*b+j] = v
		}
	}
	return out
}

// dots returns the B×B matrix of dot products (cosine similarities for
// normalised rows), rounded like euclidean.
func dots(x [][]float64, quantum float64) []float64 {
	b := len(x)
	out := make([]float64, b*b)
	for i := range x {
		for j := range x {
			s := 0.0
			for k := range x[i] {
				s += x[i][k] * x[j][k]
			}
			if quantum > 0 {
				s = math.Round(s/quantum) * quantum
			}
			out[i*b+j] = s
		}
	}
	return out
}

func randomLabels(r *rand.Rand, b, classes int) []int {
	l := make([]int, b)
	for i := range l {
		l[i] = r.IntN(classes)
	}
	return l
}

// negated returns −v (similarities with the same order as distances v).
func negated(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = -x
	}
	return out
}
