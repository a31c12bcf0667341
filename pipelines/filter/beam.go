package filter

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*sketchScoresFn)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*cutFn)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*writeReportFn)(nil)).Elem())
	beam.RegisterCoder(reflect.TypeOf((*scoring.Sketch)(nil)), encodeSketch, scoring.DecodeSketch)
}

func encodeSketch(k *scoring.Sketch) ([]byte, error) { return k.Encode(), nil }

// CutFraction reads the scores written under field in the outputs of
// scored (a PCollection<[]byte> of encoded shardmap.Results), sketches
// them per shard, merges the sketches with a combiner and returns a
// PCollection holding the Cut (JSON) that keeps fraction of all rows.
func CutFraction(s beam.Scope, field string, fraction float64, workers int, scored beam.PCollection) beam.PCollection {
	s = s.Scope("filter.CutFraction")
	sketches := beam.ParDo(s, &sketchScoresFn{Field: field, Workers: workers}, scored)
	return beam.Combine(s, &cutFn{Fraction: fraction}, sketches)
}

// sketchScoresFn reads one scored shard and emits the encoded sketch of
// its scores.
type sketchScoresFn struct {
	Field   string `json:"field"`
	Workers int    `json:"workers"`
}

func (f *sketchScoresFn) ProcessElement(ctx context.Context, enc []byte, emit func([]byte)) error {
	var r shardmap.Result
	if err := json.Unmarshal(enc, &r); err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	k, path := scoring.NewSketch(), scoring.NewScorePath(f.Field)
	task := shardmap.Task{Input: r.Output, Rel: r.Rel, Split: r.Split}
	_, err := shardmap.Shared(f.Workers).ForEach(ctx, task, shardmap.Policy{}, func(_ int64, raw []byte) error {
		score, err := path.Read(raw)
		if err == nil {
			err = k.Add(score)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", r.Output, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	emit(k.Encode())
	return nil
}

// cutFn merges score sketches and cuts the result at Fraction.
type cutFn struct {
	Fraction float64 `json:"fraction"`
}

func (cutFn) CreateAccumulator() *scoring.Sketch { return scoring.NewSketch() }

func (cutFn) AddInput(acc *scoring.Sketch, enc []byte) (*scoring.Sketch, error) {
	k, err := scoring.DecodeSketch(enc)
	if err != nil {
		return nil, err
	}
	return acc, acc.Merge(k)
}

func (cutFn) MergeAccumulators(a, b *scoring.Sketch) (*scoring.Sketch, error) {
	return a, a.Merge(b)
}

func (f *cutFn) ExtractOutput(acc *scoring.Sketch) ([]byte, error) {
	b, err := json.Marshal(acc.Cut(f.Fraction))
	if err != nil {
		return nil, fmt.Errorf("encode cut: %w", err)
	}
	return b, nil
}

// WriteReport gathers the results of the shard tasks (PCollections<[]byte>
// of encoded shardmap.Results; with scoredDir set, a keep-fraction run's
// scoring and selecting stages), completes report with one ShardReport per
// input shard and, when cut is valid, the Cut, and writes dir's manifest
// (base plus the shards) with the report as its extra field. It returns a
// PCollection<string> holding the manifest's path.
func WriteReport(s beam.Scope, dir, scoredDir string, base shardmap.Manifest, report Report, cut beam.PCollection, results ...beam.PCollection) (beam.PCollection, error) {
	s = s.Scope("filter.WriteReport")
	b, err := json.Marshal(base)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("encode manifest: %w", err)
	}
	r, err := json.Marshal(report)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("encode report: %w", err)
	}
	if !cut.IsValid() {
		cut = beam.Create(s, []byte("null"))
	}
	// One key gathers every result, including when there are none.
	all := beam.Flatten(s, results...)
	grouped := beam.GroupByKey(s, beam.AddFixedKey(s, all))
	return beam.ParDo(s, &writeReportFn{Dir: dir, ScoredDir: scoredDir, Base: b, Report: r}, grouped, beam.SideInput{Input: cut}), nil
}

type writeReportFn struct {
	Dir       string `json:"dir"`
	ScoredDir string `json:"scored_dir,omitempty"`
	Base      []byte `json:"base"`
	Report    []byte `json:"report"`
}

func (f *writeReportFn) ProcessElement(ctx context.Context, _ int, results func(*[]byte) bool, cut func(*[]byte) bool, emit func(string)) error {
	var m shardmap.Manifest
	if err := json.Unmarshal(f.Base, &m); err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	var r Report
	if err := json.Unmarshal(f.Report, &r); err != nil {
		return fmt.Errorf("decode report: %w", err)
	}
	var c []byte
	if cut(&c) && string(c) != "null" {
		r.Cut = &scoring.Cut{}
		if err := json.Unmarshal(c, r.Cut); err != nil {
			return fmt.Errorf("decode cut: %w", err)
		}
	}
	var all []shardmap.Result
	var enc []byte
	for results(&enc) {
		var res shardmap.Result
		if err := json.Unmarshal(enc, &res); err != nil {
			return fmt.Errorf("decode result: %w", err)
		}
		all = append(all, res)
	}
	shards, err := shardReports(f.Dir, f.ScoredDir, all)
	if err != nil {
		return err
	}
	if err := r.finish(shards); err != nil {
		return err
	}
	for _, sh := range r.Shards {
		m.AddResult(sh.result())
	}
	m.CodeVersion = version.String()
	if m.Extra, err = json.Marshal(r); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := m.Write(ctx, f.Dir); err != nil {
		return err
	}
	emit(storage.Join(f.Dir, shardmap.ManifestName))
	return nil
}
