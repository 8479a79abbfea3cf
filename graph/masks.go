package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaskKind selects which pairs a label mask marks.
type MaskKind int

const (
	// SameLabel marks pairs (i, j) with labels[i] == refLabels[j]; in a
	// self mask the diagonal (i, i) is left out.
	SameLabel MaskKind = iota
	// DifferentLabel marks pairs with labels[i] != refLabels[j].
	DifferentLabel
)

func (k MaskKind) String() string {
	switch k {
	case SameLabel:
		return "same"
	case DifferentLabel:
		return "different"
	}
	return fmt.Sprintf("MaskKind(%d)", int(k))
}

// LabelMask returns the B×B mask (dtype dt, entries 0 or 1) of pairs of the
// batch whose labels agree (SameLabel, diagonal excluded) or differ
// (DifferentLabel). labels is an Int vector node bound per batch, so the
// graph is built once and the mask follows the labels of every batch.
func LabelMask(labels *G.Node, kind MaskKind, dt tensor.Dtype) (*G.Node, error) {
	return labelMask(labels, labels, kind, dt, true)
}

// CrossLabelMask returns the B×R mask between a batch's labels and a
// reference set's labels. No diagonal is excluded. A negative reference
// label marks an empty slot (of a Queue that is not yet full): its column
// is 0 in both kinds of mask.
func CrossLabelMask(labels, refLabels *G.Node, kind MaskKind, dt tensor.Dtype) (*G.Node, error) {
	return labelMask(labels, refLabels, kind, dt, false)
}

func labelMask(labels, ref *G.Node, kind MaskKind, dt tensor.Dtype, self bool) (*G.Node, error) {
	if kind != SameLabel && kind != DifferentLabel {
		return nil, fmt.Errorf("graph: unknown mask kind %v", kind)
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("graph: mask dtype %v; want float32 or float64", dt)
	}
	for _, n := range []*G.Node{labels, ref} {
		if n == nil {
			return nil, fmt.Errorf("graph: labels is nil")
		}
		if n.Dtype() != tensor.Int || n.Dims() != 1 {
			return nil, fmt.Errorf("graph: labels must be an int vector; got %v of shape %v", n.Dtype(), n.Shape())
		}
	}
	name := fmt.Sprintf("labelmask(%v,self=%t,%v)", kind, self, dt)
	shape := func(s []tensor.Shape) (tensor.Shape, error) { return tensor.Shape{s[0][0], s[len(s)-1][0]}, nil }
	var buf reused // the mask is written into one buffer, reused from run to run
	var ms maskScratch
	do := func(in []G.Value) (G.Value, error) {
		a := in[0].Data().([]int)
		b := in[len(in)-1].Data().([]int)
		if dt == tensor.Float32 {
			t, out := reuse[float32](&buf, dt, len(a), len(b))
			fillMask(out, a, b, kind, self, &ms)
			return t, nil
		}
		t, out := reuse[float64](&buf, dt, len(a), len(b))
		fillMask(out, a, b, kind, self, &ms)
		return t, nil
	}
	if self {
		return apply(name, dt, 2, shape, do, labels)
	}
	return apply(name, dt, 2, shape, do, labels, ref)
}

// fillMask writes every entry of the mask into out: 1 where the labels
// agree (SameLabel) or differ, else 0; a negative reference label (an
// empty slot of a queue, self false) pairs with nothing. Each row is first
// set as a whole (cleared, or copied from a template row of the "differ"
// value), then the few columns whose label equals the row's are set one by
// one, from the columns grouped by label (s keeps the scratch).
func fillMask[T float](out []T, a, b []int, kind MaskKind, self bool, s *maskScratch) {
	s.group(b)
	tmpl := get[T](&s.tmpl, len(b)) // DifferentLabel's row before its label's columns: 1, 0 at empty slots
	if kind != SameLabel {
		for j, lj := range b {
			tmpl[j] = 1
			if !self && lj < 0 {
				tmpl[j] = 0
			}
		}
	}
	var on T = 1 // value where the labels agree
	if kind != SameLabel {
		on = 0
	}
	for i, li := range a {
		row := out[i*len(b) : (i+1)*len(b)]
		if kind == SameLabel {
			clear(row)
		} else {
			copy(row, tmpl)
		}
		if self || li >= 0 {
			for _, j := range s.columns(li) {
				row[j] = on
			}
		}
		if self && kind == SameLabel {
			row[i] = 0
		}
	}
}

// maskScratch groups the columns of a label vector by label, reused from
// run to run: pos holds the column indices sorted by label (stable), and
// start maps a label to its first position in pos and end to one past its
// last.
type maskScratch struct {
	pos        []int
	start, end map[int]int
	tmpl       scratch
}

// group indexes the columns of b.
func (s *maskScratch) group(b []int) {
	if s.start == nil {
		s.start, s.end = map[int]int{}, map[int]int{}
	}
	clear(s.start)
	clear(s.end)
	for _, l := range b { // counts
		s.end[l]++
	}
	n := 0
	for _, l := range b { // offsets, labels in order of first appearance
		if _, ok := s.start[l]; !ok {
			s.start[l] = n
			n += s.end[l]
			s.end[l] = s.start[l] // from here on the next free position
		}
	}
	if cap(s.pos) < len(b) {
		s.pos = make([]int, len(b))
	}
	s.pos = s.pos[:len(b)]
	for j, l := range b {
		s.pos[s.end[l]] = j
		s.end[l]++
	}
}

// columns returns the columns whose label is l.
func (s *maskScratch) columns(l int) []int {
	st, ok := s.start[l]
	if !ok {
		return nil
	}
	return s.pos[st:s.end[l]]
}

// AnyInRow returns a length-B vector holding 1 where row i of the mask has a
// non-zero entry and 0 where it is empty. No gradient flows through it.
func AnyInRow(mask *G.Node) (*G.Node, error) {
	if mask.Dims() != 2 {
		return nil, fmt.Errorf("graph: AnyInRow wants a matrix; got shape %v", mask.Shape())
	}
	dt := mask.Dtype()
	return apply("anyinrow", dt, 1,
		func(s []tensor.Shape) (tensor.Shape, error) { return tensor.Shape{s[0][0]}, nil },
		func(in []G.Value) (G.Value, error) {
			s := in[0].Shape()
			switch m := data(in[0]).(type) {
			case []float32:
				return dense(anyInRow(m, s[0], s[1]), s[0]), nil
			case []float64:
				return dense(anyInRow(m, s[0], s[1]), s[0]), nil
			}
			return nil, fmt.Errorf("graph: anyinrow: unsupported dtype %v", in[0].Dtype())
		}, mask)
}

func anyInRow[T float](m []T, r, c int) []T {
	out := make([]T, r)
	for i := 0; i < r; i++ {
		for _, v := range m[i*c : (i+1)*c] {
			if v != 0 {
				out[i] = 1
				break
			}
		}
	}
	return out
}
