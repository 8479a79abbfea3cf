package models_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/mnist"
)

// TestSplitClassesNoLeakage splits real MNIST (60,000 training, 10,000
// test images) and checks the unseen-class protocol: classes 0-4 train,
// 5-9 are evaluated; no image of an evaluated class is in the training
// part, no training-class image is a query or a reference, the queries are
// exactly the test images of 5-9 and the references exactly the training
// images of 5-9, in their original order.
func TestSplitClassesNoLeakage(t *testing.T) {
	dir, err := mnist.DefaultDir()
	require.NoError(t, err)
	train, test, err := mnist.Load(dir)
	require.NoError(t, err)
	const in = 28 * 28
	s, err := models.SplitClasses(models.Dataset{X: train.Images, Labels: train.Labels}, models.Dataset{X: test.Images, Labels: test.Labels}, in)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1, 2, 3, 4}, s.TrainClasses)
	require.Equal(t, []int{5, 6, 7, 8, 9}, s.EvalClasses)

	// expect returns the rows of d whose label is (or is not) below 5.
	expect := func(d *mnist.Set, low bool) models.Dataset {
		var out models.Dataset
		for i, l := range d.Labels {
			if (l < 5) == low {
				out.X = append(out.X, d.Images[i*in:(i+1)*in]...)
				out.Labels = append(out.Labels, l)
			}
		}
		return out
	}
	for _, c := range []struct {
		name      string
		got, want models.Dataset
	}{
		{"train", s.Train, expect(train, true)},
		{"references", s.References, expect(train, false)},
		{"queries", s.Queries, expect(test, false)},
	} {
		require.Equal(t, c.want.Len(), c.got.Len(), c.name)
		require.Equal(t, c.want.Labels, c.got.Labels, c.name)
		require.True(t, slices.Equal(c.want.X, c.got.X), c.name)
	}
	// The parts of the training set add up to it: nothing dropped, nothing
	// in both.
	require.Equal(t, train.Len(), s.Train.Len()+s.References.Len())
	for _, l := range s.Train.Labels {
		require.Contains(t, s.TrainClasses, l)
	}
	for _, l := range append(slices.Clone(s.Queries.Labels), s.References.Labels...) {
		require.Contains(t, s.EvalClasses, l)
	}
	// No query image is also a training image of the training part (MNIST's
	// test images are distinct from its training images; a split that
	// mixed the sets up would fail here).
	seen := map[string]bool{}
	for i := 0; i < s.Train.Len(); i++ {
		seen[key(s.Train.X[i*in:(i+1)*in])] = true
	}
	for i := 0; i < s.Queries.Len(); i++ {
		require.False(t, seen[key(s.Queries.X[i*in:(i+1)*in])], "query %d is a training image", i)
	}
	// Splitting copies: the source is untouched by writes to the parts.
	s.Train.X[0] = 42
	require.NotEqual(t, float32(42), train.Images[0])
}

func key(x []float32) string {
	b := make([]byte, len(x))
	for i, v := range x {
		b[i] = byte(v * 255)
	}
	return string(b)
}

func TestSplitClassesErrors(t *testing.T) {
	two := models.Dataset{X: []float32{1, 2, 3, 4}, Labels: []int{0, 1}}
	for _, tc := range []struct {
		name        string
		train, test models.Dataset
		inputs      int
		want        string
	}{
		{"one class", models.Dataset{X: []float32{1, 2}, Labels: []int{3, 3}}, models.Dataset{X: []float32{1}, Labels: []int{3}}, 1, "models: split: the training set has 1 classes; want ≥ 2"},
		{"unknown test label", two, models.Dataset{X: []float32{1, 2}, Labels: []int{7}}, 2, "models: split: test sample 0 has label 7, which no training sample has"},
		{"no queries", two, models.Dataset{X: []float32{1, 2}, Labels: []int{0}}, 2, "models: split: no test samples of classes [1]"},
		{"ragged", two, two, 3, "models: split: the training set has 4 features for 2 labels; want 3 per sample"},
		{"zero inputs", two, two, 0, "models: split: 0 inputs per sample; want ≥ 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := models.SplitClasses(tc.train, tc.test, tc.inputs)
			require.EqualError(t, err, tc.want)
		})
	}
}
