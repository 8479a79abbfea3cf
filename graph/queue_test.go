package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// seqRows returns n rows of d values, row i holding start+i in every column.
func seqRows(start, n, d int) []float64 {
	out := make([]float64, n*d)
	for i := range out {
		out[i] = float64(start + i/d)
	}
	return out
}

// TestQueueOrderAndWrap pushes batches of 3 into a queue of 5 and checks
// the held rows, oldest first, against a plain slice model of the FIFO,
// including a push larger than the queue.
func TestQueueOrderAndWrap(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			const size, d = 5, 2
			q, err := graph.NewQueue(dt, size, d)
			require.NoError(t, err)
			var model []int // labels pushed, oldest first; a row's values are its label
			for step, n := range []int{3, 3, 3, 7, 1} {
				labels := make([]int, n)
				for i := range labels {
					labels[i] = 10*step + i
				}
				rows := seqRows(10*step, n, d)
				var err error
				if dt == tensor.Float32 {
					r32 := make([]float32, len(rows))
					for i, v := range rows {
						r32[i] = float32(v)
					}
					err = q.Push(r32, labels)
				} else {
					err = q.Push(rows, labels)
				}
				require.NoError(t, err)
				model = append(model, labels...)
				want := model[max(0, len(model)-size):]
				gotRows, gotLabels := q.Contents()
				require.Equal(t, want, gotLabels, "step %d", step)
				require.Equal(t, len(want), q.Len())
				var wantRows []float64
				for _, l := range want {
					wantRows = append(wantRows, float64(l), float64(l))
				}
				require.Equal(t, wantRows, gotRows, "step %d", step)
			}
		})
	}
}

// TestQueueNodes: the graph reads the held rows oldest first with empty
// slots (label −1, zero rows) last, stages the batch, and PushStaged
// appends it; a cross label mask leaves the empty slots out.
func TestQueueNodes(t *testing.T) {
	const size, d = 4, 2
	q, err := graph.NewQueue(tensor.Float64, size, d)
	require.NoError(t, err)
	require.NoError(t, q.Push(seqRows(1, 3, d), []int{1, 2, 3}))
	g := G.NewGraph()
	batch := G.NewMatrix(g, tensor.Float64, G.WithShape(2, d), G.WithName("batch"))
	labels := G.NewVector(g, tensor.Int, G.WithShape(2), G.WithName("labels"))
	emb, refLabels, err := q.Nodes(batch, labels)
	require.NoError(t, err)
	require.True(t, graph.NoGradient(emb))
	same, err := graph.CrossLabelMask(labels, refLabels, graph.SameLabel, tensor.Float64)
	require.NoError(t, err)
	diff, err := graph.CrossLabelMask(labels, refLabels, graph.DifferentLabel, tensor.Float64)
	require.NoError(t, err)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	step := func(rows []float64, l []int) {
		require.NoError(t, G.Let(batch, graph.DenseOf(tensor.Float64, rows, 2, d)))
		require.NoError(t, G.Let(labels, tensor.New(tensor.WithBacking(l))))
		require.NoError(t, vm.RunAll())
		vm.Reset()
	}
	step(seqRows(7, 2, d), []int{2, 9})
	require.Equal(t, []float64{1, 1, 2, 2, 3, 3, 0, 0}, emb.Value().Data())
	require.Equal(t, []int{1, 2, 3, -1}, refLabels.Value().Data())
	require.Equal(t, []float64{0, 1, 0, 0, 0, 0, 0, 0}, same.Value().Data(), "same: label 2 of the batch with slot 1; nothing with the empty slot")
	require.Equal(t, []float64{1, 0, 1, 0, 1, 1, 1, 0}, diff.Value().Data(), "different: the empty slot with nothing")
	pushed, err := q.PushStaged()
	require.NoError(t, err)
	require.True(t, pushed)
	pushed, err = q.PushStaged()
	require.NoError(t, err)
	require.False(t, pushed, "a stage is pushed once")
	// the queue wrapped: 2, 3, then the staged 7, 8 (labels 2, 9)
	step(seqRows(0, 2, d), []int{0, 0})
	require.Equal(t, []float64{2, 2, 3, 3, 7, 7, 8, 8}, emb.Value().Data())
	require.Equal(t, []int{2, 3, 2, 9}, refLabels.Value().Data())
}

func TestQueueErrors(t *testing.T) {
	_, err := graph.NewQueue(tensor.Int, 4, 2)
	require.ErrorContains(t, err, "graph: queue dtype")
	_, err = graph.NewQueue(tensor.Float32, 0, 2)
	require.ErrorContains(t, err, "want ≥ 1")
	_, err = graph.NewQueue(tensor.Float32, 1<<20, 1<<11)
	require.ErrorContains(t, err, "exceeds MaxQueueValues")
	q, err := graph.NewQueue(tensor.Float32, 4, 2)
	require.NoError(t, err)
	require.ErrorContains(t, q.Push([]float32{1, 2, 3}, []int{0, 1}), "3 values for 2 labels")
	require.ErrorContains(t, q.Push([]int{1, 2}, []int{0}), "want []float32 or []float64")
	require.ErrorContains(t, q.Push([]float32{1, 2}, []int{-1}), "label 0 is -1")
	require.Equal(t, 0, q.Len(), "a refused push changes nothing")
	g := G.NewGraph()
	b := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2))
	l := G.NewVector(g, tensor.Int, G.WithShape(2))
	_, _, err = q.Nodes(b, l)
	require.ErrorContains(t, err, "graph: queue: batch is float64")
	_, _, err = q.Nodes(nil, b)
	require.ErrorContains(t, err, "labels must be an Int vector")
}
