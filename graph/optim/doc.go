// Package optim holds the vector kernels of the training loop's
// optimizer: Adam's update (Kingma & Ba, "Adam: A Method for Stochastic
// Optimization", ICLR 2015) on float32 or float64 weights, in the
// arithmetic of PyTorch's torch.optim.Adam (moments of the weights' dtype,
// each operation rounded to it):
//
//	g  = grad + decay·w
//	m' = β1·m + (1−β1)·g
//	v' = β2·v + (1−β2)·g²
//	w' = w − (lr/c1)·m' / (√v'/√c2 + ε)      c1 = 1−β1^t, c2 = 1−β2^t
//
// On amd64 with AVX the loop runs in assembly generated from Go source
// (internal/asmgen, an avo program in its own module behind go:generate),
// eight float32 or four float64 values per instruction; elsewhere, with
// -tags purego, or for the last few values, a portable Go loop performs the
// same operations in the same order (no fused multiply-add), so both paths
// give the same bits (TestAdamPathsAgree).
//
// Every call also reports whether the gradient and all new values are
// finite, so a caller can check an update before it writes it (Adam.Update
// with write false) and commit it only when it is safe.
package optim
