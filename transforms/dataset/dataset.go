// Package dataset finds the shards of datasets and names their outputs.
//
// A dataset is a directory whose split subfolders (train/, valid/, test/,
// any subset; validation/, val/ and dev/ count as valid) hold shards, or a
// flat directory of shards (one unsplit corpus, split ""). Inputs may also be
// globs or single files. Names starting with "_" or "." (manifests, _errors/,
// completion markers, temporary files) are never inputs.
package dataset

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// File is one input shard.
type File struct {
	Path string
	Size int64
	// Split is the split the shard belongs to ("" for a flat corpus).
	Split string
	// Rel is the shard's path relative to its dataset root, with forward
	// slashes, e.g. "train/part-0.jsonl.zst".
	Rel string
	// Input is the index of the input (-i) the shard came from.
	Input int
}

// Splits, in their canonical order.
var Splits = []string{"train", "valid", "test"}

// CanonicalSplit maps a directory or file-name prefix to a split name, or
// returns "" when it names none.
func CanonicalSplit(name string) string {
	switch strings.ToLower(name) {
	case "train", "training":
		return "train"
	case "valid", "validation", "val", "dev":
		return "valid"
	case "test", "testing":
		return "test"
	}
	return ""
}

// Options tune discovery.
type Options struct {
	// FileNameSplits also takes the split from a Hugging Face style file
	// name prefix ("train-00000-of-00004.parquet") when no split folder
	// gives one.
	FileNameSplits bool
}

var hfFileSplit = regexp.MustCompile(`^([A-Za-z]+)[-_.]`)

// Discover lists the shards of every input: a directory (searched
// recursively), a glob, or a file.
func Discover(ctx context.Context, inputs []string, opts Options) ([]File, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("no input given")
	}
	var all []File
	for i, in := range inputs {
		files, err := discoverOne(ctx, in, opts)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no shards found (want .jsonl, .json or .ndjson, optionally .gz or .zst, or .parquet)", in)
		}
		for j := range files {
			files[j].Input = i
		}
		all = append(all, files...)
	}
	seen := map[string]bool{}
	// Output, marker and bad-row names drop the input's extension: two
	// shards of one input differing only by it would write the same files.
	stems := map[[2]string]string{}
	for _, f := range all {
		if seen[f.Path] {
			return nil, fmt.Errorf("%s is given twice among the inputs", f.Path)
		}
		seen[f.Path] = true
		stem := [2]string{strconv.Itoa(f.Input), shardio.StripExt(f.Rel)}
		if other, ok := stems[stem]; ok {
			return nil, fmt.Errorf("%s and %s differ only by their extension, so their outputs would have the same name: rename or move one of them", other, f.Path)
		}
		stems[stem] = f.Path
	}
	return all, nil
}

func discoverOne(ctx context.Context, in string, opts Options) ([]File, error) {
	in = strings.TrimSpace(in)
	var root string
	var paths []string
	switch {
	case storage.HasGlob(in):
		root = globRoot(in)
		matches, err := storage.List(ctx, in)
		if err != nil {
			return nil, err
		}
		paths = matches
	default:
		isDir, err := storage.IsDir(ctx, in)
		if err != nil {
			return nil, err
		}
		if isDir {
			root = storage.Clean(in)
			if paths, err = storage.ListTree(ctx, root); err != nil {
				return nil, err
			}
		} else {
			ok, err := storage.Exists(ctx, in)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%s: no such file or directory", in)
			}
			root = storage.Dir(in)
			paths = []string{in}
		}
	}
	// A split folder given directly (-i data/train) keeps its name in Rel, so
	// outputs land in a folder of the same split.
	if CanonicalSplit(storage.Base(root)) != "" {
		root = storage.Dir(root)
	}
	var files []File
	for _, p := range paths {
		rel, err := storage.Rel(root, p)
		if err != nil {
			return nil, err
		}
		if hidden(rel) {
			continue
		}
		if _, ok := shardio.Detect(p); !ok {
			continue
		}
		size, err := storage.Size(ctx, p)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: p, Size: size, Rel: rel, Split: splitOf(rel, opts)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Rel < files[j].Rel })
	return files, checkLayout(in, files)
}

// splitOf takes the split from the first path element under the root or,
// optionally, from a file-name prefix.
func splitOf(rel string, opts Options) string {
	parts := strings.Split(rel, "/")
	if len(parts) > 1 {
		if s := CanonicalSplit(parts[0]); s != "" {
			return s
		}
	}
	if opts.FileNameSplits {
		if m := hfFileSplit.FindStringSubmatch(parts[len(parts)-1]); m != nil {
			return CanonicalSplit(m[1])
		}
	}
	return ""
}

// checkLayout refuses a directory mixing split folders with unsplit shards.
func checkLayout(in string, files []File) error {
	var split, flat string
	for _, f := range files {
		if f.Split == "" {
			flat = f.Rel
		} else {
			split = f.Rel
		}
	}
	if split != "" && flat != "" {
		return fmt.Errorf("%s mixes split folders (%s) with shards outside them (%s)", in, split, flat)
	}
	return nil
}

func hidden(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, "_") || strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

func globRoot(glob string) string {
	i := strings.IndexAny(glob, "*?[")
	prefix := glob[:i]
	j := strings.LastIndex(prefix, "/")
	if j < 0 {
		return "."
	}
	if strings.HasSuffix(prefix[:j+1], "://") {
		return prefix[:j+1]
	}
	return prefix[:j]
}

// Layout names a step's outputs inside its output directory.
type Layout struct {
	Dir string
	// Ext is the output shards' extension, e.g. ".jsonl.zst".
	Ext string
	// MultiInput prefixes output names with the input's index, so inputs
	// with equal relative paths do not collide.
	MultiInput bool
}

// Output returns the output shard path for f: the same relative path, with
// the output extension.
func (l Layout) Output(f File) string {
	rel := l.rel(f)
	return storage.Join(l.Dir, shardio.StripExt(rel)+l.Ext)
}

func (l Layout) rel(f File) string {
	if !l.MultiInput {
		return f.Rel
	}
	dir, base := "", f.Rel
	if i := strings.LastIndex(f.Rel, "/"); i >= 0 {
		dir, base = f.Rel[:i+1], f.Rel[i+1:]
	}
	return fmt.Sprintf("%s%d-%s", dir, f.Input, base)
}

// ErrorsDir is where skipped bad rows go, beside the outputs.
const ErrorsDir = "_errors"

// DoneDir holds completion markers.
const DoneDir = "_done"

// Errors returns the path of f's bad-row sidecar.
func (l Layout) Errors(f File) string {
	return storage.Join(l.Dir, ErrorsDir, shardio.StripExt(l.rel(f))+".jsonl")
}

// Marker returns the path of f's completion marker.
func (l Layout) Marker(f File) string {
	return storage.Join(l.Dir, DoneDir, shardio.StripExt(l.rel(f))+".json")
}

// Task returns the shard task turning f into its output.
func (l Layout) Task(f File) shardmap.Task {
	return shardmap.Task{
		Input: f.Path, InputSize: f.Size, Split: f.Split, Rel: f.Rel,
		Output: l.Output(f), Errors: l.Errors(f), Marker: l.Marker(f),
	}
}

// Tasks returns the shard tasks of files.
func (l Layout) Tasks(files []File) []shardmap.Task {
	out := make([]shardmap.Task, len(files))
	for i, f := range files {
		out[i] = l.Task(f)
	}
	return out
}

// MeasureTasks returns output-less tasks that only read files.
func MeasureTasks(files []File) []shardmap.Task {
	out := make([]shardmap.Task, len(files))
	for i, f := range files {
		out[i] = shardmap.Task{Input: f.Path, InputSize: f.Size, Split: f.Split, Rel: f.Rel}
	}
	return out
}

// InputFiles lists files for a manifest.
func InputFiles(files []File) []shardmap.InputFile {
	out := make([]shardmap.InputFile, len(files))
	for i, f := range files {
		out[i] = shardmap.InputFile{Path: f.Path, Bytes: f.Size, Split: f.Split}
	}
	return out
}

// TotalSize sums the files' sizes.
func TotalSize(files []File) int64 {
	var n int64
	for _, f := range files {
		n += f.Size
	}
	return n
}

// CleanTemporaries removes temporary files that killed runs left in dir.
// Subdirectories that hold a lock of their own (another run's output) are
// left to that run.
func CleanTemporaries(ctx context.Context, dir string) error {
	ok, err := storage.IsDir(ctx, dir)
	if err != nil || !ok {
		return err
	}
	files, err := storage.ListTree(ctx, dir)
	if err != nil {
		return err
	}
	var locked []string
	for _, p := range files {
		if d := storage.Dir(p); storage.Base(p) == storage.LockName && d != storage.Clean(dir) {
			locked = append(locked, d)
		}
	}
	for _, p := range files {
		if !strings.HasPrefix(storage.Base(p), storage.TempPrefix) || inAny(p, locked) {
			continue
		}
		if err := storage.Remove(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// inAny reports whether p lies below one of dirs.
func inAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if _, err := storage.Rel(d, p); err == nil {
			return true
		}
	}
	return false
}
