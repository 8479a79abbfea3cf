// Package bench holds the benchmarks of the loss kernels (losses_test.go),
// of the losses with miners (miners_test.go) and of training steps, and the
// scripts that compare the losses with PyTorch. It has no API: everything
// lives in _test files, and a plain `go test ./...` runs only cheap smoke
// tests (TestLossSetups builds every loss benchmark's graph at B=8 and
// checks two forward+backward steps for finite values, in float32 and
// float64; TestMinedSetups does the same once per miner case).
//
// # Go benchmarks
//
// Every loss is timed forward+backward (the loss and G.Grad with respect to
// the embeddings) on a float32 leaf embedding matrix of B×D (D = 128,
// B ∈ {128, 256, 1024}, entries N(0, 1)/√D from a fixed seed) and a P×K
// label vector with K = 4 (labels i/4). The graph, its gradient and the
// TapeMachine are built once per sub-benchmark and one warm-up step runs
// before the timer starts; the timed loop is graph.Run + Reset only (the
// tape on the calling goroutine, as the trainer runs its steps).
// BenchmarkBuild times graph construction, G.Grad and compilation alone.
//
//	cd /work/main   # the module root
//	go test -run '^$' -bench 'Losses' -benchtime 3x -count 5 ./bench | tee /tmp/bench_losses.txt
//	go run golang.org/x/perf/cmd/benchstat@latest /tmp/bench_losses.txt
//	go test -run '^$' -bench 'Build' -count 5 ./bench
//
// Select one loss or size with the usual regexp per level, for example
// -bench 'Losses/Triplet$/B=1024' (the trailing $ keeps TripletBatchHard
// out). A CPU profile of one case:
//
//	go test -run '^$' -bench 'Losses/LiftedSmooth/B=1024' -benchtime 3x -cpuprofile /tmp/cpu.out ./bench
//	go tool pprof -top -nodecount 30 bench.test /tmp/cpu.out
//
// The benchmark names say which variant runs:
//
//	Contrastive        losses.NewContrastive()
//	Triplet            losses.NewTriplet() with Miner mining.AllTriplets{Capacity: mining.PKTriplets(P, 4)}:
//	                   every valid triplet, with exactly as many slots as a P×4 batch has
//	TripletDefaultCap  losses.NewTriplet() as is (no miner: AllTriplets' worst-case capacity
//	                   b·⌊(b−1)/2⌋·⌈(b−1)/2⌉ slots, mostly padding); B ≤ 256 only, since
//	                   B = 1024 would need more than mining.MaxSlots and is refused
//	TripletBatchHard   losses.NewTriplet() with mining.BatchHard{}
//	TripletSemiHard    losses.NewTriplet() with mining.SemiHard{Margin: 0.2, Capacity: P·4·3}
//	LiftedSmooth       losses.NewLifted()
//	LiftedHard         losses.Lifted{Margin: 1, Form: losses.LiftedHard}
//	NPair              losses.NewNPair()
//	NCE                losses.NewNCE()
//	NTXent             losses.NewNTXent()
//	SupCon             losses.NewSupCon()
//
// BenchmarkLossesPairBased (pairlosses_test.go) times the pair-based losses
// the same way at B ∈ {256, 1024} (-bench 'Losses' runs them too):
//
//	MultiSimilarityPML    losses.MultiSimilarityPML()
//	CirclePML             losses.CirclePML()
//	GeneralizedLiftedPML  losses.GeneralizedLiftedPML()
//	MarginPML             losses.MarginPML() (every triplet, as pair weights: no B×B×B tensor)
//	DebiasedContrastive   losses.NewDebiasedContrastive()
//	HardNegative          losses.NewHardNegative()
//
// BenchmarkLossesProxy (proxylosses_test.go) times the losses with
// parameters of their own at their pytorch-metric-learning presets, at
// B ∈ {256, 1024} with K = 4 per class (64 and 256 classes, parameters
// drawn by InitParams), computing the gradients of the embeddings and of
// the parameters as the trainer does:
//
//	ProxyNCAPML     losses.ProxyNCAPML()
//	ProxyAnchorPML  losses.ProxyAnchorPML()
//	SoftTriplePML   losses.SoftTriplePML() (10 centres per class)
//	ArcFacePML      losses.ArcFacePML()
//	CosFacePML      losses.CosFacePML()
//
// # Miners
//
// BenchmarkMined (miners_test.go) times the same forward+backward step,
// on the same data and geometry, of three losses with each miner and
// without one, named BenchmarkMined/<loss>/<miner>/B=<b>; every loss has a
// None case, the baseline its mined cases are compared with. The miner runs
// inside the pass, so its cost, the op around it (the matrix copied to
// float64, the index tensors) and the gather of its capacity are all in the
// step. TestMinedSetups runs every case once at B=8.
//
//	Triplet      losses.NewTriplet() (squared Euclidean, margin 0.2, sum) with Miner
//	  None                 mining.AllTriplets{Capacity: mining.PKTriplets(P, 4)} (as Losses/Triplet)
//	  BatchHard            mining.BatchHard{}
//	  SemiHard             mining.SemiHard{Margin: 0.2, Fallback: mining.FallbackFarthest, Capacity: P·4·3}
//	  SemiHardDefaultCap   the same with Capacity 0: (B−1)(B−2) slots, mostly padding
//	  TypeHard, TypeSemiHard, TypeEasy
//	                       mining.TripletsOfType{Type: …, Margin: 0.2, Capacity: mining.PKTriplets(P, 4)}
//	TripletL2    the same loss with Distance graph.Euclidean{Normalize: true}, which
//	             DistanceWeighted needs (distances in [0, 2])
//	  None                 mining.AllTriplets{Capacity: mining.PKTriplets(P, 4)}
//	  DistanceWeighted     mining.NewDistanceWeighted(seed) with Capacity P·4·3
//	  DistanceWeightedDefaultCap   mining.NewDistanceWeighted(seed) as is: (B−1)(B−2) slots
//	Contrastive  losses.NewContrastive(), Lifted  losses.NewLifted() (their Euclidean distance)
//	  None                 no miner (label masks)
//	  MultiSimilarity      mining.MultiSimilarityPML()
//	  PairMargin           mining.PairMarginPML()
//
// BenchmarkMinerAlone times each of these miners alone (one MineTriplets or
// MinePairs call, like mining's BenchmarkMiners) on the very float64 matrix
// it reads in BenchmarkMined's graph, and reports how many triplets or pairs
// it selects (mined/op), so that its share of the mined step can be taken
// like for like; mining's BenchmarkMiners uses other data (L2-normalised
// 64-D rows, cosine similarities for MultiSimilarity).
//
//	go test -run '^$' -bench 'Mined' -benchtime 5x -count 5 ./bench | tee /tmp/bench_mined.txt
//	go test -run '^$' -bench 'MinerAlone' -benchtime 20x -count 5 ./bench | tee /tmp/bench_alone.txt
//	go test -run '^$' -bench 'Miners' -benchtime 20x -count 5 ./mining | tee /tmp/bench_miners.txt
//
// On random embeddings some selections are degenerate, which the times do
// not show: PairMargin's default NegMargin 0.8 is below every negative
// distance (≈ √2), so it mines the positive pairs only, and Lifted with it
// is 0 with a zero gradient; TypeEasy mines only zero-hinge triplets.
//
// # Workers
//
// BenchmarkTrainStepWorkers (the MLP and ConvNet steps of BenchmarkTrainStep
// at B = 100), BenchmarkEmbedWorkers (Embedder on 10,000 inputs in batches
// of 500) and BenchmarkEvaluateWorkers (BenchmarkEvaluate's retrieval) run
// once per worker count, 1..GOMAXPROCS or the list in CONTRASTIVE_WORKERS
// ("1,2,4,8,16"), and report cpu-ms/op, the process's CPU time per
// operation, next to the wall time. scaling.sh interleaves the worker
// counts over several rounds and prints medians and speedups over one
// worker; it needs only Go, so it can be run on a larger machine:
//
//	bench/scaling.sh 5
//	CONTRASTIVE_WORKERS=1,2,4,8,16 bench/scaling.sh 3
//
// BenchmarkGradCache times a step at B = 1024…16384 plain and with gradient
// caching in chunks of 256, and reports the peak RSS; gradcache.sh runs one
// case per process, as a process's peak RSS never goes down.
//
// # PyTorch comparison (optional, never needed by the tests)
//
// torch_losses.py implements the same objectives in plain PyTorch (CPU,
// float32, torch.set_num_threads(2)) and times forward+backward; it needs
// python3-torch (Debian: apt-get install python3-torch, then run it with
// /usr/bin/python3). compare.sh runs both sides and prints the Go/torch
// ratios of the medians:
//
//	bench/compare.sh                                  # runs the Go benchmarks and the torch script
//	GO_BENCH=/tmp/bench_losses.txt bench/compare.sh   # reuse a finished Go run
//
// On a machine that other jobs share, interleave.py alternates the two
// sides (and any number of Go test binaries, e.g. a baseline and a
// change) round by round and prints medians over the rounds, so that the
// load falls on every side alike:
//
//	go test -c -o /tmp/new.test ./bench
//	python3 bench/interleave.py --threads 1 --rounds 5 --losses NPair,SupCon --go base=/tmp/base.test --go new=/tmp/new.test
//
// Two settings decide what the torch numbers mean (compare.sh explains
// both): Debian's torch calls the system libblas.so.3, which is the slow
// reference BLAS unless an optimised one is installed (TORCH_BLAS_DIR points
// torch alone at an unpacked OpenBLAS, as pip's MKL wheels would be), and on
// a shared, oversubscribed machine OpenMP's spinning barriers make torch's
// times meaningless unless OMP_WAIT_POLICY=PASSIVE (compare.sh's default).
//
// torch_train.py times the training steps of BenchmarkTrainStep at B = 100
// (MLP and ConvNet, pytorch-metric-learning's batch-hard triplet form
// written in torch, Adam) on the same number of threads; compare.sh runs it
// after the losses (PARTS="train" for the training steps alone) and prints
// the Go/torch ratios. At one thread on each side:
//
//	THREADS=1 PARTS=train bench/compare.sh
//
// compare.sh also runs the value cross-check: TestCrossCheckDump (skipped
// unless BENCH_CROSSCHECK names an output file) writes a fixed B=8, D=4
// float64 batch with every loss's Go value and gradient, and
// torch_losses.py --crosscheck recomputes them in torch and prints both.
// The dump also holds the pytorch-metric-learning options of optionCases
// (pmlopts_test.go: triplet swap, BatchEasyHard, a miner on its own
// distance, NPairPML, SupConPML, NTXentPML, Lp), some on batches with their
// own labels (three classes of 3, 3 and 2, or a single class), which the
// script recomputes from transcriptions of PML's code; TestOptionSetups
// runs each of them once in float32 and float64 without the variable. For
// the losses with parameters the dump also holds the parameters and their
// gradient, which the torch side compares too.
//
// # Matrix products
//
// BenchmarkGemm (gemm_test.go) times the float32 products of the default
// models, with graph/gemm (what every graph uses by default) and gonum's
// Sgemm interleaved per shape, and OpenBLAS too when built with
// -tags openblas, reporting GFLOP/s (2mnk per product). The shapes, m×n×k
// with the transposes Gorgonia v0.9.18 passes:
//
//	Conv1/Fwd   57600×16×25     N·T  conv1 im2col patches (100·24·24 × 1·5·5) · filterᵀ
//	Conv1/dX    57600×25×16     N·N  dY · filter (Gorgonia computes it although the input is not learnable)
//	Conv1/dW    16×25×57600     T·N  dYᵀ · patches
//	Conv2/Fwd   6400×32×400     N·T  conv2 patches (100·8·8 × 16·5·5) · filterᵀ
//	Conv2/dX    6400×400×32     N·N  dY · filter, then col2im
//	Conv2/dW    32×400×6400     T·N  dYᵀ · patches
//	ConvProj    100×64×512      N·N  flattened 32×4×4 maps · projection; dX 100×512×64 N·T, dW 512×64×100 T·N
//	MLP<i>-<o>/B=<b>  Fwd b×o×i N·N, dX b×i×o N·T, dW i×o×b T·N, for 784-256, 256-128, 128-64, b = 100 and 256
//	Eval        128×60000×64    N·T  a block of 128 test queries against every training image (D = 64)
//	EvalTile    64×192×64       N·N  the tile models/eval multiplies per call
//
// Run it on one thread (gonum spreads large products over GOMAXPROCS
// goroutines, OpenBLAS over its own threads):
//
//	go test -run '^$' -bench Gemm -cpu 1 -count 5 ./bench
//	OPENBLAS_NUM_THREADS=1 go test -tags openblas -run '^$' -bench Gemm -cpu 1 -count 5 ./bench
//
// BenchmarkKernels in graph/gemm compares its kernels (AVX-512, AVX2, the
// portable one) on a few of these shapes.
package bench
