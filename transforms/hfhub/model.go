package hfhub

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ModelFiles are the files a model snapshot holds by default, as
// allow_patterns: configurations and tokenizer files (config.json,
// tokenizer.json, tokenizer_config.json, special_tokens_map.json,
// modules.json, 1_Pooling/config.json, a winnow manifest.json, ...),
// safetensors weights with their index (0_StaticEmbedding/ included),
// WordPiece, BPE and SentencePiece vocabularies, and fastText models.
// PyTorch pickles, ONNX and other formats no loader reads are left out.
var ModelFiles = []string{
	"*.json",
	"*.safetensors",
	"vocab.txt", "merges.txt", "*.model",
	"0_StaticEmbedding/*",
	"model.bin", "*.ftz",
}

// ResolveModel maps a model path to a local one. An hf:// reference, or a
// bare OWNER/NAME that names no local file, is fetched from the Hub (or
// found in the cache) with a Client from the environment (FromEnv): the
// files matching allow (ModelFiles when nil), or the one file the
// reference's path names. It returns the local snapshot path and the
// reference; any other path comes back as it is, with a nil reference.
func ResolveModel(ctx context.Context, path string, allow []string) (string, *Ref, error) {
	ref, ok, err := ParseRef(path, Model)
	if err != nil {
		return "", nil, err
	}
	bare := false
	if !ok {
		if !bareID().MatchString(path) {
			return path, nil, nil
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			return path, nil, nil
		}
		ref, bare = Ref{Repo: ModelRepo(path, "")}, true
		if ref.Validate() != nil {
			return path, nil, nil
		}
	}
	local, err := FromEnv().Model(ctx, ref, allow)
	if err != nil {
		if bare {
			return "", nil, fmt.Errorf("model %s: no such file or directory, and not on the Hub: %w", path, err)
		}
		return "", nil, err
	}
	return local, &ref, nil
}

// Model fetches a model reference into the cache and returns its local
// path: the snapshot folder (or the folder the reference's path names)
// holding the files that match allow (ModelFiles when nil), or the file
// the reference's path names.
func (c *Client) Model(ctx context.Context, ref Ref, allow []string) (string, error) {
	if allow == nil {
		allow = ModelFiles
	}
	patterns := make([]Pattern, len(allow))
	for i, a := range allow {
		p, err := CompilePattern(a)
		if err != nil {
			return "", err
		}
		patterns[i] = p
	}
	info, err := c.Info(ctx, ref.Repo)
	if err != nil {
		return "", err
	}
	var names []string
	if _, ok := info.File(ref.Path); ok {
		names = []string{ref.Path}
	} else {
		prefix := ""
		if ref.Path != "" {
			prefix = ref.Path + "/"
		}
		var all []string
		for _, f := range info.Files {
			rel, ok := strings.CutPrefix(f.Path, prefix)
			if !ok {
				continue
			}
			all = append(all, rel)
			if matchAny(patterns, rel) {
				names = append(names, f.Path)
			}
		}
		switch {
		case len(all) == 0 && ref.Path != "":
			return "", c.newError(ErrEntryNotFound, info.Repo, ref.Path, 0, "")
		case len(names) == 0:
			return "", fmt.Errorf("%s holds none of the files a model needs (%s); it has %s", ref, strings.Join(allow, ", "), listSome(all))
		}
	}
	snap, err := c.Download(ctx, info, names)
	if err != nil {
		return "", err
	}
	return snap.Path(ref.Path), nil
}
