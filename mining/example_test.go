package mining_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/mining"
)

func ExampleBatchHard() {
	// Distances between 4 samples of two classes.
	batch := mining.Batch{
		Dist: []float64{
			0, 1, 3, 2,
			1, 0, 4, 5,
			3, 4, 0, 1,
			2, 5, 1, 0,
		},
		Labels: []int{0, 0, 1, 1},
	}
	var miner mining.TripletMiner = mining.BatchHard{}
	c, err := miner.TripletCapacity(batch.Len())
	if err != nil {
		fmt.Println(err)
		return
	}
	out := mining.NewTripletList(c)
	if err := miner.MineTriplets(batch, out); err != nil {
		fmt.Println(err)
		return
	}
	for k := 0; k < out.Len(); k++ {
		fmt.Printf("anchor %d, positive %d, negative %d\n", out.Anchor[k], out.Positive[k], out.Negative[k])
	}
	// Output:
	// anchor 0, positive 1, negative 3
	// anchor 1, positive 0, negative 2
	// anchor 2, positive 3, negative 0
	// anchor 3, positive 2, negative 0
}

func ExampleSemiHard() {
	// Cosine similarities: anchor 0 and positive 1 at 0.8; negatives 2
	// (0.75, inside the window of Margin 0.1) and 3 (0.9, harder than the
	// positive).
	batch := mining.Batch{
		Dist: []float64{
			1, 0.8, 0.75, 0.9,
			0.8, 1, 0.1, 0.2,
			0.75, 0.1, 1, 0.5,
			0.9, 0.2, 0.5, 1,
		},
		LargerIsCloser: true,
		Labels:         []int{0, 0, 1, 2},
	}
	out := mining.NewTripletList(6)
	miner := mining.SemiHard{Margin: 0.1, Fallback: mining.FallbackFarthest}
	if err := miner.MineTriplets(batch, out); err != nil {
		fmt.Println(err)
		return
	}
	for k := 0; k < out.Len(); k++ {
		fmt.Println(out.Anchor[k], out.Positive[k], out.Negative[k])
	}
	// Output:
	// 0 1 2
	// 1 0 2
}

// ExampleTripletOp builds the mining op once and rebinds each batch's
// labels with G.Let, as a training loop does.
func ExampleTripletOp() {
	g := G.NewGraph()
	dist := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 4), G.WithName("dist"),
		G.WithValue(tensor.New(tensor.WithShape(4, 4), tensor.WithBacking([]float64{
			0, 1, 3, 2,
			1, 0, 4, 5,
			3, 4, 0, 1,
			2, 5, 1, 0,
		}))))
	labels := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("labels"))
	mined, err := mining.TripletOp(mining.BatchHard{}, dist, labels, false, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	for _, l := range [][]int{{0, 0, 1, 1}, {0, 1, 0, 1}} {
		if err := G.Let(labels, tensor.New(tensor.WithBacking(l))); err != nil {
			fmt.Println(err)
			return
		}
		if err := m.RunAll(); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("a·B+p:", mined.AP.Value().Data(), "a·B+n:", mined.AN.Value().Data())
		m.Reset()
	}
	// Output:
	// a·B+p: [1 4 11 14] a·B+n: [3 6 8 12]
	// a·B+p: [2 7 8 13] a·B+n: [1 4 11 14]
}

func ExampleBatchEasyHard() {
	// Distances between 6 samples of two classes; anchor 0 has positives
	// 1 (at 1) and 2 (at 3), negatives 3 (at 2), 4 (at 4) and 5 (at 5).
	batch := mining.Batch{
		Dist: []float64{
			0, 1, 3, 2, 4, 5,
			1, 0, 2, 6, 1.5, 3,
			3, 2, 0, 2.5, 7, 1,
			2, 6, 2.5, 0, 1, 2,
			4, 1.5, 7, 1, 0, 3,
			5, 3, 1, 2, 3, 0,
		},
		Labels: []int{0, 0, 0, 1, 1, 1},
	}
	for _, miner := range []mining.BatchEasyHard{
		mining.BatchEasyHardPML(),                                // easy positive 1, then the closest negative beyond it: 3
		{Pos: mining.StrategyHard, Neg: mining.StrategyHard},     // farthest positive 2, closest negative 3
		{Pos: mining.StrategySemiHard, Neg: mining.StrategyEasy}, // farthest negative 5, then the farthest positive closer than it: 2
	} {
		c, err := miner.TripletCapacity(batch.Len())
		if err != nil {
			fmt.Println(err)
			return
		}
		out := mining.NewTripletList(c)
		if err := miner.MineTriplets(batch, out); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%v/%v: anchor %d, positive %d, negative %d\n", miner.Pos, miner.Neg, out.Anchor[0], out.Positive[0], out.Negative[0])
	}
	// Output:
	// easy/semihard: anchor 0, positive 1, negative 3
	// hard/hard: anchor 0, positive 2, negative 3
	// semihard/easy: anchor 0, positive 2, negative 5
}
