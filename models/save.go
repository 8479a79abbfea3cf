package models

import (
	"encoding/json"
	"fmt"
	"strconv"

	"gorgonia.org/tensor"
)

// FormatVersion is written into every saved model's metadata.
const FormatVersion = 1

// Metadata keys of a saved model (safetensors "__metadata__").
const (
	MetaFormat  = "format"
	MetaVersion = "format_version"
	MetaConfig  = "config"
	formatName  = "contrastive-go/model"
)

// Save writes the model's weights in the safetensors format to path, with
// the architecture (Config as JSON) and the format version in the metadata,
// so the file also loads in Python tooling (safetensors.torch.load_file).
// The file is replaced atomically.
func (m *Model) Save(path string) error {
	cfg, err := json.Marshal(m.Config)
	if err != nil {
		return fmt.Errorf("models: save: %w", err)
	}
	ts := make([]CheckpointTensor, len(m.Params))
	for i, p := range m.Params {
		ts[i] = CheckpointTensor{Name: p.Name, Shape: append([]int(nil), p.Value.Shape()...)}
		switch d := p.Value.Data().(type) {
		case []float32:
			ts[i].F32 = d
		case []float64:
			ts[i].F64 = d
		default:
			return fmt.Errorf("models: save: parameter %s has unsupported type %T", p.Name, d)
		}
	}
	meta := map[string]string{MetaFormat: formatName, MetaVersion: strconv.Itoa(FormatVersion), MetaConfig: string(cfg)}
	return WriteCheckpoint(path, ts, meta)
}

// Load reads a model written by Save. It checks the format and version, the
// architecture, and every parameter's name, shape and dtype, and reports
// the first mismatch.
func Load(path string) (*Model, error) {
	ts, meta, err := ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if meta[MetaFormat] != formatName {
		return nil, fmt.Errorf("models: %s: not a saved model (metadata %q is %q)", path, MetaFormat, meta[MetaFormat])
	}
	if v := meta[MetaVersion]; v != strconv.Itoa(FormatVersion) {
		return nil, fmt.Errorf("models: %s: format version %q; this library reads %d", path, v, FormatVersion)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(meta[MetaConfig]), &cfg); err != nil {
		return nil, fmt.Errorf("models: %s: bad architecture metadata: %w", path, err)
	}
	m, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", path, err)
	}
	if len(ts) != len(m.Params) {
		return nil, fmt.Errorf("models: %s: %d tensors; the %s architecture has %d parameters", path, len(ts), cfg.Arch, len(m.Params))
	}
	for i, p := range m.Params {
		t := ts[i]
		if t.Name != p.Name {
			return nil, fmt.Errorf("models: %s: tensor %d is %q; want %q", path, i, t.Name, p.Name)
		}
		if !tensor.Shape(t.Shape).Eq(p.Value.Shape()) {
			return nil, fmt.Errorf("models: %s: %s has shape %v; want %v", path, p.Name, t.Shape, p.Value.Shape())
		}
		switch d := p.Value.Data().(type) {
		case []float32:
			if t.F32 == nil {
				return nil, fmt.Errorf("models: %s: %s is float64; the model is float32", path, p.Name)
			}
			copy(d, t.F32)
		case []float64:
			if t.F64 == nil {
				return nil, fmt.Errorf("models: %s: %s is float32; the model is float64", path, p.Name)
			}
			copy(d, t.F64)
		}
	}
	return m, nil
}
