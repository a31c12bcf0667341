package encoder

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
)

// candidateFiles are the files of a model directory that Load may read,
// besides the shards of a sharded checkpoint.
var candidateFiles = []string{
	"config.json", weightsFile, indexFile, "tokenizer.json", "tokenizer_config.json",
	"modules.json", "1_Pooling/config.json", "sentence_bert_config.json",
}

// Files lists the files of a model directory that Load reads (relative
// names with forward slashes, sorted), for hashing a model and copying it
// from an object store. The directory is seen through exists and read, so
// that it may be on any filesystem; a sentence-transformers pooling module
// must be in 1_Pooling/.
func Files(exists func(name string) (bool, error), read func(name string) ([]byte, error)) ([]string, error) {
	var names []string
	for _, name := range candidateFiles {
		ok, err := exists(name)
		if err != nil {
			return nil, err
		}
		if ok {
			names = append(names, name)
		}
	}
	if slices.Contains(names, indexFile) {
		b, err := read(indexFile)
		if err != nil {
			return nil, err
		}
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, fmt.Errorf("encoder: parse %s: %w", indexFile, err)
		}
		for _, shard := range idx.WeightMap {
			if shard != path.Base(shard) {
				return nil, fmt.Errorf("encoder: %s: shard %q is not a file name in the model directory", indexFile, shard)
			}
			names = append(names, shard)
		}
	}
	sort.Strings(names)
	return slices.Compact(names), nil
}

// WeightsFile returns the name of the checkpoint file among a model
// directory's files (as Files lists them): model.safetensors.index.json
// for a sharded checkpoint, else model.safetensors; "" when there is none.
func WeightsFile(files []string) string {
	for _, name := range []string{indexFile, weightsFile} {
		if slices.Contains(files, name) {
			return name
		}
	}
	return ""
}
