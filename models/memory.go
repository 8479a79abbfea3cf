package models

import (
	"fmt"
	"math"
)

// DefaultMemoryLimit is the memory a training configuration may need when
// TrainConfig.MemoryLimit is 0 (8 GiB). NewTrainer refuses a configuration
// whose TrainingMemory estimate exceeds the limit, so that a batch size or
// an embedding dimension chosen by mistake gives an error that says how
// much it would take, not an out-of-memory crash.
const DefaultMemoryLimit int64 = 8 << 30

// MemoryEstimate is the approximate memory, in bytes, of training a model
// on batches of B samples, by what it grows with. It counts the arrays the
// graph holds (values, gradients and the temporaries of one step), not Go's
// runtime overhead; against the heap in use after three steps of triplet +
// batch-hard training (default ConvNet at B = 100 and 300, default MLP at
// B = 100 and 500) it was between 0.56× and 1.7×.
type MemoryEstimate struct {
	// Params: weights, gradients and the optimizer's two moments, all of
	// the model's dtype.
	Params float64
	// Activations: B × (the encoder's intermediate values) × 4 (values,
	// gradients and temporaries), im2col buffers included, plus the input
	// batch.
	Activations float64
	// Pairwise: about 32 B×B matrices of the model's dtype (distances,
	// masks, the loss's intermediates, their gradients and temporaries) and
	// the miners' float64 copy.
	Pairwise float64
}

// Total returns the sum of the parts.
func (e MemoryEstimate) Total() float64 { return e.Params + e.Activations + e.Pairwise }

func (e MemoryEstimate) String() string {
	return fmt.Sprintf("about %s (weights and optimizer %s, activations %s, B×B matrices %s)",
		bytesString(e.Total()), bytesString(e.Params), bytesString(e.Activations), bytesString(e.Pairwise))
}

func bytesString(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", math.Ceil(b/(1<<10)))
}

// TrainingMemory estimates the memory of training cfg on batches of b
// samples (see MemoryEstimate). It validates cfg and b first and computes
// in float64, so no input overflows. Miners bound their own slots
// (mining.MaxCapacity).
func TrainingMemory(cfg Config, b int) (MemoryEstimate, error) {
	if err := cfg.Validate(); err != nil {
		return MemoryEstimate{}, err
	}
	if b < 1 {
		return MemoryEstimate{}, fmt.Errorf("models: batch size is %d; want ≥ 1", b)
	}
	size := float64(cfg.Dtype().Size())
	params, act := 0.0, 0.0 // parameter count, activation values per sample
	in := float64(cfg.Inputs())
	if cfg.Arch == MLP {
		prev := in
		for _, h := range cfg.Hidden {
			params += (prev + 1) * float64(h)
			act += 3 * float64(h) // product, bias, ReLU
			prev = float64(h)
		}
		params += (prev + 1) * float64(cfg.Dim)
	} else {
		k := float64(cfg.Kernel)
		ch, h, w := float64(cfg.Channels), cfg.Height, cfg.Width
		for _, oc := range cfg.Hidden {
			ho, wo := float64(h-cfg.Kernel+1), float64(w-cfg.Kernel+1)
			params += (ch*k*k + 1) * float64(oc)
			// im2col, convolution, bias, ReLU, pooled output and its argmax
			act += ch*k*k*ho*wo + 3*float64(oc)*ho*wo + 2*float64(oc)*math.Floor(ho/2)*math.Floor(wo/2)
			ch, h, w = float64(oc), (h-cfg.Kernel+1)/2, (w-cfg.Kernel+1)/2
		}
		feat := ch * float64(h) * float64(w)
		if cfg.Dense > 0 { // the raw input's branch: product, bias, ReLU, and the concatenation
			params += (in + 1) * float64(cfg.Dense)
			act += 3*float64(cfg.Dense) + feat + float64(cfg.Dense)
			feat += float64(cfg.Dense)
		}
		params += (feat + 1) * float64(cfg.Dim)
	}
	act += 5 * float64(cfg.Dim) // projection, bias, normalisation
	fb := float64(b)
	return MemoryEstimate{
		Params:      params * 4 * size,
		Activations: fb*act*size*4 + fb*in*(4+size),
		Pairwise:    fb * fb * (32*size + 8),
	}, nil
}

// checkMemory refuses a configuration whose estimate exceeds limit (0:
// DefaultMemoryLimit).
func checkMemory(cfg Config, b int, limit int64) error {
	if limit < 0 {
		return fmt.Errorf("models: memory limit is %d; want ≥ 0 (0: DefaultMemoryLimit)", limit)
	}
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	e, err := TrainingMemory(cfg, b)
	if err != nil {
		return err
	}
	if e.Total() > float64(limit) {
		return fmt.Errorf("models: training the %s (dim %d) on batches of %d needs %v; the limit is %s (TrainConfig.MemoryLimit)",
			cfg.Arch, cfg.Dim, b, e, bytesString(float64(limit)))
	}
	return nil
}
