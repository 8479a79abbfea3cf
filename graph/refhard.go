package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RefBatchHard returns the batch-hard triplet gaps of a batch against
// itself and a reference set, from the raw matrices a (B×B) and r (B×R),
// the labels and the orientation sign (+1 for a distance, −1 for a
// similarity; m = sign·x is smaller for closer pairs):
//
//	gap_i = max_{j pos of i} m_ij − min_{k neg of i} m_ik
//
// and has_i, 1 for the rows with both a positive and a negative (gap_i is
// 0 elsewhere, with no gradient): the MaskedRowMax and MaskedRowMin of the
// oriented concatenated matrix under the label masks, in one pass per row
// with the reference set's positives listed by label, and a gradient that
// is two entries per row (the first extreme by column, batch columns
// before reference columns, as MaskedRowMax's). No gradient flows into has.
func RefBatchHard(a, r, labels, refLabels *G.Node, sign float64) (gap, has *G.Node, err error) {
	const what = "ref batch hard"
	b, c, err := checkRef(what, a, r, labels, refLabels)
	if err != nil {
		return nil, nil, err
	}
	if sign != 1 && sign != -1 {
		return nil, nil, fmt.Errorf("graph: %s: sign is %v; want ±1", what, sign)
	}
	dt := a.Dtype()
	name := fmt.Sprintf("refbatchhard#%d(sign=%v,%dx%d)", refOps.Add(1), sign, b, c)
	var sbuf reused
	var idx refIndex
	// per row: the hardest positive and negative (oriented), has, and the
	// two columns (each as 4096·hi + lo, exact in float32)
	const ns = 7
	stats, err := apply(name+"-stats", dt, 2,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b, ns}, nil },
		func(in []G.Value) (G.Value, error) {
			la, lr, err := refLabelsOf(name, in[2], in[3], b, c)
			if err != nil {
				return nil, err
			}
			switch xa := data(in[0]).(type) {
			case []float32:
				t, st := reuse[float32](&sbuf, dt, b, ns)
				return t, refRows(name, b, c, ns, xa, data(in[1]), la, lr, &idx, st, func(i int, xa, xr []float32, la, lr []int, idx *refIndex, st []float32, tmp *[2][]float32) {
					hardRow(i, float32(sign), xa, xr, la, lr, idx, st, tmp)
				})
			case []float64:
				t, st := reuse[float64](&sbuf, dt, b, ns)
				return t, refRows(name, b, c, ns, xa, data(in[1]), la, lr, &idx, st, func(i int, xa, xr []float64, la, lr []int, idx *refIndex, st []float64, tmp *[2][]float64) {
					hardRow(i, sign, xa, xr, la, lr, idx, st, tmp)
				})
			}
			return nil, fmt.Errorf("graph: %s: unsupported dtype %v", name, dt)
		}, a, r, labels, refLabels)
	if err != nil {
		return nil, nil, err
	}
	has, err = apply(name+"-has", dt, 1,
		func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{b}, nil },
		func(in []G.Value) (G.Value, error) {
			all, err := statsOf(name, data(in[0]), b, ns, ns, nil)
			if err != nil {
				return nil, err
			}
			out := make([]float64, b)
			for i := range out {
				out[i] = all[i*ns+2]
			}
			return DenseOf(dt, out, b), nil
		}, stats)
	if err != nil {
		return nil, nil, err
	}
	o := &fusedOp{opBase: opBase{dt: dt, shape: tensor.Shape{b}}, name: name}
	gapOf := func(st []float64, out []float64) {
		for i := range out {
			out[i] = 0
			if st[i*ns+2] != 0 {
				out[i] = st[i*ns] - st[i*ns+1]
			}
		}
	}
	o.f32 = func(in [][]float32, out []float32) error {
		all, err := statsOf(name, in[2], b, ns, ns, nil)
		if err != nil {
			return err
		}
		v := make([]float64, b)
		gapOf(all, v)
		for i, x := range v {
			out[i] = float32(x)
		}
		return nil
	}
	o.f64 = func(in [][]float64, out []float64) error {
		all, err := statsOf(name, in[2], b, ns, ns, nil)
		if err != nil {
			return err
		}
		gapOf(all, out)
		return nil
	}
	o.wrt = []bool{true, true, false}
	o.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		res := make(G.Nodes, 3)
		for w, cols := range []int{b, c} {
			g := &fusedOp{opBase: opBase{dt: dt, shape: tensor.Shape{b, cols}}, name: fmt.Sprintf("%s_d%d", name, w)}
			g.f32 = func(v [][]float32, dx []float32) error { return hardGrad(name, w, b, cols, sign, v, dx) }
			g.f64 = func(v [][]float64, dx []float64) error { return hardGrad(name, w, b, cols, sign, v, dx) }
			n, err := applyFused(g, in[2], grad)
			if err != nil {
				return nil, err
			}
			res[w] = n
		}
		return res, nil
	}
	gap, err = applyFused(o, a, r, stats)
	if err != nil {
		return nil, nil, err
	}
	return gap, has, nil
}

// hardGrad scatters the gradient g (B) of the gaps into part w (0: the
// batch's B columns, 1: the reference set's) of the matrix: sign·g_i at
// row i's hardest positive, −sign·g_i at its hardest negative.
func hardGrad[T float](name string, w, b, cols int, sign float64, in [][]T, dx []T) error {
	st, g := in[0], in[1]
	if len(st) != b*7 || len(g) != b || len(dx) != b*cols {
		return fmt.Errorf("graph: %s gradient: %d stats, %d gradients, %d outputs; want %d, %d, %d", name, len(st), len(g), len(dx), b*7, b, b*cols)
	}
	clear(dx)
	off := 0
	if w == 1 {
		off = b
	}
	for i := 0; i < b; i++ {
		s := st[i*7 : i*7+7]
		if s[2] == 0 {
			continue
		}
		for k, f := range []T{T(sign), T(-sign)} {
			j := int(s[3+2*k])*4096 + int(s[4+2*k]) - off
			if j >= 0 && j < cols {
				dx[i*cols+j] += f * g[i]
			}
		}
	}
	return nil
}

// hardRow writes row i's hardest positive and negative of m = sign·x over
// the batch columns (j ≠ i) and then the reference columns, with has and
// their columns (reference columns numbered from B).
func hardRow[T float](i int, sign T, xa, xr []T, la, lr []int, idx *refIndex, st []T, tmp *[2][]T) {
	li := la[i]
	b := len(xa)
	pj, nj := -1, -1
	var pv, nv T
	for j, x := range xa {
		if j == i {
			continue
		}
		m := sign * x
		if la[j] == li {
			if pj < 0 || m > pv {
				pj, pv = j, m
			}
		} else if nj < 0 || m < nv {
			nj, nv = j, m
		}
	}
	if idx.valid {
		for _, j := range idx.positives(i) {
			if m := sign * xr[j]; pj < 0 || m > pv {
				pj, pv = b+int(j), m
			}
		}
		if k, m := hardestRefNegative(sign, xr, lr, li, idx.positives(i), tmp[0]); k >= 0 && (nj < 0 || m < nv) {
			nj, nv = b+k, m
		}
	} else {
		for j, x := range xr {
			l := lr[j]
			if l < 0 {
				continue
			}
			m := sign * x
			if l == li {
				if pj < 0 || m > pv {
					pj, pv = b+j, m
				}
			} else if nj < 0 || m < nv {
				nj, nv = b+j, m
			}
		}
	}
	clear(st[:7])
	if pj < 0 || nj < 0 {
		return
	}
	st[0], st[1], st[2] = pv, nv, 1
	st[3], st[4] = T(pj/4096), T(pj%4096)
	st[5], st[6] = T(nj/4096), T(nj%4096)
}

// hardestRefNegative returns the first reference column with the smallest
// m = sign·x among those whose label is not li (pc lists the others; every
// label is ≥ 0), and its m; −1 when there is none. The closest column of
// all is the answer when it is a negative (it is then also the first among
// the negatives); otherwise the row is scanned again with the positives
// set to +∞ in the scratch row u.
func hardestRefNegative[T float](sign T, xr []T, lr []int, li int, pc []int32, u []T) (int, T) {
	if k := firstExtreme(xr, sign < 0); k < 0 || lr[k] != li {
		if k < 0 {
			return -1, 0
		}
		return k, sign * xr[k]
	}
	u = u[:len(xr)]
	for j, x := range xr {
		u[j] = sign * x
	}
	inf := T(math.Inf(1))
	for _, j := range pc {
		u[j] = inf
	}
	k, best := -1, inf
	for j, m := range u {
		if m < best {
			k, best = j, m
		}
	}
	return k, best
}

// firstExtreme returns the index of the first minimum of x (the first
// maximum when max), or −1 for an empty x.
func firstExtreme[T float](x []T, max bool) int {
	if len(x) == 0 {
		return -1
	}
	k, best := 0, x[0]
	if max {
		for j, v := range x {
			if v > best {
				k, best = j, v
			}
		}
		return k
	}
	for j, v := range x {
		if v < best {
			k, best = j, v
		}
	}
	return k
}
