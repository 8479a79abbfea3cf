package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"

	"github.com/contrastive-go/contrastive/graph/gemm"
)

// DefaultKMeansIterations is the most Lloyd iterations KMeans runs when
// KMeansOptions.MaxIterations is 0.
const DefaultKMeansIterations = 100

// kmeansChunk is the number of rows whose distances to every centre one
// matrix product computes. It is fixed, not derived from Workers, so that
// the float32 distances, and with them the clusters, do not depend on the
// number of workers.
const kmeansChunk = 256

// KMeansOptions configures KMeans. The zero value is ready to use.
type KMeansOptions struct {
	// Seed seeds the k-means++ initialisation (a PCG generator).
	Seed uint64
	// MaxIterations bounds the Lloyd iterations after the
	// initialisation; 0 means DefaultKMeansIterations.
	MaxIterations int
	// Workers is the number of goroutines that assign rows to centres; 0
	// means runtime.GOMAXPROCS(0). The clusters do not depend on it.
	Workers int
}

// KMeans clusters the n rows of x (n×dim, row-major) into k clusters and
// returns each row's cluster in [0, k).
//
// The centres start by k-means++ (Arthur and Vassilvitskii 2007): the
// first is a row drawn uniformly, each next one a row drawn with
// probability proportional to its squared distance (float64) to the
// nearest centre so far; when every row lies on a centre already, the
// lowest-index row not yet chosen is taken. Then Lloyd iterations (Lloyd
// 1982) assign every row to its nearest centre and move each centre to the
// float64 mean of its rows, until no assignment changes or
// MaxIterations is reached; a centre that loses all its rows stays where
// it is. Assignment compares ‖c‖² − 2x·c from a float32 matrix product
// (graph/gemm's Sgemm) with ties to the lower centre, so rows almost
// equidistant from two centres (within float32 rounding) may go to either,
// but the result is deterministic: it depends only on x, k and Seed.
//
// pytorch-metric-learning's AccuracyCalculator runs faiss' k-means (random
// initial centres, 20 iterations) instead, so its clusters, and its
// NMI/AMI, vary with faiss' seed; they agree with these wherever both
// converge to the same partition.
//
// Cost: O(n·k·dim) per iteration in the matrix product plus O(n·dim) for
// the means; memory O(n + k·dim + Workers·256·k).
func KMeans(x []float32, dim, k int, opt KMeansOptions) ([]int, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("eval: dim must be positive, got %d", dim)
	}
	if len(x)%dim != 0 {
		return nil, fmt.Errorf("eval: x has %d values, not a multiple of dim = %d", len(x), dim)
	}
	n := len(x) / dim
	if n == 0 {
		return nil, fmt.Errorf("eval: x is empty")
	}
	if k < 1 || k > n {
		return nil, fmt.Errorf("eval: k-means needs 1 ≤ k ≤ %d rows, got k = %d", n, k)
	}
	if opt.MaxIterations < 0 {
		return nil, fmt.Errorf("eval: MaxIterations must be non-negative, got %d", opt.MaxIterations)
	}
	if opt.Workers < 0 {
		return nil, fmt.Errorf("eval: Workers must be non-negative, got %d", opt.Workers)
	}
	if err := finite("x", x, dim); err != nil {
		return nil, err
	}
	iters := opt.MaxIterations
	if iters == 0 {
		iters = DefaultKMeansIterations
	}

	centres := plusPlus(x, dim, k, opt.Seed) // k×dim, float64
	c32 := make([]float32, k*dim)
	cn := make([]float32, k)
	assign := make([]int, n)
	for i := range assign {
		assign[i] = -1
	}
	nchunks := (n + kmeansChunk - 1) / kmeansChunk
	nw := workers(Options{Workers: opt.Workers}, nchunks)
	bufs := make([][]float32, nw)
	for w := range bufs {
		bufs[w] = make([]float32, kmeansChunk*k)
	}
	changed := make([]int, nchunks)
	sums := make([]float64, k*dim)
	counts := make([]int, k)
	for range iters {
		for j := range k {
			var s float64
			for t := range dim {
				v := float32(centres[j*dim+t])
				c32[j*dim+t] = v
				s += float64(v) * float64(v)
			}
			cn[j] = float32(s)
		}
		// Assign rows, chunk by chunk, over nw goroutines.
		var wg sync.WaitGroup
		for w := range nw {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := bufs[w]
				for ch := w; ch < nchunks; ch += nw {
					r0 := ch * kmeansChunk
					m := min(kmeansChunk, n-r0)
					gemm.Sgemm(blas.NoTrans, blas.Trans, m, k, dim,
						-2, x[r0*dim:], dim, c32, dim, 0, buf, k)
					changed[ch] = 0
					for i := range m {
						row := buf[i*k : (i+1)*k]
						best, bestD := 0, cn[0]+row[0]
						for j := 1; j < k; j++ {
							if d := cn[j] + row[j]; d < bestD {
								best, bestD = j, d
							}
						}
						if assign[r0+i] != best {
							assign[r0+i] = best
							changed[ch]++
						}
					}
				}
			}()
		}
		wg.Wait()
		moved := 0
		for _, c := range changed {
			moved += c
		}
		if moved == 0 {
			break
		}
		// Move each centre to the mean of its rows, summed in row order.
		clear(sums)
		clear(counts)
		for i, a := range assign {
			counts[a]++
			for t, v := range x[i*dim : (i+1)*dim] {
				sums[a*dim+t] += float64(v)
			}
		}
		for j := range k {
			if counts[j] == 0 {
				continue
			}
			for t := range dim {
				centres[j*dim+t] = sums[j*dim+t] / float64(counts[j])
			}
		}
	}
	return assign, nil
}

// plusPlus returns k initial centres (k×dim, float64) chosen from the rows
// of x by k-means++ seeding.
func plusPlus(x []float32, dim, k int, seed uint64) []float64 {
	n := len(x) / dim
	rng := rand.New(rand.NewPCG(seed, 0x6b6d65616e732b2b)) // "kmeans++"
	centres := make([]float64, k*dim)
	chosen := make([]bool, n)
	near := make([]float64, n) // squared distance to the nearest centre so far
	for i := range near {
		near[i] = math.Inf(1)
	}
	pick := rng.IntN(n)
	for j := range k {
		chosen[pick] = true
		c := centres[j*dim : (j+1)*dim]
		for t, v := range x[pick*dim : (pick+1)*dim] {
			c[t] = float64(v)
		}
		if j == k-1 {
			break
		}
		var total float64
		for i := range n {
			var d float64
			for t, v := range x[i*dim : (i+1)*dim] {
				e := float64(v) - c[t]
				d += e * e
			}
			near[i] = min(near[i], d)
			total += near[i]
		}
		pick = -1
		if total > 0 {
			u := rng.Float64() * total
			var acc float64
			last := -1
			for i, d := range near {
				if d <= 0 {
					continue
				}
				last = i
				acc += d
				if u < acc {
					pick = i
					break
				}
			}
			if pick < 0 { // u landed past the sum's rounding
				pick = last
			}
		} else {
			pick = slices.Index(chosen, false)
		}
	}
	return centres
}

// contingency returns the class sizes a, the cluster sizes b and the
// nonzero cells n_ij of the contingency table of labels against clusters.
func contingency(labels, clusters []int) (a, b []int, cells [][3]int) {
	ai, bi := map[int]int{}, map[int]int{}
	index := func(m map[int]int, xs []int) []int {
		keys := make([]int, 0)
		for _, x := range xs {
			if _, ok := m[x]; !ok {
				m[x] = 0
				keys = append(keys, x)
			}
		}
		slices.Sort(keys)
		for i, x := range keys {
			m[x] = i
		}
		return make([]int, len(keys))
	}
	a, b = index(ai, labels), index(bi, clusters)
	cell := map[[2]int]int{}
	for i := range labels {
		u, v := ai[labels[i]], bi[clusters[i]]
		a[u]++
		b[v]++
		cell[[2]int{u, v}]++
	}
	for key, c := range cell {
		cells = append(cells, [3]int{key[0], key[1], c})
	}
	slices.SortFunc(cells, func(x, y [3]int) int {
		if x[0] != y[0] {
			return x[0] - y[0]
		}
		return x[1] - y[1]
	})
	return a, b, cells
}

// entropy is −Σ (c/n) ln(c/n) over the counts.
func entropy(counts []int, n int) float64 {
	var h float64
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * (math.Log(float64(c)) - math.Log(float64(n)))
	}
	return h
}

// mutualInfo is Σ (n_ij/n) ln(n·n_ij/(a_i b_j)) over the nonzero cells,
// clipped at 0 as rounding can make it slightly negative.
func mutualInfo(a, b []int, cells [][3]int, n int) float64 {
	var mi float64
	ln := math.Log(float64(n))
	for _, c := range cells {
		nij := float64(c[2])
		mi += nij / float64(n) * (math.Log(nij) + ln - math.Log(float64(a[c[0]])) - math.Log(float64(b[c[1]])))
	}
	return max(mi, 0)
}

func checkLabelings(labels, clusters []int) error {
	if len(labels) != len(clusters) {
		return fmt.Errorf("eval: labels has %d entries, clusters has %d", len(labels), len(clusters))
	}
	if len(labels) == 0 {
		return fmt.Errorf("eval: labels is empty")
	}
	return nil
}

// NMI returns the normalised mutual information of two labellings of the
// same items (Strehl and Ghosh 2002; the arithmetic-mean normalisation of
// Vinh, Epps and Bailey 2010), as scikit-learn's
// normalized_mutual_info_score with its default average_method
// "arithmetic" computes it:
//
//	NMI = MI(U, V) / ((H(U) + H(V)) / 2)
//
// with natural logarithms, MI = Σ_ij (n_ij/n) ln(n·n_ij/(a_i·b_j)) over the
// contingency table (n_ij items in class i and cluster j, a_i and b_j its
// row and column sums) and H(U) = −Σ_i (a_i/n) ln(a_i/n). Like
// scikit-learn it returns 1 when both labellings have a single group and 0
// when MI is 0 otherwise. Label and cluster values are arbitrary ints.
func NMI(labels, clusters []int) (float64, error) {
	if err := checkLabelings(labels, clusters); err != nil {
		return 0, err
	}
	a, b, cells := contingency(labels, clusters)
	if len(a) == 1 && len(b) == 1 {
		return 1, nil
	}
	n := len(labels)
	mi := mutualInfo(a, b, cells, n)
	if mi == 0 {
		return 0, nil
	}
	return mi / ((entropy(a, n) + entropy(b, n)) / 2), nil
}

// AMI returns the adjusted mutual information of two labellings of the
// same items (Vinh, Epps and Bailey 2010), as scikit-learn's
// adjusted_mutual_info_score with its default average_method
// "arithmetic" computes it:
//
//	AMI = (MI − E[MI]) / ((H(U) + H(V)) / 2 − E[MI])
//
// with MI and H as in NMI and E[MI] the expected mutual information of two
// random labellings with the same group sizes (the hypergeometric model):
//
//	E[MI] = Σ_i Σ_j Σ_{n_ij = max(1, a_i+b_j−n)}^{min(a_i, b_j)} (n_ij/n) ln(n·n_ij/(a_i b_j))
//	        · a_i! b_j! (n−a_i)! (n−b_j)! / (n! n_ij! (a_i−n_ij)! (b_j−n_ij)! (n−a_i−b_j+n_ij)!)
//
// evaluated with log-gamma. Like scikit-learn it returns 1 when both
// labellings have a single group, takes E[MI] = 0 when either has a single
// group, and keeps the denominator at least the float64 epsilon in
// magnitude, with its sign. AMI is 0 in expectation for random labellings
// and can be negative. The cost is O(Σ_ij min(a_i, b_j)) log-gamma calls,
// about n·(number of classes) at most.
func AMI(labels, clusters []int) (float64, error) {
	if err := checkLabelings(labels, clusters); err != nil {
		return 0, err
	}
	a, b, cells := contingency(labels, clusters)
	if len(a) == 1 && len(b) == 1 {
		return 1, nil
	}
	n := len(labels)
	mi := mutualInfo(a, b, cells, n)
	emi := expectedMutualInfo(a, b, n)
	den := (entropy(a, n)+entropy(b, n))/2 - emi
	const eps = 0x1p-52
	if den < 0 {
		den = min(den, -eps)
	} else {
		den = max(den, eps)
	}
	return (mi - emi) / den, nil
}

// expectedMutualInfo is E[MI] of AMI's doc comment.
func expectedMutualInfo(a, b []int, n int) float64 {
	if len(a) == 1 || len(b) == 1 {
		return 0
	}
	lg := func(x int) float64 {
		v, _ := math.Lgamma(float64(x) + 1)
		return v
	}
	N := float64(n)
	lgN := lg(n)
	var emi float64
	for _, ai := range a {
		for _, bj := range b {
			fixed := lg(ai) + lg(bj) + lg(n-ai) + lg(n-bj) - lgN
			logAB := math.Log(float64(ai)) + math.Log(float64(bj))
			for nij := max(1, ai+bj-n); nij <= min(ai, bj); nij++ {
				x := float64(nij)
				term := x / N * (math.Log(N) + math.Log(x) - logAB)
				p := math.Exp(fixed - lg(nij) - lg(ai-nij) - lg(bj-nij) - lg(n-ai-bj+nij))
				emi += term * p
			}
		}
	}
	return emi
}
