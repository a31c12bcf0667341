package flow

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/head"
	"github.com/winnowlabs/winnow/pipelines/annotate"
	"github.com/winnowlabs/winnow/pipelines/filter"
	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/prepare"
	"github.com/winnowlabs/winnow/pipelines/train"
	"github.com/winnowlabs/winnow/transforms/llm/cost"
	"github.com/winnowlabs/winnow/transforms/prompts"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// LabelField is the field holding the label after the label step.
const LabelField = "score"

// Plan lists the flow's steps in the order they run. Fingerprints and
// folders are computed from the flow file and the external inputs.
func (s *Spec) Plan(ctx context.Context) ([]*Step, error) {
	var steps []*Step
	var planErr error
	// add fingerprints a step as it is planned: the steps after it read
	// its folder.
	add := func(st *Step) *Step {
		if err := st.fingerprint(ctx, s.Experiment); err != nil && planErr == nil {
			planErr = err
		}
		steps = append(steps, st)
		return st
	}
	// in is what the next step reads: the previous step's folder, or the
	// pool.
	var prev *Step
	inputs := func() []string {
		if prev == nil {
			return s.Pool.Inputs
		}
		return []string{prev.Dir}
	}
	needs := func() []*Step {
		if prev == nil {
			return nil
		}
		return []*Step{prev}
	}
	external := func() []string {
		if prev == nil {
			return s.Pool.Inputs
		}
		return nil
	}

	if sm := s.Sample; sm != nil {
		prev = add(&Step{Name: "sample", Kind: "sample", Work: sm, External: external(), Needs: needs(), run: runSample(sm)})
	}
	if a := s.Annotate; a != nil {
		ext := external()
		if _, err := prompts.Get(a.Prompt); err != nil {
			ext = append(ext, a.Prompt) // a prompt file: its content counts
		}
		if a.Prices != "" {
			ext = append(ext, a.Prices)
		}
		in := inputs
		prev = add(&Step{Name: "annotate", Kind: "annotate", Work: a.work(), External: ext, Needs: needs(), run: runAnnotate(a, in())})
		if a.ExistingLabel != "" {
			w := AgreementWork{Annotation: annotationScore(a), Existing: a.ExistingLabel, ID: cmp.Or(a.ID, ".id")}
			add(&Step{Name: "agreement", Kind: "agreement", Work: w, Needs: needs(), run: runAgreement(w, prev)})
		}
	}
	if len(s.Classifiers) == 0 {
		return steps, planErr
	}
	label := *s.Label
	if label.Expression == "" {
		label.Expression = annotationScore(s.Annotate)
	}
	prev = add(&Step{Name: "label", Kind: "label", Work: label, External: external(), Needs: needs(), run: runLabel(label, inputs())})
	if b := s.Balance; b != nil {
		prev = add(&Step{Name: "balance", Kind: "balance", Work: b, Needs: needs(), run: runBalance(b, inputs())})
	}
	split := add(&Step{Name: "split", Kind: "split", Work: s.Split, Needs: needs(), run: runSplit(s.Split, inputs())})

	var trained []*Step
	ftData := map[string]*Step{}
	for i := range s.Classifiers {
		c := &s.Classifiers[i]
		data := split
		var ext []string
		switch {
		case c.fastText != nil:
			norm := c.fastText.Normalization
			if ftData[norm] == nil {
				ftData[norm] = add(&Step{Name: "fasttext-data-" + norm, Kind: "split", Work: map[string]string{"normalization": norm},
					Needs: []*Step{split}, run: runFastTextData(norm, split)})
			}
			data = ftData[norm]
		case c.static != nil:
			for _, p := range []string{c.static.Tokenizer, c.static.Base} {
				if p != "" {
					ext = append(ext, p)
				}
			}
		case c.encoder != nil:
			ext = append(ext, c.encoder.Base)
		}
		trained = append(trained, add(&Step{Name: "train-" + c.Name, Kind: "train", Work: c.work(), External: ext,
			Needs: []*Step{data, split}, run: runTrain(c, data, split)}))
	}
	sel := add(&Step{Name: "select", Kind: "select", Work: s.Select, Needs: trained, run: runSelect(s.Select, trained)})
	if f := s.Filter; f != nil {
		in := f.Inputs
		if len(in) == 0 {
			in = s.Pool.Inputs
		}
		add(&Step{Name: "filter", Kind: "filter", Work: f, External: in, Always: f.Incremental,
			Needs: []*Step{sel}, run: runFilter(f, in, sel, trained)})
	}
	return steps, planErr
}

// annotationField is the row field an annotator writes.
func annotationField(a *Annotator) string {
	if a == nil {
		return ""
	}
	if a.Field != "" {
		return a.Field
	}
	if p, err := prompts.Resolve(a.Prompt); err == nil {
		return p.Name
	}
	return strings.TrimSuffix(filepath.Base(a.Prompt), filepath.Ext(a.Prompt))
}

// annotationScore is the jq expression of the score an annotator writes,
// e.g. .finemath.score or .["fineweb-edu"].score.
func annotationScore(a *Annotator) string {
	f := annotationField(a)
	if regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(f) {
		return "." + f + ".score"
	}
	return ".[" + strconv.Quote(f) + "].score"
}

// work is what a classifier's fingerprint records.
func (c *Classifier) work() any {
	w := map[string]any{"name": c.Name, "kind": c.Kind}
	switch {
	case c.fastText != nil:
		w["options"] = c.fastText
	case c.encoder != nil:
		w["options"] = c.encoder
	default:
		w["options"] = c.static
	}
	return w
}

// loadOptions are how the classifier's model is loaded to evaluate and
// score with it: an encoder's backend and forward-pass options.
func (c *Classifier) loadOptions() models.LoadOptions {
	if e := c.encoder; e != nil {
		return models.LoadOptions{Backend: e.Backend, BatchSize: e.ForwardBatchSize, MaxLength: e.MaxLength}
	}
	return models.LoadOptions{}
}

// classifier returns the flow's classifier named name.
func (s *Spec) classifier(name string) *Classifier {
	for i := range s.Classifiers {
		if s.Classifiers[i].Name == name {
			return &s.Classifiers[i]
		}
	}
	return nil
}

// common are the options of a dataset step writing st.Dir.
func (r *runState) common(st *Step, inputs []string) mapstep.Common {
	return mapstep.Common{Inputs: inputs, Output: st.Dir, Progress: r.progress, Quiet: r.quiet}
}

func runSample(sm *Sample) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		st := r.step
		o := prepare.SampleOptions{Common: r.common(st, r.spec.Pool.Inputs), Rate: sm.Rate, Seed: sm.Seed}
		if sm.Size != "" {
			n, err := humanize.ParseBytes(sm.Size)
			if err != nil {
				return nil, err
			}
			o.TargetBytes = int64(n)
		}
		res, rep, err := prepare.Sample(ctx, o)
		if err != nil {
			return nil, err
		}
		r.counts(res)
		return rep, nil
	}
}

// AnnotationFacts are what the annotate step reports.
type AnnotationFacts struct {
	Summary annotate.Summary `json:"summary"`
	// Labels count the annotations' values per field (scores, labels).
	Labels map[string]map[string]int64 `json:"labels"`
	// Errors counts the rows in _errors/.
	Errors int64 `json:"errors"`
}

func runAnnotate(a *Annotator, inputs []string) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		st := r.step
		p, err := prompts.Resolve(a.Prompt)
		if err != nil {
			return nil, err
		}
		o := annotate.Options{
			Common: r.common(st, inputs), Prompt: p, Processor: a.Processor, OutputField: a.Field,
			BaseURL: a.BaseURL, APIKeyEnv: a.APIKeyEnv, Model: a.Model, Temperature: a.Temperature,
			MaxNewTokens: a.MaxNewTokens, MaxTextLength: a.MaxTextLength, MaxConcurrency: a.Concurrency,
			MaxAttempts: a.MaxAttempts, CacheDir: a.CacheDir, MaxBudget: a.Budget, Batch: a.Batch,
			PriceFile: a.Prices,
		}
		if a.Prices != "" {
			if o.Prices, err = cost.LoadFile(a.Prices); err != nil {
				return nil, err
			}
		}
		if r.annotateHook != nil {
			r.annotateHook(&o)
		}
		res, err := annotate.Run(ctx, o)
		if err != nil {
			return nil, err
		}
		if res.Submitted {
			return nil, errSubmitted
		}
		if res.Incomplete > 0 {
			return nil, fmt.Errorf("%d shards are not fully annotated (budget reached or batch requests expired); run the flow again to finish them", res.Incomplete)
		}
		r.counts(&res.Result)
		facts := AnnotationFacts{Summary: res.Summary}
		if facts.Labels, err = countAnnotations(ctx, st.Dir, res.Summary.Field); err != nil {
			return nil, err
		}
		if facts.Errors, err = countErrors(ctx, st.Dir); err != nil {
			return nil, err
		}
		return facts, nil
	}
}

// work is what the annotate step's fingerprint records: the existing
// label is the agreement step's, and changing it annotates nothing again.
func (a *Annotator) work() *Annotator {
	w := *a
	w.ExistingLabel, w.ID = "", ""
	return &w
}

// AgreementWork is what the agreement step compares: two jq expressions
// of the annotated rows' labels, the rows paired by ID.
type AgreementWork struct {
	// Annotation selects the LLM's label, Existing the rows' own.
	Annotation string `json:"annotation"`
	Existing   string `json:"existing"`
	ID         string `json:"id"`
}

// AgreementFacts are the agreement between the LLM's labels (set A) and
// the existing ones (set B) on the annotated rows. Rows without one of the
// labels count as bad rows of that set and leave it out of the pairs.
type AgreementFacts struct {
	AgreementWork
	*annotate.AgreementReport
}

// AgreementFile, in the agreement step's folder, holds the agreement
// report.
const AgreementFile = "agreement.json"

func runAgreement(w AgreementWork, annotated *Step) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		if storage.IsLocal(r.step.Dir) {
			if err := os.MkdirAll(r.step.Dir, 0o755); err != nil {
				return nil, err
			}
		}
		in := []string{annotated.Dir}
		rep, err := annotate.Agreement(ctx, annotate.AgreementOptions{
			A: in, B: in, KeyExpression: w.ID, LabelExpressionA: w.Annotation, LabelExpressionB: w.Existing,
			OnBadRow: "skip", Output: storage.Join(r.step.Dir, AgreementFile), Progress: r.progress, Quiet: r.quiet,
		})
		if err != nil {
			return nil, err
		}
		if rep.Submitted {
			return nil, errSubmitted
		}
		r.rows = rep.RowsA
		fmt.Fprintf(r.out, "  %d rows with both labels: exact agreement %.3f\n", rep.Pairs, rep.Agreement)
		return &AgreementFacts{AgreementWork: w, AgreementReport: rep}, nil
	}
}

// LabelFacts count the labels per split.
type LabelFacts struct {
	Labels map[string]map[string]int64 `json:"labels"`
}

func runLabel(l Label, inputs []string) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		text := l.Text
		if text == "" {
			text = rows.DefaultTextExpression
		}
		label := l.Expression
		if l.Transform != "" {
			label = "(" + label + ") | (" + l.Transform + ")"
		}
		res, err := prepare.Transform(ctx, prepare.TransformOptions{
			Common: r.common(r.step, inputs),
			TransformArgs: rows.TransformArgs{
				TextTransform: "{text: (" + text + ")}", LabelTransform: "{" + LabelField + ": (" + label + ")}",
			},
		})
		if err != nil {
			return nil, err
		}
		r.counts(res)
		return labelFacts(ctx, r.step.Dir)
	}
}

func labelFacts(ctx context.Context, dir string) (*LabelFacts, error) {
	labels, err := countLabels(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &LabelFacts{Labels: labels}, nil
}

func runBalance(b *Balance, inputs []string) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		res, _, err := prepare.Balance(ctx, prepare.BalanceOptions{Common: r.common(r.step, inputs), LabelExpression: "." + LabelField, Seed: b.Seed})
		if err != nil {
			return nil, err
		}
		r.counts(res)
		return labelFacts(ctx, r.step.Dir)
	}
}

func runSplit(sp *Split, inputs []string) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		res, err := prepare.Reshard(ctx, prepare.ReshardOptions{
			Common: r.common(r.step, inputs), NumFiles: sp.Files, TestSplit: sp.Test, ValidSplit: sp.Valid, Seed: sp.Seed,
		})
		if err != nil {
			return nil, err
		}
		r.counts(res)
		return labelFacts(ctx, r.step.Dir)
	}
}

func runFastTextData(norm string, split *Step) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		res, err := prepare.ToFastText(ctx, prepare.FastTextOptions{
			Common: r.common(r.step, []string{split.Dir}), LabelExpression: "." + LabelField, Normalization: norm,
		})
		if err != nil {
			return nil, err
		}
		if res.Submitted {
			return nil, errSubmitted
		}
		r.rows, r.bytes = res.Manifest.Totals.RowsIn, res.Manifest.Totals.BytesIn
		return res.Report, nil
	}
}

// ModelDir is a train step's model directory.
func ModelDir(stepDir string) string { return storage.Join(stepDir, "model") }

// FeaturesDir is where an encoder classifier's training rows' [CLS] states
// are kept in the experiment directory exp: one folder per classifier,
// whose shards are reused while the base, the rows and the forward pass
// are unchanged (so changing only a head option trains the head alone).
func FeaturesDir(exp, classifier string) string {
	return storage.Join(exp, "_features", classifier)
}

func runTrain(c *Classifier, data, split *Step) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		// Training writes a local model directory: an experiment on an
		// object store gets the model trained into a temporary one, which
		// is evaluated there and then copied into the step's folder.
		model := ModelDir(r.step.Dir)
		dir := model
		if !storage.IsLocal(model) {
			tmp, err := os.MkdirTemp("", "winnow-flow-train-")
			if err != nil {
				return nil, fmt.Errorf("temporary model directory: %w", err)
			}
			defer os.RemoveAll(tmp)
			dir = filepath.Join(tmp, "model")
		}
		o := train.Options{Kind: c.Kind, Datasets: []string{data.Dir}, Output: dir, Log: r.log}
		fields := train.Fields{LabelExpression: "." + LabelField}
		switch {
		case c.fastText != nil:
			args, err := c.fastText.args()
			if err != nil {
				return nil, err
			}
			o.FastText.Args = args
		case c.static != nil:
			so := c.static
			o.Static = train.StaticOptions{
				Base: so.Base, FromScratch: so.FromScratch, Tokenizer: so.Tokenizer, Dim: so.Dim, Finetune: so.Finetune,
				Regression: so.Regression, Fields: fields, Normalizer: so.Normalizer, Hidden: so.Hidden,
				Backend: so.Backend, Progress: r.progress, Quiet: r.quiet,
				Head: head.Options{
					LearningRate: so.LR, BatchSize: so.BatchSize, MaxEpochs: so.MaxEpochs, Patience: so.Patience,
					ClassWeight: head.ClassWeighting(so.ClassWeight), Seed: so.Seed, Clusters: so.Clusters, Margin: so.Margin,
				},
			}
			if o.Static.Dim == 0 && so.FromScratch {
				o.Static.Dim = 256
			}
			if o.Static.Head.LearningRate == 0 {
				o.Static.Head.LearningRate = 1e-3
			}
			if o.Static.Head.Patience == 0 {
				o.Static.Head.Patience = 5
			}
		case c.encoder != nil:
			eo := c.encoder
			o.Encoder = train.EncoderOptions{
				Base: eo.Base, Fields: fields, NumLabels: eo.NumLabels, ConstantRate: eo.ConstantRate,
				Backend: eo.Backend, BatchSize: eo.ForwardBatchSize, MaxLength: eo.MaxLength, Progress: r.progress, Quiet: r.quiet,
				Head: head.Options{
					LearningRate: eo.LR, WeightDecay: eo.WeightDecay, BatchSize: eo.BatchSize, MaxEpochs: eo.Epochs,
					Patience: eo.Patience, Seed: eo.Seed,
				},
			}
			if len(eo.Range) == 2 {
				o.Encoder.Range = &[2]float64{eo.Range[0], eo.Range[1]}
			}
			// The [CLS] states outlive the step's folder: another head on the
			// same base, rows and forward pass reuses them.
			o.Encoder.FeaturesDir = FeaturesDir(r.exp, c.Name)
		}
		man, err := train.Train(ctx, o)
		if err != nil {
			return nil, err
		}
		// Every classifier is evaluated on the same rows: the split's.
		load := c.loadOptions()
		res, err := train.Evaluate(ctx, train.EvalOptions{Datasets: []string{split.Dir}, ModelDir: dir, Fields: fields, Load: load, Log: r.log})
		if err != nil {
			return nil, err
		}
		preds, err := predictTest(ctx, dir, split.Dir, load)
		if err != nil {
			return nil, err
		}
		if dir != model {
			if _, err := storage.CopyTree(ctx, dir, model); err != nil {
				return nil, fmt.Errorf("copy the model into the experiment: %w", err)
			}
		}
		if err := writeJSON(ctx, storage.Join(r.step.Dir, PredictionsFile), preds); err != nil {
			return nil, err
		}
		facts := &TrainFacts{Classifier: c.Name, Kind: c.Kind, ModelDir: model, Labels: man.Labels}
		for _, sr := range res.Splits {
			if sr.Split == "test" {
				facts.Test = sr
				facts.Metrics = metricsOf(sr)
			}
		}
		r.rows = int64(len(preds.True))
		return facts, nil
	}
}

// TrainFacts are a train step's results.
type TrainFacts struct {
	Classifier string             `json:"classifier"`
	Kind       string             `json:"kind"`
	ModelDir   string             `json:"model_dir"`
	Labels     []string           `json:"labels,omitempty"`
	Metrics    map[string]float64 `json:"metrics"`
	Test       *train.SplitResult `json:"test"`
}

// metricsOf extracts the selectable metrics of a test split's results.
func metricsOf(sr *train.SplitResult) map[string]float64 {
	m := map[string]float64{}
	if rep := sr.Report; rep != nil {
		m["accuracy"] = rep.Accuracy
		m["macro_f1"] = rep.MacroAvg.F1
		m["weighted_f1"] = rep.WeightedAvg.F1
		if rep.AUC != nil {
			m["roc_auc"] = *rep.AUC
		}
	}
	if reg := sr.Regression; reg != nil {
		m["mse"], m["mae"] = reg.MSE, reg.MAE
		m["macro_f1"] = reg.MacroF1()
	}
	if rk := sr.Ranking; rk != nil {
		if rk.Spearman != nil {
			m["spearman"] = *rk.Spearman
		}
		if rk.AUC != nil {
			m["roc_auc"] = *rk.AUC
		}
	}
	return m
}

// SelectFacts say which classifier filters, and why.
type SelectFacts struct {
	Classifier string             `json:"classifier"`
	ModelDir   string             `json:"model_dir"`
	Metric     string             `json:"metric,omitempty"`
	Values     map[string]float64 `json:"values,omitempty"`
}

func runSelect(sel *Select, trained []*Step) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		facts := SelectFacts{Metric: sel.Metric, Values: map[string]float64{}}
		best := ""
		for _, t := range trained {
			tf, err := readFacts[TrainFacts](ctx, r.exp, t)
			if err != nil {
				return nil, err
			}
			if sel.Classifier != "" {
				if tf.Classifier == sel.Classifier {
					facts.Classifier, facts.ModelDir = tf.Classifier, tf.ModelDir
				}
				continue
			}
			v, ok := tf.Metrics[sel.Metric]
			if !ok {
				return nil, fmt.Errorf("classifier %s has no %s on its test split (it has: %s)", tf.Classifier, sel.Metric, keys(tf.Metrics))
			}
			facts.Values[tf.Classifier] = v
			lower := Metrics[sel.Metric]
			if best == "" || (lower && v < facts.Values[best]) || (!lower && v > facts.Values[best]) {
				best = tf.Classifier
				facts.Classifier, facts.ModelDir = tf.Classifier, tf.ModelDir
			}
		}
		if facts.Classifier == "" {
			return nil, fmt.Errorf("no classifier selected")
		}
		fmt.Fprintf(r.out, "  selected %s", facts.Classifier)
		if sel.Metric != "" {
			fmt.Fprintf(r.out, " (%s %.4f)", sel.Metric, facts.Values[facts.Classifier])
		}
		fmt.Fprintln(r.out)
		return facts, nil
	}
}

// FilterFacts are the filter's report, whose Scores are the score
// distribution over the corpus, and the cut.
type FilterFacts struct {
	Classifier string         `json:"classifier"`
	Dir        string         `json:"dir"`
	Report     *filter.Report `json:"report"`
	// Cut is the score from which rows were kept (keep fraction or
	// threshold runs).
	Cut *float64 `json:"cut,omitempty"`
}

func runFilter(f *Filter, inputs []string, sel *Step, trained []*Step) func(context.Context, *runState) (any, error) {
	return func(ctx context.Context, r *runState) (any, error) {
		sf, err := readFacts[SelectFacts](ctx, r.exp, sel)
		if err != nil {
			return nil, err
		}
		model := filter.ModelOptions{Path: sf.ModelDir, Name: sf.Classifier}
		if c := r.spec.classifier(sf.Classifier); c != nil {
			// An encoder scores with its backend and forward-pass options.
			lo := c.loadOptions()
			model.Backend, model.BatchSize, model.MaxLength = lo.Backend, lo.BatchSize, lo.MaxLength
		}
		o := filter.FilterOptions{
			ScoreOptions: filter.ScoreOptions{
				Common: r.common(r.step, inputs), Model: model, NoVersionDir: true, Incremental: f.Incremental,
			},
			Selection:    scoring.Selection{Threshold: f.Threshold, Expression: f.Expression, Seed: f.Seed},
			KeepFraction: f.KeepFraction,
		}
		res, err := filter.Filter(ctx, o)
		if err != nil {
			return nil, err
		}
		if res.Submitted {
			return nil, errSubmitted
		}
		r.counts(res.Result)
		facts := &FilterFacts{Classifier: sf.Classifier, Dir: res.Dir, Report: res.Report}
		switch {
		case res.Report.Cut != nil:
			c := (res.Report.Cut.Low + res.Report.Cut.High) / 2
			facts.Cut = &c
		case f.Threshold != nil:
			facts.Cut = f.Threshold
		}
		fmt.Fprintf(r.out, "  kept %d of %d rows with %s: %s\n", res.Report.Kept, res.Report.RowsIn, sf.Classifier, res.Dir)
		return facts, nil
	}
}

func keys(m map[string]float64) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return strings.Join(ks, ", ")
}
