package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
)

// TestPMLFlags: the flags of issue 14 part 4 reach the loss and the miner
// the command builds.
func TestPMLFlags(t *testing.T) {
	build := func(args ...string) (options, any) {
		t.Helper()
		o, err := parseFlags(append(args, "-model", "mlp"), io.Discard)
		require.NoError(t, err, args)
		l, err := buildLoss(o, 1)
		require.NoError(t, err, args)
		return o, l
	}
	_, l := build("-swap", "-miner", "batch-hard", "-warmup", "0")
	require.True(t, l.(losses.Triplet).Swap)

	_, l = build("-miner", "easy-hard", "-pos-strategy", "hard", "-neg-strategy", "all")
	require.Equal(t, mining.BatchEasyHard{Pos: mining.StrategyHard, Neg: mining.StrategyAll}, l.(losses.Triplet).Miner)
	_, l = build("-miner", "easy-hard")
	require.Equal(t, mining.BatchEasyHardPML(), l.(losses.Triplet).Miner, "PML's default strategies")
	_, l = build("-loss", "contrastive", "-miner", "easy-hard", "-pos-strategy", "semihard", "-neg-strategy", "easy")
	require.Equal(t, mining.BatchEasyHard{Pos: mining.StrategySemiHard, Neg: mining.StrategyEasy}, l.(losses.Contrastive).Miner)

	_, l = build("-loss", "contrastive", "-miner", "multi-similarity", "-miner-distance", "cosine")
	require.Equal(t, graph.Cosine{}, mining.DistanceOf(l.(losses.Contrastive).Miner))
	require.Equal(t, graph.Euclidean{}, l.(losses.Contrastive).Distance)

	_, l = build("-distance", "lp", "-lp-p", "1")
	require.Equal(t, graph.Lp{P: 1}, l.(losses.Triplet).Distance)
	_, l = build("-loss", "npair", "-miner", "none", "-distance", "cosine")
	require.Equal(t, graph.Cosine{}, l.(losses.NPair).Distance)

	// a batch-hard warm-up reads the same distance as the miner after it
	_, l = build("-miner", "batch-hard", "-miner-distance", "lp", "-lp-p", "3")
	w := l.(losses.Triplet).Miner.(mining.Warmup)
	require.Equal(t, graph.Lp{P: 3}, w.MinerDistance())
	require.Equal(t, graph.Lp{P: 3}, mining.DistanceOf(w.Early))
}
