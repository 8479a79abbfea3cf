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
}

// Report holds retrieval metrics averaged over queries.
type Report struct {
	// PrecisionAt1, RPrecision and MAPAtR are averaged over the
	// Queries-Excluded queries that have at least one same-label
	// reference; they are NaN when every query is excluded.
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
	p := newProblem(queries, queryLabels, refs, refLabels, dim, nq, nr, false, k)
	return p.run(opt), nil
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
	p := newProblem(emb, labels, emb, labels, dim, n, n, true, k)
	return p.run(opt), nil
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
