package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/models"
)

// TestSmoke runs the command's main path on 2000 training images and checks
// every output: it exists, parses, and precision@1 is far above chance
// (0.1 for ten balanced digits).
func TestSmoke(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-model", "mlp", "-epochs", "2", "-limit", "2000", "-dim", "16", "-out", out}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", stderr.String(), stdout.String())
	require.Contains(t, stdout.String(), "precision@1")

	raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	for _, k := range []string{"precision_at_1", "r_precision", "map_at_r", "knn_accuracy", "train_seconds", "epochs", "config"} {
		require.Contains(t, m, k)
	}
	p1 := m["precision_at_1"].(float64)
	require.Greater(t, p1, 0.6, "precision@1")
	require.Equal(t, 2.0, m["epochs"])
	require.Equal(t, 2000.0, m["config"].(map[string]any)["limit"])

	model, err := models.Load(filepath.Join(out, "model.safetensors"))
	require.NoError(t, err)
	require.Equal(t, 16, model.Config.Dim)

	emb, err := os.ReadFile(filepath.Join(out, "embeddings.tsv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(emb)), "\n")
	require.Len(t, lines, 10000)
	fields := strings.Split(lines[0], "\t")
	require.Len(t, fields, 16)
	for _, f := range fields {
		_, err := strconv.ParseFloat(f, 32)
		require.NoError(t, err)
	}
	labels, err := os.ReadFile(filepath.Join(out, "labels.tsv"))
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(string(labels)), "\n"), 10000)

	for _, name := range []string{"pca.png", "loss.png"} {
		f, err := os.Open(filepath.Join(out, name))
		require.NoError(t, err)
		img, err := png.Decode(f)
		f.Close()
		require.NoError(t, err, name)
		require.Greater(t, img.Bounds().Dx(), 100, name)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown-miner", []string{"-miner", "hardest"}, 2, `unknown -miner "hardest"`},
		{"unknown-loss", []string{"-loss", "sphereface"}, 2, `unknown -loss "sphereface"`},
		{"proxy-loss-with-miner", []string{"-loss", "proxy-anchor", "-miner", "semi-hard"}, 2, "-loss proxy-anchor compares embeddings with learnable class proxies and uses no miner; drop -miner semi-hard"},
		{"loss-lr-without-params", []string{"-loss", "contrastive", "-miner", "none", "-loss-lr", "0.1"}, 2, "-loss-lr sets the learning rate of a loss's own parameters; -loss contrastive has none"},
		{"loss-lr-negative", []string{"-loss", "arcface", "-loss-lr", "-1"}, 2, "-loss-lr is -1; want ≥ 0"},
		{"loss-lr-inf", []string{"-loss", "cosface", "-loss-lr", "Inf"}, 2, "-loss-lr is +Inf"},
		{"unknown-model", []string{"-model", "resnet"}, 2, `unknown -model "resnet"`},
		{"k<2", []string{"-k", "1"}, 2, "-k is 1"},
		{"workers<1", []string{"-workers", "0"}, 2, "-workers is 0"},
		{"shards<0", []string{"-shards", "-1"}, 2, "-shards is -1"},
		{"p>classes", []string{"-p", "11"}, 2, "MNIST has 10 classes"},
		{"pair-miner-with-triplet", []string{"-miner", "multi-similarity"}, 2, "-loss triplet cannot use it"},
		{"triplet-miner-with-pair-loss", []string{"-loss", "contrastive"}, 2, "-miner semi-hard selects triplets"},
		{"batch-larger-than-data", []string{"-limit", "50", "-out", t.TempDir()}, 2, "larger than the 50 training images"},
		{"bad-flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"missing-data", []string{"-data", filepath.Join(t.TempDir(), "none"), "-out", t.TempDir()}, 1, "train-images-idx3-ubyte.gz"},
		// Issue 11, defects 3, 5, 6 and 7: each of these trained and failed
		// later with exit 1, or crashed (exit 2 from a panic or a fatal
		// out-of-memory); now each is a usage error before anything runs.
		{"margin-nan", []string{"-margin", "NaN"}, 2, "-margin is NaN; want a finite value ≥ 0"},
		{"margin-inf", []string{"-margin", "Inf"}, 2, "-margin is +Inf"},
		{"lr-inf", []string{"-lr", "Inf"}, 2, "-lr is +Inf; want > 0 and ≤ 10"},
		{"lr-1e300", []string{"-lr", "1e300"}, 2, "-lr is 1e+300"},
		{"epochs-1e12", []string{"-epochs", "1000000000000"}, 2, "-epochs is 1000000000000; want ≤ 10000"},
		{"epochs-maxint", []string{"-epochs", "9223372036854775807"}, 2, "-epochs is 9223372036854775807"},
		{"k-3000", []string{"-k", "3000"}, 2, "-p 10 × -k 3000 with -model hybrid -dim 64 needs about"},
		// 400 shards of 10×10 join into batches of 40,000 rows: the B×B
		// matrices alone exceed the limit, though one shard's batch fits.
		{"shards-400", []string{"-shards", "400"}, 2, "-p 10 × -k 10 × -shards 400 with -model hybrid -dim 64 needs about"},
		{"k-overflow", []string{"-k", "9223372036854775807"}, 2, "MNIST has 60000 training images"},
		{"dim-1e6", []string{"-dim", "1000000"}, 2, "-dim 1000000 needs about"},
		{"dim-1e5", []string{"-model", "mlp", "-dim", "100000"}, 2, "the embeddings of the 70000 training and test images take 26.1 GiB"},
		{"miner-all-k-200", []string{"-miner", "all", "-k", "200"}, 2, "-miner all with -p 10 -k 200: mining: AllTriplets.Capacity is 716400000 slots"},
		{"eval-batch-huge", []string{"-eval-batch", "1000000000"}, 2, "-eval-batch 1000000000 with -model hybrid needs about"},
		// memories (issue 14, part 3)
		{"xbm<0", []string{"-xbm", "-1"}, 2, "-xbm is -1; want ≥ 0"},
		{"moco<0", []string{"-moco", "-5"}, 2, "-moco is -5; want ≥ 0"},
		{"moco-momentum-1", []string{"-loss", "ntxent", "-miner", "none", "-moco", "512", "-moco-momentum", "1"}, 2, "-moco-momentum is 1; want 0 ≤ m < 1"},
		{"moco-momentum-nan", []string{"-moco-momentum", "NaN"}, 2, "-moco-momentum is NaN"},
		{"xbm-and-moco", []string{"-loss", "ntxent", "-miner", "none", "-xbm", "512", "-moco", "512"}, 2, "-xbm and -moco are two memories"},
		{"xbm-npair", []string{"-loss", "npair", "-miner", "none", "-xbm", "512"}, 2, "-xbm needs a loss that compares the batch with a memory"},
		{"xbm-triplet-semi-hard", []string{"-xbm", "512"}, 2, "use -miner batch-hard (not semi-hard)"},
		{"xbm-triplet-warmup", []string{"-xbm", "512", "-miner", "batch-hard", "-warmup", "10"}, 2, "-warmup 10 cannot mine the memory"},
		{"xbm-pair-miner", []string{"-loss", "contrastive", "-miner", "pair-margin", "-xbm", "512"}, 2, "use -miner none (not pair-margin)"},
		{"moco-triplet", []string{"-moco", "512"}, 2, "-moco needs -loss ntxent or supcon (not triplet)"},
		{"moco-miner", []string{"-loss", "supcon", "-miner", "multi-similarity", "-moco", "512"}, 2, "-moco uses every key in the queue: use -miner none (not multi-similarity)"},
		{"moco-smaller-than-batch", []string{"-loss", "ntxent", "-miner", "none", "-moco", "50"}, 2, "-moco 50 is smaller than a batch of 100 images"},
		{"xbm-huge", []string{"-loss", "contrastive", "-miner", "none", "-xbm", "100000000"}, 2, "a memory of 100000000 rows with batches of 100 needs about"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), tc.want)
		})
	}
}

// TestMemoriesTrain: a short run with a cross-batch memory and one with
// MoCo train well above chance and say which memory they used.
func TestMemoriesTrain(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"xbm", []string{"-loss", "contrastive", "-miner", "none", "-xbm", "1000"}, "cross-batch memory of 1000 embeddings"},
		{"xbm-triplet", []string{"-miner", "batch-hard", "-xbm", "300"}, "cross-batch memory of 300 embeddings"},
		{"moco", []string{"-loss", "ntxent", "-miner", "none", "-moco", "1000", "-moco-momentum", "0.99"}, "MoCo: queue of 1000 keys, key-encoder momentum 0.99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			args := append([]string{"-model", "mlp", "-epochs", "1", "-limit", "2000", "-dim", "16", "-baseline=false", "-out", out}, tc.args...)
			code := run(context.Background(), args, &stdout, &stderr)
			require.Equal(t, 0, code, "stderr: %s\nstdout: %s", stderr.String(), stdout.String())
			require.Contains(t, stdout.String(), tc.want)
			raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(raw, &m))
			require.Greater(t, m["precision_at_1"].(float64), 0.5, "precision@1 (chance: 0.1)")
		})
	}
}

// TestUnwritableOutFailsFirst: the output directory is checked before the
// data are read or anything is trained.
func TestUnwritableOutFailsFirst(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; a path under a regular file
		// cannot be created by anyone
		f := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(f, nil, 0o644))
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"-out", filepath.Join(f, "sub"), "-data", "/nonexistent"}, &stdout, &stderr)
		require.Equal(t, 1, code)
		require.Contains(t, stderr.String(), "output directory")
		require.NotContains(t, stderr.String(), "nonexistent")
		return
	}
	dir := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.Mkdir(dir, 0o555))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-out", dir, "-data", "/nonexistent"}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "not writable")
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"-h"}, &stdout, &stderr))
	for _, f := range []string{"-data", "-model", "-dim", "-epochs", "-p", "-k", "-margin", "-miner", "-loss", "-lr", "-seed", "-limit", "-out", "-workers"} {
		require.Contains(t, stderr.String(), "  "+f+" ")
	}
}

// TestSameSeedSameMetrics: two runs with one seed give identical metrics.
func TestSameSeedSameMetrics(t *testing.T) {
	var results []map[string]any
	for i := 0; i < 2; i++ {
		out := t.TempDir()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"-model", "mlp", "-epochs", "1", "-limit", "1000", "-dim", "8", "-seed", "5", "-out", out}, &stdout, &stderr)
		require.Equal(t, 0, code, stderr.String())
		raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		results = append(results, m)
	}
	for _, k := range []string{"precision_at_1", "r_precision", "map_at_r", "knn_accuracy", "final_running_loss"} {
		require.Equal(t, results[0][k], results[1][k], k)
	}
}

// TestSemiHardLargeKNeedsNoFlag (issue 11, defect 7): -miner semi-hard
// -k 500 said to "set SemiHard.Capacity", which no flag can do; the
// command now sizes the miner for its P×K batches.
func TestSemiHardLargeKNeedsNoFlag(t *testing.T) {
	for _, miner := range []string{"semi-hard", "distance-weighted"} {
		o, err := parseFlags([]string{"-miner", miner, "-k", "500", "-model", "mlp"}, io.Discard)
		require.NoError(t, err, miner)
		tm, _ := o.miners(1)
		c, err := tm.TripletCapacity(o.P * o.K)
		require.NoError(t, err)
		require.Equal(t, 10*500*499, c) // P·K·(K−1) anchor–positive pairs
	}
}

// TestEmptySetsFailBeforeTraining (issue 11, defect 8): an empty test set
// was noticed only after the whole training run, by a message that did not
// name it.
func TestEmptySetsFailBeforeTraining(t *testing.T) {
	idx := func(magic uint32, dims []uint32, data []byte) []byte {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		h := binary.BigEndian.AppendUint32(nil, magic)
		for _, d := range dims {
			h = binary.BigEndian.AppendUint32(h, d)
		}
		z.Write(append(h, data...))
		z.Close()
		return b.Bytes()
	}
	const n = 200
	labels := make([]byte, n)
	for i := range labels {
		labels[i] = byte(i % 10)
	}
	for _, tc := range []struct {
		name       string
		train, tst int
		want       string
	}{
		{"empty-test", n, 0, "the test set " + "%s" + "/t10k-images-idx3-ubyte.gz is empty: there are no queries to evaluate"},
		{"empty-train", 0, n, "the training set " + "%s" + "/train-images-idx3-ubyte.gz is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name string, b []byte) { require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644)) }
			write("train-images-idx3-ubyte.gz", idx(2051, []uint32{uint32(tc.train), 28, 28}, make([]byte, tc.train*784)))
			write("train-labels-idx1-ubyte.gz", idx(2049, []uint32{uint32(tc.train)}, labels[:tc.train]))
			write("t10k-images-idx3-ubyte.gz", idx(2051, []uint32{uint32(tc.tst), 28, 28}, make([]byte, tc.tst*784)))
			write("t10k-labels-idx1-ubyte.gz", idx(2049, []uint32{uint32(tc.tst)}, labels[:tc.tst]))
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"-data", dir, "-out", t.TempDir(), "-model", "mlp", "-epochs", "1"}, &stdout, &stderr)
			require.Equal(t, 1, code, stderr.String())
			require.Contains(t, stderr.String(), fmt.Sprintf(tc.want, dir))
			require.NotContains(t, stdout.String(), "training ")
		})
	}
}

// TestWorkersAgree: training with 1 and with 3 workers (100-image batches,
// shards of 34, 33, 33) gives the same metrics to float rounding. The
// parameter gradients are summed in another order, so the weights drift
// apart by rounding over the 10 steps; a query whose two nearest
// references are that close can flip, hence the tolerance of 10 of the
// 10,000 test queries.
func TestWorkersAgree(t *testing.T) {
	var results []map[string]any
	for _, w := range []string{"1", "3"} {
		out := t.TempDir()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"-model", "mlp", "-epochs", "1", "-limit", "1000", "-dim", "8", "-seed", "5", "-workers", w, "-out", out}, &stdout, &stderr)
		require.Equal(t, 0, code, stderr.String())
		require.Contains(t, stdout.String(), w+" workers")
		raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		results = append(results, m)
	}
	for _, k := range []string{"precision_at_1", "r_precision", "map_at_r", "knn_accuracy", "final_running_loss"} {
		a, b := results[0][k].(float64), results[1][k].(float64)
		t.Logf("%s: 1 worker %v, 3 workers %v", k, a, b)
		require.InDelta(t, a, b, 1e-3, k)
	}
}

// TestSplitClasses runs the unseen-class protocol on 3,000 training images
// (a short MLP run) and checks what metrics.json says about it: classes 0-4
// trained, 5-9 evaluated, queries are the test images of 5-9, the
// raw-pixel baseline and the collapse summary are present, and the trained
// encoder retrieves the unseen digits far above chance (0.2 for five
// classes).
func TestSplitClasses(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-model", "mlp", "-epochs", "2", "-limit", "3000", "-dim", "16", "-split", "classes", "-warmup", "20", "-out", out}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", stderr.String(), stdout.String())
	raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	require.NoError(t, err)
	var m struct {
		PrecisionAt1 float64         `json:"precision_at_1"`
		TestImages   int             `json:"test_images"`
		Split        string          `json:"split"`
		TrainClasses []int           `json:"train_classes"`
		EvalClasses  []int           `json:"eval_classes"`
		Collapse     models.Collapse `json:"collapse"`
		Baseline     *baseline       `json:"raw_pixel_baseline"`
		Config       options         `json:"config"`
	}
	require.NoError(t, json.Unmarshal(raw, &m))
	require.Equal(t, "classes", m.Split)
	require.Equal(t, []int{0, 1, 2, 3, 4}, m.TrainClasses)
	require.Equal(t, []int{5, 6, 7, 8, 9}, m.EvalClasses)
	require.Equal(t, 4861, m.TestImages) // MNIST's test set has 892+958+1028+974+1009 images of 5-9
	require.Equal(t, 5, m.Config.P)
	require.Equal(t, 20, m.Config.K)
	require.NotNil(t, m.Baseline)
	require.Greater(t, m.Baseline.PrecisionAt1, 0.5)
	require.False(t, m.Collapse.Collapsed)
	require.Greater(t, m.PrecisionAt1, 0.6)
	require.Contains(t, stdout.String(), "raw pixels:")
	require.Contains(t, stdout.String(), "spread")
}

// TestEvalFlags runs the command with every evaluation flag set and checks
// that the chosen metrics are printed, that metrics.json carries them and
// the resolved depth (max_bin_count: the largest class among the 2000
// references), and that the printed values are the stored ones.
func TestEvalFlags(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-model", "mlp", "-epochs", "1", "-limit", "2000", "-dim", "16", "-out", out, "-baseline=false",
		"-eval-distance", "cosine", "-eval-k", "max_bin_count", "-knn", "3", "-per-class",
		"-metrics", "precision_at_1,map,mrr,nmi,ami"}
	code := run(context.Background(), args, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", stderr.String(), stdout.String())

	raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	require.NoError(t, err)
	var m metrics
	require.NoError(t, json.Unmarshal(raw, &m))
	require.NotNil(t, m.MAP)
	require.NotNil(t, m.MRR)
	require.NotNil(t, m.NMI)
	require.NotNil(t, m.AMI)
	require.Equal(t, 3, m.KNNK)
	require.Equal(t, "cosine", m.Config.EvalDistance)
	require.True(t, m.Config.PerClass)
	// The largest digit class among the first 2000 training images.
	require.Greater(t, m.EvalDepth, 200)
	require.Less(t, m.EvalDepth, 2000)
	s := stdout.String()
	require.Contains(t, s, fmt.Sprintf("precision@1  %.4f\n", m.PrecisionAt1))
	require.Contains(t, s, fmt.Sprintf("MAP (within %d) %.4f\n", m.EvalDepth, *m.MAP))
	require.Contains(t, s, fmt.Sprintf("MRR (within %d) %.4f\n", m.EvalDepth, *m.MRR))
	require.Contains(t, s, fmt.Sprintf("NMI (k-means) %.4f\n", *m.NMI))
	require.Contains(t, s, fmt.Sprintf("AMI (k-means) %.4f\n", *m.AMI))
	require.Contains(t, s, "averaged per class")
	require.NotContains(t, s, "R-precision", "not asked for")
	for _, v := range []float64{m.PrecisionAt1, *m.MAP, *m.MRR, *m.NMI} {
		require.True(t, v > 0.3 && v <= 1, "metric %v", v)
	}
	require.True(t, *m.MRR >= m.PrecisionAt1, "MRR %v < P@1 %v", *m.MRR, m.PrecisionAt1)
}

// TestParamLossSmoke: a loss with learnable proxies trains without a miner
// (the default -miner is dropped for it), beats chance by far, and its
// proxies are saved with the model.
func TestParamLossSmoke(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-model", "mlp", "-epochs", "1", "-limit", "2000", "-dim", "16", "-loss", "proxy-anchor", "-baseline=false", "-out", out}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", stderr.String(), stdout.String())
	require.Contains(t, stdout.String(), "with proxy-anchor loss, miner none")
	raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	require.Greater(t, m["precision_at_1"].(float64), 0.6, "precision@1")
	var l losses.ProxyAnchor
	model, err := models.LoadLoss(filepath.Join(out, "model.safetensors"), &l)
	require.NoError(t, err)
	require.Equal(t, 16, model.Config.Dim)
	require.Equal(t, []int{10, 16}, []int(l.Proxies.Shape()))
}

// TestModelFlag: each -model value builds its encoder (hybrid, the
// default: the ConvNet with models.DefaultHybrid's dense branch) with its
// default epochs, and -seed and -dim reach it.
func TestModelFlag(t *testing.T) {
	for _, tc := range []struct {
		model  string
		want   models.Config
		epochs int
	}{
		{"cnn", models.DefaultConvNet(32), 4},
		{"mlp", models.DefaultMLP(32), 8},
		{"hybrid", models.DefaultHybrid(32), 4},
	} {
		t.Run(tc.model, func(t *testing.T) {
			o, err := parseFlags([]string{"-model", tc.model, "-dim", "32", "-seed", "7"}, io.Discard)
			require.NoError(t, err)
			want := tc.want
			want.Seed = 7
			require.Equal(t, want, o.modelConfig())
			require.Equal(t, tc.epochs, o.Epochs)
		})
	}
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "hybrid", o.Model, "the default encoder")
	require.Equal(t, models.DefaultHybrid(64), o.modelConfig())
	_, err = parseFlags([]string{"-model", "resnet"}, io.Discard)
	require.EqualError(t, err, `unknown -model "resnet" (want hybrid, cnn or mlp)`)
}
