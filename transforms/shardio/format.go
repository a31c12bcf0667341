// Package shardio reads and writes dataset shards.
//
// A shard is one file of JSON rows: JSON Lines (.jsonl, .json or .ndjson, one
// object per line), plain or compressed with gzip (.gz) or zstd (.zst,
// .zstd), or Parquet (.parquet), whose rows are read as JSON objects. Shards
// are written as JSON Lines (.jsonl.zst by default, .jsonl.gz or .jsonl),
// under a temporary name that is renamed into place only when the shard is
// complete, so a reader never sees a partial shard.
package shardio

import (
	"fmt"
	"strings"
)

// Format is a shard's row encoding.
type Format int

// Row encodings.
const (
	JSONL Format = iota
	Parquet
)

// Compression is a JSON Lines shard's compression.
type Compression string

// Compressions; the value is the file-name suffix.
const (
	None Compression = ""
	Gzip Compression = ".gz"
	Zstd Compression = ".zst"
)

// ParseCompression maps a user-facing name (zst, zstd, gz, gzip, none) to a
// Compression; the empty name means the default, zstd.
func ParseCompression(name string) (Compression, error) {
	switch strings.ToLower(strings.TrimPrefix(name, ".")) {
	case "", "zst", "zstd", "jsonl.zst":
		return Zstd, nil
	case "gz", "gzip", "jsonl.gz":
		return Gzip, nil
	case "none", "jsonl":
		return None, nil
	}
	return None, fmt.Errorf("unknown compression %q (want zst, gz or none)", name)
}

// Ext returns the file-name extension of a JSON Lines shard with c.
func (c Compression) Ext() string { return ".jsonl" + string(c) }

// TextExt is the extension of plain-text line files (e.g. fastText input),
// which Create writes like JSON Lines but readers do not take as shards.
const TextExt = ".txt"

// Kind describes how to read a file.
type Kind struct {
	Format      Format
	Compression Compression
	// Ext is the whole recognised extension, e.g. ".jsonl.zst".
	Ext string
}

var jsonExts = []string{".jsonl", ".json", ".ndjson"}

// Detect returns how to read the file at path, judged by its extension, and
// false when the file is not a shard winnow reads.
func Detect(path string) (Kind, bool) {
	lower := strings.ToLower(path)
	if strings.HasSuffix(lower, ".parquet") {
		return Kind{Format: Parquet, Ext: ".parquet"}, true
	}
	comp := None
	switch {
	case strings.HasSuffix(lower, ".gz"):
		comp = Gzip
	case strings.HasSuffix(lower, ".zst"):
		comp = Zstd
	case strings.HasSuffix(lower, ".zstd"):
		comp = ".zstd"
	}
	base := strings.TrimSuffix(lower, string(comp))
	for _, e := range jsonExts {
		if strings.HasSuffix(base, e) {
			if comp == ".zstd" {
				return Kind{Format: JSONL, Compression: Zstd, Ext: e + ".zstd"}, true
			}
			return Kind{Format: JSONL, Compression: comp, Ext: e + string(comp)}, true
		}
	}
	return Kind{}, false
}

// StripExt removes a recognised shard extension from name.
func StripExt(name string) string {
	if k, ok := Detect(name); ok {
		return name[:len(name)-len(k.Ext)]
	}
	return name
}
