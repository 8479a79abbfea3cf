package models

import (
	"fmt"
	"math"
	"slices"

	"gorgonia.org/tensor"
)

// BatchStats describes one training batch's embeddings, computed from the
// B×D embeddings the step already has (no second forward pass). They tell a
// healthy run from a collapsed one, in which every embedding sits near one
// point, the loss stays at the margin and the gradient cannot separate the
// classes (Hermans, Beyer & Leibe 2017, "In Defense of the Triplet Loss";
// Xuan, Stylianou, Liu & Pless 2020, "Hard negative examples are hard, but
// useful").
type BatchStats struct {
	// Spread is the batch's mean pairwise Euclidean distance divided by
	// √2 × the root-mean-square norm of its rows: about 1 for rows in
	// independent random directions, 0 when every row is the same point.
	// It does not depend on the scale of the embeddings.
	Spread float64
	// MeanDistance is the mean Euclidean distance over the batch's pairs
	// (i < j), in the embedding's own units (at most 2 for L2-normalised
	// rows).
	MeanDistance float64
	// Active is the share of anchors (rows with a positive and a negative
	// in the batch) whose batch-hard triplet is active:
	// d(a, hardest positive) − d(a, hardest negative) + margin > 0 with
	// Euclidean d and TrainConfig.StatsMargin. For triplet loss with
	// batch-hard mining at that margin it is the share of non-zero terms.
	// 0 when no row has both.
	Active float64
}

// maxStatsRows bounds the rows BatchStats looks at (an evenly strided
// subset of larger batches), so the O(B²·D) pass stays well under a step.
const maxStatsRows = 256

// CollapseSpread is the Spread below which a batch counts as collapsed.
// Healthy MNIST runs stay above 0.5 from the first steps; a collapsed run
// falls below 0.05 (measured: see TestCollapseDetector and the README).
const CollapseSpread = 0.1

// Collapsed reports whether the batch's embeddings sit near one point.
func (s BatchStats) Collapsed() bool { return s.Spread < CollapseSpread }

// ComputeBatchStats returns the statistics of emb (B×dim rows, float32 or
// float64 data) with labels (B) at margin.
func ComputeBatchStats(emb tensor.Tensor, labels []int, dim int, margin float64) (BatchStats, error) {
	if emb == nil {
		return BatchStats{}, fmt.Errorf("models: batch stats: nil embeddings")
	}
	b := len(labels)
	if dim < 1 || emb.Shape().TotalSize() != b*dim {
		return BatchStats{}, fmt.Errorf("models: batch stats: embeddings have shape %v; want %d×%d", emb.Shape(), b, dim)
	}
	step := (b + maxStatsRows - 1) / maxStatsRows
	n := (b + step - 1) / step
	rows := make([]float64, n*dim)
	lab := make([]int, n)
	switch d := emb.Data().(type) {
	case []float32:
		for i := 0; i < n; i++ {
			for k, v := range d[i*step*dim : (i*step+1)*dim] {
				rows[i*dim+k] = float64(v)
			}
			lab[i] = labels[i*step]
		}
	case []float64:
		for i := 0; i < n; i++ {
			copy(rows[i*dim:(i+1)*dim], d[i*step*dim:(i*step+1)*dim])
			lab[i] = labels[i*step]
		}
	default:
		return BatchStats{}, fmt.Errorf("models: batch stats: embeddings of type %T", d)
	}
	return batchStats(rows, lab, dim, margin), nil
}

// batchStats computes BatchStats of n×dim rows.
func batchStats(rows []float64, labels []int, dim int, margin float64) BatchStats {
	n := len(labels)
	var s BatchStats
	if n < 2 {
		return s
	}
	dist := make([]float64, n*n)
	sumSq := 0.0
	for i := 0; i < n; i++ {
		ri := rows[i*dim : (i+1)*dim]
		for _, v := range ri {
			sumSq += v * v
		}
		for j := i + 1; j < n; j++ {
			d := math.Sqrt(sqDist(ri, rows[j*dim:(j+1)*dim]))
			dist[i*n+j], dist[j*n+i] = d, d
			s.MeanDistance += d
		}
	}
	s.MeanDistance /= float64(n * (n - 1) / 2)
	if rms := math.Sqrt(sumSq / float64(n)); rms > 0 {
		s.Spread = s.MeanDistance / (math.Sqrt2 * rms)
	}
	anchors, active := 0, 0
	for a := 0; a < n; a++ {
		dp, dn := -1.0, math.Inf(1)
		for j := 0; j < n; j++ {
			if j == a {
				continue
			}
			d := dist[a*n+j]
			if labels[j] == labels[a] {
				dp = max(dp, d)
			} else {
				dn = min(dn, d)
			}
		}
		if dp < 0 || math.IsInf(dn, 1) {
			continue
		}
		anchors++
		if dp-dn+margin > 0 {
			active++
		}
	}
	if anchors > 0 {
		s.Active = float64(active) / float64(anchors)
	}
	return s
}

// sqDist is the squared Euclidean distance of a and b (len(a) values),
// summed in four running sums (positions mod 4) so that four additions are
// in flight instead of one chain: this loop is the per-step statistics'
// whole cost.
func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	k := 0
	for ; k+4 <= len(a); k += 4 {
		t0, t1, t2, t3 := a[k]-b[k], a[k+1]-b[k+1], a[k+2]-b[k+2], a[k+3]-b[k+3]
		s0 += t0 * t0
		s1 += t1 * t1
		s2 += t2 * t2
		s3 += t3 * t3
	}
	for ; k < len(a); k++ {
		t := a[k] - b[k]
		s0 += t * t
	}
	return (s0 + s1) + (s2 + s3)
}

// Collapse summarises the batch statistics of a run.
type Collapse struct {
	// Collapsed is set when the run ended collapsed: the median Spread of
	// its last tenth of steps (at least one) is below CollapseSpread.
	Collapsed bool `json:"collapsed"`
	// CollapsedSteps counts the steps whose batch was collapsed, and
	// LongestCollapse the longest run of consecutive such steps.
	CollapsedSteps  int `json:"collapsed_steps"`
	LongestCollapse int `json:"longest_collapse"`
	// FinalSpread and FinalActive are the medians over the last tenth of
	// the steps.
	FinalSpread float64 `json:"final_spread"`
	FinalActive float64 `json:"final_active"`
}

// Collapse summarises h's batch statistics (zero when there are none).
func (h *History) Collapse() Collapse {
	var c Collapse
	n := len(h.Stats)
	if n == 0 {
		return c
	}
	cur := 0
	for _, s := range h.Stats {
		if s.Collapsed() {
			c.CollapsedSteps++
			cur++
			c.LongestCollapse = max(c.LongestCollapse, cur)
		} else {
			cur = 0
		}
	}
	tail := h.Stats[n-max(n/10, 1):]
	sp := make([]float64, len(tail))
	ac := make([]float64, len(tail))
	for i, s := range tail {
		sp[i], ac[i] = s.Spread, s.Active
	}
	c.FinalSpread, c.FinalActive = median(sp), median(ac)
	c.Collapsed = c.FinalSpread < CollapseSpread
	return c
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
