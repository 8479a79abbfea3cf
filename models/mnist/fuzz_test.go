package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"strings"
	"testing"
)

// FuzzIDX feeds the IDX reader arbitrary files: raw bytes as they are, or
// (gzip set) the bytes compressed, so that the fuzzer reaches the IDX
// header and data checks and not only gzip's. The reader must never panic,
// must name the file in every error, and on success must return data of
// exactly the dimensions' product, within maxDataBytes.
func FuzzIDX(f *testing.F) {
	header := func(magic uint32, dims ...uint32) []byte {
		b := binary.BigEndian.AppendUint32(nil, magic)
		for _, d := range dims {
			b = binary.BigEndian.AppendUint32(b, d)
		}
		return b
	}
	compress := func(b []byte) []byte {
		var buf bytes.Buffer
		z := gzip.NewWriter(&buf)
		z.Write(b)
		z.Close()
		return buf.Bytes()
	}
	images := append(header(imagesMagic, 2, 2, 2), 0, 1, 2, 3, 4, 5, 6, 7)
	labels := append(header(labelsMagic, 3), 1, 2, 9)
	for _, seed := range [][]byte{images, labels, header(imagesMagic, 1000, 1000, 1000), header(imagesMagic, 60000, 60000, 60000), nil} {
		f.Add(seed, true, uint32(imagesMagic))
		f.Add(seed, true, uint32(labelsMagic))
	}
	f.Add(compress(images), false, uint32(imagesMagic))
	f.Add(append(compress(labels), "garbage"...), false, uint32(labelsMagic))
	f.Add(compress(labels)[:20], false, uint32(labelsMagic))
	f.Fuzz(func(t *testing.T, b []byte, gz bool, magic uint32) {
		if magic != imagesMagic && magic != labelsMagic {
			magic = imagesMagic
		}
		if gz {
			b = compress(b)
		}
		dims, data, err := decodeIDX("fuzz.gz", bytes.NewReader(b), magic)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "mnist: fuzz.gz") {
				t.Fatalf("error does not start with the package and file: %q", msg)
			}
			return
		}
		if len(dims) != int(magic&0xff) {
			t.Fatalf("%d dimensions for magic %d", len(dims), magic)
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if n != len(data) || n > maxDataBytes {
			t.Fatalf("dimensions %v but %d data bytes", dims, len(data))
		}
	})
}
