package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Broadcast helpers: a per-row vector applied along the columns of a matrix.

// SubCol returns x − v broadcast along columns: x (B×C), v (B) → B×C.
// It is one op with one derivative op per input.
func SubCol(x, v *G.Node) (*G.Node, error) {
	if x == nil || v == nil {
		return nil, fmt.Errorf("graph: SubCol: nil input")
	}
	return colOp(false, x, v)
}

// MulCol returns x ⊙ v broadcast along columns: x (B×C), v (B) → B×C.
// It is one op with one derivative op per input.
func MulCol(x, v *G.Node) (*G.Node, error) {
	if x == nil || v == nil {
		return nil, fmt.Errorf("graph: MulCol: nil input")
	}
	return colOp(true, x, v)
}

// asCol reshapes a vector of length B to a B×1 matrix.
func asCol(v *G.Node) (*G.Node, error) {
	if v.Dims() != 1 {
		return nil, fmt.Errorf("graph: want a vector; got shape %v", v.Shape())
	}
	return G.Reshape(v, tensor.Shape{v.Shape()[0], 1})
}

func asRow(v *G.Node) (*G.Node, error) {
	if v.Dims() != 1 {
		return nil, fmt.Errorf("graph: want a vector; got shape %v", v.Shape())
	}
	return G.Reshape(v, tensor.Shape{1, v.Shape()[0]})
}
