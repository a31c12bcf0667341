// Package encoderref reads the encoder parity fixtures of
// testdata/encoder: the small random BERT models and the outputs a
// plain-PyTorch forward pass computed for them (reference.json, written by
// make_reference.py).
package encoderref

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// Tol is the largest difference from the float32 PyTorch reference that
// parity tests allow.
const Tol = 1e-4

// Reference is reference.json.
type Reference struct {
	Texts      []string `json:"texts"`
	Classifier struct {
		MaxLength int         `json:"max_length"`
		IDs       [][]int     `json:"ids"`
		Score     [][]float32 `json:"score"`
		Pooled    [][]float32 `json:"pooled"`
		CLS       [][]float32 `json:"cls"`
	} `json:"classifier"`
	Embedder struct {
		MaxLength int         `json:"max_length"`
		IDs       [][]int     `json:"ids"`
		Mean      [][]float32 `json:"mean"`
		CLS       [][]float32 `json:"cls"`
	} `json:"embedder"`
}

// ClassifierDir is the BertForSequenceClassification regressor's
// directory, EmbedderDir the sentence-transformers BertModel's.
func ClassifierDir(t testing.TB) string { return testutil.Testdata(t, "encoder/classifier") }

// EmbedderDir returns the sentence-transformers BertModel's directory.
func EmbedderDir(t testing.TB) string { return testutil.Testdata(t, "encoder/embedder") }

// Load reads reference.json.
func Load(t testing.TB) *Reference {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.Testdata(t, "encoder"), "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}
