package losses_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
)

// FaceNet's triplet loss on four 2-D embeddings of two classes. By hand,
// with squared distances d(0,1)=1, d(0,2)=1, d(0,3)=9, d(1,2)=2, d(1,3)=10,
// d(2,3)=4 and margin 0.2, the violating triplets are (0,1,2): 0.2,
// (2,3,0): 3.2 and (2,3,1): 2.2, which sum to 5.6.
func ExampleTriplet() {
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 2), G.WithName("embeddings"),
		G.WithValue(tensor.New(tensor.WithShape(4, 2), tensor.WithBacking([]float64{0, 0, 0, 1, 1, 0, 3, 0}))))
	labels := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithBacking([]int{0, 0, 1, 1}))))

	loss, err := losses.NewTriplet().Loss(emb, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := G.Grad(loss, emb); err != nil {
		fmt.Println(err)
		return
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loss %.4f\n", loss.Value().Data())
	// Output: loss 5.6000
}

// A miner runs inside the same forward pass and hands the loss index
// tensors of a fixed capacity. Keeping only the margin-violating triplets
// leaves the sum of ExampleTriplet unchanged: the three triplets 0.2 + 3.2 +
// 2.2 = 5.6 are exactly the ones kept.
func ExampleTriplet_mined() {
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 2), G.WithName("embeddings"),
		G.WithValue(tensor.New(tensor.WithShape(4, 2), tensor.WithBacking([]float64{0, 0, 0, 1, 1, 0, 3, 0}))))
	labels := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithBacking([]int{0, 0, 1, 1}))))

	l := losses.NewTriplet()
	l.Miner = mining.AllTriplets{OnlyViolating: true, Margin: l.Margin}
	loss, err := l.Loss(emb, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loss %.4f\n", loss.Value().Data())
	// Output: loss 5.6000
}

// A reference set supplies what the batch lacks: two views of one image
// (label 0) have no negative in their own batch, so NT-Xent alone is 0; a
// memory row of another class (label 1) gives each positive pair the
// negative it needs. By hand, with cosine similarities and τ = 1, each of
// the two positive pairs pays −log(e¹ / (e¹ + e⁰)) = log(1 + e⁻¹) ≈ 0.3133.
func ExampleRef() {
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2), G.WithName("views"),
		G.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 0, 1, 0}))))
	labels := G.NewVector(g, tensor.Int, G.WithShape(2), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{0, 0}))))
	memory := G.NewMatrix(g, tensor.Float64, G.WithShape(1, 2), G.WithName("memory"),
		G.WithValue(tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float64{0, 1}))))
	memLabels := G.NewVector(g, tensor.Int, G.WithShape(1), G.WithName("memory labels"),
		G.WithValue(tensor.New(tensor.WithShape(1), tensor.WithBacking([]int{1}))))

	alone, err := losses.NTXent{Temperature: 1}.Loss(emb, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	withRef, err := losses.NTXent{Temperature: 1, Ref: &losses.Ref{Embeddings: memory, Labels: memLabels}}.Loss(emb, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("alone %.4f, with the reference set %.4f\n", alone.Value().Data(), withRef.Value().Data())
	// Output: alone 0.0000, with the reference set 0.3133
}

// A loss with parameters of its own: CosFace's class weights (C×D) are a
// tensor the loss owns. LossParams binds them into the graph and returns
// their node, so the gradient reaches them too (models.Train steps them
// with the encoder). With embeddings equal to their class's weight
// vector, cos θ is 1 for the target and 0 for the other class, so with
// s = 4 and m = 0.35 each row's loss is −log(e^{4·0.65} / (e^{4·0.65} +
// e^0)) = log(1 + e^{−2.6}) ≈ 0.0716.
func ExampleCosFace() {
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2), G.WithName("embeddings"),
		G.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 0, 0, 1}))))
	labels := G.NewVector(g, tensor.Int, G.WithShape(2), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithBacking([]int{0, 1}))))

	l := losses.CosFace{Scale: 4, Margin: 0.35}
	// InitParams(dim, classes, dtype, seed) draws them as
	// pytorch-metric-learning does; here they are set by hand.
	w := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 0, 0, 1}))
	if err := l.SetParams([]string{"weights"}, []*tensor.Dense{w}); err != nil {
		fmt.Println(err)
		return
	}
	loss, params, err := l.LossParams(emb, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	grads, err := G.Grad(loss, emb, params[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loss %.4f, gradient of the weights %v\n", loss.Value().Data(), grads[1].Shape())
	// Output: loss 0.0716, gradient of the weights (2, 2)
}

// A cross-batch memory around NT-Xent (τ = 1). The first batch, two
// views of one class, has no negative: its loss is 0, as without a memory.
// After the step the memory holds that batch, so the second batch (another
// class) meets two negatives at cosine 0: each positive pair pays
// log(1 + 2e^{0−1}) = 0.5514.
func ExampleXBM() {
	x, err := losses.NewXBM(losses.NTXent{Temperature: 1}, 1024)
	if err != nil {
		fmt.Println(err)
		return
	}
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2), G.WithName("embeddings"))
	labels := G.NewVector(g, tensor.Int, G.WithShape(2), G.WithName("labels"))
	loss, err := x.Loss(emb, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	for _, batch := range []struct {
		rows   []float64
		labels []int
	}{{[]float64{0, 1, 0, 1}, []int{1, 1}}, {[]float64{1, 0, 1, 0}, []int{0, 0}}} {
		if err := G.Let(emb, tensor.New(tensor.WithShape(2, 2), tensor.WithBacking(batch.rows))); err != nil {
			fmt.Println(err)
			return
		}
		if err := G.Let(labels, tensor.New(tensor.WithShape(2), tensor.WithBacking(batch.labels))); err != nil {
			fmt.Println(err)
			return
		}
		if err := m.RunAll(); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("memory %d rows, loss %.4f\n", x.Queue().Len(), loss.Value().Data())
		m.Reset()
		if err := x.AfterStep(); err != nil { // models.Trainer calls it after each step
			fmt.Println(err)
			return
		}
	}
	// Output:
	// memory 0 rows, loss 0.0000
	// memory 2 rows, loss 0.5514
}
