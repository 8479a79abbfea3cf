package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

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
		{"unknown-loss", []string{"-loss", "arcface"}, 2, `unknown -loss "arcface"`},
		{"unknown-model", []string{"-model", "resnet"}, 2, `unknown -model "resnet"`},
		{"k<2", []string{"-k", "1"}, 2, "-k is 1"},
		{"workers<1", []string{"-workers", "0"}, 2, "-workers is 0"},
		{"p>classes", []string{"-p", "11"}, 2, "MNIST has 10 classes"},
		{"pair-miner-with-triplet", []string{"-miner", "multi-similarity"}, 2, "-loss triplet cannot use it"},
		{"triplet-miner-with-pair-loss", []string{"-loss", "contrastive"}, 2, "-miner batch-hard selects triplets"},
		{"batch-larger-than-data", []string{"-limit", "50", "-out", t.TempDir()}, 2, "larger than the 50 training images"},
		{"bad-flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"missing-data", []string{"-data", filepath.Join(t.TempDir(), "none"), "-out", t.TempDir()}, 1, "train-images-idx3-ubyte.gz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), tc.want)
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
