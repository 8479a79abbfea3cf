package models

import (
	"fmt"
	"slices"
)

// ClassSplit is the unseen-class protocol of metric learning (CUB-200-2011,
// Cars196, Stanford Online Products; Song et al. 2016, "Deep Metric Learning
// via Lifted Structured Feature Embedding", §5): train on the first half of
// the classes, then retrieve among the other half, which training never saw.
type ClassSplit struct {
	// TrainClasses are the smallest ⌊n/2⌋ of the n distinct training
	// labels, EvalClasses the others, both in increasing order.
	TrainClasses, EvalClasses []int
	// Train holds the training samples of TrainClasses.
	Train Dataset
	// Queries holds the test samples of EvalClasses, References the
	// training samples of EvalClasses. Test samples of TrainClasses are in
	// neither.
	Queries, References Dataset
}

// SplitClasses splits a training and a test set (each row of X has inputs
// features) by class: see ClassSplit. It copies the rows, keeping their
// order. It fails on fewer than two training classes, on a test label that
// the training set does not have, or when a part would be empty.
func SplitClasses(train, test Dataset, inputs int) (ClassSplit, error) {
	var s ClassSplit
	if inputs < 1 {
		return s, fmt.Errorf("models: split: %d inputs per sample; want ≥ 1", inputs)
	}
	for _, d := range []struct {
		name string
		set  Dataset
	}{{"training set", train}, {"test set", test}} {
		if len(d.set.X) != len(d.set.Labels)*inputs {
			return s, fmt.Errorf("models: split: the %s has %d features for %d labels; want %d per sample", d.name, len(d.set.X), len(d.set.Labels), inputs)
		}
	}
	classes := slices.Clone(train.Labels)
	slices.Sort(classes)
	classes = slices.Compact(classes)
	if len(classes) < 2 {
		return s, fmt.Errorf("models: split: the training set has %d classes; want ≥ 2", len(classes))
	}
	half := len(classes) / 2
	s.TrainClasses = classes[:half:half]
	s.EvalClasses = slices.Clone(classes[half:])
	first := func(l int) bool { _, ok := slices.BinarySearch(s.TrainClasses, l); return ok }
	for i, l := range test.Labels {
		if _, ok := slices.BinarySearch(classes, l); !ok {
			return s, fmt.Errorf("models: split: test sample %d has label %d, which no training sample has", i, l)
		}
	}
	s.Train = pick(train, inputs, first)
	s.References = pick(train, inputs, func(l int) bool { return !first(l) })
	s.Queries = pick(test, inputs, func(l int) bool { return !first(l) })
	switch {
	case s.Train.Len() == 0:
		return s, fmt.Errorf("models: split: no training samples of classes %v", s.TrainClasses)
	case s.Queries.Len() == 0:
		return s, fmt.Errorf("models: split: no test samples of classes %v", s.EvalClasses)
	}
	return s, nil
}

// pick copies the samples of d whose label keep accepts.
func pick(d Dataset, inputs int, keep func(int) bool) Dataset {
	var out Dataset
	for i, l := range d.Labels {
		if keep(l) {
			out.X = append(out.X, d.X[i*inputs:(i+1)*inputs]...)
			out.Labels = append(out.Labels, l)
		}
	}
	return out
}
