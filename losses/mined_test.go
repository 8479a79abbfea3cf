package losses_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
)

// Losses with miners against oracles that select by the miners' documented
// rules in plain loops.

func TestTripletBatchHardMatchesOracle(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0, 1}
	const d = 3
	x := randEmb(41, len(labels), d, 1)
	m := metric{"euclidean", false}
	xr := rows(x, d)
	// per anchor: farthest positive, closest negative; mean over anchors
	sum, n := 0.0, 0
	for a := range xr {
		hp, hn := -1.0, -1.0
		for j := range xr {
			if j == a {
				continue
			}
			dj := m.d(xr, a, j)
			if labels[j] == labels[a] && dj > hp {
				hp = dj
			}
			if labels[j] != labels[a] && (hn < 0 || dj < hn) {
				hn = dj
			}
		}
		sum += relu(hp - hn + 0.3)
		n++
	}
	want := sum / float64(n)
	l := losses.Triplet{Distance: graph.Euclidean{}, Margin: 0.3, Reducer: losses.Mean, Miner: mining.BatchHard{}}
	res := graphtest.CheckGradient(t, build(l, x, labels, d), graphtest.GradOptions{})
	graphtest.RequireClose(t, want, res.Cost, 1e-12, 1e-10, "batch-hard triplet")
}

func TestContrastivePairMarginMatchesOracle(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 0, 1}
	const d = 3
	x := randEmb(42, len(labels), d, 1)
	m := metric{"euclidean", false}
	xr := rows(x, d)
	miner := mining.PairMargin{PosMargin: 1.0, NegMargin: 1.5}
	// PairMargin keeps positives with D > 1.0 and negatives with D < 1.5;
	// the contrastive terms then use margins 0.5 / 2 and the pool mean.
	var terms []float64
	for i := range xr {
		for j := range xr {
			if i == j {
				continue
			}
			dij := m.d(xr, i, j)
			if labels[i] == labels[j] && dij > miner.PosMargin {
				terms = append(terms, relu(dij-0.5)*relu(dij-0.5))
			}
			if labels[i] != labels[j] && dij < miner.NegMargin {
				terms = append(terms, relu(2-dij)*relu(2-dij))
			}
		}
	}
	require.NotEmpty(t, terms)
	want := reduceTerms(terms, "mean")
	l := losses.Contrastive{Distance: graph.Euclidean{}, PosMargin: 0.5, NegMargin: 2, Squared: true, Reducer: losses.Mean, Miner: miner}
	res := graphtest.CheckGradient(t, build(l, x, labels, d), graphtest.GradOptions{})
	graphtest.RequireClose(t, want, res.Cost, 1e-12, 1e-10, "pair-margin contrastive")
}
