// Package modeldir reads and writes a model directory's manifest.
//
// A model directory holds the model file (for fastText, model.bin or
// model.ftz) and manifest.json, which carries everything inference needs to
// reproduce training's view of the text: the model kind, its labels, the
// normalizer (name and version) and tokenizer hash, the training arguments,
// a fingerprint of the training data and the evaluation metrics.
package modeldir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/winnowlabs/winnow/transforms/normalize"
)

// ManifestName is the manifest's file name inside a model directory.
const ManifestName = "manifest.json"

// DataRef identifies one training input.
type DataRef struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Manifest describes a trained model.
type Manifest struct {
	// Kind is the model family: "fasttext", "model2vec", ...
	Kind string `json:"kind"`
	// File is the model file's name inside the directory.
	File       string         `json:"file"`
	Labels     []string       `json:"labels"`
	Normalizer normalize.Spec `json:"normalizer"`
	// TrainingArgs are the training hyper-parameters as the trainer names them.
	TrainingArgs map[string]any `json:"training_args,omitempty"`
	// TrainingData lists the inputs; Fingerprint is a SHA-256 over them.
	TrainingData []DataRef `json:"training_data,omitempty"`
	Fingerprint  string    `json:"training_data_fingerprint,omitempty"`
	// Metrics holds evaluation results keyed by split name.
	Metrics     map[string]any `json:"metrics,omitempty"`
	CodeVersion string         `json:"code_version"`
	CreatedAt   time.Time      `json:"created_at"`
}

// ErrNoManifest is returned by Read when the directory has no manifest.
var ErrNoManifest = errors.New("model directory has no " + ManifestName)

// Read loads dir's manifest.
func Read(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoManifest)
	}
	if err != nil {
		return nil, fmt.Errorf("read model manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse model manifest %s: %w", p, err)
	}
	if m.Kind == "" || m.File == "" {
		return nil, fmt.Errorf("model manifest %s: missing kind or file", p)
	}
	return &m, nil
}

// Write stores m as dir's manifest, creating dir if needed. The file is
// written under a temporary name and renamed, so readers never see a partial
// manifest.
func Write(dir string, m *Manifest) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create model directory: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode model manifest: %w", err)
	}
	tmp := filepath.Join(dir, "."+ManifestName+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write model manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestName)); err != nil {
		return fmt.Errorf("commit model manifest: %w", err)
	}
	return nil
}

// ModelPath returns the model file's path inside dir.
func (m *Manifest) ModelPath(dir string) string { return filepath.Join(dir, m.File) }
