// Package checkpoint reads and writes checkpoints in the safetensors format
// (https://github.com/huggingface/safetensors, 2022): an 8-byte little-endian
// header length N, N bytes of UTF-8 JSON, then the tensor data. The JSON
// object maps each tensor name to {"dtype", "shape", "data_offsets"} and may
// hold a "__metadata__" object of string values. data_offsets are
// [begin, end) byte offsets into the data section; the tensors tile it with
// no gap or overlap. Data is little-endian, row-major. Files are written
// atomically with WriteFileAtomic, which the command-line tools share.
package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Tensor is one named tensor of a checkpoint.
type Tensor struct {
	Name  string
	Shape []int
	F32   []float32 // exactly one of F32 / F64 is set
	F64   []float64
}

// checkpointMetadataKey is the reserved header key of the string metadata.
const checkpointMetadataKey = "__metadata__"

// checkpointMaxHeader bounds the JSON header (100 MB, the limit of the
// reference Rust implementation).
const checkpointMaxHeader = 100_000_000

// checkpointEntry is one tensor's header entry.
type checkpointEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// Write writes tensors and string metadata in the safetensors
// format to path atomically (temp file in the same dir + rename). Names must
// be unique and non-empty; shapes must match data lengths. An empty Shape
// is a scalar holding one value. Tensors are stored in the given order; nil
// or empty metadata gives a "__metadata__" entry holding only the checksum.
//
// The CRC-32C (Castagnoli) of the data section is stored in the metadata
// under MetaChecksum as 8 lower-case hex digits (a string, as safetensors
// requires, so other readers load the file unchanged); Read
// verifies it. The key is reserved.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	if _, ok := metadata[MetaChecksum]; ok {
		return fmt.Errorf("checkpoint: %s: metadata key %q is reserved for the data checksum", path, MetaChecksum)
	}
	// The header is validated before the checksum pass reads the tensors.
	if _, err := checkpointHeader(tensors, metadata); err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	crc := crc32.New(castagnoli)
	if err := checkpointWriteData(crc, tensors); err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	meta := make(map[string]string, len(metadata)+1)
	for k, v := range metadata {
		meta[k] = v
	}
	meta[MetaChecksum] = fmt.Sprintf("%08x", crc.Sum32())
	header, err := checkpointHeader(tensors, meta)
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	err = writeAtomic(path, func(w io.Writer) error {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(header); err != nil {
			return err
		}
		return checkpointWriteData(w, tensors)
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return nil
}

// MetaChecksum is the metadata key of the data section's CRC-32C.
const MetaChecksum = "data_crc32c"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkpointWriteData writes the tensors' values, little-endian, in order.
func checkpointWriteData(w io.Writer, tensors []Tensor) error {
	buf := make([]byte, 0, 64<<10)
	for _, t := range tensors {
		for _, v := range t.F32 {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		for _, v := range t.F64 {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err := w.Write(buf)
	return err
}

// checkpointHeader validates the tensors and returns the JSON header padded
// with spaces to a multiple of 8 bytes, so that the data starts aligned.
func checkpointHeader(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	writeString := func(s string) error {
		if err := enc.Encode(s); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode appends a newline
		return nil
	}
	b.WriteByte('{')
	if len(metadata) > 0 {
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("metadata %q: %q is not valid UTF-8", k, v)
			}
		}
		b.WriteString(`"` + checkpointMetadataKey + `":`)
		if err := enc.Encode(metadata); err != nil { // sorted keys
			return nil, err
		}
		b.Truncate(b.Len() - 1)
	}
	seen := make(map[string]bool, len(tensors))
	offset := uint64(0)
	for i, t := range tensors {
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("tensor %d has an empty name", i)
		case t.Name == checkpointMetadataKey:
			return nil, fmt.Errorf("tensor %d: name %q is reserved", i, t.Name)
		case !utf8.ValidString(t.Name):
			return nil, fmt.Errorf("tensor %d: name %q is not valid UTF-8", i, t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		var dtype string
		var n, size int
		switch {
		case t.F32 != nil && t.F64 != nil:
			return nil, fmt.Errorf("tensor %q has both F32 and F64 data", t.Name)
		case t.F32 != nil:
			dtype, n, size = "F32", len(t.F32), 4
		case t.F64 != nil:
			dtype, n, size = "F64", len(t.F64), 8
		default:
			return nil, fmt.Errorf("tensor %q has neither F32 nor F64 data", t.Name)
		}
		shape := make([]int64, len(t.Shape))
		for j, d := range t.Shape {
			shape[j] = int64(d)
		}
		numel, err := checkpointNumel(shape, uint64(n))
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if numel != uint64(n) {
			return nil, fmt.Errorf("tensor %q: shape %v needs %d values, got %d", t.Name, t.Shape, numel, n)
		}
		if i > 0 || len(metadata) > 0 {
			b.WriteByte(',')
		}
		if err := writeString(t.Name); err != nil {
			return nil, err
		}
		dims := make([]string, len(t.Shape))
		for j, d := range t.Shape {
			dims[j] = fmt.Sprint(d)
		}
		end := offset + uint64(n*size)
		fmt.Fprintf(&b, `:{"dtype":%q,"shape":[%s],"data_offsets":[%d,%d]}`, dtype, strings.Join(dims, ","), offset, end)
		offset = end
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > checkpointMaxHeader {
		return nil, fmt.Errorf("header of %d bytes exceeds %d", b.Len(), checkpointMaxHeader)
	}
	return b.Bytes(), nil
}

// WriteFileAtomic writes a temporary file in the directory of path
// with write, syncs it and renames it to path (mode 0644), so that readers see either
// the old file or the complete new one. Leftover temporary files of earlier
// saves of path that were killed are removed (tempfiles.go); the new
// temporary file is locked while it is written so that no other save
// removes it. Errors start with "checkpoint: " and name path.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	if err := writeAtomic(path, write); err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return nil
}

// writeAtomic is WriteFileAtomic with errors that name no file.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			os.Remove(f.Name())
		}
	}()
	if err := lock(f); err != nil {
		return fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	cleanStaleTemps(filepath.Clean(dir), base, filepath.Join(filepath.Clean(dir), filepath.Base(f.Name())), time.Now())
	w := bufio.NewWriterSize(f, 1<<20)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if canLock {
		// Rename while the lock is held, so that the file is never an
		// unlocked temporary file that another save could take for a
		// leftover.
		if err := os.Rename(f.Name(), path); err != nil {
			return err
		}
		closed = true
		return f.Close()
	}
	closed = true
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Read reads a safetensors file written by Write (or by
// Python tooling with F32/F64 tensors). Tensors come back in the order of
// their data offsets, which is the order Write was given. The
// metadata map is never nil. When the metadata holds MetaChecksum, the data
// section must match it (the key is then removed from the returned map);
// files without it (older ones, other writers) load without the check.
func Read(path string) ([]Tensor, map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	tensors, metadata, err := decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return tensors, metadata, nil
}

// Decode is Read on the content b of a file held in memory.
func Decode(b []byte) ([]Tensor, map[string]string, error) {
	tensors, metadata, err := decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	return tensors, metadata, nil
}

// decode decodes a whole safetensors file; its errors name no file.
func decode(b []byte) ([]Tensor, map[string]string, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("file has %d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("header length %d is larger than the %d bytes after it (file truncated?)", n, len(b)-8)
	}
	if n > checkpointMaxHeader {
		return nil, nil, fmt.Errorf("header length %d exceeds %d", n, checkpointMaxHeader)
	}
	header, data := b[8:8+n], b[8+n:]
	names, entries, metadata, err := checkpointParseHeader(header)
	if err != nil {
		return nil, nil, err
	}

	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := entries[order[i]].DataOffsets, entries[order[j]].DataOffsets
		return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1])
	})
	tensors := make([]Tensor, 0, len(entries))
	next := uint64(0) // where the next tensor must begin
	for _, i := range order {
		name, e := names[i], entries[i]
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin > end {
			return nil, nil, fmt.Errorf("tensor %q: data offsets [%d, %d] are reversed", name, begin, end)
		}
		if end > uint64(len(data)) {
			return nil, nil, fmt.Errorf("tensor %q: data offsets [%d, %d] out of range: the data section has %d bytes (file truncated?)", name, begin, end, len(data))
		}
		if begin != next {
			what := "overlap the previous tensor"
			if begin > next {
				what = "leave a gap after the previous tensor"
			}
			return nil, nil, fmt.Errorf("tensor %q: data offsets [%d, %d] %s, which ends at %d", name, begin, end, what, next)
		}
		next = end
		t, err := checkpointDecode(name, e, data[begin:end])
		if err != nil {
			return nil, nil, err
		}
		tensors = append(tensors, t)
	}
	if next != uint64(len(data)) {
		return nil, nil, fmt.Errorf("tensors cover %d bytes but the data section has %d", next, len(data))
	}
	if sum, ok := metadata[MetaChecksum]; ok {
		want, err := strconv.ParseUint(sum, 16, 32)
		if err != nil || len(sum) != 8 {
			return nil, nil, fmt.Errorf("metadata %s is %q; want 8 hex digits", MetaChecksum, sum)
		}
		if got := crc32.Checksum(data, castagnoli); got != uint32(want) {
			return nil, nil, fmt.Errorf("data checksum mismatch: the data section's CRC-32C is %08x, the file records %s (file corrupted)", got, sum)
		}
		delete(metadata, MetaChecksum)
	}
	return tensors, metadata, nil
}

// checkpointParseHeader decodes the JSON header, keeping the tensors in
// header order and rejecting duplicate keys (which encoding/json would
// silently merge).
func checkpointParseHeader(header []byte) ([]string, []checkpointEntry, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, nil, errors.New("invalid JSON header: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	bad := func(err error) error { return fmt.Errorf("invalid JSON header: %w", err) }
	if tok, err := dec.Token(); err != nil {
		return nil, nil, nil, bad(err)
	} else if tok != json.Delim('{') {
		return nil, nil, nil, bad(fmt.Errorf("starts with %v, want an object", tok))
	}
	var names []string
	var entries []checkpointEntry
	metadata := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, nil, bad(err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, nil, bad(fmt.Errorf("unexpected %v", tok))
		}
		if seen[name] {
			return nil, nil, nil, fmt.Errorf("duplicate name %q in header", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, nil, bad(err)
		}
		if name == checkpointMetadataKey {
			if err := json.Unmarshal(raw, &metadata); err != nil {
				return nil, nil, nil, bad(fmt.Errorf("%s: %w", checkpointMetadataKey, err))
			}
			if metadata == nil { // "__metadata__": null
				metadata = map[string]string{}
			}
			continue
		}
		var e checkpointEntry
		ed := json.NewDecoder(bytes.NewReader(raw))
		ed.DisallowUnknownFields()
		if err := ed.Decode(&e); err != nil {
			return nil, nil, nil, bad(fmt.Errorf("tensor %q: %w", name, err))
		}
		if len(e.DataOffsets) != 2 {
			return nil, nil, nil, bad(fmt.Errorf("tensor %q: data_offsets has %d entries, want 2", name, len(e.DataOffsets)))
		}
		names = append(names, name)
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, nil, bad(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("unexpected %v after the object", tok)
		}
		return nil, nil, nil, bad(err)
	}
	return names, entries, metadata, nil
}

// checkpointNumel returns the number of elements of shape (1 for a scalar),
// or an error if a dimension is negative or the count exceeds limit.
func checkpointNumel(shape []int64, limit uint64) (uint64, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
	}
	for _, d := range shape {
		if d == 0 {
			return 0, nil
		}
	}
	numel := uint64(1)
	for _, d := range shape {
		if numel > limit/uint64(d) {
			return 0, fmt.Errorf("shape %v has more than %d elements", shape, limit)
		}
		numel *= uint64(d)
	}
	return numel, nil
}

// checkpointDecode checks one tensor's dtype and shape against its bytes
// and decodes them.
func checkpointDecode(name string, e checkpointEntry, raw []byte) (Tensor, error) {
	var size uint64
	switch e.DType {
	case "F32":
		size = 4
	case "F64":
		size = 8
	default:
		return Tensor{}, fmt.Errorf("tensor %q: unsupported dtype %q (supported: F32, F64)", name, e.DType)
	}
	// The bytes bound the element count, which keeps it from overflowing.
	numel, err := checkpointNumel(e.Shape, uint64(len(raw))/size)
	if err != nil {
		return Tensor{}, fmt.Errorf("tensor %q: %w (data offsets give %d bytes)", name, err, len(raw))
	}
	shape := make([]int, len(e.Shape))
	for i, d := range e.Shape {
		shape[i] = int(d)
	}
	if numel*size != uint64(len(raw)) {
		return Tensor{}, fmt.Errorf("tensor %q: %s shape %v needs %d bytes, data offsets give %d", name, e.DType, e.Shape, numel*size, len(raw))
	}
	t := Tensor{Name: name, Shape: shape}
	if size == 4 {
		t.F32 = make([]float32, numel)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	} else {
		t.F64 = make([]float64, numel)
		for i := range t.F64 {
			t.F64[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	}
	return t, nil
}
