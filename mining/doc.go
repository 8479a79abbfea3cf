// Package mining selects the pairs and triplets that metric-learning losses
// train on, batch by batch, and builds the P×K batches that make mining
// work.
//
// # Inputs and outputs
//
// A miner sees a Batch: the B×B matrix of the current forward pass (row-major,
// distances, or similarities when LargerIsCloser is set), the B labels and
// the embedding dimension. Every miner handles both orientations through
// Batch.Dissimilarity (the distance, or minus the similarity), so "closest"
// always means the smallest distance or the largest similarity. Margins
// between two entries (triplet margins, Epsilon) are in the matrix's own
// units and apply to dissimilarities: for similarities, "violates the
// margin" means s(a,n) − s(a,p) + margin > 0. Absolute thresholds
// (PairMargin) are compared with the raw entries and flip with the
// orientation.
//
// Triplet miners (TripletMiner) fill a fixed-capacity Triplets list of
// (anchor, positive, negative) batch rows with a weight per slot (0 for
// padding); pair miners (PairMiner) fill a positive and a negative PairList
// list of ordered pairs (i, j), i ≠ j. TripletCapacity and PairCapacity
// give the number of slots a batch of B needs; by default this is the
// worst case over all labelings (documented per miner), refused above
// MaxSlots, and miners with a Capacity field let P×K pipelines ask for the
// exact count instead (PKTriplets(p, k) for all triplets). An explicit
// Capacity above MaxCapacity (64M slots, about SlotBytes = 128 bytes each)
// is refused with the memory it would need.
//
// In a Gorgonia graph, TripletOp and PairOp (ops.go) wrap a miner as
// a forward-only op on the distance matrix and the labels: the op runs
// inside the same pass as the encoder and returns index tensors of fixed
// capacity (flat indices a·B+p and a·B+n into the B×B matrix, read with
// graph.Gather) plus slot weights, or B×B pair-weight
// matrices. The graph is built and compiled once; new labels bound with
// G.Let change the selection without rebuilding it.
//
// # Miners
//
//	AllTriplets      every valid triplet ("batch all"), optionally only the violating ones
//	BatchHard        per anchor, farthest positive and closest negative (capacity B)
//	SemiHard         per anchor–positive pair, closest negative in (d_ap, d_ap + Margin)
//	TripletsOfType   PML TripletMarginMiner: all / hard / semihard / easy by d_an − d_ap
//	DistanceWeighted per anchor–positive pair, a negative drawn ∝ min(λ, 1/q(d))
//	BatchEasyHard    PML BatchEasyHardMiner: per anchor an easy / semi-hard / hard / all positive and negative
//	MultiSimilarity  MS-loss pair mining with Epsilon
//	PairMargin       positive pairs farther than PosMargin, negative pairs closer than NegMargin
//	PKSampler        epochs of P classes × K samples
//	Warmup           a schedule: Early for the first Steps batches, then Late (BatchHardWithWarmup)
//
// Every miner is configured the same way: a struct whose exported fields
// are its options, each with its zero value documented. Every miner has a
// Distance field (DistanceMiner): nil reads the loss's matrix, a distance
// makes the losses of package losses hand the miner that distance's matrix
// of the same embeddings instead (pytorch-metric-learning's miners take a
// distance of their own). …PML constructors
// return pytorch-metric-learning's defaults where they differ from the zero
// value (MultiSimilarityPML, PairMarginPML, BatchEasyHardPML); NewDistanceWeighted takes the
// seed of the generator that miner needs.
//
// Ties between equal matrix entries go to the lowest batch index wherever a
// miner picks one candidate (BatchHard, SemiHard and its fallbacks).
// Anchors (rows) without a positive or without a negative contribute
// nothing, and a batch where nothing qualifies gives an empty list and no
// error.
//
// # Errors
//
// Messages start with "mining: ". Miners return errors, never panic, for a
// malformed batch (matrix not B×B, NaN or infinite entries, no labels), a
// nil output list, an output too small for the batch, NaN margins, invalid
// enum values, and per miner: SemiHard with Margin < 0; DistanceWeighted
// on similarities, with Dim < 2, a nil Rand or cutoffs outside
// 0 < Cutoff < NonzeroLossCutoff ≤ 2; NewPKSampler with empty labels,
// P < 1, K < 2, K above the dataset size or fewer than P classes with two
// samples.
//
// # Defaults
//
// Options are struct fields. A field whose zero value is itself a legal
// setting (margins, Epsilon) has no hidden default: zero means zero, and
// the constructors MultiSimilarityPML (Epsilon 0.1) and PairMarginPML
// (0.2, 0.8) give pytorch-metric-learning's defaults. Fields whose zero
// value is meaningless take a documented default (Capacity 0 = worst case;
// DistanceWeighted cutoffs 0 = 0.5 and 1.4).
//
// # References
//
//   - Schroff, Kalenichenko & Philbin (2015), "FaceNet: A Unified Embedding
//     for Face Recognition and Clustering", CVPR, arXiv:1503.03832:
//     triplet loss, semi-hard negatives.
//   - Hermans, Beyer & Leibe (2017), "In Defense of the Triplet Loss for
//     Person Re-Identification", arXiv:1703.07737: batch hard, batch all,
//     P×K batches.
//   - Wu, Manmatha, Smola & Krähenbühl (2017), "Sampling Matters in Deep
//     Embedding Learning", ICCV, arXiv:1706.07567: distance-weighted
//     sampling, q(d) ∝ d^(n−2)(1 − d²/4)^((n−3)/2).
//   - Wang, Han, Huang, Dong & Scott (2019), "Multi-Similarity Loss with
//     General Pair Weighting for Deep Metric Learning", CVPR,
//     arXiv:1904.06627: the mining step with ε.
//   - Musgrave, Belongie & Lim (2020), pytorch-metric-learning,
//     arXiv:2008.09164: TripletMarginMiner, MultiSimilarityMiner,
//     PairMarginMiner, DistanceWeightedMiner, MPerClassSampler, whose
//     definitions and defaults this package follows where stated.
//   - TensorFlow Addons, tfa.losses.triplet_semihard_loss: the
//     largest-negative fallback of semi-hard mining (FallbackFarthest).
package mining
