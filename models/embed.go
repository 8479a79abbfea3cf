package models

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Embed returns the n×Dim float32 embeddings of the n input rows of x
// (n·Inputs() features), computed in batches of at most batch rows by
// forward-only graphs (no gradient work) on all cores (an Embedder with
// runtime.GOMAXPROCS(0) workers, built for this call). The last, partial
// batch is padded with zeros and its padding discarded; progress, when set,
// is called with the number of rows done after each batch. The result does
// not depend on the number of cores. Embed may be called from several
// goroutines at once on one model (not while it is being trained).
func (m *Model) Embed(x []float32, batch int, progress func(done, total int)) ([]float32, error) {
	if m == nil {
		return nil, fmt.Errorf("models: embed: nil model")
	}
	n, err := m.embedRows(x)
	if err != nil {
		return nil, err
	}
	if batch < 1 {
		return nil, fmt.Errorf("models: embed: batch size is %d; want ≥ 1", batch)
	}
	batch = min(batch, n)
	e, err := NewEmbedder(m, batch, min(runtime.GOMAXPROCS(0), (n+batch-1)/batch))
	if err != nil {
		return nil, err
	}
	defer e.Close()
	return e.Embed(x, progress)
}

// embedRows checks x (shape and finiteness) and returns its number of rows.
func (m *Model) embedRows(x []float32) (int, error) {
	in := m.Config.Inputs()
	if in == 0 || len(x)%in != 0 || len(x) == 0 {
		return 0, fmt.Errorf("models: embed: %d features is not a positive multiple of %d inputs", len(x), in)
	}
	if err := finiteInputs("embed: input", x, in); err != nil {
		return 0, err
	}
	return len(x) / in, nil
}

// Embedder is a warm pool of forward-only encoder machines, one per worker,
// each compiled once for batches of a fixed size and bound to views of the
// model's weights (so it sees later weight updates). Embed runs the batches
// of a call on all workers; several goroutines may call Embed at once (the
// calls share the pool). Close releases the machines.
type Embedder struct {
	model   *Model
	batch   int
	workers int
	free    chan *embedReplica
	all     []*embedReplica
	closed  atomic.Bool
}

// NewEmbedder compiles workers forward-only graphs of m for batches of
// batch rows (workers 0 means runtime.GOMAXPROCS(0)).
func NewEmbedder(m *Model, batch, workers int) (*Embedder, error) {
	if m == nil {
		return nil, fmt.Errorf("models: embed: nil model")
	}
	if batch < 1 {
		return nil, fmt.Errorf("models: embed: batch size is %d; want ≥ 1", batch)
	}
	if workers < 0 {
		return nil, fmt.Errorf("models: embed: workers is %d; want ≥ 0 (0: all cores)", workers)
	}
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if err := m.Config.Validate(); err != nil {
		return nil, err
	}
	// Each forward graph holds about half of what training at this batch
	// size does (no gradients): refuse pools that memory cannot hold.
	if est, err := TrainingMemory(m.Config, batch); err != nil {
		return nil, err
	} else if need := float64(workers) * est.Activations / 2; need > float64(DefaultMemoryLimit) {
		return nil, fmt.Errorf("models: embed: batches of %d need about %s on %d workers; the limit is %s (DefaultMemoryLimit): use smaller batches or fewer workers", batch, bytesString(need), workers, bytesString(float64(DefaultMemoryLimit)))
	}
	e := &Embedder{model: m, batch: batch, workers: workers, free: make(chan *embedReplica, workers)}
	for range workers {
		r, err := newEmbedReplica(m, batch)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.all = append(e.all, r)
		e.free <- r
	}
	return e, nil
}

// Workers returns the number of machines in the pool.
func (e *Embedder) Workers() int { return e.workers }

// Close releases the machines. It must not run alongside Embed.
func (e *Embedder) Close() {
	if e.closed.Swap(true) {
		return
	}
	for _, r := range e.all {
		r.vm.Close()
	}
}

// Embed returns the n×Dim float32 embeddings of the n input rows of x
// (n·Inputs() features), as Model.Embed does, with the pool's batch size.
// Each batch runs on whichever machine is free; since every machine is the
// same graph, the result does not depend on the number of workers.
func (e *Embedder) Embed(x []float32, progress func(done, total int)) ([]float32, error) {
	if e.closed.Load() {
		return nil, fmt.Errorf("models: embed: embedder is closed")
	}
	m := e.model
	n, err := m.embedRows(x)
	if err != nil {
		return nil, err
	}
	in, dim := m.Config.Inputs(), m.Config.Dim
	res := make([]float32, n*dim)
	nb := (n + e.batch - 1) / e.batch
	var (
		next     atomic.Int64
		failed   atomic.Bool
		mu       sync.Mutex // guards done, firstErr and the progress calls
		done     int
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(e.workers, nb) {
		wg.Go(func() {
			r := <-e.free
			defer func() { e.free <- r }()
			for !failed.Load() {
				b := int(next.Add(1)) - 1
				if b >= nb {
					return
				}
				start := b * e.batch
				rows := min(e.batch, n-start)
				out, err := r.run(x[start*in : (start+rows)*in])
				if err == nil {
					err = copyOut(res[start*dim:(start+rows)*dim], out.Data())
				}
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("models: embed: rows %d–%d: %w", start, start+rows-1, err)
					}
					failed.Store(true)
				} else {
					done += rows
					if progress != nil {
						progress(done, n)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return res, nil
}

// copyOut converts the first len(dst) values of src to float32.
func copyOut(dst []float32, src any) error {
	switch s := src.(type) {
	case []float32:
		copy(dst, s[:len(dst)])
	case []float64:
		for i := range dst {
			dst[i] = float32(s[i])
		}
	default:
		return fmt.Errorf("embeddings have type %T", src)
	}
	return nil
}
