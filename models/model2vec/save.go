package model2vec

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/winnowlabs/winnow/models/safetensors"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Save writes the model to dir in the Model2Vec layout that the Python
// library loads unchanged: model.safetensors ("embeddings" as F32, and
// "weights" F32 and "mapping" I32 when the model has them), config.json
// (the loaded config with normalize, embedding_dtype and
// vocabulary_quantization set as the library sets them), tokenizer.json
// (the model's, byte for byte) and the library's modules.json. Each file is
// written under a temporary name and renamed into place.
func (m *Model) Save(dir string) error {
	tokJSON, err := os.ReadFile(m.tok.Path())
	if err != nil {
		return fmt.Errorf("model2vec: save: %w", err)
	}
	if sum := sha256.Sum256(tokJSON); hex.EncodeToString(sum[:]) != m.tok.Hash() {
		return fmt.Errorf("model2vec: save: %s changed since the model was loaded", m.tok.Path())
	}
	tensors := []safetensors.Tensor{{Name: "embeddings", Shape: []int{m.rows, m.dim}, DType: safetensors.F32, F32: m.table}}
	if m.weights != nil {
		tensors = append(tensors, safetensors.Tensor{Name: "weights", Shape: []int{len(m.weights)}, DType: safetensors.F32, F32: m.weights})
	}
	if m.mapping != nil {
		rows := make([]int64, len(m.mapping))
		for i, r := range m.mapping {
			rows[i] = int64(r)
		}
		tensors = append(tensors, safetensors.Tensor{Name: "mapping", Shape: []int{len(rows)}, DType: safetensors.I32, I64: rows})
	}
	var model bytes.Buffer
	if err := safetensors.Write(&model, tensors, nil); err != nil {
		return fmt.Errorf("model2vec: save: %w", err)
	}

	config := make(map[string]any, len(m.config)+3)
	for k, v := range m.config {
		config[k] = v
	}
	config["normalize"] = m.normalize
	config["embedding_dtype"] = "float32"
	delete(config, "vocabulary_quantization")
	if m.mapping != nil {
		config["vocabulary_quantization"] = m.rows
	}
	configJSON, err := json.MarshalIndent(config, "", "    ")
	if err != nil {
		return fmt.Errorf("model2vec: save config: %w", err)
	}

	modules := []map[string]any{{"idx": 0, "name": "0", "path": ".", "type": "sentence_transformers.models.StaticEmbedding"}}
	if m.normalize {
		modules = append(modules, map[string]any{"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"})
	}
	modulesJSON, err := json.MarshalIndent(modules, "", "    ")
	if err != nil {
		return fmt.Errorf("model2vec: save modules: %w", err)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model2vec: save: %w", err)
	}
	ctx := context.Background()
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"model.safetensors", model.Bytes()},
		{"tokenizer.json", tokJSON},
		{"modules.json", modulesJSON},
		{"config.json", configJSON}, // last: the directory is a model once it exists
	} {
		if err := storage.WriteFile(ctx, filepath.Join(dir, f.name), f.data); err != nil {
			return fmt.Errorf("model2vec: save: %w", err)
		}
	}
	return nil
}
