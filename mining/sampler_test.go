package mining_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/mining"
)

// checkEpoch checks the shape of every batch (P distinct classes, K
// samples each, contiguous) and returns how often each index was visited.
func checkEpoch(t *testing.T, labels []int, p, k int, batches [][]int) []int {
	t.Helper()
	visits := make([]int, len(labels))
	for bi, batch := range batches {
		require.Len(t, batch, p*k, "batch %d", bi)
		seen := map[int]bool{}
		for g := 0; g < p; g++ {
			l := labels[batch[g*k]]
			require.False(t, seen[l], "batch %d: class %d twice", bi, l)
			seen[l] = true
			for _, i := range batch[g*k : (g+1)*k] {
				require.Equal(t, l, labels[i], "batch %d: group %d mixes classes", bi, g)
			}
		}
		for _, i := range batch {
			visits[i]++
		}
	}
	return visits
}

func TestPKSamplerBalanced(t *testing.T) {
	// 10 classes × 8 samples, shuffled order; P=4, K=4: 20 chunks, 5 batches,
	// every sample exactly once.
	r := rand.New(rand.NewPCG(1, 1))
	labels := make([]int, 80)
	for i := range labels {
		labels[i] = 100 + i%10
	}
	r.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	s, err := mining.NewPKSampler(labels, 4, 4, 99)
	require.NoError(t, err)
	require.Equal(t, 5, s.BatchesPerEpoch())
	require.Empty(t, s.Excluded())
	for e := 0; e < 3; e++ {
		batches, err := s.Epoch(e)
		require.NoError(t, err)
		require.Len(t, batches, 5)
		for i, v := range checkEpoch(t, labels, 4, 4, batches) {
			require.Equal(t, 1, v, "epoch %d: index %d", e, i)
		}
	}
}

func TestPKSamplerUnbalanced(t *testing.T) {
	// class sizes: 9 (partial chunk), 3 (< K), 2 (< K), 1 (excluded), 5, 4, 13 (dominant)
	sizes := []int{9, 3, 2, 1, 5, 4, 13}
	var labels []int
	for c, n := range sizes {
		for range n {
			labels = append(labels, c)
		}
	}
	const p, k = 3, 4
	s, err := mining.NewPKSampler(labels, p, k, 7)
	require.NoError(t, err)
	require.Equal(t, []int{14}, s.Excluded()) // the class of one sample
	// chunks ⌈n/4⌉: 3,1,1,2,1,4 → M = 12, max 4: max(⌈12/3⌉, 4) = 4
	require.Equal(t, 4, s.BatchesPerEpoch())
	for e := 0; e < 5; e++ {
		batches, err := s.Epoch(e)
		require.NoError(t, err)
		require.Len(t, batches, s.BatchesPerEpoch())
		visits := checkEpoch(t, labels, p, k, batches)
		for i, v := range visits {
			if i == 14 {
				require.Zero(t, v, "excluded index visited")
			} else {
				require.GreaterOrEqual(t, v, 1, "epoch %d: index %d never visited", e, i)
			}
		}
		// the 2-sample class (indices 12, 13) fills its chunk of 4 with repeats
		require.Equal(t, 4, visits[12]+visits[13])
	}
}

// TestPKSamplerBatchCount checks BatchesPerEpoch, and the length of an
// epoch, against max(⌈M/P⌉, max_c m_c) on random datasets.
func TestPKSamplerBatchCount(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	for trial := 0; trial < 60; trial++ {
		classes := 2 + r.IntN(12)
		labels := randomLabels(r, 5+r.IntN(120), classes)
		p, k := 1+r.IntN(4), 2+r.IntN(4)
		s, err := mining.NewPKSampler(labels, p, k, uint64(trial))
		sizes := map[int]int{}
		for _, l := range labels {
			sizes[l]++
		}
		chunks, most, eligible := 0, 0, 0
		for _, n := range sizes {
			if n >= 2 {
				m := (n + k - 1) / k
				chunks += m
				most = max(most, m)
				eligible++
			}
		}
		if eligible < p || k > len(labels) {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err)
		want := max((chunks+p-1)/p, most)
		require.Equal(t, want, s.BatchesPerEpoch(), "trial %d: sizes %v, P=%d K=%d", trial, sizes, p, k)
		batches, err := s.Epoch(trial % 3)
		require.NoError(t, err)
		require.Len(t, batches, want)
		visits := checkEpoch(t, labels, p, k, batches)
		for i, v := range visits {
			if sizes[labels[i]] >= 2 {
				require.GreaterOrEqual(t, v, 1, "trial %d: index %d", trial, i)
			}
		}
	}
}

func TestPKSamplerReproducible(t *testing.T) {
	labels := randomLabels(rand.New(rand.NewPCG(4, 4)), 200, 12)
	s1, err := mining.NewPKSampler(labels, 4, 3, 11)
	require.NoError(t, err)
	s2, err := mining.NewPKSampler(append([]int(nil), labels...), 4, 3, 11)
	require.NoError(t, err)
	e3, err := s1.Epoch(3)
	require.NoError(t, err)
	_, err = s2.Epoch(1) // a different call order must not matter
	require.NoError(t, err)
	again, err := s2.Epoch(3)
	require.NoError(t, err)
	require.Equal(t, e3, again, "same seed and epoch")
	e4, err := s1.Epoch(4)
	require.NoError(t, err)
	require.NotEqual(t, e3, e4, "different epochs")
	s3, err := mining.NewPKSampler(labels, 4, 3, 12)
	require.NoError(t, err)
	other, err := s3.Epoch(3)
	require.NoError(t, err)
	require.NotEqual(t, e3, other, "different seeds")
}

func TestPKSamplerErrors(t *testing.T) {
	for _, tc := range []struct {
		labels []int
		p, k   int
		want   string
	}{
		{nil, 2, 2, "no labels"},
		{[]int{0, 0, 1, 1}, 0, 2, "P = 0"},
		{[]int{0, 0, 1, 1}, 2, 1, "K = 1 < 2: triplet losses need at least 2 samples per class"},
		{[]int{0, 0, 1, 1}, 2, 5, "K = 5 exceeds the 4 samples"},
		{[]int{0, 0, 1, 1, 2}, 3, 2, "2 classes have at least 2 samples (of 3 classes); P = 3 needs at least 3"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			s, err := mining.NewPKSampler(tc.labels, tc.p, tc.k, 1)
			require.Nil(t, s)
			require.Error(t, err)
			require.ErrorContains(t, err, "mining: ")
			require.ErrorContains(t, err, tc.want)
		})
	}
	s, err := mining.NewPKSampler([]int{0, 0, 1, 1}, 2, 2, 1)
	require.NoError(t, err)
	_, err = s.Epoch(-1)
	require.ErrorContains(t, err, "mining: PKSampler: epoch -1")
}

func ExamplePKSampler() {
	// 4 classes of 4 samples; batches of P=2 classes × K=2 samples.
	labels := []int{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}
	s, err := mining.NewPKSampler(labels, 2, 2, 42)
	if err != nil {
		fmt.Println(err)
		return
	}
	batches, err := s.Epoch(0)
	if err != nil {
		fmt.Println(err)
		return
	}
	visits := make([]int, len(labels))
	for _, b := range batches {
		// b[0:2] share a class, b[2:4] share another one
		fmt.Println(len(b), labels[b[0]] == labels[b[1]], labels[b[2]] == labels[b[3]], labels[b[0]] != labels[b[2]])
		for _, i := range b {
			visits[i]++
		}
	}
	fmt.Println(s.BatchesPerEpoch(), "batches; visits per sample:", visits)
	_, err = mining.NewPKSampler(labels, 2, 1, 42)
	fmt.Println(err)
	// Output:
	// 4 true true true
	// 4 true true true
	// 4 true true true
	// 4 true true true
	// 4 batches; visits per sample: [1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1]
	// mining: PKSampler: K = 1 < 2: triplet losses need at least 2 samples per class
}
