package mining

import (
	"fmt"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// MinedTriplets is the graph side of a triplet miner: index tensors of a
// fixed capacity C, recomputed from the current step's matrix and labels
// every time the graph runs.
type MinedTriplets struct {
	// AP and AN are Int vectors of length C holding the flat indices a·B+p
	// and a·B+n into the B×B matrix, for graph.Gather. Padding slots point
	// at entry 0.
	AP, AN *G.Node
	// Weight is the C-vector of slot weights (0 for padding), of the
	// matrix's dtype. No gradient flows into it.
	Weight   *G.Node
	Capacity int
}

func checkInputs(dist, labels *G.Node) (int, error) {
	if _, err := graph.FloatDtype("distance matrix", dist); err != nil {
		return 0, err
	}
	s := dist.Shape()
	if len(s) != 2 || s[0] != s[1] {
		return 0, fmt.Errorf("mining: distance matrix must be square B×B; got shape %v", s)
	}
	if err := graph.CheckLabels(labels, s[0]); err != nil {
		return 0, err
	}
	return s[0], nil
}

// readBatch converts the op inputs into a Batch (reusing buf).
func readBatch(in []G.Value, larger bool, dim int, buf []float64) (Batch, error) {
	labels, ok := in[1].Data().([]int)
	if !ok {
		return Batch{}, fmt.Errorf("mining: labels must be ints; got %T", in[1].Data())
	}
	n := len(labels)
	batch := Batch{Dist: buf, LargerIsCloser: larger, Labels: labels, Dim: dim}
	if n == 0 {
		return batch, fmt.Errorf("mining: empty batch")
	}
	// the copy and Validate's checks in one pass
	bad, size := -1, 0
	var badValue float64
	switch d := in[0].Data().(type) {
	case []float64:
		size = len(d)
		if size == len(buf) {
			for i, v := range d {
				if v-v != 0 { // NaN or ±Inf
					bad, badValue = i, v
					break
				}
				buf[i] = v
			}
		}
	case []float32:
		size = len(d)
		if size == len(buf) {
			for i, v := range d {
				if v-v != 0 {
					bad, badValue = i, float64(v)
					break
				}
				buf[i] = float64(v)
			}
		}
	default:
		return Batch{}, fmt.Errorf("mining: distance matrix of type %T", in[0].Data())
	}
	switch {
	case size != n*n || len(buf) != n*n:
		return batch, fmt.Errorf("mining: distance matrix has %d entries; want %d×%d for %d labels", size, n, n, n)
	case bad >= 0:
		return batch, fmt.Errorf("mining: distance (%d, %d) is %v", bad/n, bad%n, badValue)
	}
	batch.checked = true
	return batch, nil
}

// TripletOp adds miner m to the graph of dist (the B×B matrix of the
// current forward pass; similarities when larger is true) and labels (Int
// vector of length B). dim is the embedding dimension. The miner runs once
// per pass, inside the pass, so the encoder runs forward once per step.
func TripletOp(m TripletMiner, dist, labels *G.Node, larger bool, dim int) (*MinedTriplets, error) {
	if m == nil {
		return nil, fmt.Errorf("mining: nil triplet miner")
	}
	b, err := checkInputs(dist, labels)
	if err != nil {
		return nil, err
	}
	c, err := m.TripletCapacity(b)
	if err != nil {
		return nil, err
	}
	if c < 1 {
		return nil, fmt.Errorf("mining: %T asks for capacity %d; want ≥ 1", m, c)
	}
	out := NewTripletList(c)
	buf := make([]float64, b*b)
	dt := dist.Dtype()
	// The mining op returns the a·B+p indices; the a·B+n indices and the
	// weights of the same run are kept here and handed out by two companion
	// ops that take the mining node as input, so they run after it in the
	// same pass and the miner runs once. The id keeps Gorgonia from merging
	// two TripletOp calls, which would share one companion state.
	var an, w G.Value
	name := fmt.Sprintf("minetriplets#%d(%T%+v,larger=%t,dim=%d,cap=%d)", opID.Add(1), m, m, larger, dim, c)
	ap, err := graph.ApplyForward(name, tensor.Int, 1,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{c}, nil },
		func(in []G.Value) (G.Value, error) {
			batch, err := readBatch(in, larger, dim, buf)
			if err != nil {
				return nil, err
			}
			if err := m.MineTriplets(batch, out); err != nil {
				return nil, err
			}
			apIdx, anIdx := make([]int, c), make([]int, c)
			for k := 0; k < out.Len(); k++ {
				a, p, n := out.Anchor[k], out.Positive[k], out.Negative[k]
				if a < 0 || a >= b || p < 0 || p >= b || n < 0 || n >= b {
					return nil, fmt.Errorf("mining: %T produced triplet (%d, %d, %d) outside a batch of %d", m, a, p, n, b)
				}
				apIdx[k], anIdx[k] = a*b+p, a*b+n
			}
			an = tensor.New(tensor.WithShape(c), tensor.WithBacking(anIdx))
			w = graph.DenseOf(dt, append([]float64(nil), out.Weight...), c)
			return tensor.New(tensor.WithShape(c), tensor.WithBacking(apIdx)), nil
		}, dist, labels)
	if err != nil {
		return nil, err
	}
	mt := &MinedTriplets{Capacity: c, AP: ap}
	companion := func(what string, out tensor.Dtype, v *G.Value) (*G.Node, error) {
		return graph.ApplyForward(name+"."+what, out, 1,
			func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{c}, nil },
			func([]G.Value) (G.Value, error) {
				if *v == nil {
					return nil, fmt.Errorf("mining: %s read before the miner ran", what)
				}
				return *v, nil
			}, ap)
	}
	if mt.AN, err = companion("an", tensor.Int, &an); err != nil {
		return nil, err
	}
	if mt.Weight, err = companion("weight", dt, &w); err != nil {
		return nil, err
	}
	return mt, nil
}

// opID numbers mining ops so that Gorgonia never merges two of them.
var opID atomic.Uint64

// PairOp adds pair miner m to the graph of dist and labels and returns
// two B×B weight matrices of dist's dtype: entry (i, j) of pos is the total
// weight of the mined positive pairs (i, j), and likewise neg. A pair loss
// multiplies its per-pair terms by them, so a batch where nothing is mined
// gives zero weights, loss 0 and a zero gradient.
func PairOp(m PairMiner, dist, labels *G.Node, larger bool, dim int) (pos, neg *G.Node, err error) {
	if m == nil {
		return nil, nil, fmt.Errorf("mining: nil pair miner")
	}
	b, err := checkInputs(dist, labels)
	if err != nil {
		return nil, nil, err
	}
	cp, cn, err := m.PairCapacity(b)
	if err != nil {
		return nil, nil, err
	}
	if cp < 1 || cn < 1 {
		return nil, nil, fmt.Errorf("mining: %T asks for capacities %d, %d; want ≥ 1", m, cp, cn)
	}
	pp, np := NewPairList(cp), NewPairList(cn)
	buf := make([]float64, b*b)
	dt := dist.Dtype()
	// As in TripletOp: the op returns the positive weights and keeps the
	// negative ones of the same run for a companion op.
	var negW G.Value
	name := fmt.Sprintf("minepairs#%d(%T%+v,larger=%t,dim=%d)", opID.Add(1), m, m, larger, dim)
	pos, err = graph.ApplyForward(name, dt, 2,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b, b}, nil },
		func(in []G.Value) (G.Value, error) {
			batch, err := readBatch(in, larger, dim, buf)
			if err != nil {
				return nil, err
			}
			if err := m.MinePairs(batch, pp, np); err != nil {
				return nil, err
			}
			var mats [2]*tensor.Dense
			for k, list := range []*PairList{pp, np} {
				w := make([]float64, b*b)
				for s := 0; s < list.Len(); s++ {
					i, j := list.I[s], list.J[s]
					if i < 0 || i >= b || j < 0 || j >= b {
						return nil, fmt.Errorf("mining: %T produced pair (%d, %d) outside a batch of %d", m, i, j, b)
					}
					w[i*b+j] += list.Weight[s]
				}
				mats[k] = graph.DenseOf(dt, w, b, b)
			}
			negW = mats[1]
			return mats[0], nil
		}, dist, labels)
	if err != nil {
		return nil, nil, err
	}
	neg, err = graph.ApplyForward(name+".neg", dt, 2,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b, b}, nil },
		func([]G.Value) (G.Value, error) {
			if negW == nil {
				return nil, fmt.Errorf("mining: negative pairs read before the miner ran")
			}
			return negW, nil
		}, pos)
	if err != nil {
		return nil, nil, err
	}
	return pos, neg, nil
}
