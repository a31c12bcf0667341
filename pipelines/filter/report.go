package filter

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Report is what a score or filter run did. It is the manifest's extra
// field, and an incremental run starts from the previous one.
type Report struct {
	Command string       `json:"command"`
	Model   *models.Info `json:"model"`
	// Field holds the scores in the output rows ("" for attribute records).
	Field string `json:"field,omitempty"`
	// Fingerprint identifies the scoring and selection work: it is the
	// completion markers' fingerprint of a single-pass run (and of the
	// scoring stage of a keep-fraction run); an incremental run reuses
	// only shards done with the same one.
	Fingerprint  string             `json:"fingerprint"`
	Selection    *scoring.Selection `json:"selection,omitempty"`
	KeepFraction float64            `json:"keep_fraction,omitempty"`
	// Cut is where a keep-fraction run cut the merged score distribution.
	Cut *scoring.Cut `json:"cut,omitempty"`
	// Totals over every shard.
	RowsIn  int64 `json:"rows_in"`
	Kept    int64 `json:"kept"`
	Dropped int64 `json:"dropped"`
	Bad     int64 `json:"bad_rows"`
	// Scores is the distribution of the scores of every scored row (all
	// rows but the bad ones): the shards' histograms merged.
	Scores *scoring.Histogram `json:"scores,omitempty"`
	// Shards reports every input shard, sorted by output path.
	Shards []ShardReport `json:"shards"`
}

// ShardReport is one input shard's outcome.
type ShardReport struct {
	Input  string `json:"input"`
	Output string `json:"output"`
	Split  string `json:"split,omitempty"`
	RowsIn int64  `json:"rows_in"`
	Kept   int64  `json:"kept"`
	// Dropped rows were not selected; Rejected counts those written to
	// the rejected directory.
	Dropped  int64 `json:"dropped"`
	Rejected int64 `json:"rejected,omitempty"`
	Bad      int64 `json:"bad_rows,omitempty"`
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// Scores is the histogram of the shard's scores.
	Scores *scoring.Histogram `json:"scores,omitempty"`
}

// result is the shard as a manifest accounts for it.
func (s ShardReport) result() shardmap.Result {
	return shardmap.Result{
		Task:   shardmap.Task{Input: s.Input, Output: s.Output, Split: s.Split},
		RowsIn: s.RowsIn, RowsOut: s.Kept, BadRows: s.Bad, Rejected: s.Rejected,
		BytesIn: s.BytesIn, BytesOut: s.BytesOut,
	}
}

// reportOf reads the report a manifest carries.
func reportOf(m *shardmap.Manifest) (*Report, error) {
	var r Report
	if len(m.Extra) == 0 {
		return nil, fmt.Errorf("the manifest carries no score or filter report (not written by winnow score or filter?)")
	}
	if err := json.Unmarshal(m.Extra, &r); err != nil {
		return nil, fmt.Errorf("read the score or filter report: %w", err)
	}
	return &r, nil
}

// shardReports turns the results of the shard tasks into one report per
// input shard. A keep-fraction run has two results per shard: the scoring
// stage's, whose output lies under scoredDir and which read the input, and
// the selecting stage's, which wrote the output; they are matched by their
// output's path relative to its directory.
func shardReports(dir, scoredDir string, results []shardmap.Result) ([]ShardReport, error) {
	scored := map[string]shardmap.Result{}
	var final []shardmap.Result
	for _, r := range results {
		if scoredDir != "" && strings.HasPrefix(r.Output, scoredDir+"/") {
			rel, err := storage.Rel(scoredDir, r.Output)
			if err != nil {
				return nil, err
			}
			scored[rel] = r
			continue
		}
		final = append(final, r)
	}
	out := make([]ShardReport, 0, len(final))
	for _, r := range final {
		in := r
		if scoredDir != "" {
			rel, err := storage.Rel(dir, r.Output)
			if err != nil {
				return nil, err
			}
			var ok bool
			if in, ok = scored[rel]; !ok {
				return nil, fmt.Errorf("no scoring result for %s", r.Output)
			}
		}
		sr := ShardReport{
			Input: in.Input, Output: r.Output, Split: r.Split,
			RowsIn: in.RowsIn, Kept: r.RowsOut, Dropped: in.RowsIn - in.BadRows - r.RowsOut,
			Rejected: r.Rejected, Bad: in.BadRows, BytesIn: in.BytesIn, BytesOut: r.BytesOut,
		}
		// The scoring task reports the histogram of its scores.
		if len(in.Extra) > 0 {
			var facts scoring.ShardFacts
			if err := json.Unmarshal(in.Extra, &facts); err != nil {
				return nil, fmt.Errorf("%s: read the shard's score histogram: %w", in.Output, err)
			}
			sr.Scores = facts.Scores
		}
		out = append(out, sr)
	}
	return out, nil
}

// finish adds shards to r, sorts them and totals them, their score
// histograms included.
func (r *Report) finish(shards []ShardReport) error {
	r.Shards = append(r.Shards, shards...)
	sort.Slice(r.Shards, func(i, j int) bool { return r.Shards[i].Output < r.Shards[j].Output })
	r.RowsIn, r.Kept, r.Dropped, r.Bad, r.Scores = 0, 0, 0, 0, nil
	for _, s := range r.Shards {
		r.RowsIn += s.RowsIn
		r.Kept += s.Kept
		r.Dropped += s.Dropped
		r.Bad += s.Bad
		switch {
		case s.Scores == nil:
		case r.Scores == nil:
			r.Scores = s.Scores.Clone()
		default:
			if err := r.Scores.Merge(s.Scores); err != nil {
				return fmt.Errorf("%s: %w", s.Output, err)
			}
		}
	}
	return nil
}
