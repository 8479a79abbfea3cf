package mining

import (
	"fmt"
	"reflect"

	"github.com/contrastive-go/contrastive/graph"
)

// DistanceMiner is a miner that may read a matrix of its own distance
// instead of the loss's, as pytorch-metric-learning's miners take a
// distance of their own (its default ContrastiveLoss() with
// MultiSimilarityMiner() trains on Euclidean distances and mines on
// cosine similarities). Every miner of this package implements it through
// its Distance field; the losses of package losses, given such a miner
// whose MinerDistance is not nil, compute that distance's matrix of the
// same embeddings (a forward-only pass with no gradient, one extra B×B
// matrix per step) and hand it to the miner in place of their own. Margins
// and thresholds of the miner are then in its distance's units. A miner
// used directly with TripletOp or PairOp reads the matrix it is given.
type DistanceMiner interface {
	// MinerDistance returns the miner's distance, or nil for the loss's.
	MinerDistance() graph.Distance
}

// MinerDistance implements DistanceMiner.
func (m AllTriplets) MinerDistance() graph.Distance { return m.Distance }

// MinerDistance implements DistanceMiner.
func (m BatchHard) MinerDistance() graph.Distance { return m.Distance }

// MinerDistance implements DistanceMiner.
func (m SemiHard) MinerDistance() graph.Distance { return m.Distance }

// MinerDistance implements DistanceMiner.
func (m TripletsOfType) MinerDistance() graph.Distance { return m.Distance }

// MinerDistance implements DistanceMiner.
func (m DistanceWeighted) MinerDistance() graph.Distance { return m.Distance }

// MinerDistance implements DistanceMiner.
func (m MultiSimilarity) MinerDistance() graph.Distance { return m.Distance }

// MinerDistance implements DistanceMiner.
func (m PairMargin) MinerDistance() graph.Distance { return m.Distance }

// MinerDistance implements DistanceMiner: the distance both of its miners
// read (NewWarmup refuses two different ones, as one graph holds one
// mining matrix).
func (w Warmup) MinerDistance() graph.Distance { return DistanceOf(w.Early) }

// DistanceOf returns m's own distance when m is a DistanceMiner, else nil.
func DistanceOf(m any) graph.Distance {
	if d, ok := m.(DistanceMiner); ok {
		return d.MinerDistance()
	}
	return nil
}

// sameDistance reports an error unless early and late read the same
// distance.
func sameDistance(early, late TripletMiner) error {
	de, dl := DistanceOf(early), DistanceOf(late)
	if !reflect.DeepEqual(de, dl) {
		return fmt.Errorf("mining: Warmup's miners read different distances (%v and %v); give both the same Distance", de, dl)
	}
	return nil
}
