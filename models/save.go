package models

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/models/checkpoint"
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
func (m *Model) Save(path string) error { return m.save(path, nil) }

// LossPrefix starts the names of the loss parameters that SaveLoss writes
// after the model's ("loss.proxies").
const LossPrefix = "loss."

// SaveLoss is Save that also writes the parameters of loss (a ParamLoss
// such as losses.ProxyAnchor), named LossPrefix + their names, after the
// model's weights. Load reads such a file's model and ignores them;
// LoadLoss reads both.
func (m *Model) SaveLoss(path string, loss ParamLoss) error {
	if loss == nil {
		return fmt.Errorf("models: save %s: nil loss", path)
	}
	names, vals := loss.Params()
	if len(names) == 0 || len(names) != len(vals) {
		return fmt.Errorf("models: save %s: the loss has no parameters (%d names, %d tensors)", path, len(names), len(vals))
	}
	extra := make([]checkpoint.Tensor, len(names))
	for i, v := range vals {
		t, err := toCheckpoint(LossPrefix+names[i], v)
		if err != nil {
			return fmt.Errorf("models: save: %w", err)
		}
		extra[i] = t
	}
	return m.save(path, extra)
}

// toCheckpoint wraps v's data (not copied) as a checkpoint tensor.
func toCheckpoint(name string, v *tensor.Dense) (checkpoint.Tensor, error) {
	if v == nil {
		return checkpoint.Tensor{}, fmt.Errorf("parameter %s is nil", name)
	}
	t := checkpoint.Tensor{Name: name, Shape: append([]int(nil), v.Shape()...)}
	switch d := v.Data().(type) {
	case []float32:
		t.F32 = d
	case []float64:
		t.F64 = d
	default:
		return t, fmt.Errorf("parameter %s has unsupported type %T", name, d)
	}
	return t, nil
}

// save writes the model's weights followed by extra tensors.
func (m *Model) save(path string, extra []checkpoint.Tensor) error {
	if m == nil {
		return fmt.Errorf("models: save %s: nil model", path)
	}
	cfg, err := json.Marshal(m.Config)
	if err != nil {
		return fmt.Errorf("models: save: %w", err)
	}
	ts := make([]checkpoint.Tensor, len(m.Params))
	for i, p := range m.Params {
		ts[i] = checkpoint.Tensor{Name: p.Name, Shape: append([]int(nil), p.Value.Shape()...)}
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
	if err := checkpoint.Write(path, append(ts, extra...), meta); err != nil {
		return fmt.Errorf("models: save: %w", err)
	}
	return nil
}

// Load reads a model written by Save. It checks the format and version, the
// architecture (Config.Validate, including MaxParams), the data checksum,
// and every parameter's name, shape, dtype and finiteness against the
// architecture before it allocates the model, and reports the first
// mismatch.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("models: load: %w", err)
	}
	m, _, err := loadBytes(path, b)
	return m, err
}

// LoadLoss reads a file written by SaveLoss: it returns the model, as Load
// does, and gives loss the saved parameters (loss.SetParams checks their
// names, shapes and values; the dtype must be the model's).
func LoadLoss(path string, loss ParamLoss) (*Model, error) {
	if loss == nil {
		return nil, fmt.Errorf("models: load %s: nil loss", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("models: load: %w", err)
	}
	m, extra, err := loadBytes(path, b)
	if err != nil {
		return nil, err
	}
	if len(extra) == 0 {
		return nil, fmt.Errorf("models: %s: no loss parameters (the file was written by Save, not SaveLoss)", path)
	}
	names := make([]string, len(extra))
	vals := make([]*tensor.Dense, len(extra))
	for i, t := range extra {
		names[i] = strings.TrimPrefix(t.Name, LossPrefix)
		if (t.F64 != nil) != m.Config.Float64 {
			return nil, fmt.Errorf("models: %s: %s is not of the model's dtype %v", path, t.Name, m.Config.Dtype())
		}
		if t.F64 != nil {
			vals[i] = tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(t.F64))
		} else {
			vals[i] = tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(t.F32))
		}
	}
	if err := loss.SetParams(names, vals); err != nil {
		return nil, fmt.Errorf("models: %s: %w", path, err)
	}
	return m, nil
}

// loadBytes is Load on the content b of the file path; it also returns
// the tensors after the model's whose names start with LossPrefix.
func loadBytes(path string, b []byte) (*Model, []checkpoint.Tensor, error) {
	ts, meta, err := checkpoint.Decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("models: %s: %w", path, err)
	}
	var extra []checkpoint.Tensor
	for len(ts) > 0 && strings.HasPrefix(ts[len(ts)-1].Name, LossPrefix) {
		extra = append([]checkpoint.Tensor{ts[len(ts)-1]}, extra...)
		ts = ts[:len(ts)-1]
	}
	m, err := loadModel(path, ts, meta)
	return m, extra, err
}

// loadModel builds the model of a decoded file's tensors and metadata.
func loadModel(path string, ts []checkpoint.Tensor, meta map[string]string) (*Model, error) {
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
	// Everything is checked against the tensors of the file before any
	// weight is allocated, so the size of what New allocates is bounded by
	// the file itself (a config declaring a huge model is refused here).
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("models: %s: %w", path, err)
	}
	shapes := (&Model{Config: cfg}).shapes()
	if len(ts) != len(shapes) {
		return nil, fmt.Errorf("models: %s: %d tensors; the %s architecture has %d parameters", path, len(ts), cfg.Arch, len(shapes))
	}
	for i, s := range shapes {
		t := ts[i]
		if t.Name != s.name {
			return nil, fmt.Errorf("models: %s: tensor %d is %q; want %q", path, i, t.Name, s.name)
		}
		if !tensor.Shape(t.Shape).Eq(tensor.Shape(s.shape)) {
			return nil, fmt.Errorf("models: %s: %s has shape %v; want %v", path, s.name, t.Shape, tensor.Shape(s.shape))
		}
		if want := cfg.Float64; (t.F64 != nil) != want {
			have, model := "float32", "float32"
			if t.F64 != nil {
				have = "float64"
			}
			if want {
				model = "float64"
			}
			return nil, fmt.Errorf("models: %s: %s is %s; the model is %s", path, s.name, have, model)
		}
		if k, v, ok := firstNonFinite(t); ok {
			return nil, fmt.Errorf("models: %s: %s holds %v at index %d; weights must be finite", path, s.name, v, k)
		}
	}
	m, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", path, err)
	}
	for i, p := range m.Params {
		t := ts[i]
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

// firstNonFinite returns the index and value of the first NaN or ±Inf of t.
func firstNonFinite(t checkpoint.Tensor) (int, float64, bool) {
	for k, v := range t.F32 {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return k, f, true
		}
	}
	for k, v := range t.F64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return k, v, true
		}
	}
	return 0, 0, false
}
