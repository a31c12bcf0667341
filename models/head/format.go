package head

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/winnowlabs/winnow/models/safetensors"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// File names inside a head directory.
const (
	WeightsFile = "head.safetensors"
	MetaFile    = "head.json"
)

// Format and FormatVersion identify head.json.
const (
	Format        = "winnow-head"
	FormatVersion = 1
)

// meta is head.json.
type meta struct {
	Format   string      `json:"format"`
	Version  int         `json:"version"`
	Config   Config      `json:"config"`
	Labels   []string    `json:"labels,omitempty"`
	Range    *[2]float64 `json:"range,omitempty"`
	Training *Record     `json:"training,omitempty"`
}

// Number is a float64 that JSON encodes as null when it is not finite
// (an undefined metric, a diverged loss) and decodes null as NaN.
type Number float64

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	*n = Number(f)
	return err
}

func tensorName(layer int, kind string) string { return fmt.Sprintf("layers.%d.%s", layer, kind) }

// Marshal encodes the head as the contents of head.safetensors and
// head.json.
func (h *Head) Marshal() (weights, metaJSON []byte, err error) {
	if err := h.Config.Validate(); err != nil {
		return nil, nil, err
	}
	if err := h.check(); err != nil {
		return nil, nil, err
	}
	var ts []safetensors.Tensor
	for i, l := range h.Layers {
		ts = append(ts,
			safetensors.Tensor{Name: tensorName(i, "weight"), Shape: []int{l.Out, l.In}, F32: l.W},
			safetensors.Tensor{Name: tensorName(i, "bias"), Shape: []int{l.Out}, F32: l.B})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, map[string]string{"format": Format}); err != nil {
		return nil, nil, err
	}
	m := meta{Format: Format, Version: FormatVersion, Config: h.Config, Labels: h.Labels, Range: h.Range, Training: h.Training}
	metaJSON, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("head: encode %s: %w", MetaFile, err)
	}
	return buf.Bytes(), append(metaJSON, '\n'), nil
}

// Unmarshal decodes a head from the contents of head.safetensors and
// head.json; names are used in errors.
func Unmarshal(weights, metaJSON []byte) (*Head, error) {
	var m meta
	if err := json.Unmarshal(metaJSON, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", MetaFile, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s: format %q, want %q", MetaFile, m.Format, Format)
	}
	if m.Version != FormatVersion {
		return nil, fmt.Errorf("%s: format version %d, this build reads %d", MetaFile, m.Version, FormatVersion)
	}
	if err := m.Config.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", MetaFile, err)
	}
	f, err := safetensors.NewFile(WeightsFile, bytes.NewReader(weights), int64(len(weights)))
	if err != nil {
		return nil, err
	}
	h := &Head{Config: m.Config, Labels: m.Labels, Range: m.Range, Training: m.Training}
	dims := m.Config.dims()
	for i, d := range dims {
		l := Layer{In: d[0], Out: d[1]}
		for _, t := range []struct {
			kind  string
			dst   *[]float32
			shape []int
		}{{"weight", &l.W, []int{d[1], d[0]}}, {"bias", &l.B, []int{d[1]}}} {
			name := tensorName(i, t.kind)
			info := f.Info(name)
			if info == nil {
				return nil, fmt.Errorf("%s: no tensor %q", WeightsFile, name)
			}
			if info.DType != safetensors.F32 || !slices.Equal(info.Shape, t.shape) {
				return nil, fmt.Errorf("%s: tensor %q is %s %v, want F32 %v", WeightsFile, name, info.DType, info.Shape, t.shape)
			}
			if *t.dst, _, err = f.Float32(name); err != nil {
				return nil, err
			}
		}
		h.Layers = append(h.Layers, l)
	}
	if n := len(f.Names()); n != 2*len(dims) {
		return nil, fmt.Errorf("%s: %d tensors, a %d-layer head has %d", WeightsFile, n, len(dims), 2*len(dims))
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", WeightsFile, err)
	}
	return h, nil
}

// Save writes head.safetensors and head.json into dir (local, gs://,
// s3:// or memfs://), each atomically.
func (h *Head) Save(ctx context.Context, dir string) error {
	w, m, err := h.Marshal()
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, storage.Join(dir, WeightsFile), w); err != nil {
		return fmt.Errorf("head: %w", err)
	}
	if err := storage.WriteFile(ctx, storage.Join(dir, MetaFile), m); err != nil {
		return fmt.Errorf("head: %w", err)
	}
	return nil
}

// Load reads a head saved by Save from dir.
func Load(ctx context.Context, dir string) (*Head, error) {
	w, err := storage.ReadFile(ctx, storage.Join(dir, WeightsFile))
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	m, err := storage.ReadFile(ctx, storage.Join(dir, MetaFile))
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	h, err := Unmarshal(w, m)
	if err != nil {
		return nil, fmt.Errorf("head %s: %w", dir, err)
	}
	return h, nil
}
