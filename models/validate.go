package models

import (
	"fmt"
	"math"
)

// MaxLearnRate bounds the learning rate (of both solvers): a larger step
// moves weights by more than their scale at every step, which only
// overflows.
const MaxLearnRate = 10.0

// totalSteps returns the number of steps of a run, min(perEpoch·epochs,
// maxSteps when > 0), refusing a product that overflows an int.
func totalSteps(perEpoch, epochs, maxSteps int) (int, error) {
	if perEpoch > 0 && epochs > math.MaxInt/perEpoch {
		if maxSteps > 0 {
			return maxSteps, nil
		}
		return 0, fmt.Errorf("models: %d epochs of %d steps overflow the step count; lower Epochs or set MaxSteps", epochs, perEpoch)
	}
	total := perEpoch * epochs
	if maxSteps > 0 && maxSteps < total {
		total = maxSteps
	}
	return total, nil
}

// finiteInputs reports the first NaN or ±Inf of x (rows of inputs
// features), which would otherwise become NaN embeddings.
func finiteInputs(what string, x []float32, inputs int) error {
	for i, v := range x {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("models: %s sample %d has %v at feature %d", what, i/inputs, f, i%inputs)
		}
	}
	return nil
}
