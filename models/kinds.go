package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// A KindLoader loads a model directory whose manifest names its kind.
type KindLoader func(ctx context.Context, dir string, man *modeldir.Manifest, opts LoadOptions) (Classifier, error)

var kindLoaders = map[string]KindLoader{}

// registerKind makes Load dispatch manifests of kind to l. Kinds register
// from init functions of this package.
func registerKind(kind string, l KindLoader) {
	if _, dup := kindLoaders[kind]; dup {
		panic("models: kind registered twice: " + kind)
	}
	kindLoaders[kind] = l
}

// Kinds lists the model kinds Load knows, sorted.
func Kinds() []string {
	ks := []string{KindFastText}
	for k := range kindLoaders {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// HashFiles returns a hash over the named files of dir: the SHA-256 of one
// line "<name> <sha256 of its contents>" per file, in the given order. It
// identifies a model made of several files; the files may be on any
// filesystem.
func HashFiles(ctx context.Context, dir string, names []string) (string, error) {
	all := sha256.New()
	for _, name := range names {
		f, err := storage.Open(ctx, storage.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("model %s: %w", dir, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("model %s: read %s: %w", dir, name, err)
		}
		fmt.Fprintf(all, "%s %s\n", name, hex.EncodeToString(h.Sum(nil)))
	}
	return hex.EncodeToString(all.Sum(nil)), nil
}

// localCopies keeps one local copy per remote model directory.
var localCopies = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

// LocalDir returns dir itself when it is local, or a local copy of the
// named files of a model directory on an object store (made once per
// process, in a temporary directory), for loaders that read files from
// disk. Loaders hash what they read, so a copy that differs from what the
// driver planned with is still refused.
func LocalDir(ctx context.Context, dir string, names []string) (string, error) {
	if storage.IsLocal(dir) {
		return dir, nil
	}
	key := dir
	localCopies.Lock()
	defer localCopies.Unlock()
	if local, ok := localCopies.m[key]; ok {
		return local, nil
	}
	local, err := os.MkdirTemp("", "winnow-model-")
	if err != nil {
		return "", fmt.Errorf("copy model %s: %w", dir, err)
	}
	for _, name := range names {
		b, err := storage.ReadFile(ctx, storage.Join(dir, name))
		if err == nil {
			dst := filepath.Join(local, filepath.FromSlash(name))
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				err = os.WriteFile(dst, b, 0o644)
			}
		}
		if err != nil {
			os.RemoveAll(local)
			return "", fmt.Errorf("copy model %s: %s: %w", dir, name, err)
		}
	}
	localCopies.m[key] = local
	return local, nil
}
