// Package hashfeat turns FineWeb-Edu rows (the bundled
// data/fineweb-edu-llama3-sample shards) into hashed bag-of-words
// features: a cheap, deterministic stand-in for pooled text embeddings in
// the tests and benchmarks of the heads.
package hashfeat

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unicode"

	"github.com/winnowlabs/winnow/transforms/shardio"
)

// Read returns the features of the shard at path (dim values a row:
// log(1+count) of each lowercase letter run hashed by FNV-1a into dim
// buckets, L2-normalised) and each row's "scores.score".
func Read(ctx context.Context, path string, dim int) (x []float32, scores []float64, err error) {
	v := make([]float64, dim)
	err = shardio.Each(ctx, path, func(line []byte, n int64) error {
		var row struct {
			Text   string `json:"text"`
			Scores struct {
				Score *float64 `json:"score"`
			} `json:"scores"`
		}
		if err := json.Unmarshal(line, &row); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if row.Scores.Score == nil {
			return fmt.Errorf("%s:%d: no scores.score", path, n)
		}
		clear(v)
		for _, w := range strings.FieldsFunc(strings.ToLower(row.Text), func(r rune) bool { return !unicode.IsLetter(r) }) {
			h := fnv.New32a()
			h.Write([]byte(w))
			v[h.Sum32()%uint32(dim)]++
		}
		var norm float64
		for j := range v {
			v[j] = math.Log1p(v[j])
			norm += v[j] * v[j]
		}
		norm = math.Sqrt(norm) + 1e-12
		for j := range v {
			x = append(x, float32(v[j]/norm))
		}
		scores = append(scores, *row.Scores.Score)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return x, scores, nil
}
