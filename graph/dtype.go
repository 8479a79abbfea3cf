package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// FloatDtype returns n's dtype if it is float32 or float64, and an error
// naming what (the what argument, e.g. "embeddings") otherwise. Custom
// losses and ops validate their inputs with it and CheckLabels.
func FloatDtype(what string, n *G.Node) (tensor.Dtype, error) {
	if n == nil {
		return tensor.Dtype{}, fmt.Errorf("graph: %s is nil", what)
	}
	switch dt := n.Dtype(); dt {
	case tensor.Float32, tensor.Float64:
		return dt, nil
	default:
		return tensor.Dtype{}, fmt.Errorf("graph: %s has dtype %v; want float32 or float64", what, dt)
	}
}

// constant returns a scalar constant of dtype dt (float32 or float64). Gorgonia
// requires constants to have the dtype of the nodes they meet.
func constant(dt tensor.Dtype, v float64) *G.Node {
	if dt == tensor.Float32 {
		return G.NewConstant(float32(v))
	}
	return G.NewConstant(v)
}

// DenseOf returns a tensor of dtype dt (float32 or float64) and the given
// shape holding the values v, converted to float32 when dt is float32: the
// value to bind a batch with G.Let, or to return from an ApplyForward op.
func DenseOf(dt tensor.Dtype, v []float64, shape ...int) *tensor.Dense {
	if dt == tensor.Float32 {
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// embeddings checks that x is a B×D float matrix with B ≥ 1 and D ≥ 1 and
// returns B and D.
func checkEmbeddings(what string, x *G.Node) (b, d int, err error) {
	if _, err := FloatDtype(what, x); err != nil {
		return 0, 0, err
	}
	s := x.Shape()
	if len(s) != 2 {
		return 0, 0, fmt.Errorf("graph: %s must be 2-D (B×D); got shape %v", what, s)
	}
	if s[0] < 1 || s[1] < 1 {
		return 0, 0, fmt.Errorf("graph: %s has empty shape %v", what, s)
	}
	return s[0], s[1], nil
}

// CheckLabels checks that labels is an Int vector of length b.
func CheckLabels(labels *G.Node, b int) error {
	if labels == nil {
		return fmt.Errorf("graph: labels is nil")
	}
	if labels.Dtype() != tensor.Int {
		return fmt.Errorf("graph: labels has dtype %v; want int", labels.Dtype())
	}
	s := labels.Shape()
	if len(s) != 1 {
		return fmt.Errorf("graph: labels must be a vector; got shape %v", s)
	}
	if s[0] != b {
		return fmt.Errorf("graph: labels has %d entries, embeddings have %d rows", s[0], b)
	}
	return nil
}

// sameGraph reports an error unless all nodes belong to one graph.
func sameGraph(nodes ...*G.Node) error {
	var g *G.ExprGraph
	for _, n := range nodes {
		if n == nil {
			continue
		}
		if g == nil {
			g = n.Graph()
		} else if n.Graph() != g {
			return fmt.Errorf("graph: node %q belongs to another graph", n.Name())
		}
	}
	return nil
}
