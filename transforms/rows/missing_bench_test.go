package rows

import (
	"encoding/json"
	"testing"

	"github.com/itchyny/gojq"
)

// BenchmarkFieldChecks compares an expression compiled by Compile (every
// field read checked for presence) with the same expression compiled by
// gojq alone, on one FineWeb-Edu-shaped row.
func BenchmarkFieldChecks(b *testing.B) {
	var row map[string]any
	if err := json.Unmarshal([]byte(`{"id":"x","text":"some text","scores":{"score":3,"score_transform_1":1}}`), &row); err != nil {
		b.Fatal(err)
	}
	for _, src := range []string{
		`{score: (if .scores.score < 3 then "neg" else "pos" end)}`,
		`{id, text}`,
	} {
		checked := MustCompile(src)
		q, err := gojq.Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		plain, err := gojq.Compile(q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("checked "+src, func(b *testing.B) {
			for b.Loop() {
				if _, err := checked.Eval(row); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("plain "+src, func(b *testing.B) {
			for b.Loop() {
				iter := plain.Run(row)
				for {
					if _, ok := iter.Next(); !ok {
						break
					}
				}
			}
		})
	}
}
