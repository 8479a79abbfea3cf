package models

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawCheckpoint lays out a safetensors file by hand, without the checksum
// that checkpoint.Write adds, so that mutations of it reach Load's checks of
// the configuration and the tensors (a file with a checksum stops at the
// checksum after almost any mutation of its data).
func rawCheckpoint(meta map[string]string, names []string, shapes [][]int, data []float32) []byte {
	header := map[string]any{"__metadata__": meta}
	off := 0
	for i, name := range names {
		n := 1
		for _, d := range shapes[i] {
			n *= d
		}
		header[name] = map[string]any{"dtype": "F32", "shape": shapes[i], "data_offsets": []int{4 * off, 4 * (off + n)}}
		off += n
	}
	h, _ := json.Marshal(header)
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	b = append(b, h...)
	for _, v := range data[:off] {
		b = binary.LittleEndian.AppendUint32(b, uint32(int32(v*1000)))
	}
	return b
}

// FuzzLoad feeds Load (loadBytes, Load after reading the file) arbitrary
// files. It must never panic or run out of
// memory (everything a file declares is checked against the file before it
// is allocated), every error must start with "models: " and name the file,
// and a model that loads must be usable: its parameters match its
// architecture.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	cfg := Config{Arch: MLP, Channels: 1, Height: 2, Width: 2, Hidden: []int{3}, Dim: 2, Seed: 1}
	m, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	good := filepath.Join(dir, "good.safetensors")
	if err := m.Save(good); err != nil {
		f.Fatal(err)
	}
	saved, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(saved)
	raw, _ := json.Marshal(cfg)
	meta := map[string]string{MetaFormat: "contrastive-go/model", MetaVersion: "1", MetaConfig: string(raw)}
	data := make([]float32, 64)
	names := []string{"fc0.weight", "fc0.bias", "proj.weight", "proj.bias"}
	shapes := [][]int{{4, 3}, {1, 3}, {3, 2}, {1, 2}}
	f.Add(rawCheckpoint(meta, names, shapes, data))
	huge := cfg
	huge.Hidden = []int{1 << 40}
	raw, _ = json.Marshal(huge)
	f.Add(rawCheckpoint(map[string]string{MetaFormat: "contrastive-go/model", MetaVersion: "1", MetaConfig: string(raw)}, names, shapes, data))
	conv := Config{Arch: ConvNet, Channels: 1, Height: 6, Width: 6, Hidden: []int{2}, Kernel: 3, Dim: 2}
	raw, _ = json.Marshal(conv)
	f.Add(rawCheckpoint(map[string]string{MetaFormat: "contrastive-go/model", MetaVersion: "1", MetaConfig: string(raw)},
		[]string{"conv0.weight", "conv0.bias", "proj.weight", "proj.bias"}, [][]int{{2, 1, 3, 3}, {1, 2, 1, 1}, {8, 2}, {1, 2}}, data))
	f.Add(saved[:len(saved)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		const path = "fuzz.safetensors"
		m, _, err := loadBytes(path, b)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "models: ") || !strings.Contains(msg, path) {
				t.Fatalf("error %q does not start with the package and name the file", msg)
			}
			return
		}
		if err := m.Config.Validate(); err != nil {
			t.Fatalf("loaded a model whose config is invalid: %v", err)
		}
		for _, p := range m.Params {
			if p.Value == nil {
				t.Fatal(fmt.Sprintf("parameter %s has no value", p.Name))
			}
		}
	})
}
