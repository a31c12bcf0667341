// Package summary holds what a measuring pass learns about shards (rows,
// bytes, label counts, text-length distribution) and merges it across
// shards. A Beam combiner merges Summaries; steps that need run-wide facts
// (sampling to a size, balancing labels, splitting and resharding) read the
// merged Summary as a side input.
package summary

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/DataDog/sketches-go/ddsketch"
)

// Task is one shard's measurements.
type Task struct {
	Input  string           `json:"input"`
	Split  string           `json:"split,omitempty"`
	Rows   int64            `json:"rows"`
	Bytes  int64            `json:"bytes"`
	Bad    int64            `json:"bad,omitempty"`
	Labels map[string]int64 `json:"labels,omitempty"`
}

// Split aggregates the shards of one split.
type Split struct {
	Rows   int64            `json:"rows"`
	Bytes  int64            `json:"bytes"`
	Bad    int64            `json:"bad,omitempty"`
	Files  int64            `json:"files"`
	Labels map[string]int64 `json:"labels,omitempty"`
	// TextLengths is a DDSketch of text lengths in characters (relative
	// accuracy 0.5%), when texts were measured.
	TextLengths *Sketch `json:"text_lengths,omitempty"`
}

// Summary is a mergeable account of many shards.
type Summary struct {
	// Tasks is sorted by input path.
	Tasks  []Task            `json:"tasks"`
	Splits map[string]*Split `json:"splits"`
}

// New returns an empty Summary.
func New() *Summary { return &Summary{Splits: map[string]*Split{}} }

// AddTask adds one shard's measurements and its text-length sketch (may be nil).
func (s *Summary) AddTask(t Task, lengths *Sketch) error {
	s.Tasks = append(s.Tasks, t)
	sp := s.split(t.Split)
	sp.Rows += t.Rows
	sp.Bytes += t.Bytes
	sp.Bad += t.Bad
	sp.Files++
	for l, n := range t.Labels {
		if sp.Labels == nil {
			sp.Labels = map[string]int64{}
		}
		sp.Labels[l] += n
	}
	return sp.mergeSketch(lengths)
}

func (s *Summary) split(name string) *Split {
	if s.Splits == nil {
		s.Splits = map[string]*Split{}
	}
	sp, ok := s.Splits[name]
	if !ok {
		sp = &Split{}
		s.Splits[name] = sp
	}
	return sp
}

func (sp *Split) mergeSketch(other *Sketch) error {
	if other == nil || other.s == nil {
		return nil
	}
	if sp.TextLengths == nil {
		sp.TextLengths = NewSketch()
	}
	if err := sp.TextLengths.s.MergeWith(other.s); err != nil {
		return fmt.Errorf("merge text-length sketches: %w", err)
	}
	return nil
}

// Merge adds other into s.
func (s *Summary) Merge(other *Summary) error {
	s.Tasks = append(s.Tasks, other.Tasks...)
	for name, o := range other.Splits {
		sp := s.split(name)
		sp.Rows += o.Rows
		sp.Bytes += o.Bytes
		sp.Bad += o.Bad
		sp.Files += o.Files
		for l, n := range o.Labels {
			if sp.Labels == nil {
				sp.Labels = map[string]int64{}
			}
			sp.Labels[l] += n
		}
		if err := sp.mergeSketch(o.TextLengths); err != nil {
			return err
		}
	}
	return nil
}

// Sort orders the tasks by input path, making the Summary canonical.
func (s *Summary) Sort() {
	sort.Slice(s.Tasks, func(i, j int) bool { return s.Tasks[i].Input < s.Tasks[j].Input })
}

// Task returns the measurements of input.
func (s *Summary) Task(input string) (Task, bool) {
	i := sort.Search(len(s.Tasks), func(i int) bool { return s.Tasks[i].Input >= input })
	if i < len(s.Tasks) && s.Tasks[i].Input == input {
		return s.Tasks[i], true
	}
	return Task{}, false
}

// Total sums rows and bytes over all splits.
func (s *Summary) Total() (rows, bytes int64) {
	for _, sp := range s.Splits {
		rows += sp.Rows
		bytes += sp.Bytes
	}
	return rows, bytes
}

// SplitNames returns the splits present, in train, valid, test order, then
// others sorted.
func (s *Summary) SplitNames() []string {
	var names []string
	for n := range s.Splits {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := splitRank(names[i]), splitRank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

func splitRank(s string) int {
	switch s {
	case "train":
		return 0
	case "valid":
		return 1
	case "test":
		return 2
	}
	return 3
}

// Encode serialises s.
func (s *Summary) Encode() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode summary: %w", err)
	}
	return b, nil
}

// Decode parses an encoded Summary.
func Decode(b []byte) (*Summary, error) {
	s := New()
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("decode summary: %w", err)
	}
	return s, nil
}

// Sketch is a mergeable quantile sketch with relative accuracy 0.5%.
type Sketch struct{ s *ddsketch.DDSketch }

// RelativeAccuracy of every Sketch.
const RelativeAccuracy = 0.005

// NewSketch returns an empty sketch.
func NewSketch() *Sketch {
	s, err := ddsketch.NewDefaultDDSketch(RelativeAccuracy)
	if err != nil {
		panic(err) // only for an invalid accuracy
	}
	return &Sketch{s: s}
}

// Add records v.
func (k *Sketch) Add(v float64) {
	_ = k.s.Add(v) // fails only for values outside the mapping's range
}

// Count returns the number of values recorded.
func (k *Sketch) Count() float64 { return k.s.GetCount() }

// Quantiles returns the values at qs (0..1).
func (k *Sketch) Quantiles(qs []float64) ([]float64, error) {
	if k.s.IsEmpty() {
		return make([]float64, len(qs)), nil
	}
	return k.s.GetValuesAtQuantiles(qs)
}

// Merge adds other into k.
func (k *Sketch) Merge(other *Sketch) error { return k.s.MergeWith(other.s) }

// MarshalJSON encodes the sketch compactly (DDSketch's binary encoding).
func (k *Sketch) MarshalJSON() ([]byte, error) {
	var b []byte
	k.s.Encode(&b, false)
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

// UnmarshalJSON decodes a sketch written by MarshalJSON.
func (k *Sketch) UnmarshalJSON(data []byte) error {
	var str string
	if err := json.Unmarshal(data, &str); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(str)
	if err != nil {
		return fmt.Errorf("decode sketch: %w", err)
	}
	fresh := NewSketch()
	if err := fresh.s.DecodeAndMergeWith(b); err != nil {
		return fmt.Errorf("decode sketch: %w", err)
	}
	k.s = fresh.s
	return nil
}
