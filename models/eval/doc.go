// Package eval computes retrieval metrics for embeddings held in plain
// float32 slices: precision@1, R-precision, MAP@R and k-NN accuracy, and
// on request MAP, mean reciprocal rank, and NMI/AMI of a k-means
// clustering (the metrics of pytorch-metric-learning's AccuracyCalculator).
//
// # Shapes
//
// Embeddings are row-major: a set of n embeddings of dimension dim is a
// []float32 of length n*dim whose row i is x[i*dim:(i+1)*dim], with one int
// label per row. Retrieval ranks a reference set against separate queries;
// SelfRetrieval ranks a set against itself, leaving each query out of its
// own neighbours by index (a duplicate of the query stored at another index
// is a neighbour at distance 0). Both return a Report and leave their
// inputs unmodified.
//
// # Ranking
//
// References are ranked by Euclidean distance to the query, nearest first;
// equal distances are broken by lower reference index. With
// Options.Distance = Cosine they are ranked by cosine similarity instead,
// by running the same search on the rows scaled to unit norm (see Cosine
// for the rounding this implies). The distance used
// for ranking is the squared Euclidean distance computed in float64 from
// the float32 inputs. The metrics are exactly those of a full sort by that
// distance (summed over four interleaved partial sums, so a plain loop can
// differ in the last bit, which matters only for distances within an ulp
// or so of each other), and they do not depend on Options.BlockSize or
// Options.Workers.
//
// The search is exact, but evaluates it cheaply. Queries are processed in
// blocks of up to BlockSize; when the references carry at most 64 labels,
// each query is assigned to the nearest per-label mean of the references
// and a block holds queries of one assignment only, so that its queries
// lie near one another. For each block a float32 matrix product
// (graph/gemm's Sgemm) gives d32 = ‖q'‖² + ‖r'‖² − 2q'·r', clamped at 0,
// against every reference, where q' = q − c and r' = r − c are moved by
// the block's mean query c (rounded to float32) if the block's queries lie
// within half their largest norm of c, else c = 0. Moving leaves
// distances unchanged but shrinks the norms, and with them a
// rounding-error bound e ≥
// |d32 − d64| (Higham 2002, §3.1: a float32 dot product of length dim is
// off by at most about dim·2⁻²⁴·‖q'‖·‖r'‖), which decides which references
// can be among the nearest and which of them can be out of order. Only
// those whose order can change a metric are recomputed in float64: any
// reference that can be among the K voters, and any reference within 2e
// of a candidate of the other relevance (same label as the query or not),
// because precision@1 is read off the voters, and R-precision and MAP@R
// depend only on the sequence of same-label and other-label references, not
// on the order among references of equal relevance.
//
// Why this design (the measurements behind it): docs/design.md.
//
// The cost is one float32 matrix product plus linear work per query,
// except for data whose distances stay tiny next to the moved norms
// (values near float32 underflow, blocks whose queries are spread over
// far-apart clusters, as when labels do not follow the clusters) or whose
// norms approach float32 overflow, where more or all references fall back
// to float64.
//
// Memory is bounded by Workers × BlockSize × nr float32 distances (by
// default at most 16 MiB per worker) plus O(nr) scratch per worker and
// O(nq + nr + labels × dim); the nq×nr distance matrix is never formed.
// Each query finds its max(R, K) nearest references by a linear-time radix
// selection on the float32 distance bits and sorts only those, by a radix
// sort.
//
// # Metrics
//
// For a query, let R be the number of references with its label (in
// SelfRetrieval, not counting the query itself) and rel(i) = 1 if the
// reference at rank i (1-based) has the query's label, else 0
// (Musgrave, Belongie and Lim 2020):
//
//	precision@1  = rel(1)
//	R-precision  = (1/R) Σ_{i=1..R} rel(i)
//	MAP@R        = (1/R) Σ_{i=1..R} P(i)·rel(i),  P(i) = (1/i) Σ_{j=1..i} rel(j)
//
// Each is averaged over the queries with R ≥ 1; queries with R = 0 are
// counted in Report.Excluded, and if every query is excluded the three
// averages are NaN.
//
// Options.Depth (D, pytorch-metric-learning's k; by default every
// reference) limits what these read: R-precision and MAP@R use the first
// min(R, D) ranks in place of R. On request (Options.MAP, Options.MRR):
//
//	MAP  = Σ_{i=1..D} P(i)·rel(i) / max(1, Σ_{i=1..D} rel(i))
//	MRR  = 1/i for the smallest i ≤ D with rel(i) = 1, else 0
//
// averaged like precision@1. With D = every reference, MAP is the usual
// mean average precision. Options.PerClass averages each metric over the
// queries of each label first, then over the labels (avg_of_avgs).
//
// These follow AccuracyCalculator (pytorch-metric-learning v2) exactly,
// with these differences:
//
//   - A query that is also a reference (SelfRetrieval; PML's
//     embeddings_come_from_same_source / ref_includes_query) is left out of
//     its own neighbours by index; PML retrieves k+1 neighbours and drops
//     the first, which is another row when an exact duplicate of the query
//     ties with it. R and the max_bin_count depth count the other rows
//     (PML: count − 1), as in PML. Retrieval never leaves a reference
//     out (PML's ref_includes_query = False); queries that are a proper
//     subset of the references (ref_includes_query = True with two
//     different sets) are not supported.
//   - A query with R = 0 (PML's "lone" query) is left out of every
//     average but k-NN accuracy, as in PML; when all are, the averages are
//     NaN here and 0 in PML.
//   - Ties in distance go to the lower reference index here; PML's order
//     among tied references is whatever its k-NN backend returns.
//   - NMI/AMI cluster the queries with KMeans (k-means++, seeded,
//     iterated to convergence); PML uses faiss' k-means (random start, 20
//     iterations). NMI and AMI are scikit-learn's defaults (arithmetic
//     mean normalisation), which PML calls.
//
// k-NN accuracy (Cover and Hart 1967) is the fraction of all queries,
// excluded ones included, whose label wins a majority vote among their K
// nearest references. A tie in the vote goes to the tied label whose
// best-ranked member is nearest. Options.K = 0 means K = DefaultK = 5
// (fewer if fewer references are available).
//
// # Errors
//
// Retrieval and SelfRetrieval return an error, never panic, when dim ≤ 0,
// a slice's length is not a multiple of dim, a label slice's length differs
// from its embedding rows, a set is empty (SelfRetrieval: fewer than 2
// rows), K, Depth, BlockSize or Workers is negative, an explicit K or Depth
// exceeds the references each query can retrieve (SelfRetrieval: rows
// minus 1), Depth and MaxBinCount are both set or MaxBinCount gives 0,
// Distance is unknown, a row is zero under Cosine, or an embedding holds
// NaN or ±Inf (the message names the set, row and column).
//
// # Cost of the options
//
// MAP and MRR need the ranks of the same-label references, not only of the
// first R: a query whose first R neighbours are not all same-label (MAP) or
// hold none (MRR) is searched again down to its last (first) same-label
// reference, which can be the whole reference set. For the 10,000 × 60,000
// trained MNIST embeddings of the command's default run that cost 2.9 times
// the default metrics (1.8 times with MaxBinCount); on synthetic 64-d data
// with overlapping classes about 10 times. Cosine adds
// one normalised copy of both sets; Clusters adds KMeans on the queries
// (about 0.4 s for 60,000 × 64 rows on 2 cores).
//
// # References
//
//   - K. Musgrave, S. Belongie and S.-N. Lim, "A Metric Learning Reality
//     Check", ECCV 2020 (arXiv:2003.08505): R-precision and MAP@R.
//   - K. Musgrave, S. Belongie and S.-N. Lim, "PyTorch Metric Learning",
//     arXiv:2008.09164, 2020: AccuracyCalculator's precision_at_1,
//     r_precision and mean_average_precision_at_r use the same definitions.
//   - A. Strehl and J. Ghosh, "Cluster ensembles", JMLR 3, 2002: NMI.
//   - N. X. Vinh, J. Epps and J. Bailey, "Information theoretic measures
//     for clusterings comparison", JMLR 11, 2010: AMI and the expected
//     mutual information.
//   - D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful
//     seeding", SODA 2007; S. Lloyd, "Least squares quantization in PCM",
//     IEEE Trans. Information Theory 28(2), 1982: KMeans.
//   - T. Cover and P. Hart, "Nearest neighbor pattern classification",
//     IEEE Trans. Information Theory 13(1), 1967: k-NN classification.
//   - N. J. Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
//     SIAM 2002, §3.1: rounding-error bound for inner products.
package eval
