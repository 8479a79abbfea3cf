package models

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Embed returns the n×Dim float32 embeddings of the n input rows of x
// (n·Inputs() features), computed in batches of at most batch rows by a
// forward-only graph (no gradient work). The last, partial batch is padded
// with zeros and its padding discarded; progress, when set, is called with
// the number of rows done after each batch.
func (m *Model) Embed(x []float32, batch int, progress func(done, total int)) ([]float32, error) {
	if m == nil {
		return nil, fmt.Errorf("models: embed: nil model")
	}
	in := m.Config.Inputs()
	if in == 0 || len(x)%in != 0 || len(x) == 0 {
		return nil, fmt.Errorf("models: embed: %d features is not a positive multiple of %d inputs", len(x), in)
	}
	n := len(x) / in
	if batch < 1 {
		return nil, fmt.Errorf("models: embed: batch size is %d; want ≥ 1", batch)
	}
	if batch > n {
		batch = n
	}
	if err := finiteInputs("embed: input", x, in); err != nil {
		return nil, err
	}
	// The forward graph holds about half of what training at this batch
	// size does (no gradients): refuse batches that memory cannot hold.
	if e, err := TrainingMemory(m.Config, batch); err != nil {
		return nil, err
	} else if e.Activations/2 > float64(DefaultMemoryLimit) {
		return nil, fmt.Errorf("models: embed: batches of %d need about %s; the limit is %s (DefaultMemoryLimit): use smaller batches", batch, bytesString(e.Activations/2), bytesString(float64(DefaultMemoryLimit)))
	}
	g := G.NewGraph()
	built, err := m.Build(g, batch)
	if err != nil {
		return nil, err
	}
	var out G.Value
	G.Read(built.Embeddings, &out)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	dim := m.Config.Dim
	res := make([]float32, n*dim)
	buf := tensor.New(tensor.WithShape(batch, in), tensor.Of(m.Config.Dtype()))
	for start := 0; start < n; start += batch {
		rows := min(batch, n-start)
		src := x[start*in : (start+rows)*in]
		switch d := buf.Data().(type) {
		case []float32:
			copy(d, src)
			clear(d[len(src):])
		case []float64:
			for i, v := range src {
				d[i] = float64(v)
			}
			clear(d[len(src):])
		}
		if err := G.Let(built.Input, buf); err != nil {
			return nil, err
		}
		if err := vm.RunAll(); err != nil {
			return nil, fmt.Errorf("models: embed: %w", err)
		}
		dst := res[start*dim : (start+rows)*dim]
		switch e := out.Data().(type) {
		case []float32:
			copy(dst, e[:rows*dim])
		case []float64:
			for i := range dst {
				dst[i] = float32(e[i])
			}
		}
		vm.Reset()
		if progress != nil {
			progress(start+rows, n)
		}
	}
	return res, nil
}
