package checkpoint_test

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nlpodyssey/safetensors"
	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/models/checkpoint"
)

// Edge values that must survive a round trip bit for bit: signed zeros,
// the smallest and largest denormals, the smallest normal, ±max and ±Inf
// (bit patterns from IEEE 754-2008 binary32/binary64).
var (
	checkpointEdgeF32 = []float32{
		0, float32(math.Copysign(0, -1)),
		math.Float32frombits(0x00000001), math.Float32frombits(0x807fffff), // denormals
		math.Float32frombits(0x00800000), // smallest normal
		math.MaxFloat32, -math.MaxFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)),
		1, -1, 0.1, 1.0 / 3,
	}
	checkpointEdgeF64 = []float64{
		0, math.Copysign(0, -1),
		math.Float64frombits(0x0000000000000001), math.Float64frombits(0x800fffffffffffff), // denormals
		math.Float64frombits(0x0010000000000000), // smallest normal
		math.MaxFloat64, -math.MaxFloat64,
		math.Inf(1), math.Inf(-1),
		1, -1, 0.1, 1.0 / 3,
	}
)

// checkpointSample is a checkpoint with every supported kind of tensor.
func checkpointSample() ([]checkpoint.Tensor, map[string]string) {
	return []checkpoint.Tensor{
			{Name: "edge.f32", Shape: []int{13}, F32: checkpointEdgeF32},
			{Name: "edge.f64", Shape: []int{13, 1}, F64: checkpointEdgeF64},
			{Name: "layer1/weight", Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}},
			{Name: "scalar", Shape: []int{}, F64: []float64{42.5}},
			{Name: "empty", Shape: []int{0, 3}, F32: []float32{}},
			{Name: "ünïcode <&>", Shape: []int{1}, F32: []float32{-7}},
		}, map[string]string{
			"format": "pt",
			"step":   "1200",
			"note":   `quotes " and \ and <html> & ünïcode`,
		}
}

// checkpointLarge returns tensors of 160 kB each, so that writing them
// flushes the encoder's buffer several times mid-tensor.
func checkpointLarge() []checkpoint.Tensor {
	a := make([]float32, 40_001)
	b := make([]float64, 20_003)
	for i := range a {
		a[i] = float32(i) * 1.25e-3
	}
	for i := range b {
		b[i] = -float64(i) / 7
	}
	return []checkpoint.Tensor{
		{Name: "a", Shape: []int{40_001}, F32: a},
		{Name: "b", Shape: []int{1, 20_003}, F64: b},
		{Name: "c", Shape: []int{3}, F32: []float32{1, 2, 3}},
	}
}

func requireSameBitsF32(t *testing.T, want, got []float32, name string) {
	t.Helper()
	require.Len(t, got, len(want), name)
	for i := range want {
		require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s[%d]: want %g, got %g", name, i, want[i], got[i])
	}
}

func requireSameBitsF64(t *testing.T, want, got []float64, name string) {
	t.Helper()
	require.Len(t, got, len(want), name)
	for i := range want {
		require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "%s[%d]: want %g, got %g", name, i, want[i], got[i])
	}
}

// requireSameTensors compares names, shapes and data bit for bit, in order.
func requireSameTensors(t *testing.T, want, got []checkpoint.Tensor) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, w := range want {
		g := got[i]
		require.Equal(t, w.Name, g.Name)
		require.Equal(t, len(w.Shape), len(g.Shape), w.Name)
		for j := range w.Shape {
			require.Equal(t, w.Shape[j], g.Shape[j], w.Name)
		}
		require.Equal(t, w.F32 != nil, g.F32 != nil, "%s: F32 set", w.Name)
		require.Equal(t, w.F64 != nil, g.F64 != nil, "%s: F64 set", w.Name)
		requireSameBitsF32(t, w.F32, g.F32, w.Name)
		requireSameBitsF64(t, w.F64, g.F64, w.Name)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	sample, sampleMeta := checkpointSample()
	tests := []struct {
		name     string
		tensors  []checkpoint.Tensor
		metadata map[string]string
	}{
		{"all kinds with metadata", sample, sampleMeta},
		{"no metadata", sample[:2], nil},
		{"metadata only", nil, map[string]string{"k": "v"}},
		{"nothing", nil, nil},
		{"larger than the 64 KiB write buffer", checkpointLarge(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "model.safetensors")
			require.NoError(t, checkpoint.Write(path, tc.tensors, tc.metadata))

			got, meta, err := checkpoint.Read(path)
			require.NoError(t, err)
			requireSameTensors(t, tc.tensors, got)
			require.NotNil(t, meta)
			if tc.metadata == nil {
				require.Empty(t, meta)
			} else {
				require.Equal(t, tc.metadata, meta)
			}

			// The data section starts 8-byte aligned, as in the reference
			// implementation, and no temporary file is left behind.
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Zero(t, binary.LittleEndian.Uint64(b)%8)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
		})
	}
}

func TestCheckpointOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	first := []checkpoint.Tensor{{Name: "w", Shape: []int{3}, F32: []float32{1, 2, 3}}}
	second := []checkpoint.Tensor{{Name: "v", Shape: []int{1}, F64: []float64{9}}}
	require.NoError(t, checkpoint.Write(path, first, nil))
	require.NoError(t, checkpoint.Write(path, second, nil))
	got, _, err := checkpoint.Read(path)
	require.NoError(t, err)
	requireSameTensors(t, second, got)

	// A failed write leaves the previous file untouched.
	bad := []checkpoint.Tensor{{Name: "x", Shape: []int{2}, F32: []float32{1}}}
	require.Error(t, checkpoint.Write(path, bad, nil))
	got, _, err = checkpoint.Read(path)
	require.NoError(t, err)
	requireSameTensors(t, second, got)
}

// TestCheckpointIndependentReader reads what Write wrote with the
// github.com/nlpodyssey/safetensors library.
func TestCheckpointIndependentReader(t *testing.T) {
	sample, sampleMeta := checkpointSample()
	path := filepath.Join(t.TempDir(), "model.safetensors")
	require.NoError(t, checkpoint.Write(path, sample, sampleMeta))
	b, err := os.ReadFile(path)
	require.NoError(t, err)

	st, err := safetensors.Deserialize(b)
	require.NoError(t, err)
	require.Equal(t, len(sample), st.Len())
	_, meta, err := safetensors.ReadMetadata(b)
	require.NoError(t, err)
	// The checksum is one more string entry of the metadata, which the
	// independent reader returns like any other.
	want := map[string]string{checkpoint.MetaChecksum: fmt.Sprintf("%08x", crc32.Checksum(b[8+binary.LittleEndian.Uint64(b):], crc32.MakeTable(crc32.Castagnoli)))}
	for k, v := range sampleMeta {
		want[k] = v
	}
	require.Equal(t, want, meta.Metadata())

	for _, want := range sample {
		t.Run(want.Name, func(t *testing.T) {
			view, ok := st.Tensor(want.Name)
			require.True(t, ok)
			shape := make([]uint64, len(want.Shape))
			for i, d := range want.Shape {
				shape[i] = uint64(d)
			}
			require.Equal(t, shape, view.Shape())
			data := view.Data()
			if want.F32 != nil {
				require.Equal(t, safetensors.F32, view.DType())
				got := make([]float32, len(data)/4)
				for i := range got {
					got[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
				}
				requireSameBitsF32(t, want.F32, got, want.Name)
			} else {
				require.Equal(t, safetensors.F64, view.DType())
				got := make([]float64, len(data)/8)
				for i := range got {
					got[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
				}
				requireSameBitsF64(t, want.F64, got, want.Name)
			}
		})
	}
}

// TestCheckpointReadForeign reads files written by other tools: the
// nlpodyssey/safetensors serializer (which orders tensors by dtype, then
// name) and a header laid out like Python's safetensors.torch.save_file.
func TestCheckpointReadForeign(t *testing.T) {
	dir := t.TempDir()

	f32 := []float32{1.5, -2, float32(math.Copysign(0, -1))}
	f64 := []float64{math.MaxFloat64, math.SmallestNonzeroFloat64}
	var b32, b64 []byte
	for _, v := range f32 {
		b32 = binary.LittleEndian.AppendUint32(b32, math.Float32bits(v))
	}
	for _, v := range f64 {
		b64 = binary.LittleEndian.AppendUint64(b64, math.Float64bits(v))
	}
	v32, err := safetensors.NewTensorView(safetensors.F32, []uint64{3}, b32)
	require.NoError(t, err)
	v64, err := safetensors.NewTensorView(safetensors.F64, []uint64{1, 2}, b64)
	require.NoError(t, err)
	lib, err := safetensors.Serialize(map[string]safetensors.TensorView{"a": v32, "b": v64}, map[string]string{"src": "lib"})
	require.NoError(t, err)

	// Python layout: "__metadata__" first, compact JSON, space padding to a
	// multiple of 8, tensors sorted by dtype alignment then name.
	pyHeader := `{"__metadata__":{"format":"pt"},"b":{"dtype":"F64","shape":[1,2],"data_offsets":[0,16]},"a":{"dtype":"F32","shape":[3],"data_offsets":[16,28]}}`
	py := checkpointFile(pyHeader+strings.Repeat(" ", (8-len(pyHeader)%8)%8), append(append([]byte{}, b64...), b32...))

	want := []checkpoint.Tensor{ // F64 first: both writers order by descending alignment
		{Name: "b", Shape: []int{1, 2}, F64: f64},
		{Name: "a", Shape: []int{3}, F32: f32},
	}
	tests := []struct {
		name string
		file []byte
		meta map[string]string
	}{
		{"nlpodyssey", lib, map[string]string{"src": "lib"}},
		{"python layout", py, map[string]string{"format": "pt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".safetensors")
			require.NoError(t, os.WriteFile(path, tc.file, 0o644))
			got, meta, err := checkpoint.Read(path)
			require.NoError(t, err)
			requireSameTensors(t, want, got)
			require.Equal(t, tc.meta, meta)
		})
	}
}

func TestCheckpointWriteErrors(t *testing.T) {
	dir := t.TempDir()
	w := func(name string, shape ...int) checkpoint.Tensor {
		return checkpoint.Tensor{Name: name, Shape: shape, F32: []float32{1, 2}}
	}
	tests := []struct {
		name     string
		dir      string
		tensors  []checkpoint.Tensor
		metadata map[string]string
		want     string
	}{
		{"empty name", dir, []checkpoint.Tensor{w("", 2)}, nil, "tensor 0 has an empty name"},
		{"duplicate name", dir, []checkpoint.Tensor{w("a", 2), w("b", 2), w("a", 2)}, nil, `duplicate tensor name "a"`},
		{"reserved name", dir, []checkpoint.Tensor{w("__metadata__", 2)}, nil, `name "__metadata__" is reserved`},
		{"invalid UTF-8 name", dir, []checkpoint.Tensor{w("a\xff", 2)}, nil, "is not valid UTF-8"},
		{"invalid UTF-8 metadata", dir, []checkpoint.Tensor{w("a", 2)}, map[string]string{"k": "\xfe"}, "is not valid UTF-8"},
		{"both dtypes", dir, []checkpoint.Tensor{{Name: "a", Shape: []int{1}, F32: []float32{1}, F64: []float64{1}}}, nil, `tensor "a" has both F32 and F64 data`},
		{"no data", dir, []checkpoint.Tensor{{Name: "a", Shape: []int{0}}}, nil, `tensor "a" has neither F32 nor F64 data`},
		{"shape too small", dir, []checkpoint.Tensor{w("a", 1)}, nil, `tensor "a": shape [1] needs 1 values, got 2`},
		{"shape too large", dir, []checkpoint.Tensor{w("a", 2, 2)}, nil, `tensor "a": shape [2 2] has more than 2 elements`},
		{"shape overflows", dir, []checkpoint.Tensor{w("a", math.MaxInt, math.MaxInt)}, nil, "has more than 2 elements"},
		{"negative dimension", dir, []checkpoint.Tensor{w("a", -2, -1)}, nil, "shape [-2 -1] has a negative dimension"},
		{"scalar needs one value", dir, []checkpoint.Tensor{w("a")}, nil, `tensor "a": shape [] needs 1 values, got 2`},
		{"missing directory", filepath.Join(dir, "nope"), []checkpoint.Tensor{w("a", 2)}, nil, "no such file or directory"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(tc.dir, fmt.Sprintf("ckpt-%d.safetensors", i))
			err := checkpoint.Write(path, tc.tensors, tc.metadata)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "checkpoint: "+path+": "), err.Error())
			require.Contains(t, err.Error(), tc.want)
			_, statErr := os.Stat(path)
			require.True(t, os.IsNotExist(statErr), "no file may be written")
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no temporary file may be left behind")
}

// checkpointFile assembles a safetensors file from a header and data.
func checkpointFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestCheckpointReadErrors(t *testing.T) {
	dir := t.TempDir()
	const one = `"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`
	data8 := make([]byte, 8)
	tests := []struct {
		name string
		file []byte // nil: file missing
		want string
	}{
		{"missing file", nil, "no such file or directory"},
		{"empty file", []byte{}, "file has 0 bytes, shorter than the 8-byte header length"},
		{"7 bytes", make([]byte, 7), "file has 7 bytes, shorter than the 8-byte header length"},
		{"header longer than file", checkpointFile("{}", nil)[:9], "header length 2 is larger than the 1 bytes after it"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "header length 18446744073709551615 is larger than the 0 bytes after it"},
		{"invalid JSON", checkpointFile(`{"a":`, nil), "invalid JSON header"},
		{"not an object", checkpointFile(`[]`, nil), "invalid JSON header: starts with [, want an object"},
		{"garbage after object", checkpointFile(`{} x`, nil), "invalid JSON header"},
		{"second object", checkpointFile(`{}{}`, nil), "invalid JSON header: unexpected { after the object"},
		{"not UTF-8", checkpointFile("{\"\xff\":1}", nil), "invalid JSON header: not valid UTF-8"},
		{"duplicate names", checkpointFile(`{`+one+`,`+one+`}`, data8), `duplicate name "a" in header`},
		{"duplicate metadata", checkpointFile(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate name "__metadata__" in header`},
		{"metadata not strings", checkpointFile(`{"__metadata__":{"k":1}}`, nil), "invalid JSON header: __metadata__"},
		{"unknown key", checkpointFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, data8), `tensor "a": json: unknown field "x"`},
		{"tensor not an object", checkpointFile(`{"a":3}`, nil), `invalid JSON header: tensor "a"`},
		{"one data offset", checkpointFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, data8), "data_offsets has 1 entries, want 2"},
		{"negative offset", checkpointFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}}`, data8), `invalid JSON header: tensor "a"`},
		{"unsupported dtype", checkpointFile(`{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}`, data8), `tensor "a": unsupported dtype "F16" (supported: F32, F64)`},
		{"unknown dtype", checkpointFile(`{"a":{"dtype":"Q7","shape":[4],"data_offsets":[0,8]}}`, data8), `unsupported dtype "Q7"`},
		{"reversed offsets", checkpointFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, data8), "data offsets [8, 0] are reversed"},
		{"offsets out of range", checkpointFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data8), "data offsets [0, 16] out of range: the data section has 8 bytes (file truncated?)"},
		{"overlap", checkpointFile(`{`+one+`,"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data8), `tensor "b": data offsets [4, 8] overlap the previous tensor, which ends at 8`},
		{"gap at start", checkpointFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data8), "data offsets [4, 8] leave a gap after the previous tensor, which ends at 0"},
		{"gap between", checkpointFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}`, data8), "leave a gap"},
		{"trailing data", checkpointFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, data8), "tensors cover 4 bytes but the data section has 8"},
		{"shape needs more bytes", checkpointFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data8), `tensor "a": shape [3] has more than 2 elements (data offsets give 8 bytes)`},
		{"shape needs fewer bytes", checkpointFile(`{"a":{"dtype":"F64","shape":[],"data_offsets":[0,16]}}`, make([]byte, 16)), `tensor "a": F64 shape [] needs 8 bytes, data offsets give 16`},
		{"shape overflows", checkpointFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, data8), "has more than 2 elements"},
		{"negative dimension", checkpointFile(`{"a":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}`, data8), "shape [-2 -1] has a negative dimension"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("ckpt-%d.safetensors", i))
			if tc.file != nil {
				require.NoError(t, os.WriteFile(path, tc.file, 0o644))
			}
			tensors, meta, err := checkpoint.Read(path)
			require.Error(t, err)
			require.Nil(t, tensors)
			require.Nil(t, meta)
			require.True(t, strings.HasPrefix(err.Error(), "checkpoint: "), err.Error())
			require.Contains(t, err.Error(), path)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestCheckpointCorruption damages a good file: every truncation and every
// single-byte flip of the length prefix and header must be an error (a
// flipped ASCII byte is invalid UTF-8 or breaks the JSON or the offsets).
// Flips in the data section are caught by the CRC-32C that Write
// stores in the metadata (issue 11, defect 13: before, a flipped data byte
// loaded without complaint).
func TestCheckpointCorruption(t *testing.T) {
	dir := t.TempDir()
	sample, meta := checkpointSample()
	good := filepath.Join(dir, "good.safetensors")
	require.NoError(t, checkpoint.Write(good, sample, meta))
	b, err := os.ReadFile(good)
	require.NoError(t, err)
	headerEnd := 8 + int(binary.LittleEndian.Uint64(b))

	bad := filepath.Join(dir, "bad.safetensors")
	readBad := func(t *testing.T, content []byte) error {
		t.Helper()
		require.NoError(t, os.WriteFile(bad, content, 0o644))
		tensors, _, err := checkpoint.Read(bad)
		if err == nil {
			return nil
		}
		require.Nil(t, tensors)
		require.Contains(t, err.Error(), bad)
		return err
	}
	t.Run("truncated", func(t *testing.T) {
		for n := 0; n < len(b); n++ {
			require.Error(t, readBad(t, b[:n]), "file cut to %d of %d bytes", n, len(b))
		}
	})
	t.Run("flipped header byte", func(t *testing.T) {
		for i := 0; i < headerEnd; i++ {
			c := append([]byte{}, b...)
			c[i] ^= 0xff
			require.Error(t, readBad(t, c), "byte %d (%q) flipped", i, b[i])
		}
	})
	t.Run("flipped data byte", func(t *testing.T) {
		for i := headerEnd; i < len(b); i++ {
			c := append([]byte{}, b...)
			c[i] ^= 0x01
			require.ErrorContains(t, readBad(t, c), "data checksum mismatch", "byte %d of %d flipped", i, len(b))
		}
	})
	t.Run("without checksum", func(t *testing.T) {
		// A file from another writer (no checksum) still loads, unchecked:
		// rewrite the header without the key, keeping its length.
		c := append([]byte{}, b...)
		h := string(c[8:headerEnd])
		i := strings.Index(h, `"`+checkpoint.MetaChecksum+`":"`)
		require.GreaterOrEqual(t, i, 0, h)
		entry := h[i : i+len(checkpoint.MetaChecksum)+14] // "data_crc32c":"xxxxxxxx",
		require.True(t, strings.HasSuffix(entry, `",`), entry)
		h = strings.Replace(h, entry, "", 1) + strings.Repeat(" ", len(entry))
		copy(c[8:], h)
		c[headerEnd] ^= 0x01 // and damage the data: nothing can notice
		got, gotMeta, err := checkpoint.Read(writeFile(t, dir, c))
		require.NoError(t, err)
		require.Len(t, got, len(sample))
		require.Equal(t, meta, gotMeta)
	})
	t.Run("bad checksum value", func(t *testing.T) {
		c := append([]byte{}, b...)
		h := string(c[8:headerEnd])
		i := strings.Index(h, `"`+checkpoint.MetaChecksum+`":"`) + len(checkpoint.MetaChecksum) + 4
		copy(c[8+i:], "zz")
		require.ErrorContains(t, readBad(t, c), `metadata data_crc32c is "zz`)
	})
	t.Run("extended", func(t *testing.T) {
		require.ErrorContains(t, readBad(t, append(append([]byte{}, b...), 0)), fmt.Sprintf("but the data section has %d", len(b)-headerEnd+1))
	})
}

func ExampleWrite() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	tensors := []checkpoint.Tensor{
		{Name: "dense/weight", Shape: []int{2, 2}, F32: []float32{1, 0, 0, 1}},
		{Name: "dense/bias", Shape: []int{2}, F64: []float64{0.5, -0.5}},
	}
	if err := checkpoint.Write(path, tensors, map[string]string{"step": "100"}); err != nil {
		fmt.Println(err)
		return
	}
	got, meta, err := checkpoint.Read(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range got {
		fmt.Println(t.Name, t.Shape, t.F32, t.F64)
	}
	fmt.Println("step:", meta["step"])
	// Output:
	// dense/weight [2 2] [1 0 0 1] []
	// dense/bias [2] [] [0.5 -0.5]
	// step: 100
}

func writeFile(t *testing.T, dir string, content []byte) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "file-*.safetensors")
	require.NoError(t, err)
	_, err = f.Write(content)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return f.Name()
}

// TestStaleTempFilesAreCleaned: a save killed between creating its
// temporary file and renaming it leaves ".<name>.tmp-<digits>" behind (issue
// 11, defect 10: nothing ever removed them). The next save of the same
// target removes the leftovers that are old enough, and leaves fresh ones,
// other targets' and other names alone.
func TestStaleTempFilesAreCleaned(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "model.safetensors")
	old := time.Now().Add(-2 * time.Hour)
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("partial checkpoint"), 0o600))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
		return p
	}
	stale1 := mk(".model.safetensors.tmp-123456", old)
	stale2 := mk(".model.safetensors.tmp-9", old)
	fresh := mk(".model.safetensors.tmp-777", time.Now()) // may be a live save
	otherTarget := mk(".other.safetensors.tmp-123", old)  // another target's
	notOurs := mk(".model.safetensors.tmp-notes", old)    // not a CreateTemp name
	prefixOnly := mk(".model.safetensors.tmp-", old)      // neither
	longer := mk(".model.safetensors.bak.tmp-1", old)     // neither
	sample, meta := checkpointSample()
	require.NoError(t, checkpoint.Write(target, sample, meta))
	for _, p := range []string{stale1, stale2} {
		require.NoFileExists(t, p)
	}
	for _, p := range []string{fresh, otherTarget, notOurs, prefixOnly, longer, target} {
		require.FileExists(t, p)
	}
	// Nothing else is left next to the target: the save's own temporary
	// file was renamed.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 6)
}
