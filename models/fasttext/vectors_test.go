package fasttext

import (
	"math"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// TestVectorOracle checks word, subword and sentence vectors against the
// values the official fastText computes with the synthetic models.
func TestVectorOracle(t *testing.T) {
	var models []struct {
		Model           string               `json:"model"`
		Dim             int                  `json:"dim"`
		WordVectors     map[string][]float64 `json:"wordVectors"`
		WordIDs         map[string]int       `json:"wordIds"`
		SubwordIDs      map[string]int       `json:"subwordIds"`
		SubwordVectors  map[string][]float64 `json:"subwordVectors"`
		SentenceVectors map[string][]float64 `json:"sentenceVectors"`
	}
	testutil.ReadJSON(t, syntheticPath(t, "vectors_oracle.json"), &models)
	if len(models) != 4 {
		t.Fatalf("oracle has %d models", len(models))
	}
	for _, om := range models {
		t.Run(om.Model, func(t *testing.T) {
			m, err := Load(syntheticPath(t, om.Model))
			if err != nil {
				t.Fatal(err)
			}
			if m.Dim() != om.Dim {
				t.Fatalf("dim %d, want %d", m.Dim(), om.Dim)
			}
			check := func(what string, got []float32, want []float64) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
				}
				for i := range got {
					if math.Abs(float64(got[i])-want[i]) > 1e-6 {
						t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
						return
					}
				}
			}
			for w, id := range om.WordIDs {
				if got := m.WordID(w); got != id {
					t.Errorf("WordID(%q) = %d, want %d", w, got, id)
				}
			}
			for w, v := range om.WordVectors {
				check("word "+w, m.WordVector(w), v)
			}
			for s, id := range om.SubwordIDs {
				got := int(m.dict.nwords) + int(hashToken(s)%uint32(m.args.Bucket))
				if got != id {
					t.Errorf("subword id of %q = %d, want %d", s, got, id)
				}
				vec := make([]float32, m.Dim())
				m.computeHidden([]int32{int32(got)}, vec)
				check("subword "+s, vec, om.SubwordVectors[s])
			}
			for s, v := range om.SentenceVectors {
				check("sentence "+s, m.SentenceVector(s), v)
			}
		})
	}
}
