package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/winnowlabs/winnow/models/safetensors"
)

// Checkpoint file names of a Hugging Face model directory.
const (
	weightsFile = "model.safetensors"
	indexFile   = "model.safetensors.index.json"
)

// checkpoint is the safetensors weights of a model directory, in one file
// or sharded with an index. Tensors are read as float32 from any float
// dtype.
type checkpoint struct {
	files []*safetensors.File
	where map[string]*safetensors.File // tensor name → its file
	used  map[string]bool
	// prefix is "bert." when the encoder's tensors carry it
	// (BertForSequenceClassification), "" otherwise (BertModel).
	prefix string
}

// openCheckpoint opens dir's model.safetensors, or the shards that
// model.safetensors.index.json lists.
func openCheckpoint(dir string) (*checkpoint, error) {
	c := &checkpoint{where: map[string]*safetensors.File{}, used: map[string]bool{}}
	indexPath := filepath.Join(dir, indexFile)
	b, err := os.ReadFile(indexPath)
	switch {
	case err == nil:
		err = c.openShards(dir, indexPath, b)
	case errors.Is(err, os.ErrNotExist):
		err = c.open(filepath.Join(dir, weightsFile))
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("encoder: %s has neither %s nor %s (PyTorch .bin checkpoints are not read: convert them to safetensors)",
				dir, weightsFile, indexFile)
		}
	default:
		err = fmt.Errorf("encoder: %w", err)
	}
	if err != nil {
		c.close()
		return nil, err
	}
	if c.where["bert.embeddings.word_embeddings.weight"] != nil {
		c.prefix = "bert."
	}
	return c, nil
}

func (c *checkpoint) open(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	c.files = append(c.files, f)
	for _, name := range f.Names() {
		c.where[name] = f
	}
	return nil
}

func (c *checkpoint) openShards(dir, indexPath string, index []byte) error {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		return fmt.Errorf("encoder: parse %s: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("encoder: %s has an empty weight_map", indexPath)
	}
	var shards []string
	for _, shard := range idx.WeightMap {
		if shard != filepath.Base(shard) {
			return fmt.Errorf("encoder: %s: shard %q is not a file name in the model directory", indexPath, shard)
		}
		shards = append(shards, shard)
	}
	sort.Strings(shards)
	for _, shard := range slices.Compact(shards) {
		if err := c.open(filepath.Join(dir, shard)); err != nil {
			return err
		}
	}
	for name, shard := range idx.WeightMap {
		f := c.where[name]
		if f == nil || filepath.Base(f.Path()) != shard {
			return fmt.Errorf("encoder: %s maps tensor %q to %s, which does not hold it", indexPath, name, shard)
		}
	}
	return nil
}

func (c *checkpoint) close() {
	for _, f := range c.files {
		f.Close()
	}
}

// has reports whether the checkpoint holds name.
func (c *checkpoint) has(name string) bool { return c.where[name] != nil }

// read returns tensor name as float32, checking its shape.
func (c *checkpoint) read(name string, shape ...int) ([]float32, error) {
	f := c.where[name]
	if f == nil {
		return nil, fmt.Errorf("encoder: tensor %q is missing from %s", name, c.describe())
	}
	data, got, err := f.Float32(name)
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	if !slices.Equal(got, shape) {
		return nil, fmt.Errorf("encoder: tensor %q in %s has shape %v, want %v", name, f.Path(), got, shape)
	}
	c.used[name] = true
	return data, nil
}

// readNorm reads a LayerNorm's scale and shift, named weight/bias or, in
// checkpoints converted from TensorFlow, gamma/beta.
func (c *checkpoint) readNorm(name string, dim int) (scale, shift []float32, err error) {
	w, b := name+".weight", name+".bias"
	if !c.has(w) && c.has(name+".gamma") {
		w, b = name+".gamma", name+".beta"
	}
	if scale, err = c.read(w, dim); err != nil {
		return nil, nil, err
	}
	if shift, err = c.read(b, dim); err != nil {
		return nil, nil, err
	}
	return scale, shift, nil
}

// describe names the checkpoint's file(s) in errors.
func (c *checkpoint) describe() string {
	if len(c.files) == 1 {
		return c.files[0].Path()
	}
	names := make([]string, len(c.files))
	for i, f := range c.files {
		names[i] = f.Path()
	}
	return strings.Join(names, ", ")
}

// unused returns the names of tensors no read asked for, except the
// position_ids buffer older checkpoints store.
func (c *checkpoint) unused() []string {
	var out []string
	for name := range c.where {
		if !c.used[name] && !strings.HasSuffix(name, "embeddings.position_ids") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
