package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/contrastive-go/contrastive/models/checkpoint"
)

// writeEmbeddingsTSV writes n×dim float32 rows, tab-separated, no header
// (TensorBoard projector layout). Values use the shortest decimal form that
// parses back to the same float32. Non-finite values are an error: the
// projector cannot show them.
func writeEmbeddingsTSV(path string, emb []float32, dim int) error {
	n, err := embeddingRows("writeEmbeddingsTSV", emb, dim)
	if err != nil {
		return err
	}
	for i, v := range emb {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("writeEmbeddingsTSV: %s: row %d column %d is %v", path, i/dim, i%dim, v)
		}
	}
	err = checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<16)
		var buf []byte
		for r := 0; r < n; r++ {
			buf = buf[:0]
			for c, v := range emb[r*dim : (r+1)*dim] {
				if c > 0 {
					buf = append(buf, '\t')
				}
				buf = strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
			}
			buf = append(buf, '\n')
			if _, err := bw.Write(buf); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("writeEmbeddingsTSV: %w", err)
	}
	return nil
}

// writeLabelsTSV writes one label per line (no header: single-column
// metadata per projector docs).
func writeLabelsTSV(path string, labels []int) error {
	if len(labels) == 0 {
		return fmt.Errorf("writeLabelsTSV: %s: no labels", path)
	}
	err := checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<16)
		var buf []byte
		for _, l := range labels {
			buf = strconv.AppendInt(buf[:0], int64(l), 10)
			buf = append(buf, '\n')
			if _, err := bw.Write(buf); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("writeLabelsTSV: %w", err)
	}
	return nil
}

// embeddingRows checks that emb holds a whole, non-zero number of rows of
// dim values and returns the number of rows.
func embeddingRows(fn string, emb []float32, dim int) (int, error) {
	switch {
	case dim <= 0:
		return 0, fmt.Errorf("%s: dimension %d, want > 0", fn, dim)
	case len(emb) == 0:
		return 0, fmt.Errorf("%s: no embeddings", fn)
	case len(emb)%dim != 0:
		return 0, fmt.Errorf("%s: %d values are not a whole number of rows of %d", fn, len(emb), dim)
	}
	return len(emb) / dim, nil
}

// pca2 returns the n×2 projection of emb onto its top-2 principal
// components (centered), using gonum/mat (SymEigen or SVD on the dim×dim
// covariance).
//
// emb holds n rows of dim values (n ≥ 2, dim ≥ 2, all finite). The result is
// row-major: element 2i is row i's coordinate along the first component
// (largest variance), element 2i+1 along the second. Each component's sign
// is fixed so that its largest-magnitude entry is positive, which makes the
// output deterministic.
func pca2(emb []float32, dim int) ([]float64, error) {
	n, err := embeddingRows("pca2", emb, dim)
	if err != nil {
		return nil, err
	}
	if dim < 2 {
		return nil, fmt.Errorf("pca2: dimension %d, need at least 2 for two components", dim)
	}
	if n < 2 {
		return nil, fmt.Errorf("pca2: %d row, need at least 2 for a covariance", n)
	}
	x := mat.NewDense(n, dim, nil)
	for i, v := range emb {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("pca2: row %d column %d is %v", i/dim, i%dim, v)
		}
		x.Set(i/dim, i%dim, f)
	}
	// Center the columns.
	for c := 0; c < dim; c++ {
		col := mat.Col(nil, c, x)
		mean := stat.Mean(col, nil)
		for r := range col {
			x.Set(r, c, col[r]-mean)
		}
	}
	var cov mat.SymDense
	cov.SymOuterK(1/float64(n-1), x.T()) // Xᵀ X / (n-1), dim×dim

	var eig mat.EigenSym
	if ok := eig.Factorize(&cov, true); !ok {
		return nil, errors.New("pca2: eigendecomposition of the covariance did not converge")
	}
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	// Eigenvalues come in ascending order: the top two are the last columns.
	top := mat.NewDense(dim, 2, nil)
	for k, c := range []int{dim - 1, dim - 2} {
		v := mat.Col(nil, c, &vecs)
		big := 0
		for i := range v {
			if math.Abs(v[i]) > math.Abs(v[big]) {
				big = i
			}
		}
		sign := 1.0
		if v[big] < 0 {
			sign = -1
		}
		for i := range v {
			top.Set(i, k, sign*v[i])
		}
	}
	proj := mat.NewDense(n, 2, nil)
	proj.Mul(x, top)
	return proj.RawMatrix().Data, nil
}

// writeJSON writes v as indented JSON atomically (temp file + rename).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("writeJSON: %s: %w", path, err)
	}
	b = append(b, '\n')
	err = checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("writeJSON: %w", err)
	}
	return nil
}
