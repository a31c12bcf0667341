// Package reshuffle rewrites datasets into new, shuffled shards: the import
// and reshard steps. Rows are counted first; every row then gets a position
// in a seeded pseudo-random permutation of its group (sampling.Permutation),
// which decides its split, its output shard and its place inside that shard.
// Rows travel to their output shard through a GroupByKey and each shard is
// written sorted by position, so the output is deterministic and the
// shuffle never needs all rows in one place.
package reshuffle

import (
	"fmt"
	"math"
	"sort"

	"github.com/winnowlabs/winnow/transforms/sampling"
	"github.com/winnowlabs/winnow/transforms/storage"
	"github.com/winnowlabs/winnow/transforms/summary"
)

// Mode selects the naming and grouping rules.
type Mode string

// Modes.
const (
	// Import keeps the input's splits, carves missing test/valid splits out
	// of train and writes <split>/part-NNNNN shards of RowsPerFile rows.
	Import Mode = "import"
	// Reshard writes NumFiles shards named shard_N. Without a re-split each
	// input split is resharded on its own; with one, all rows are pooled and
	// split anew.
	Reshard Mode = "reshard"
)

// Args configure a reshuffle.
type Args struct {
	Mode Mode  `json:"mode"`
	Seed int64 `json:"seed"`
	// TestSplit and ValidSplit are fractions (<1) or row counts (≥1); 0
	// means none requested.
	TestSplit  float64 `json:"test_split,omitempty"`
	ValidSplit float64 `json:"valid_split,omitempty"`
	// RowsPerFile sizes import shards; NumFiles is reshard's total.
	RowsPerFile int64 `json:"rows_per_file,omitempty"`
	NumFiles    int   `json:"num_files,omitempty"`
	// Dir is the output directory and Ext the shards' extension.
	Dir string `json:"dir"`
	Ext string `json:"ext"`
}

// segment is a run of positions of a group's permutation going to one split.
type segment struct {
	split string
	start int64
	n     int64
	files []string
}

type group struct {
	perm     *sampling.Permutation
	offsets  map[string]int64 // input → index of its first row in the group
	segments []segment
}

// Plan says where every row goes.
type Plan struct {
	groups map[string]*group // by input split
	// Files lists every output shard with its split, sorted by path.
	Files []OutputFile
}

// File returns the planned output shard at path.
func (p *Plan) File(path string) (OutputFile, bool) {
	i := sort.Search(len(p.Files), func(i int) bool { return p.Files[i].Path >= path })
	if i < len(p.Files) && p.Files[i].Path == path {
		return p.Files[i], true
	}
	return OutputFile{}, false
}

// OutputFile is one planned output shard.
type OutputFile struct {
	Path  string
	Split string
	Rows  int64
}

// NewPlan computes the plan from the counted inputs.
func NewPlan(a Args, sum *summary.Summary) (*Plan, error) {
	switch a.Mode {
	case Import:
		if a.RowsPerFile <= 0 {
			return nil, fmt.Errorf("rows per file must be positive")
		}
	case Reshard:
		if a.NumFiles <= 0 {
			return nil, fmt.Errorf("the number of files must be positive")
		}
	default:
		return nil, fmt.Errorf("unknown reshuffle mode %q", a.Mode)
	}
	// Group the inputs: by split, except a reshard that re-splits pools all.
	pool := a.Mode == Reshard && (a.TestSplit > 0 || a.ValidSplit > 0)
	groupOf := func(split string) string {
		if pool {
			return "*"
		}
		return split
	}
	p := &Plan{groups: map[string]*group{}}
	counts := map[string]int64{}
	var order []string
	for _, t := range sum.Tasks { // sorted by input
		g := groupOf(t.Split)
		gr, ok := p.groups[g]
		if !ok {
			gr = &group{offsets: map[string]int64{}}
			p.groups[g] = gr
			order = append(order, g)
		}
		gr.offsets[t.Input] = counts[g]
		counts[g] += t.Rows
	}
	sort.Strings(order)
	for _, g := range order {
		p.groups[g].perm = sampling.NewPermutation(uint64(counts[g]), sampling.Seed(a.Seed, "reshuffle", g))
	}

	// Segments: which positions of each group go to which split.
	if a.Mode == Import {
		if err := p.importSegments(a, counts); err != nil {
			return nil, err
		}
	} else if err := p.reshardSegments(a, counts, pool); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Plan) importSegments(a Args, counts map[string]int64) error {
	var splits []string
	for s := range p.groups {
		splits = append(splits, s)
	}
	if err := CheckImportSplits(a, splits); err != nil {
		return err
	}
	// An unsplit input is the train split.
	if g, ok := p.groups[""]; ok {
		p.groups["train"], counts["train"] = g, counts[""]
		delete(p.groups, "")
	}
	for split, g := range p.groups {
		n := counts[split]
		if split != "train" {
			g.segments = []segment{{split: split, n: n}}
			continue
		}
		nTest, err := sampling.Fraction(a.TestSplit, n)
		if err != nil {
			return fmt.Errorf("test split: %w", err)
		}
		nValid, err := sampling.Fraction(a.ValidSplit, n)
		if err != nil {
			return fmt.Errorf("valid split: %w", err)
		}
		if nTest+nValid > n {
			return fmt.Errorf("test (%d) and valid (%d) rows exceed the %d rows of train", nTest, nValid, n)
		}
		g.segments = carve(n, nTest, nValid)
	}
	for _, split := range sortedSplits(p.groups) {
		for i := range p.groups[split].segments {
			seg := &p.groups[split].segments[i]
			files := int((seg.n + a.RowsPerFile - 1) / a.RowsPerFile)
			for j := 0; j < files; j++ {
				seg.files = append(seg.files, storage.Join(a.Dir, seg.split, fmt.Sprintf("part-%05d%s", j, a.Ext)))
			}
		}
	}
	p.collectFiles()
	return nil
}

func (p *Plan) reshardSegments(a Args, counts map[string]int64, pool bool) error {
	var total int64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return fmt.Errorf("the inputs hold no rows")
	}
	type alloc struct {
		g   *group
		seg int
	}
	var segs []alloc
	if pool {
		g := p.groups["*"]
		nTest, err := sampling.Fraction(a.TestSplit, total)
		if err != nil {
			return fmt.Errorf("test split: %w", err)
		}
		nValid, err := sampling.Fraction(a.ValidSplit, total)
		if err != nil {
			return fmt.Errorf("valid split: %w", err)
		}
		if nTest+nValid >= total {
			return fmt.Errorf("test (%d) and valid (%d) rows leave no train rows of %d", nTest, nValid, total)
		}
		g.segments = carve(total, nTest, nValid)
		for i := range g.segments {
			segs = append(segs, alloc{g, i})
		}
	} else {
		for _, split := range sortedSplits(p.groups) {
			g := p.groups[split]
			g.segments = []segment{{split: split, n: counts[split]}}
			segs = append(segs, alloc{g, 0})
		}
	}
	// Files per split: bonepick's rule when re-splitting (each held-out split
	// gets round(max(1, F*n/N)), train the rest); otherwise proportional.
	nfiles := make([]int, len(segs))
	given := 0
	for i, s := range segs {
		seg := s.g.segments[s.seg]
		if pool && seg.split == "train" {
			continue
		}
		nfiles[i] = int(math.Round(math.Max(1, float64(a.NumFiles)*float64(seg.n)/float64(total))))
		if seg.n == 0 {
			nfiles[i] = 0
		}
		given += nfiles[i]
	}
	if pool {
		for i, s := range segs {
			if s.g.segments[s.seg].split == "train" {
				nfiles[i] = a.NumFiles - given
				if nfiles[i] <= 0 {
					return fmt.Errorf("%d files are too few for the requested splits", a.NumFiles)
				}
			}
		}
	} else if given != a.NumFiles {
		// Proportional rounding missed the total: fix the largest split.
		big := 0
		for i, s := range segs {
			if s.g.segments[s.seg].n > segs[big].g.segments[segs[big].seg].n {
				big = i
			}
		}
		nfiles[big] += a.NumFiles - given
		if nfiles[big] <= 0 {
			return fmt.Errorf("%d files are fewer than the %d splits", a.NumFiles, len(segs))
		}
	}
	digits := len(fmt.Sprint(a.NumFiles - 1))
	if a.NumFiles > 1 {
		digits = int(math.Log10(float64(a.NumFiles))) + 1
	}
	k := 0
	for _, split := range []string{"train", "valid", "test", ""} {
		for i, s := range segs {
			seg := &s.g.segments[s.seg]
			if seg.split != split {
				continue
			}
			for j := 0; j < nfiles[i]; j++ {
				name := fmt.Sprintf("shard_%0*d%s", digits, k, a.Ext)
				k++
				seg.files = append(seg.files, storage.Join(a.Dir, seg.split, name))
			}
		}
	}
	p.collectFiles()
	return nil
}

// CheckImportSplits checks an import's split options against the splits the
// input has ("" for unsplit shards, which count as train).
func CheckImportSplits(a Args, splits []string) error {
	has := map[string]bool{}
	for _, s := range splits {
		if s == "" {
			if has["train"] {
				return fmt.Errorf("the input has both a train split and unsplit shards")
			}
			s = "train"
		} else if s == "train" && has["train"] {
			return fmt.Errorf("the input has both a train split and unsplit shards")
		}
		has[s] = true
	}
	switch {
	case !has["train"] && (a.TestSplit > 0 || a.ValidSplit > 0):
		return fmt.Errorf("a test or valid split carves rows out of a train split, and the input has none")
	case has["test"] && a.TestSplit > 0:
		return fmt.Errorf("the input already has a test split; do not ask for another")
	case has["valid"] && a.ValidSplit > 0:
		return fmt.Errorf("the input already has a valid split; do not ask for another")
	case !has["test"] && a.TestSplit == 0:
		return fmt.Errorf("the input has no test split: ask for one (a fraction or a row count)")
	}
	return nil
}

// carve lays out a pooled group: test first, then valid, then train.
func carve(n, nTest, nValid int64) []segment {
	var segs []segment
	if nTest > 0 {
		segs = append(segs, segment{split: "test", start: 0, n: nTest})
	}
	if nValid > 0 {
		segs = append(segs, segment{split: "valid", start: nTest, n: nValid})
	}
	return append(segs, segment{split: "train", start: nTest + nValid, n: n - nTest - nValid})
}

func (p *Plan) collectFiles() {
	for _, split := range sortedSplits(p.groups) {
		for _, seg := range p.groups[split].segments {
			for j, f := range seg.files {
				lo, hi := fileRange(seg.n, len(seg.files), j)
				p.Files = append(p.Files, OutputFile{Path: f, Split: seg.split, Rows: hi - lo})
			}
		}
	}
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Path < p.Files[j].Path })
}

// fileRange returns the positions [lo, hi) of a segment of n rows that file
// j of f holds (the k with floor(k*f/n) == j): near-equal runs.
func fileRange(n int64, f, j int) (int64, int64) {
	ceil := func(a, b int64) int64 { return (a + b - 1) / b }
	return ceil(n*int64(j), int64(f)), ceil(n*int64(j+1), int64(f))
}

// Destination returns the output shard and the position of row i (counting
// good rows) of input, whose split is split.
func (p *Plan) Destination(input, split string, i int64) (string, uint64, error) {
	g, ok := p.groups[split]
	if !ok {
		g, ok = p.groups["*"]
	}
	if !ok && split == "" {
		g, ok = p.groups["train"]
	}
	if !ok {
		return "", 0, fmt.Errorf("no plan for split %q", split)
	}
	off, ok := g.offsets[input]
	if !ok {
		return "", 0, fmt.Errorf("%s was not counted (did the input change?)", input)
	}
	gi := off + i
	if uint64(gi) >= g.perm.N() {
		return "", 0, fmt.Errorf("%s has more rows than were counted (did the input change?)", input)
	}
	pos := int64(g.perm.At(uint64(gi)))
	for _, seg := range g.segments {
		if pos >= seg.start && pos < seg.start+seg.n {
			k := pos - seg.start
			j := int(k * int64(len(seg.files)) / seg.n)
			return seg.files[j], uint64(pos), nil
		}
	}
	return "", 0, fmt.Errorf("internal error: position %d is outside every segment", pos)
}

func sortedSplits(groups map[string]*group) []string {
	var out []string
	for s := range groups {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
