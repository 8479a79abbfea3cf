package eval_test

import (
	"fmt"

	"github.com/contrastive-go/contrastive/models/eval"
)

// Seven 2-D embeddings: class 0 around the origin, class 1 around (5,5),
// and one class-1 point, row 6, lying among class 0.
func ExampleSelfRetrieval() {
	emb := []float32{
		0, 0, // row 0, class 0
		1, 0, // row 1, class 0
		0, 1, // row 2, class 0
		5, 5, // row 3, class 1
		6, 5, // row 4, class 1
		5, 6, // row 5, class 1
		1, 0.5, // row 6, class 1
	}
	labels := []int{0, 0, 0, 1, 1, 1, 1}
	rep, err := eval.SelfRetrieval(emb, labels, 2, eval.Options{K: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	// By hand (neighbours by squared distance, nearest first):
	//   row 1: row 6 (0.25, class 1), row 0 (1), ... R = 2, rel = 0,1: P@1 0, R-precision 1/2, AP 1/4
	//   row 2: row 0 (1), row 6 (1.25, class 1), ...  R = 2, rel = 1,0: P@1 1, R-precision 1/2, AP 1/2
	//   row 6: rows 1, 0, 2 (all class 0) before row 3: R = 3, all 0
	//   rows 0, 3, 4, 5: their R nearest share their class: all 1
	// P@1 = 5/7, R-precision = 5/7, MAP@R = 4.75/7; k-NN is wrong only for row 6: 6/7.
	fmt.Printf("P@1 %.3f, R-precision %.3f, MAP@R %.3f, %d-NN accuracy %.3f\n",
		rep.PrecisionAt1, rep.RPrecision, rep.MAPAtR, rep.K, rep.KNNAccuracy)
	fmt.Printf("%d queries, %d excluded\n", rep.Queries, rep.Excluded)
	// Output:
	// P@1 0.714, R-precision 0.714, MAP@R 0.679, 3-NN accuracy 0.857
	// 7 queries, 0 excluded
}

// The same seven embeddings with the options of pytorch-metric-learning's
// AccuracyCalculator: MAP over the whole ranking, mean reciprocal rank, and
// NMI of a 2-means clustering.
func ExampleSelfRetrieval_accuracyCalculator() {
	emb := []float32{0, 0, 1, 0, 0, 1, 5, 5, 6, 5, 5, 6, 1, 0.5}
	labels := []int{0, 0, 0, 1, 1, 1, 1}
	rep, err := eval.SelfRetrieval(emb, labels, 2, eval.Options{MAP: true, MRR: true, Clusters: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	// By hand, relevance of all 6 neighbours (1 = same class), AP, 1/rank of the first hit:
	//   row 0: 1,1,0,0,0,0  AP 1                          RR 1
	//   row 1: 0,1,1,0,0,0  AP (1/2 + 2/3)/2 = 7/12       RR 1/2
	//   row 2: 1,0,1,0,0,0  AP (1 + 2/3)/2 = 5/6          RR 1
	//   rows 3, 4, 5: 1,1,1,0,0,0  AP 1                   RR 1
	//   row 6: 0,0,0,1,1,1  AP (1/4 + 2/5 + 3/6)/3 = 23/60 RR 1/4
	// MAP = (4 + 7/12 + 5/6 + 23/60)/7 = 5.8/7, MRR = 5.75/7.
	// 2-means splits {0, 1, 2, 6} from {3, 4, 5}: the contingency table
	// 3,0 / 1,3 gives MI = (6/7) ln(7/4) + (1/7) ln(7/16) and both
	// entropies are −(3/7) ln(3/7) − (4/7) ln(4/7), NMI = 0.5295.
	fmt.Printf("MAP %.4f, MRR %.4f, NMI %.4f\n", rep.MAP, rep.MRR, rep.NMI)
	// Output:
	// MAP 0.8286, MRR 0.8214, NMI 0.5295
}
