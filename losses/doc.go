// Package losses holds contrastive and metric-learning objectives as
// Gorgonia expressions, so their gradients come from Gorgonia's symbolic
// differentiation.
//
// Every loss has the method
//
//	Loss(embeddings, labels *G.Node) (*G.Node, error)
//
// taking a B×D float32 or float64 embedding node and an Int label vector of
// length B (bound per batch with G.Let; the graph is built once) and
// returning a scalar node of the embeddings' dtype. Func adapts a closure to
// the same method.
//
// # Objectives and defaults
//
// The New… constructors return the formulas as the original papers write
// them (the objectives surveyed by Weng 2021, "Contrastive Representation
// Learning"); the …PML constructors return pytorch-metric-learning's
// defaults. Zero values are useful: a zero NTXent, SupCon, NCE or
// SoftNearestNeighbor is its New… preset, and a zero Triplet, Contrastive
// or NPair is the formula with every margin or penalty at 0.
//
//	Contrastive   Chopra et al. 2005 / Hadsell et al. 2006   NewContrastive: Euclidean, D² and max(0, 1 − D)², mean
//	Triplet       Schroff et al. 2015 (FaceNet)              NewTriplet: squared Euclidean, margin 0.2, sum over all valid triplets
//	Lifted        Song et al. 2016                           NewLifted: Euclidean (not squared), margin 1, smooth; LiftedHard for the max form
//	NPair         Sohn 2016                                  NewNPair: raw dot products, one tuple per class, L2 0.002;
//	                                                         NPairPML: dot products of L2-normalised rows, no L2
//	NCELogistic   Gutmann & Hyvärinen 2010                   logits l = log p_θ − log q for data and k·N noise samples
//	NCE           NCELogistic on a labelled batch            NewNCE: cosine / τ = 0.1, positive pairs as data, negative pairs as noise
//
// and, from the same survey:
//
//	NTXent               Chen et al. 2020 (SimCLR), InfoNCE    NewNTXent: cosine / τ = 0.07 (pytorch-metric-learning)
//	SupCon               Khosla et al. 2020                    NewSupCon: cosine / τ = 0.1, L^sup_out; SupConPML:
//	                                                           0 without a negative pair (RequireNegatives), MeanNonZero
//	SoftNearestNeighbor  Frosst et al. 2019                    NewSoftNearestNeighbor: squared Euclidean, T = 1
//
// and the pair-based objectives that followed (issue 14):
//
//	MultiSimilarity      Wang et al. 2019       NewMultiSimilarity: cosine, α = 2, β = 50, λ = 1; MultiSimilarityPML (λ = 0.5)
//	Circle               Sun et al. 2020        NewCircle: cosine, m = 0.4, γ = 80; CirclePML (MeanNonZero)
//	GeneralizedLifted    Hermans et al. 2017    NewGeneralizedLifted: Euclidean, m⁺ = 0, m⁻ = 1; GeneralizedLiftedPML
//	Margin               Wu et al. 2017         NewMargin: normalised Euclidean, α = 0.2, β = 1.2 (or a learnable node); MarginPML
//	DebiasedContrastive  Chuang et al. 2020     NewDebiasedContrastive: cosine / 0.5, τ⁺ = 0.1
//	HardNegative         Robinson et al. 2021   NewHardNegative: cosine / 0.5, τ⁺ = 0.1, β = 1
//
// and the proxy- and classifier-based objectives, whose parameters the loss
// owns (issue 14; each also has a …PML preset, and initialises its
// parameters as pytorch-metric-learning does):
//
//	ProxyNCA     Movshovitz-Attias et al. 2017   NewProxyNCA: squared Euclidean of normalised vectors, s = 1, positive proxy left out of the denominator
//	ProxyAnchor  Kim et al. 2020                 NewProxyAnchor: cosine, α = 32, δ = 0.1
//	SoftTriple   Qian et al. 2019                NewSoftTriple: cosine, λ = 20, γ = 0.1, δ = 0.01, K = 10 centres per class
//	ArcFace      Deng et al. 2019                NewArcFace: s = 64, m = 0.5 rad (ArcFacePML: 28.6°)
//	CosFace      Wang et al. 2018                NewCosFace: s = 64, m = 0.35
//
// Distances come from package graph; a loss written for distances serves
// similarities too (their matrix is negated, and margins of pair losses flip
// sign as in pytorch-metric-learning).
//
// # Conventions
//
// Pairs are ordered (i, j), i ≠ j. A row or a batch with nothing to compare
// (no positive, no negative, nothing mined) contributes exactly 0 with a
// zero gradient, never NaN. Mean and MeanNonZero divide by max(count, 1).
//
// # Composition
//
// Every loss is configured the same way, with exported fields:
//
//	Distance  graph.Distance; nil means the loss's documented default
//	Reducer   Sum, Mean or MeanNonZero over per-term values (Triplet, Contrastive, NTXent, SupCon, SoftNearestNeighbor,
//	          and the six pair-based losses)
//	Miner     mining.TripletMiner (Triplet) or mining.PairMiner (Contrastive, Lifted, NTXent, SupCon, MultiSimilarity,
//	          Circle, GeneralizedLifted, Margin)
//	Ref       *Ref, a reference set with no gradient (Contrastive, Triplet, NTXent, SupCon, MultiSimilarity,
//	          Circle, GeneralizedLifted, Margin: the Referenced losses)
//	Proxies, Centres, Weights
//	          a loss's own learnable (C·K)×D tensor (ProxyNCA, ProxyAnchor, SoftTriple, ArcFace, CosFace):
//	          see Learner
//
// and, for pytorch-metric-learning's options: Triplet.Swap (min(d(a,n),
// d(p,n)) as the negative's distance, Balntas et al. 2016), NPair.Distance,
// graph.Lp distances of any order P ≥ 1, and a miner's own Distance field
// (mining.DistanceMiner): the loss then computes that distance's matrix of
// the same embeddings, without gradient, for the miner to read, as PML's
// ContrastiveLoss() + MultiSimilarityMiner() mines on cosine similarities
// while the loss uses Euclidean distances.
//
// A Learner's parameters live outside any graph, like a model's weights:
// InitParams allocates them for a dimension, a class count and a seed,
// LossParams binds them into the embeddings' graph (sharing memory) and
// returns their nodes, and a training loop differentiates with respect to
// those nodes and updates the tensors in place (models.Train does, at its
// own learning rate; models.SaveLoss stores them). Labels must lie in
// [0, C): any other fails the run with an error that names it.
//
// The miner runs inside the same forward pass on the current matrix and
// labels and yields index tensors of fixed capacity with a weight per slot,
// which the loss reads with graph.Gather (flat indices a·B+p of the B×B
// matrix). Without a miner every valid tuple is used. Triplet.FromMined and
// Contrastive.FromMined are the low-level path: they take a matrix and the
// output of mining.TripletOp or mining.PairOp built by the caller.
//
// Each Loss body is written with graph.Expr, which keeps the first error,
// so that it reads line by line as the formula of its doc comment; errors
// name the loss ("losses: triplet: …").
//
// # Memories
//
// XBM (Wang et al. 2020, cross-batch memory) wraps any Referenced loss:
// the batch is compared with the batch and with a graph.Queue of the
// embeddings and labels of the last Size samples of earlier steps (Size×D,
// no gradient), which AfterStep appends the batch to after each optimiser
// step (models.Trainer calls it). With an empty memory the loss is the
// inner loss's; with one, it is the inner loss of the batch with the
// memory's rows appended, the batch's rows the only anchors. Triplet with a
// reference set mines batch hard over the batch and the memory. MoCo (He
// et al. 2020) is models.MoCo, which takes a Referenced loss through
// RefFunc.
//
// # Non-finite embeddings
//
// One rule for every loss: the embeddings are checked each time the graph
// runs, before any distance is computed, and a NaN or ±Inf entry makes the
// run fail with an error that names the loss and the entry
// ("losses: triplet: embeddings row 2, column 3 is NaN"), whether or not the
// loss has a miner; the loss never silently becomes NaN from its input. The
// gradient passes through the check unchanged. NCELogistic checks its
// logits the same way. Finite embeddings so large that a distance overflows
// (|x| beyond about 1e18 in float32) are reported by a miner as the
// overflowing matrix entry; a loss without a miner then gives ±Inf or NaN,
// which models.Trainer refuses before it updates any weight.
//
// # Errors
//
// Bad input gives an error that starts with "losses: " and names the
// problem, never a panic: labels whose length is not B, embeddings that are
// not 2-D or not float, labels that are not int, nodes from two graphs, a
// negative margin for a distance, a NaN or ±Inf margin or L2 weight, a
// temperature that is not a finite positive number.
package losses
