package shardmap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/winnowlabs/winnow/transforms/storage"
)

// ManifestName is the manifest's file name in an output directory.
const ManifestName = "_manifest.json"

// InputFile is one input of a run.
type InputFile struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	Split string `json:"split,omitempty"`
}

// OutputFile is one committed output shard.
type OutputFile struct {
	Path    string `json:"path"`
	Split   string `json:"split,omitempty"`
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"`
	BadRows int64  `json:"bad_rows,omitempty"`
	// Rejected counts the dropped rows written to the rejected output.
	Rejected int64  `json:"rejected,omitempty"`
	Input    string `json:"input,omitempty"`
	// Extra is the task result's Extra (step-specific facts).
	Extra   json.RawMessage `json:"extra,omitempty"`
	Resumed bool            `json:"-"`
}

// SplitCounts totals one split's input and output.
type SplitCounts struct {
	Files    int64 `json:"files"`
	RowsIn   int64 `json:"rows_in"`
	RowsOut  int64 `json:"rows_out"`
	BadRows  int64 `json:"bad_rows"`
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	Rejected int64 `json:"rejected,omitempty"`
}

// Manifest describes an output directory: what made it, from what, and what
// it holds. It contains no timestamps, so an identical run writes an
// identical manifest.
type Manifest struct {
	Command     string                  `json:"command"`
	CodeVersion string                  `json:"code_version"`
	Options     json.RawMessage         `json:"options,omitempty"`
	Inputs      []InputFile             `json:"inputs"`
	Outputs     []OutputFile            `json:"outputs"`
	Splits      map[string]*SplitCounts `json:"splits"`
	Totals      SplitCounts             `json:"totals"`
	// Extra carries step-specific results (e.g. achieved sampling rate).
	Extra json.RawMessage `json:"extra,omitempty"`
}

// AddResult accounts for one finished task. A result without an output
// (the reading half of a reshuffle) counts towards the totals only; splits
// report what was written to them.
func (m *Manifest) AddResult(r Result) {
	if r.Output == "" {
		m.Totals.RowsIn += r.RowsIn
		m.Totals.BadRows += r.BadRows
		m.Totals.BytesIn += r.BytesIn
		return
	}
	if m.Splits == nil {
		m.Splits = map[string]*SplitCounts{}
	}
	sc, ok := m.Splits[r.Split]
	if !ok {
		sc = &SplitCounts{}
		m.Splits[r.Split] = sc
	}
	for _, c := range []*SplitCounts{sc, &m.Totals} {
		c.RowsIn += r.RowsIn
		c.RowsOut += r.RowsOut
		c.BadRows += r.BadRows
		c.BytesIn += r.BytesIn
		c.BytesOut += r.BytesOut
		c.Rejected += r.Rejected
		if r.Output != "" {
			c.Files++
		}
	}
	if r.Output != "" {
		m.Outputs = append(m.Outputs, OutputFile{
			Path: r.Output, Split: r.Split, Rows: r.RowsOut, Bytes: r.BytesOut,
			BadRows: r.BadRows, Rejected: r.Rejected, Input: r.Input, Extra: r.Extra, Resumed: r.Resumed,
		})
	}
}

// Sort orders inputs and outputs by path.
func (m *Manifest) Sort() {
	sort.Slice(m.Inputs, func(i, j int) bool { return m.Inputs[i].Path < m.Inputs[j].Path })
	sort.Slice(m.Outputs, func(i, j int) bool { return m.Outputs[i].Path < m.Outputs[j].Path })
}

// Write stores the manifest in dir.
func (m *Manifest) Write(ctx context.Context, dir string) error {
	m.Sort()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	return storage.WriteFile(ctx, storage.Join(dir, ManifestName), append(b, '\n'))
}

// ReadManifest loads dir's manifest.
func ReadManifest(ctx context.Context, dir string) (*Manifest, error) {
	p := storage.Join(dir, ManifestName)
	b, ok, err := storage.ReadFileIfExists(ctx, p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoManifest)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	return &m, nil
}

// ErrNoManifest means a directory holds no manifest.
var ErrNoManifest = errors.New("no " + ManifestName + " (not an output of winnow, or its run did not finish)")
