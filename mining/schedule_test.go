package mining_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/mining"
)

// TestWarmup: the schedule mines exactly like Early for Steps batches and
// exactly like Late afterwards, on the hand-made tie batch; its capacity
// is the larger of the two; copies share the count.
func TestWarmup(t *testing.T) {
	batch := mining.Batch{Dist: tieDist, Labels: tieLabels, Dim: 2}
	early := mining.AllTriplets{OnlyViolating: true, Margin: 2}
	late := mining.BatchHard{}
	w, err := mining.NewWarmup(early, late, 2)
	require.NoError(t, err)
	c, err := w.TripletCapacity(len(tieLabels))
	require.NoError(t, err)
	ce, err := early.TripletCapacity(len(tieLabels))
	require.NoError(t, err)
	require.Equal(t, ce, c) // AllTriplets needs more slots than BatchHard's B

	want := func(m mining.TripletMiner) *mining.TripletList {
		out := mining.NewTripletList(c)
		require.NoError(t, m.MineTriplets(batch, out))
		return out
	}
	copyOfW := w
	for step, m := range []mining.TripletMiner{early, early, late, late} {
		got := mining.NewTripletList(c)
		require.NoError(t, copyOfW.MineTriplets(batch, got), "step %d", step)
		require.Equal(t, want(m), got, "step %d", step)
		require.Equal(t, step+1, w.Seen())
	}
	require.NotEqual(t, want(early).Len(), want(late).Len(), "the test needs the two miners to differ")
}

func TestWarmupErrors(t *testing.T) {
	_, err := mining.NewWarmup(nil, mining.BatchHard{}, 1)
	require.EqualError(t, err, "mining: Warmup needs two miners")
	_, err = mining.NewWarmup(mining.BatchHard{}, mining.BatchHard{}, -1)
	require.EqualError(t, err, "mining: Warmup steps is -1; want ≥ 0")
	var zero mining.Warmup
	_, err = zero.TripletCapacity(4)
	require.EqualError(t, err, "mining: Warmup not built by NewWarmup")
	require.EqualError(t, zero.MineTriplets(mining.Batch{Dist: tieDist, Labels: tieLabels}, mining.NewTripletList(6)), "mining: Warmup not built by NewWarmup")
}

// ExampleBatchHardWithWarmup mines four points on a line, 0 and 1 of class
// 0, 0.5 and 1.5 of class 1: the first step (the warm-up) takes the six
// triplets that violate the margin 0.2, the next ones one batch-hard
// triplet per anchor.
func ExampleBatchHardWithWarmup() {
	x := []float64{0, 1, 0.5, 1.5}
	dist := make([]float64, 16)
	for i, a := range x {
		for j, b := range x {
			dist[i*4+j] = math.Abs(a - b)
		}
	}
	batch := mining.Batch{Dist: dist, Labels: []int{0, 0, 1, 1}, Dim: 1}
	w, err := mining.BatchHardWithWarmup(2, 2, 1, 0.2)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, _ := w.TripletCapacity(4)
	out := mining.NewTripletList(c)
	for step := 1; step <= 2; step++ {
		if err := w.MineTriplets(batch, out); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("step %d: %d triplets\n", step, out.Len())
	}
	// Output:
	// step 1: 6 triplets
	// step 2: 4 triplets
}
