package mining_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/mining"
)

func TestAllTripletsRefusesNaNMargin(t *testing.T) {
	batch := mining.Batch{Dist: []float64{0, 1, 1, 0}, Labels: []int{0, 1}}
	err := mining.AllTriplets{OnlyViolating: true, Margin: math.NaN()}.MineTriplets(batch, mining.NewTripletList(4))
	require.ErrorContains(t, err, "AllTriplets.Margin is NaN")
}

func TestNegativeCapacityIsEmpty(t *testing.T) {
	require.Equal(t, 0, mining.NewTripletList(-3).Cap())
	require.Equal(t, 0, mining.NewPairList(-1).Cap())
	require.ErrorContains(t, mining.NewTripletList(-3).Add(0, 1, 2, 1), "capacity of 0 slots")
}
