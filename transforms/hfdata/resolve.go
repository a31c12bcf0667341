// Package hfdata finds the data files of a Hugging Face dataset repository
// and the split each belongs to, as the datasets library's load_dataset
// does, from the repository's file list and its dataset card:
//
//   - a configuration of the card's `configs:` section (the named one, else
//     the default: the only one, the one named "default" or marked
//     `default: true`), whose data_files patterns (per split) are resolved
//     in its data_dir;
//   - else, or in a folder given as data dir, the default patterns, the
//     first kind that matches anything: sharded names
//     data/SPLIT-00000-of-00001.*, then split-named folders
//     (train/, validation/, dev/, test/, eval/ ... anywhere, also as
//     prefix or suffix: train-en/), then split-named files (train.jsonl,
//     my_test-0.parquet), then every file as the train split.
//
// Patterns follow Python's glob as fsspec applies it (hfhub.CompileGlob).
// Hidden files and folders, folders starting with "__" and the card's own
// files (README.md, dataset_infos.json...) are left out unless a pattern
// names them. As datasets infers one loader for all files, only the most
// common format is kept; it must be one winnow reads (Parquet, JSON Lines).
package hfdata

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/winnowlabs/winnow/transforms/hfhub"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

// Options choose what to resolve.
type Options struct {
	// Config names a configuration of the dataset card; for a card without
	// configurations it names a folder (a subset laid out as CONFIG/...).
	Config string
	// DataDir is a folder whose files are resolved with the default
	// patterns (load_dataset's data_dir); it overrides the card's
	// data_files.
	DataDir string
	// Splits keeps only these splits, by the dataset's names (all when
	// empty).
	Splits []string
}

// Split is the data files of one split.
type Split struct {
	// Name is the dataset's split name: train, validation, test, or its
	// own (train_sft...).
	Name string
	// Files are repository paths, sorted.
	Files []string
}

// Selection is what Resolve found.
type Selection struct {
	// Config is the configuration used ("" when the card has none).
	Config string
	// Dir is the folder the patterns were resolved in ("" for the root).
	Dir string
	// Splits in the dataset's order (train, validation, test, then others
	// as listed).
	Splits []Split
	// Unsplit is set when no pattern named a split and every file was
	// taken as train.
	Unsplit bool
	// Format is the data files' format: "parquet" or "json".
	Format string
}

// Files returns every selected file.
func (s *Selection) Files() []string {
	var out []string
	for _, sp := range s.Splits {
		out = append(out, sp.Files...)
	}
	return out
}

// Resolve finds the data files of a dataset repository (named by repo in
// messages) from its file paths and its README.md (nil when it has none).
func Resolve(repo string, files []string, readme []byte, o Options) (*Selection, error) {
	configs, err := ParseCard(readme)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", repo, err)
	}
	sel := &Selection{Dir: cleanDir(o.DataDir)}
	var patterns []SplitPatterns
	switch {
	case o.DataDir != "":
	case len(configs) > 0:
		c, err := chooseConfig(repo, configs, o.Config)
		if err != nil {
			return nil, err
		}
		sel.Config, sel.Dir, patterns = c.Name, cleanDir(c.DataDir), c.DataFiles
	case o.Config != "":
		sel.Dir = cleanDir(o.Config)
		if len(under(files, sel.Dir)) == 0 {
			return nil, fmt.Errorf("dataset %s has no configurations in its README.md and no folder %s", repo, sel.Dir)
		}
	}
	local := under(files, sel.Dir)
	if patterns == nil {
		patterns, sel.Unsplit = defaultPatterns(local)
		if patterns == nil {
			return nil, fmt.Errorf("dataset %s has no data files%s (it holds %s)", repo, inDir(sel.Dir), someFiles(files))
		}
	}
	var all []string
	for _, sp := range patterns {
		matched, err := match(local, sp.Patterns)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: split %s: %w", repo, sp.Split, err)
		}
		for i := range matched {
			matched[i] = path.Join(sel.Dir, matched[i])
		}
		sel.Splits = append(sel.Splits, Split{Name: sp.Split, Files: matched})
		all = append(all, matched...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("dataset %s: no data files match %s%s (it holds %s)", repo, describe(patterns), inDir(sel.Dir), someFiles(files))
	}
	if sel.Format, err = keepOneFormat(repo, sel); err != nil {
		return nil, err
	}
	if err := keepSplits(repo, sel, o.Splits); err != nil {
		return nil, err
	}
	return sel, nil
}

func cleanDir(d string) string {
	d = strings.Trim(path.Clean("/"+d), "/")
	return d
}

func inDir(d string) string {
	if d == "" {
		return ""
	}
	return " under " + d + "/"
}

// under returns the files below dir, relative to it.
func under(files []string, dir string) []string {
	if dir == "" {
		return files
	}
	var out []string
	for _, f := range files {
		if rel, ok := strings.CutPrefix(f, dir+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

func chooseConfig(repo string, configs []Config, name string) (Config, error) {
	names := make([]string, len(configs))
	for i, c := range configs {
		names[i] = c.Name
	}
	if name != "" {
		for _, c := range configs {
			if c.Name == name {
				return c, nil
			}
		}
		return Config{}, fmt.Errorf("dataset %s has no configuration %s (it has %s)", repo, name, strings.Join(names, ", "))
	}
	var def []Config
	for _, c := range configs {
		if len(configs) == 1 || c.Name == "default" || c.Default {
			def = append(def, c)
		}
	}
	switch len(def) {
	case 1:
		return def[0], nil
	case 0:
		return Config{}, fmt.Errorf("dataset %s has several configurations and no default: choose one of %s", repo, strings.Join(names, ", "))
	}
	return Config{}, fmt.Errorf("dataset %s marks several configurations as the default (%s, %s): choose one", repo, def[0].Name, def[1].Name)
}

var (
	splitKeywords = []struct {
		split    string
		keywords []string
	}{
		{"train", []string{"train", "training"}},
		{"validation", []string{"validation", "valid", "dev", "val"}},
		{"test", []string{"test", "testing", "eval", "evaluation"}},
	}
	// The datasets library's patterns for fsspec >= 2023.12; sep stands
	// for the characters that may surround a split keyword.
	dirPatterns  = []string{"**/{k}/**", "**/{k}[{sep}]*/**", "**/*[{sep}]{k}/**", "**/*[{sep}]{k}[{sep}]*/**"}
	filePatterns = []string{"**/{k}[{sep}]*", "**/*[{sep}]{k}[{sep}]*"}
	// shardedPattern is data/{split}-00000-of-00001*.* with the split free.
	shardedPattern = "data/{split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*"
	shardedSplit   = regexp.MustCompile(`^(.+)-[0-9]{5}-of-[0-9]{5}[^/]*\.[^/]*$`)
	splitName      = regexp.MustCompile(`^\w+(\.\w+)*$`)
)

// defaultPatterns picks the first kind of default pattern that matches a
// data file, as _get_data_files_patterns does; unsplit is set when that
// is the catch-all.
func defaultPatterns(files []string) (patterns []SplitPatterns, unsplit bool) {
	data := dataOnly(files)
	if len(data) == 0 {
		return nil, false
	}
	sharded := hfhub.MustCompileGlob(strings.Replace(shardedPattern, "{split}", "*", 1))
	found := map[string]bool{}
	for _, f := range data {
		if sharded.Match(f) {
			if m := shardedSplit.FindStringSubmatch(path.Base(f)); m != nil && splitName.MatchString(m[1]) {
				found[m[1]] = true
			}
		}
	}
	if len(found) > 0 {
		for _, s := range orderSplits(found) {
			patterns = append(patterns, SplitPatterns{Split: s, Patterns: []string{strings.Replace(shardedPattern, "{split}", s, 1)}})
		}
		return patterns, false
	}
	for _, bases := range [][]string{dirPatterns, filePatterns} {
		for _, sk := range splitKeywords {
			var ps []string
			for _, k := range sk.keywords {
				for _, b := range bases {
					ps = append(ps, strings.NewReplacer("{k}", k, "{sep}", "-._ 0-9").Replace(b))
				}
			}
			if m, _ := match(data, ps); len(m) > 0 {
				patterns = append(patterns, SplitPatterns{Split: sk.split, Patterns: ps})
			}
		}
		if patterns != nil {
			return patterns, false
		}
	}
	return []SplitPatterns{{Split: "train", Patterns: []string{"**"}}}, true
}

// orderSplits puts train, validation and test first, then the others
// sorted.
func orderSplits(found map[string]bool) []string {
	var out, rest []string
	for _, s := range []string{"train", "validation", "test"} {
		if found[s] {
			out = append(out, s)
		}
	}
	for s := range found {
		if s != "train" && s != "validation" && s != "test" {
			rest = append(rest, s)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// ignored are the repository files no pattern takes unless it names them.
var ignored = map[string]bool{
	"README.md": true, "config.json": true, "dataset_info.json": true, "dataset_infos.json": true,
	"dummy_data.zip": true, "dataset_dict.json": true,
}

// match returns the data files matching any of patterns, sorted.
func match(files, patterns []string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		g, err := hfhub.CompileGlob(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			base := path.Base(f)
			if !g.Match(f) || (ignored[base] && path.Base(p) != base) || !isData(f) {
				continue
			}
			if count(f, hiddenPart) != count(p, hiddenPart) || count(path.Dir(f), specialPart) != count(path.Dir(p), specialPart) {
				continue
			}
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return dedupe(out), nil
}

func hiddenPart(s string) bool  { return strings.HasPrefix(s, ".") && strings.Trim(s, ".") != "" }
func specialPart(s string) bool { return strings.HasPrefix(s, "__") }

// count counts the path elements of p that satisfy f.
func count(p string, f func(string) bool) int {
	n := 0
	for _, part := range strings.Split(p, "/") {
		if f(part) {
			n++
		}
	}
	return n
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// compressions are stripped before a file's format is read from its name.
var compressions = []string{".gz", ".zst", ".zstd", ".bz2", ".xz", ".lz4", ".zip"}

// formats maps the extensions the datasets library loads to their format.
var formats = map[string]string{
	".parquet": "parquet", ".geoparquet": "parquet", ".gpq": "parquet",
	".json": "json", ".jsonl": "json", ".ndjson": "json",
	".csv": "csv", ".tsv": "csv", ".txt": "text", ".arrow": "arrow",
	".xml": "xml", ".hdf5": "hdf5", ".h5": "hdf5", ".tar": "webdataset",
	".conll": "conll", ".conllu": "conll", ".lance": "lance",
	".jpg": "imagefolder", ".jpeg": "imagefolder", ".png": "imagefolder", ".webp": "imagefolder",
	".wav": "audiofolder", ".mp3": "audiofolder", ".flac": "audiofolder",
	".mp4": "videofolder", ".pdf": "pdffolder",
}

// formatOf reads a file's format from its name ("" for none the datasets
// library loads).
func formatOf(name string) string {
	lower := strings.ToLower(path.Base(name))
	for _, c := range compressions {
		lower = strings.TrimSuffix(lower, c)
	}
	return formats[path.Ext(lower)]
}

func isData(name string) bool { return formatOf(name) != "" }

func dataOnly(files []string) []string {
	var out []string
	for _, f := range files {
		if isData(f) && !ignored[path.Base(f)] {
			out = append(out, f)
		}
	}
	return out
}

// keepOneFormat keeps the files of the most common format (Parquet wins a
// tie), as datasets picks one loader for them all, and checks that winnow
// reads it.
func keepOneFormat(repo string, sel *Selection) (string, error) {
	counts := map[string]int{}
	for _, f := range sel.Files() {
		counts[formatOf(f)]++
	}
	best := ""
	for f, n := range counts {
		if best == "" || n > counts[best] || (n == counts[best] && (f == "parquet" || (best != "parquet" && f < best))) {
			best = f
		}
	}
	if best != "parquet" && best != "json" {
		return "", fmt.Errorf("dataset %s: its data files are %s (e.g. %s); winnow reads Parquet and JSON Lines", repo, best, firstOf(sel, best))
	}
	for i, sp := range sel.Splits {
		kept := sp.Files[:0]
		for _, f := range sp.Files {
			if formatOf(f) != best {
				continue
			}
			if _, ok := shardio.Detect(f); !ok {
				return "", fmt.Errorf("dataset %s: %s is compressed in a way winnow does not read (it reads .gz and .zst)", repo, f)
			}
			kept = append(kept, f)
		}
		sel.Splits[i].Files = kept
	}
	return best, nil
}

func firstOf(sel *Selection, format string) string {
	for _, f := range sel.Files() {
		if formatOf(f) == format {
			return f
		}
	}
	return ""
}

// keepSplits drops the splits not asked for, and the empty ones.
func keepSplits(repo string, sel *Selection, want []string) error {
	var names []string
	for _, sp := range sel.Splits {
		if len(sp.Files) > 0 {
			names = append(names, sp.Name)
		}
	}
	keep := map[string]bool{}
	for _, w := range want {
		found := false
		for _, n := range names {
			found = found || n == w
		}
		if !found {
			return fmt.Errorf("dataset %s%s has no split %s (it has %s)", repo, configNote(sel), w, strings.Join(names, ", "))
		}
		keep[w] = true
	}
	out := sel.Splits[:0]
	for _, sp := range sel.Splits {
		if len(sp.Files) > 0 && (len(want) == 0 || keep[sp.Name]) {
			out = append(out, sp)
		}
	}
	sel.Splits = out
	return nil
}

func configNote(sel *Selection) string {
	if sel.Config == "" {
		return ""
	}
	return " (configuration " + sel.Config + ")"
}

func describe(patterns []SplitPatterns) string {
	var parts []string
	for _, sp := range patterns {
		parts = append(parts, sp.Split+": "+strings.Join(sp.Patterns, ", "))
	}
	return strings.Join(parts, "; ")
}

func someFiles(files []string) string {
	if len(files) == 0 {
		return "no files"
	}
	if len(files) <= 5 {
		return strings.Join(files, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(files[:5], ", "), len(files)-5)
}
