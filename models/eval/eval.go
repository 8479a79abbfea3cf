package eval

import (
	"fmt"
	"math"
	"runtime"
)

// DefaultK is the number of neighbours used for k-NN accuracy when
// Options.K is 0 (see Options.K for why 5).
const DefaultK = 5

// maxBlockSize caps the default and requested number of queries per block.
const maxBlockSize = 64

// blockBudget is the size in bytes that the default BlockSize keeps each
// worker's block of float32 distances under.
const blockBudget = 16 << 20

// Options for retrieval evaluation. The zero value is ready to use.
type Options struct {
	// K is the number of nearest references that vote in k-NN
	// classification. 0 means DefaultK = 5, lowered to the number of
	// references available to a query when there are fewer (Report.K says
	// which K was used). An explicit K larger than that number is an
	// error. 5 rather than 1 because 1-NN accuracy is already reported as
	// PrecisionAt1 (they differ only on excluded queries); a few voters
	// measure whether a query's neighbourhood, not just its nearest
	// point, has its label.
	K int
	// BlockSize is the number of queries whose distances to every
	// reference are held in memory at once by one worker. 0 means the
	// largest size up to 64 whose block of float32 distances fits in
	// 16 MiB (at least 1). Larger values than 64 are allowed.
	BlockSize int
	// Workers is the number of goroutines that process query blocks.
	// 0 means runtime.GOMAXPROCS(0). Results do not depend on it.
	Workers int

	// Distance picks the ranking: Euclidean (the zero value) or Cosine.
	Distance Distance
	// Depth is the number of nearest references the retrieval metrics
	// read (pytorch-metric-learning's AccuracyCalculator k): R-precision
	// and MAP@R read the first min(R, Depth), MAP and MRR the first
	// Depth. 0 means every reference a query can retrieve (PML's
	// k = None); an explicit Depth larger than that is an error. It does
	// not change the k-NN vote (K) or precision@1.
	Depth int
	// MaxBinCount sets Depth to PML's k = "max_bin_count": the largest
	// number of references sharing a query's label, over the labels the
	// queries carry, minus 1 in SelfRetrieval (as PML v2 computes it).
	// Depth must be 0 with it.
	MaxBinCount bool
	// MAP and MRR request mean average precision and mean reciprocal rank
	// (Report.MAP, Report.MRR). Unlike the default metrics they read the
	// first Depth neighbours of every query, by default the whole ranked
	// reference set, so they cost a full sort per query.
	MAP, MRR bool
	// Clusters requests Report.NMI and Report.AMI of a k-means clustering
	// of the query embeddings (KMeans with k = the number of distinct
	// query labels and KMeansOptions{Seed: Seed, Workers: Workers}).
	Clusters bool
	// Seed seeds the k-means++ initialisation of Clusters.
	Seed uint64
	// PerClass averages every retrieval metric first over the queries of
	// each label, then over the labels (PML's avg_of_avgs), instead of
	// over the queries.
	PerClass bool
}

// Distance is the measure references are ranked by.
type Distance int

const (
	// Euclidean ranks by the float64 squared Euclidean distance computed
	// from the float32 inputs.
	Euclidean Distance = iota
	// Cosine ranks by cosine similarity, largest first: every row is
	// divided by its norm (computed in float64) and rounded to float32,
	// and the unit rows are ranked by Euclidean distance, which is
	// 2 − 2·cos. The rounding moves each cosine by at most about 2⁻²²,
	// so two references whose cosines with a query differ by less than
	// that may be in either order; pytorch-metric-learning's CosineSimilarity
	// computes the cosines in float32, with a similar tolerance. A zero
	// row has no direction and is an error (PML gives it cosine 0 with
	// everything).
	Cosine
)

// String returns "euclidean" or "cosine".
func (d Distance) String() string {
	switch d {
	case Euclidean:
		return "euclidean"
	case Cosine:
		return "cosine"
	}
	return fmt.Sprintf("Distance(%d)", int(d))
}

// Report holds retrieval metrics averaged over queries.
type Report struct {
	// PrecisionAt1, RPrecision and MAPAtR are averaged over the
	// Queries-Excluded queries that have at least one same-label
	// reference (with Options.PerClass, over their labels of the
	// per-label means); they are NaN when every query is excluded.
	PrecisionAt1, RPrecision, MAPAtR float64
	// KNNAccuracy is averaged over all Queries, excluded ones included:
	// a k-NN vote is defined (and wrong) for a query whose label no
	// reference carries.
	KNNAccuracy float64
	// Queries is the number of queries evaluated.
	Queries int
	// Excluded is the number of queries with no same-label reference.
	Excluded int
	// K is the number of neighbours that voted for KNNAccuracy.
	K int
	// MAP (mean average precision over the first Depth neighbours) and MRR
	// (mean reciprocal rank of the first same-label reference among
	// them) are averaged like PrecisionAt1; they are NaN unless requested
	// by Options.MAP and Options.MRR.
	MAP, MRR float64
	// NMI and AMI compare the query labels with a k-means clustering of
	// the queries; NaN unless requested by Options.Clusters.
	NMI, AMI float64
	// Depth is the number of nearest references the retrieval metrics
	// read (Options.Depth resolved).
	Depth int
}

// Retrieval evaluates queries (nq×dim, row-major) with labels queryLabels
// against a separate reference set refs (nr×dim, row-major) with labels
// refLabels. Every reference is a candidate neighbour of every query.
func Retrieval(queries []float32, queryLabels []int, refs []float32, refLabels []int, dim int, opt Options) (Report, error) {
	if dim <= 0 {
		return Report{}, fmt.Errorf("eval: dim must be positive, got %d", dim)
	}
	nq, err := rows("queries", queries, "queryLabels", queryLabels, dim)
	if err != nil {
		return Report{}, err
	}
	nr, err := rows("refs", refs, "refLabels", refLabels, dim)
	if err != nil {
		return Report{}, err
	}
	k, err := checkOptions(opt, nr, func(k int) error {
		return fmt.Errorf("eval: K = %d exceeds the %d references", k, nr)
	})
	if err != nil {
		return Report{}, err
	}
	if err := finite("queries", queries, dim); err != nil {
		return Report{}, err
	}
	if err := finite("refs", refs, dim); err != nil {
		return Report{}, err
	}
	return evaluate(queries, queryLabels, refs, refLabels, dim, nq, nr, false, k, opt)
}

// SelfRetrieval evaluates emb (n×dim, row-major) with labels against
// itself: every row is a query, and its candidate neighbours are all the
// other rows. A query is excluded from its own neighbours by index, not
// by distance, so an exact duplicate of the query stored at another index
// is a neighbour at distance 0.
func SelfRetrieval(emb []float32, labels []int, dim int, opt Options) (Report, error) {
	if dim <= 0 {
		return Report{}, fmt.Errorf("eval: dim must be positive, got %d", dim)
	}
	n, err := rows("emb", emb, "labels", labels, dim)
	if err != nil {
		return Report{}, err
	}
	if n < 2 {
		return Report{}, fmt.Errorf("eval: self-retrieval needs at least 2 rows, got %d", n)
	}
	k, err := checkOptions(opt, n-1, func(k int) error {
		return fmt.Errorf("eval: K = %d exceeds the %d other rows a query can retrieve (%d rows minus itself)", k, n-1, n)
	})
	if err != nil {
		return Report{}, err
	}
	if err := finite("emb", emb, dim); err != nil {
		return Report{}, err
	}
	return evaluate(emb, labels, emb, labels, dim, n, n, true, k, opt)
}

// evaluate runs the checked problem: it resolves Options.Depth, moves the
// rows to the unit sphere for Cosine, searches, and clusters.
func evaluate(q []float32, ql []int, r []float32, rl []int, dim, nq, nr int, self bool, k int, opt Options) (Report, error) {
	avail := nr
	if self {
		avail--
	}
	qs, rs := q, r
	if opt.Distance == Cosine {
		var err error
		if self {
			if qs, err = unitRows("emb", q, dim); err != nil {
				return Report{}, err
			}
			rs = qs
		} else {
			if qs, err = unitRows("queries", q, dim); err != nil {
				return Report{}, err
			}
			if rs, err = unitRows("refs", r, dim); err != nil {
				return Report{}, err
			}
		}
	}
	p := newProblem(qs, ql, rs, rl, dim, nq, nr, self, k)
	depth, err := p.depthFor(opt, avail)
	if err != nil {
		return Report{}, err
	}
	p.depth, p.full = depth, opt.MAP || opt.MRR
	p.wantMAP, p.wantMRR = opt.MAP, opt.MRR
	p.perClass = opt.PerClass
	rep := p.run(opt)
	if !opt.MAP {
		rep.MAP = math.NaN()
	}
	if !opt.MRR {
		rep.MRR = math.NaN()
	}
	rep.NMI, rep.AMI = math.NaN(), math.NaN()
	if opt.Clusters {
		// PML clusters the query embeddings as given, whatever the
		// distance of the retrieval.
		classes := map[int]bool{}
		for _, l := range ql {
			classes[l] = true
		}
		clusters, err := KMeans(q, dim, len(classes), KMeansOptions{Seed: opt.Seed, Workers: opt.Workers})
		if err != nil {
			return Report{}, err
		}
		if rep.NMI, err = NMI(ql, clusters); err != nil {
			return Report{}, err
		}
		if rep.AMI, err = AMI(ql, clusters); err != nil {
			return Report{}, err
		}
	}
	return rep, nil
}

// depthFor checks opt's Depth and MaxBinCount against avail, the number of
// references each query can retrieve, and returns the depth to use.
func (p *problem) depthFor(opt Options, avail int) (int, error) {
	if opt.Depth < 0 {
		return 0, fmt.Errorf("eval: Depth must be non-negative, got %d", opt.Depth)
	}
	if opt.MaxBinCount {
		if opt.Depth != 0 {
			return 0, fmt.Errorf("eval: Depth = %d and MaxBinCount both set; MaxBinCount chooses the depth", opt.Depth)
		}
		most := 0
		for _, l := range p.ql {
			most = max(most, p.count[l])
		}
		if p.self {
			most--
		}
		if most < 1 {
			return 0, fmt.Errorf("eval: MaxBinCount gives depth 0: no query has a same-label reference")
		}
		return most, nil
	}
	if opt.Depth == 0 {
		return avail, nil
	}
	if opt.Depth > avail {
		if p.self {
			return 0, fmt.Errorf("eval: Depth = %d exceeds the %d other rows a query can retrieve (%d rows minus itself)", opt.Depth, avail, p.nr)
		}
		return 0, fmt.Errorf("eval: Depth = %d exceeds the %d references", opt.Depth, avail)
	}
	return opt.Depth, nil
}

// unitRows returns x with every row divided by its float64 norm, rounded
// to float32, or an error naming the first zero row.
func unitRows(name string, x []float32, dim int) ([]float32, error) {
	u := make([]float32, len(x))
	for i := 0; i < len(x); i += dim {
		var s float64
		for _, v := range x[i : i+dim] {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			return nil, fmt.Errorf("eval: %s row %d is zero and has no cosine with anything", name, i/dim)
		}
		n := math.Sqrt(s)
		for t, v := range x[i : i+dim] {
			u[i+t] = float32(float64(v) / n)
		}
	}
	return u, nil
}

// rows checks that x holds whole rows of length dim, one per label, and at
// least one row, and returns the number of rows.
func rows(name string, x []float32, labelName string, labels []int, dim int) (int, error) {
	if len(x)%dim != 0 {
		return 0, fmt.Errorf("eval: %s has %d values, not a multiple of dim = %d", name, len(x), dim)
	}
	n := len(x) / dim
	if len(labels) != n {
		return 0, fmt.Errorf("eval: %s has %d entries, %s have %d rows", labelName, len(labels), name, n)
	}
	if n == 0 {
		return 0, fmt.Errorf("eval: %s is empty", name)
	}
	if n > math.MaxInt32 {
		return 0, fmt.Errorf("eval: %s has %d rows, more than the supported %d", name, n, math.MaxInt32)
	}
	return n, nil
}

// checkOptions validates opt against avail, the number of neighbours each
// query can retrieve, and returns the K to use.
func checkOptions(opt Options, avail int, tooMany func(k int) error) (int, error) {
	if opt.K < 0 {
		return 0, fmt.Errorf("eval: K must be non-negative, got %d", opt.K)
	}
	if opt.BlockSize < 0 {
		return 0, fmt.Errorf("eval: BlockSize must be non-negative, got %d", opt.BlockSize)
	}
	if opt.Workers < 0 {
		return 0, fmt.Errorf("eval: Workers must be non-negative, got %d", opt.Workers)
	}
	if opt.Distance != Euclidean && opt.Distance != Cosine {
		return 0, fmt.Errorf("eval: unknown %v: want Euclidean or Cosine", opt.Distance)
	}
	if opt.K == 0 {
		return min(DefaultK, avail), nil
	}
	if opt.K > avail {
		return 0, tooMany(opt.K)
	}
	return opt.K, nil
}

// finite reports the first NaN or infinite value of x by row and column.
func finite(name string, x []float32, dim int) error {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("eval: %s row %d has a non-finite value %v at column %d", name, i/dim, v, i%dim)
		}
	}
	return nil
}

// blockSize returns the number of queries per block for opt.
func blockSize(opt Options, nq, nr int) int {
	bs := opt.BlockSize
	if bs == 0 {
		bs = max(1, min(maxBlockSize, blockBudget/(4*nr)))
	}
	return min(bs, nq)
}

// workers returns the number of goroutines for opt and nb blocks.
func workers(opt Options, nb int) int {
	w := opt.Workers
	if w == 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return max(1, min(w, nb))
}
