package models_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/mnist"
)

// near is |got − want| ≤ abs + rel·|want|.
func near(got, want, abs, rel float64) bool {
	return math.Abs(got-want) <= abs+rel*math.Abs(want)
}

func TestBatchStats(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rows         []float64
		labels       []int
		margin       float64
		spread, mean float64
		active       float64
		collapsed    bool
	}{
		// Four identical rows: every distance 0.
		{"one point", []float64{0.6, 0.8, 0.6, 0.8, 0.6, 0.8, 0.6, 0.8}, []int{0, 0, 1, 1}, 0.2, 0, 0, 1, true},
		// Unit rows ±e1, ±e2 (classes {e1, −e1}, {e2, −e2}): pairwise
		// distances 2 (twice) and √2 (four times), mean (4 + 4√2)/6; RMS
		// norm 1, so spread = mean/√2. Each anchor: hardest positive 2,
		// hardest negative √2: active at margin 0 (2 − √2 > 0).
		{"cross", []float64{1, 0, -1, 0, 0, 1, 0, -1}, []int{0, 0, 1, 1}, 0, (4 + 4*math.Sqrt2) / 6 / math.Sqrt2, (4 + 4*math.Sqrt2) / 6, 1, false},
		// Classes {e1, e1}, {e2, e2}: positives at 0, negatives at √2:
		// active only when the margin exceeds √2.
		{"separated, margin 0.2", []float64{1, 0, 1, 0, 0, 1, 0, 1}, []int{0, 0, 1, 1}, 0.2, 4 * math.Sqrt2 / 6 / math.Sqrt2, 4 * math.Sqrt2 / 6, 0, false},
		{"separated, margin 2", []float64{1, 0, 1, 0, 0, 1, 0, 1}, []int{0, 0, 1, 1}, 2, 4 * math.Sqrt2 / 6 / math.Sqrt2, 4 * math.Sqrt2 / 6, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
				var e *tensor.Dense
				if dt == tensor.Float32 {
					f := make([]float32, len(tc.rows))
					for i, v := range tc.rows {
						f[i] = float32(v)
					}
					e = tensor.New(tensor.WithShape(4, 2), tensor.WithBacking(f))
				} else {
					e = tensor.New(tensor.WithShape(4, 2), tensor.WithBacking(tc.rows))
				}
				s, err := models.ComputeBatchStats(e, tc.labels, 2, tc.margin)
				require.NoError(t, err)
				require.True(t, near(s.Spread, tc.spread, 1e-6, 1e-6), "spread %v, want %v", s.Spread, tc.spread)
				require.True(t, near(s.MeanDistance, tc.mean, 1e-6, 1e-6), "mean %v, want %v", s.MeanDistance, tc.mean)
				require.Equal(t, tc.active, s.Active)
				require.Equal(t, tc.collapsed, s.Collapsed())
			}
		})
	}
	_, err := models.ComputeBatchStats(tensor.New(tensor.WithShape(3, 2), tensor.Of(tensor.Float64)), []int{0, 1}, 2, 0)
	require.EqualError(t, err, "models: batch stats: embeddings have shape (3, 2); want 2×2")
}

// TestCollapseDetector trains two short MLP runs on 2,000 MNIST images. A
// run on all-equal inputs (every image the same grey) cannot embed two
// images apart: the detector must fire at every step and at the end. The
// same run on the real images with a batch-all warm-up before batch-hard
// mining must stay silent throughout.
func TestCollapseDetector(t *testing.T) {
	dir, err := mnist.DefaultDir()
	require.NoError(t, err)
	train, _, err := mnist.Load(dir)
	require.NoError(t, err)
	train, err = train.Subset(2000)
	require.NoError(t, err)
	grey := make([]float32, len(train.Images))
	for i := range grey {
		grey[i] = 0.5
	}
	for _, tc := range []struct {
		name      string
		x         []float32
		collapsed bool
	}{
		{"all-equal inputs", grey, true},
		{"MNIST", train.Images, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := models.New(models.DefaultMLP(16))
			require.NoError(t, err)
			w, err := mining.NewWarmup(mining.AllTriplets{OnlyViolating: true, Margin: 0.2, Capacity: mining.PKTriplets(10, 6)}, mining.BatchHard{}, 30)
			require.NoError(t, err)
			l := losses.TripletPML()
			l.Margin, l.Miner = 0.2, w
			cfg := models.TrainConfig{P: 10, K: 6, Epochs: 2, MaxSteps: 60, Solver: models.Adam, LearnRate: 1e-3, Seed: 7, Workers: 1, StatsMargin: 0.2}
			var seen int
			cfg.Progress = func(p models.Progress) {
				seen++
				require.Equal(t, tc.collapsed, p.Stats.Collapsed(), "step %d: %+v", p.Step, p.Stats)
			}
			h, err := models.Train(context.Background(), m, l, models.Dataset{X: tc.x, Labels: train.Labels}, cfg)
			require.NoError(t, err)
			require.Equal(t, 60, seen)
			require.Len(t, h.Stats, 60)
			c := h.Collapse()
			t.Logf("%+v", c)
			require.Equal(t, tc.collapsed, c.Collapsed)
			if tc.collapsed {
				require.Equal(t, 60, c.CollapsedSteps)
				require.Equal(t, 60, c.LongestCollapse)
				require.Equal(t, 1.0, c.FinalActive, "every batch-hard term sits at the margin")
			} else {
				require.Zero(t, c.CollapsedSteps)
				require.Greater(t, c.FinalSpread, 0.3)
			}
		})
	}
}
