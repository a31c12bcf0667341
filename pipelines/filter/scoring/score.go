// Package scoring holds the filter stage's record operations, plain Go run
// by the shard engine: "score" (classify a row's text and write its scores
// into the row, or replace the row by a dolma-style attribute record, and
// optionally select by threshold, jq or Pareto sampling) and
// "select-fraction" (keep a global top fraction of already scored rows,
// given the cut that a merged score Sketch yields).
package scoring

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/rows"
)

// Op kinds registered with rows.Register.
const (
	ScoreKind          = "score"
	SelectFractionKind = "select-fraction"
)

// ModelRef identifies the classifier an op loads on every worker. SHA256
// and Normalizer are filled in by Resolve on the driver; they make the
// op's arguments, and so the shard fingerprint, change whenever the model
// file or its preprocessing does.
type ModelRef struct {
	Path          string         `json:"path"`
	Name          string         `json:"name,omitempty"`
	Normalizer    string         `json:"normalizer,omitempty"`
	Tokenizer     string         `json:"tokenizer,omitempty"`
	PositiveLabel string         `json:"positive_label,omitempty"`
	SHA256        string         `json:"sha256,omitempty"`
	Resolved      normalize.Spec `json:"resolved_normalizer"`
	// Backend, BatchSize and MaxLength tune encoders (see
	// models.LoadOptions).
	Backend   string `json:"backend,omitempty"`
	BatchSize int    `json:"batch_size,omitempty"`
	MaxLength int    `json:"max_length,omitempty"`
}

func (m ModelRef) options() models.LoadOptions {
	return models.LoadOptions{
		Name: m.Name, Normalizer: m.Normalizer, Tokenizer: m.Tokenizer, PositiveLabel: m.PositiveLabel, SHA256: m.SHA256,
		Backend: m.Backend, BatchSize: m.BatchSize, MaxLength: m.MaxLength,
	}
}

// classifiers caches loaded models by reference: every op of a process
// (several pipeline stages, several DoFn instances) shares one copy.
var classifiers struct {
	mu sync.Mutex
	m  map[ModelRef]*loading
}

type loading struct {
	once sync.Once
	c    models.Classifier
	err  error
}

// Classifier returns the classifier ref names, loading it once per process.
func Classifier(ctx context.Context, ref ModelRef) (models.Classifier, error) {
	classifiers.mu.Lock()
	if classifiers.m == nil {
		classifiers.m = map[ModelRef]*loading{}
	}
	l, ok := classifiers.m[ref]
	if !ok {
		l = &loading{}
		classifiers.m[ref] = l
	}
	classifiers.mu.Unlock()
	l.once.Do(func() { l.c, l.err = models.Load(ctx, ref.Path, ref.options()) })
	if l.err != nil {
		classifiers.mu.Lock()
		delete(classifiers.m, ref) // a later call may try again
		classifiers.mu.Unlock()
		return nil, l.err
	}
	return l.c, nil
}

// Resolve loads the model ref names on the driver and returns the
// reference workers load, with the model file's hash and the resolved
// normalizer filled in.
func Resolve(ctx context.Context, ref ModelRef) (ModelRef, models.Classifier, error) {
	c, err := Classifier(ctx, ref)
	if err != nil {
		return ref, nil, err
	}
	info := c.Info()
	ref.SHA256, ref.Resolved, ref.Name = info.SHA256, info.Normalizer, info.Name
	classifiers.mu.Lock()
	if _, ok := classifiers.m[ref]; !ok {
		l := &loading{c: c}
		l.once.Do(func() {})
		classifiers.m[ref] = l
	}
	classifiers.mu.Unlock()
	return ref, c, nil
}

// ScoreArgs configure the "score" op.
type ScoreArgs struct {
	Model ModelRef `json:"model"`
	// TextExpression selects the text to classify (default .text).
	TextExpression string `json:"text_expression"`
	// Field is where the scores go in the row (e.g. metadata.edu).
	Field string `json:"field"`
	// AllLabels also writes every label's probability.
	AllLabels bool `json:"all_labels,omitempty"`
	// Attributes replaces each row by a dolma-style attribute record
	// {"id": ..., "attributes": {...}} instead of adding Field.
	Attributes bool `json:"attributes,omitempty"`
	// IDExpression selects the id of attribute records (default .id).
	IDExpression string `json:"id_expression,omitempty"`
	// Select, when set, drops the rows it does not keep.
	Select *Selection `json:"select,omitempty"`
}

// Validate checks the arguments without loading the model.
func (a ScoreArgs) Validate() error {
	if a.Attributes {
		if a.Select != nil {
			return fmt.Errorf("attribute records carry scores only; select rows with the filter command")
		}
	} else if err := CheckField(a.Field); err != nil {
		return err
	}
	if a.Select != nil {
		if err := a.Select.Validate(); err != nil {
			return err
		}
	}
	_, err := newGetter(a.TextExpression)
	return err
}

type scoreOp struct {
	args   ScoreArgs
	clf    models.Classifier
	info   *models.Info
	field  []any // Field's keys
	text   *getter
	id     *getter
	sel    *selector
	labels [][]byte // JSON-quoted labels
	attrs  [][]byte // JSON-quoted attribute names per label
	// attrScore and attrInt name the score attributes.
	attrScore, attrInt []byte
	pool               sync.Pool // *scratch
	// tallies holds the score histogram of each task in progress, by its
	// input (rows.Row.Source).
	tallies sync.Map // string -> *tally
}

// tally is one task's score histogram, added to by the batches of its
// rows on several workers.
type tally struct {
	mu sync.Mutex
	h  *Histogram
}

// scratch is the reusable memory of one ApplyBatch.
type scratch struct {
	texts []string
	preds []models.Prediction
	idx   []int    // the rows whose text was read
	text  [][]byte // per row: the unescaped text
	buf   []byte   // the scores or attribute record being built
	// scores are the scores of the rows written.
	scores []float64
}

// NewScore builds the "score" op, loading its model (once per process).
func NewScore(ctx context.Context, a ScoreArgs) (rows.Op, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	clf, err := Classifier(ctx, a.Model)
	if err != nil {
		return nil, err
	}
	o := &scoreOp{args: a, clf: clf, info: clf.Info(), field: splitPath(a.Field)}
	if o.text, err = newGetter(a.TextExpression); err != nil {
		return nil, err
	}
	if a.Attributes {
		idExpr := a.IDExpression
		if idExpr == "" {
			idExpr = ".id"
		}
		if o.id, err = newGetter(idExpr); err != nil {
			return nil, err
		}
	}
	if a.Select != nil {
		if o.sel, err = newSelector(*a.Select, o.info.Scoring); err != nil {
			return nil, err
		}
	}
	quote := func(s string) []byte { b, _ := json.Marshal(s); return b }
	for _, l := range o.info.Labels {
		o.labels = append(o.labels, quote(l))
		o.attrs = append(o.attrs, quote(o.info.Name+"__"+l))
	}
	o.attrScore, o.attrInt = quote(o.info.Name+"__score"), quote(o.info.Name+"__int_score")
	return o, nil
}

// Apply scores one row.
func (o *scoreOp) Apply(r *rows.Row) (bool, error) {
	rs, keep, errs := [1]*rows.Row{r}, [1]bool{}, [1]error{}
	o.ApplyBatch(rs[:], keep[:], errs[:])
	return keep[0], errs[0]
}

// ApplyBatch scores the rows of a shard's batch with one call of the
// classifier (an encoder runs them in padded batches by token length) and
// writes each row's scores, in input order; the scores count in the
// histogram of the task the rows come from (see StartTask).
func (o *scoreOp) ApplyBatch(rs []*rows.Row, keep []bool, errs []error) {
	s, ok := o.pool.Get().(*scratch)
	if !ok {
		s = &scratch{}
	}
	defer o.pool.Put(s)
	s.texts, s.idx = s.texts[:0], s.idx[:0]
	for len(s.text) < len(rs) {
		s.text = append(s.text, nil)
	}
	for i, r := range rs {
		keep[i], errs[i] = false, r.Validate()
		if errs[i] != nil {
			continue
		}
		text, err := o.text.text(r, &s.text[i])
		if errs[i] = err; err != nil {
			continue
		}
		s.idx = append(s.idx, i)
		s.texts = append(s.texts, text)
	}
	if len(s.preds) < len(s.texts) {
		s.preds = append(s.preds, make([]models.Prediction, len(s.texts)-len(s.preds))...)
	}
	err := o.clf.Predict(s.texts, s.preds)
	s.scores = s.scores[:0]
	for j, i := range s.idx {
		if err != nil {
			errs[i] = fmt.Errorf("%s: %w", o.info.Name, err)
			continue
		}
		keep[i], errs[i] = o.write(rs[i], s.texts[j], &s.preds[j], s)
		if errs[i] == nil {
			s.scores = append(s.scores, s.preds[j].Score)
		}
	}
	if len(rs) > 0 {
		o.count(rs[0].Source, s.scores)
	}
	clear(s.texts)
}

// count adds scores to the histogram of the task reading source, if one
// is in progress (the engine's batches hold one task's rows).
func (o *scoreOp) count(source string, scores []float64) {
	v, ok := o.tallies.Load(source)
	if !ok {
		return
	}
	t := v.(*tally)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, sc := range scores {
		t.h.Add(sc)
	}
}

// StartTask starts the score histogram of the task reading input (see
// shardmap.TaskReporter).
func (o *scoreOp) StartTask(input string) {
	o.tallies.Store(input, &tally{h: NewScoreHistogram(o.info.Scoring)})
}

// EndTask returns the task's ShardFacts: the histogram of the scores of
// its rows.
func (o *scoreOp) EndTask(input string) (json.RawMessage, error) {
	t, ok := o.tallies.LoadAndDelete(input)
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(ShardFacts{Scores: t.(*tally).h})
	if err != nil {
		return nil, fmt.Errorf("encode the score histogram: %w", err)
	}
	return b, nil
}

// write puts one row's prediction into it (or replaces it by its
// attribute record) and applies the selection.
func (o *scoreOp) write(r *rows.Row, text string, p *models.Prediction, s *scratch) (bool, error) {
	var err error
	if o.args.Attributes {
		s.buf, err = o.attributes(s.buf[:0], r, text, p)
		if err != nil {
			return false, err
		}
		// The line outlives this call: copy it out of the scratch buffer.
		r.SetLine(append([]byte(nil), s.buf...))
		return true, nil
	}
	s.buf = o.appendScores(s.buf[:0], p)
	out, err := setField(r.Raw(), o.field, s.buf)
	if err != nil {
		return false, err
	}
	keep := true
	if o.sel != nil {
		if keep, err = o.sel.keep(r, out, p.Score, p.IntScore); err != nil {
			return false, err
		}
	}
	r.SetLine(out)
	return keep, nil
}

// appendScores appends the scores object written under Field:
// {"score": S, "int_score": N} plus "label" (the top label) for
// top-label scoring and multi-label models, and "probs" ({label: p}) with
// AllLabels or a multi-label model.
func (o *scoreOp) appendScores(b []byte, p *models.Prediction) []byte {
	b = append(b, `{"score":`...)
	b = strconv.AppendFloat(b, p.Score, 'g', -1, 64)
	b = append(b, `,"int_score":`...)
	b = strconv.AppendInt(b, int64(p.IntScore), 10)
	if o.info.Scoring.Mode == models.ScoreTop || o.info.MultiLabel {
		b = append(b, `,"label":`...)
		b = append(b, o.labels[p.Top]...)
	}
	if o.args.AllLabels || o.info.MultiLabel {
		b = append(b, `,"probs":{`...)
		for i, v := range p.Probs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, o.labels[i]...)
			b = append(b, ':')
			b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// attributes appends a dolma attribute record to b: every attribute is
// one span covering the whole text, [[0, length in characters, value]].
func (o *scoreOp) attributes(b []byte, r *rows.Row, text string, p *models.Prediction) ([]byte, error) {
	id, err := o.id.raw(r)
	if err != nil {
		return b, err
	}
	n := utf8.RuneCountInString(text)
	b = append(b, `{"id":`...)
	b = append(b, id...)
	b = append(b, `,"attributes":{`...)
	b = appendSpan(b, o.attrScore, n)
	b = strconv.AppendFloat(b, p.Score, 'g', -1, 64)
	b = append(b, "]],"...)
	b = appendSpan(b, o.attrInt, n)
	b = strconv.AppendInt(b, int64(p.IntScore), 10)
	b = append(b, "]]"...)
	for i, v := range p.Probs {
		if !o.args.AllLabels && !o.info.MultiLabel && (o.info.Scoring.Mode != models.ScoreTop || i != p.Top) {
			continue
		}
		b = append(b, ',')
		b = appendSpan(b, o.attrs[i], n)
		b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
		b = append(b, "]]"...)
	}
	return append(b, "}}"...), nil
}

// appendSpan opens a document-wide span: "name":[[0,n, (the value and
// "]]" follow).
func appendSpan(b, name []byte, n int) []byte {
	b = append(b, name...)
	b = append(b, `:[[0,`...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, ',')
}

func init() {
	rows.Register(ScoreKind, func(args, _ json.RawMessage) (rows.Op, error) {
		var a ScoreArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, fmt.Errorf("decode arguments: %w", err)
		}
		return NewScore(context.Background(), a)
	})
}
