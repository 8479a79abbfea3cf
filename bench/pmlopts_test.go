package bench

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
)

// optionCase is a cross-check entry for the options of issue 14 part 4
// (what pytorch-metric-learning users configure): a loss in its PML form
// and the labels of its batch (nil: the dump's shared labels). The names
// are the keys of CROSS in torch_losses.py.
type optionCase struct {
	lossCase
	labels []int
}

// threeClasses are labels with classes of 3, 3 and 2 samples, so that easy
// and hard positives differ.
var threeClasses = []int{0, 1, 0, 2, 1, 0, 2, 1}

func optionCases() []optionCase {
	c := func(name string, labels []int, l func() lossFn) optionCase {
		return optionCase{lossCase{name: name, loss: func(p, k int) lossFn { return l() }}, labels}
	}
	triplet := func(mod func(*losses.Triplet)) func() lossFn {
		return func() lossFn {
			l := losses.TripletPML()
			mod(&l)
			return l
		}
	}
	easyHard := func(pos, neg mining.Strategy) func() lossFn {
		return triplet(func(l *losses.Triplet) { l.Miner = mining.BatchEasyHard{Pos: pos, Neg: neg} })
	}
	contrastiveEasyHard := func(pos, neg mining.Strategy) func() lossFn {
		return func() lossFn {
			l := losses.ContrastivePML()
			l.Miner = mining.BatchEasyHard{Pos: pos, Neg: neg}
			return l
		}
	}
	out := []optionCase{
		c("TripletPMLSwap", threeClasses, triplet(func(l *losses.Triplet) { l.Swap = true })),
		c("TripletPMLEasyHard/easy-semihard", threeClasses, easyHard(mining.StrategyEasy, mining.StrategySemiHard)),
		c("TripletPMLEasyHard/hard-hard", threeClasses, easyHard(mining.StrategyHard, mining.StrategyHard)),
		c("TripletPMLEasyHard/semihard-hard", threeClasses, easyHard(mining.StrategySemiHard, mining.StrategyHard)),
		c("TripletPMLEasyHard/semihard-easy", threeClasses, easyHard(mining.StrategySemiHard, mining.StrategyEasy)),
		c("TripletPMLEasyHard/hard-easy", threeClasses, easyHard(mining.StrategyHard, mining.StrategyEasy)),
		c("TripletPMLEasyHard/all-hard", threeClasses, easyHard(mining.StrategyAll, mining.StrategyHard)),
		c("TripletPMLEasyHard/easy-all", threeClasses, easyHard(mining.StrategyEasy, mining.StrategyAll)),
		c("TripletPMLEasyHard/all-all", threeClasses, easyHard(mining.StrategyAll, mining.StrategyAll)),
		c("TripletPMLSwapEasyHard/hard-hard", threeClasses, triplet(func(l *losses.Triplet) {
			l.Swap, l.Miner = true, mining.BatchEasyHard{Pos: mining.StrategyHard, Neg: mining.StrategyHard}
		})),
		c("ContrastivePMLEasyHard/easy-semihard", threeClasses, func() lossFn {
			l := losses.ContrastivePML()
			l.Miner = mining.BatchEasyHardPML()
			return l
		}),
		c("ContrastivePMLEasyHard/all-hard", threeClasses, contrastiveEasyHard(mining.StrategyAll, mining.StrategyHard)),
		// the semi-hard positives' triplet hinges are mostly 0 at margin
		// 0.05; their pairs are not
		c("ContrastivePMLEasyHard/semihard-hard", threeClasses, contrastiveEasyHard(mining.StrategySemiHard, mining.StrategyHard)),
		c("ContrastivePMLEasyHard/semihard-easy", threeClasses, contrastiveEasyHard(mining.StrategySemiHard, mining.StrategyEasy)),
		c("ContrastivePMLEasyHard/hard-all", threeClasses, contrastiveEasyHard(mining.StrategyHard, mining.StrategyAll)),
		// PML's ContrastiveLoss() + MultiSimilarityMiner(): the miner reads
		// cosine similarities, the loss Euclidean distances.
		c("ContrastivePMLMultiSimilarityMiner", nil, func() lossFn {
			l := losses.ContrastivePML()
			m := mining.MultiSimilarityPML()
			m.Distance = graph.Cosine{}
			l.Miner = m
			return l
		}),
		c("NPairPML", nil, func() lossFn { return losses.NPairPML() }),
		c("NPairPML/three-classes", threeClasses, func() lossFn { return losses.NPairPML() }),
		c("SupConPML", nil, func() lossFn { return losses.SupConPML() }),
		c("SupConPML/three-classes", threeClasses, func() lossFn { return losses.SupConPML() }),
		c("SupConPML/one-class", []int{5, 5, 5, 5, 5, 5, 5, 5}, func() lossFn { return losses.SupConPML() }),
		c("NTXentPML/three-classes", threeClasses, func() lossFn { return losses.NTXentPML() }),
		c("TripletPMLLp/p=1", threeClasses, triplet(func(l *losses.Triplet) { l.Distance = graph.Lp{P: 1, Normalize: true} })),
		c("TripletPMLLp/p=3", threeClasses, triplet(func(l *losses.Triplet) { l.Distance = graph.Lp{P: 3, Normalize: true} })),
		c("ContrastivePMLLp/p=1", nil, func() lossFn {
			l := losses.ContrastivePML()
			l.Distance = graph.Lp{P: 1, Normalize: true}
			return l
		}),
		c("ContrastivePMLLp/p=1.5", nil, func() lossFn {
			l := losses.ContrastivePML()
			l.Distance = graph.Lp{P: 1.5, Normalize: true}
			return l
		}),
	}
	return out
}

// TestOptionSetups runs every cross-check option case once at B=8 in
// float32 and float64 (the dump itself needs BENCH_CROSSCHECK): the graph
// builds and runs with a finite, non-negative loss and finite gradients.
func TestOptionSetups(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, c := range optionCases() {
			t.Run(fmt.Sprintf("%s/%v", c.name, dt), func(t *testing.T) {
				labels := c.labels
				if labels == nil {
					labels = []int{2, 0, 1, 0, 3, 2, 1, 3}
				}
				s, err := buildWith(c.lossCase, embeddings(len(labels), 4, dt), labels, 4, 4, 2)
				require.NoError(t, err)
				defer s.close()
				require.NoError(t, s.m.RunAll())
				v, ok := scalar(s.loss.Value())
				require.True(t, ok)
				require.False(t, math.IsNaN(v) || math.IsInf(v, 0) || v < 0, "loss %v", v)
				for _, x := range floats(s.grad.Value().Data()) {
					require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "gradient entry %v", x)
				}
			})
		}
	}
}
