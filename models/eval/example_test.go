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
