package losses

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// Learner is a loss with learnable parameters of its own (proxies, class
// weights, class centres; Movshovitz-Attias et al. 2017, Kim et al. 2020,
// Qian et al. 2019, Deng et al. 2019, Wang et al. 2018). The parameters
// live outside any graph, like a model's weights: LossParams binds them
// into the embeddings' graph (sharing memory) and returns their nodes, so a
// training loop differentiates the loss with respect to them and updates
// the tensors in place. ProxyNCA, ProxyAnchor, SoftTriple, ArcFace and
// CosFace implement it (through pointers); models.Train picks it up, and
// models.SaveLoss and models.LoadLoss write and read the parameters.
type Learner interface {
	// Loss returns the scalar loss of embeddings (B×D) with labels (Int,
	// B, each in [0, C)).
	Loss(embeddings, labels *G.Node) (*G.Node, error)
	// LossParams is Loss that also returns the parameters' nodes in the
	// embeddings' graph, in the order of Params.
	LossParams(embeddings, labels *G.Node) (*G.Node, G.Nodes, error)
	// InitParams allocates the parameters for embeddings of dimension dim
	// and labels in [0, classes), of dtype dt (float32 or float64),
	// initialised from seed as the reference implementation does.
	InitParams(dim, classes int, dt tensor.Dtype, seed uint64) error
	// Params returns the parameters' names and tensors (nil before
	// InitParams or SetParams). The tensors are the loss's own: updating
	// them in place updates the loss.
	Params() (names []string, values []*tensor.Dense)
	// SetParams replaces the parameters by values (named as Params names
	// them), after checking their names, shapes, dtypes and finiteness.
	SetParams(names []string, values []*tensor.Dense) error
}

// MaxParamEntries bounds the number of entries of a loss's parameter
// tensor (classes × vectors per class × dim) that InitParams allocates:
// 2²⁷, 1 GiB in float64.
const MaxParamEntries = 1 << 27

// classWeights is the one learnable tensor of a proxy or classifier loss: a
// (C·K)×D matrix whose row c·K + k is the k-th vector of class c (K = 1
// except for SoftTriple's centres).
type classWeights struct {
	name string // the loss's name, for messages
	what string // the tensor's name: "proxies", "weights", "centres"
	k    int    // vectors per class
}

// init draws a (classes·k)×dim tensor of dtype dt with draw.
func (w classWeights) init(dim, classes int, dt tensor.Dtype, seed uint64, draw func(r *rand.Rand) float64) (*tensor.Dense, error) {
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("losses: %s: parameter dtype %v; want float32 or float64", w.name, dt)
	}
	if dim < 1 || classes < 1 || w.k < 1 {
		return nil, fmt.Errorf("losses: %s: %d classes × %d vectors of dimension %d; want each ≥ 1", w.name, classes, w.k, dim)
	}
	if n := float64(dim) * float64(classes) * float64(w.k); n > MaxParamEntries {
		return nil, fmt.Errorf("losses: %s: %d classes × %d vectors of dimension %d is %.0f entries; the limit is MaxParamEntries = %d", w.name, classes, w.k, dim, n, MaxParamEntries)
	}
	r := rand.New(rand.NewPCG(seed, 0x70726f78696573)) // second word: "proxies"
	v := make([]float64, classes*w.k*dim)
	for i := range v {
		v[i] = draw(r)
	}
	return graph.DenseOf(dt, v, classes*w.k, dim), nil
}

// set checks values against the tensor's name and layout and returns it.
func (w classWeights) set(names []string, values []*tensor.Dense) (*tensor.Dense, error) {
	if len(names) != 1 || len(values) != 1 || names[0] != w.what {
		return nil, fmt.Errorf("losses: %s: parameters %q; want one tensor %q", w.name, names, w.what)
	}
	t := values[0]
	if t == nil {
		return nil, fmt.Errorf("losses: %s: %s is nil", w.name, w.what)
	}
	s := t.Shape()
	if len(s) != 2 || s[0] < w.k || s[0]%w.k != 0 || s[1] < 1 {
		return nil, fmt.Errorf("losses: %s: %s has shape %v; want (C·%d)×D with C, D ≥ 1", w.name, w.what, s, w.k)
	}
	switch d := t.Data().(type) {
	case []float32:
		for i, v := range d {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("losses: %s: %s holds %v at index %d; want finite values", w.name, w.what, v, i)
			}
		}
	case []float64:
		for i, v := range d {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("losses: %s: %s holds %v at index %d; want finite values", w.name, w.what, v, i)
			}
		}
	default:
		return nil, fmt.Errorf("losses: %s: %s has type %T; want float32 or float64", w.name, w.what, d)
	}
	return t, nil
}

// node binds t into emb's graph as a node over t's memory (its own header,
// so Gorgonia's in-place header changes stay private to that graph) and
// returns it with the number of classes.
func (w classWeights) node(t *tensor.Dense, emb *G.Node) (*G.Node, int, error) {
	if t == nil {
		return nil, 0, fmt.Errorf("losses: %s: no %s; call InitParams (models.Train does) or SetParams", w.name, w.what)
	}
	s := t.Shape()
	if len(s) != 2 || s[0]%w.k != 0 || s[1] != emb.Shape()[1] || t.Dtype() != emb.Dtype() {
		return nil, 0, fmt.Errorf("losses: %s: %s are %v %v; want (C·%d)×%d %v like the embeddings", w.name, w.what, t.Dtype(), s, w.k, emb.Shape()[1], emb.Dtype())
	}
	view := tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(t.Data()))
	n := G.NewMatrix(emb.Graph(), t.Dtype(), G.WithShape(s.Clone()...), G.WithName("loss."+w.what), G.WithValue(view))
	return n, s[0] / w.k, nil
}

// paramsOf returns Params' answer for t.
func (w classWeights) paramsOf(t *tensor.Dense) ([]string, []*tensor.Dense) {
	if t == nil {
		return nil, nil
	}
	return []string{w.what}, []*tensor.Dense{t}
}

// classMask returns the B×C one-hot matrix of labels (C×B when transpose
// is set), without gradient; a label outside [0, C) fails the run with an
// error that names it.
func classMask(name string, e *graph.Expr, labels *G.Node, classes int, transpose bool) *G.Node {
	dt := e.Dtype()
	var buf *tensor.Dense
	return e.Do(func() (*G.Node, error) {
		return graph.ApplyForward(fmt.Sprintf("classmask(%s,C=%d,T=%t,%v)", name, classes, transpose, dt), dt, 2,
			func(in []tensor.Shape) (tensor.Shape, error) {
				if transpose {
					return tensor.Shape{classes, in[0][0]}, nil
				}
				return tensor.Shape{in[0][0], classes}, nil
			},
			func(in []G.Value) (G.Value, error) {
				l, err := classLabels(name, in[0], classes)
				if err != nil {
					return nil, err
				}
				b := len(l)
				// one buffer per mask node, refilled by every run
				shape := tensor.Shape{b, classes}
				if transpose {
					shape = tensor.Shape{classes, b}
				}
				if buf == nil || !buf.Shape().Eq(shape) {
					buf = tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
				}
				switch v := buf.Data().(type) {
				case []float32:
					fillClassMask(v, l, classes, transpose)
				case []float64:
					fillClassMask(v, l, classes, transpose)
				default:
					return nil, fmt.Errorf("losses: %s: class mask of type %T", name, v)
				}
				return buf, nil
			}, labels)
	})
}

// classLabels returns the labels of a loss with parameters for classes
// classes, refusing a label outside [0, classes) with an error that names
// it.
func classLabels(name string, v G.Value, classes int) ([]int, error) {
	l, ok := v.Data().([]int)
	if !ok {
		return nil, fmt.Errorf("losses: %s: labels are %T; want []int", name, v.Data())
	}
	for i, c := range l {
		if c < 0 || c >= classes {
			return nil, fmt.Errorf("losses: %s: label %d of row %d is outside [0, %d): the loss has parameters for %d classes", name, c, i, classes, classes)
		}
	}
	return l, nil
}

// fillClassMask writes classMask's 0/1 values for labels l into v.
func fillClassMask[T float32 | float64](v []T, l []int, classes int, transpose bool) {
	clear(v)
	b := len(l)
	for i, c := range l {
		if transpose {
			v[c*b+i] = 1
		} else {
			v[i*classes+c] = 1
		}
	}
}

// targetIndex returns the Int vector of flat indices i·C + y_i of each row's
// label entry in a B×C matrix (forward-only), refusing labels outside
// [0, C) as classMask does.
func targetIndex(name string, e *graph.Expr, labels *G.Node, classes int) *G.Node {
	return e.Do(func() (*G.Node, error) {
		var buf *tensor.Dense
		return graph.ApplyForward(fmt.Sprintf("targetindex(%s,C=%d)", name, classes), tensor.Int, 1,
			func(in []tensor.Shape) (tensor.Shape, error) { return tensor.Shape{in[0][0]}, nil },
			func(in []G.Value) (G.Value, error) {
				l, err := classLabels(name, in[0], classes)
				if err != nil {
					return nil, err
				}
				if buf == nil || buf.Shape()[0] != len(l) {
					buf = tensor.New(tensor.WithShape(len(l)), tensor.Of(tensor.Int))
				}
				idx := buf.Data().([]int)
				for i, c := range l {
					idx[i] = i*classes + c
				}
				return buf, nil
			}, labels)
	})
}

// ones returns a constant r×c matrix of ones in g.
func ones(e *graph.Expr, g *G.ExprGraph, r, c int) *G.Node {
	v := make([]float64, r*c)
	for i := range v {
		v[i] = 1
	}
	return G.NewMatrix(g, e.Dtype(), G.WithShape(r, c), G.WithName(fmt.Sprintf("ones(%d,%d)", r, c)), G.WithValue(graph.DenseOf(e.Dtype(), v, r, c)))
}

// crossEntropy returns the per-row cross-entropy lse_j(z_ij) − z_{i,y_i}
// of logits z (B×C) with one-hot targets (B×C).
func crossEntropy(e *graph.Expr, z, onehot, all *G.Node) *G.Node {
	return e.Sub(e.MaskedLogSumExp(z, all), e.Sum(e.Mul(z, onehot), 1))
}
