package fasttext

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// AutotuneOptions configure hyper-parameter search (fastText's -autotune-*
// arguments).
type AutotuneOptions struct {
	// Validation is the labelled file the candidates are scored on.
	Validation string
	// Metric is "f1" (micro-averaged F1 over all labels, the default) or
	// "f1:LABEL" (F1 of one label, e.g. f1:__label__pos).
	Metric string
	// Predictions is the number of labels predicted per line when scoring
	// (default 1).
	Predictions int
	// Duration bounds the search (default 5 minutes); the final training
	// with the best arguments comes after it.
	Duration time.Duration
	// ModelSize, when set (e.g. "2M", "500K", in bytes with k/m/g
	// suffixes), makes every candidate a quantized model that must fit.
	ModelSize string
	// DSub is the starting sub-vector length of quantization (default 2).
	DSub int
	// Manual names the arguments fixed by the user (fastText names: lr,
	// dim, epoch, wordNgrams, minn, maxn, bucket, loss, dsub); they are not
	// searched.
	Manual map[string]bool
}

// AutotuneProgress reports the search after each trial.
type AutotuneProgress struct {
	Elapsed, Duration time.Duration
	Trials            int
	// BestScore is NaN until a candidate has been scored.
	BestScore float64
}

// AutotuneResult is the outcome of a search.
type AutotuneResult struct {
	Model *Model
	// Args are the best arguments found (with which Model was trained).
	Args   Args
	Trials int
	Score  float64
	// Quantize holds the quantization applied to Model (with ModelSize).
	Quantize *QuantizeOptions
}

const autotuneCutoffLimit = 256

// Autotune searches for good training arguments as fastText's autotune does
// (the same random search, seeded with args.Seed): it trains candidates on
// input until the duration is spent, scores each on the validation file,
// and finally trains with the best arguments. progress may be nil.
func Autotune(ctx context.Context, input string, args Args, o AutotuneOptions, progress func(AutotuneProgress)) (*AutotuneResult, error) {
	if o.Metric == "" {
		o.Metric = "f1"
	}
	if o.Predictions == 0 {
		o.Predictions = 1
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Minute
	}
	metricLabel, err := parseAutotuneMetric(o.Metric)
	if err != nil {
		return nil, err
	}
	modelSize, err := ParseModelSize(o.ModelSize)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.Validation); err != nil {
		return nil, fmt.Errorf("autotune validation file: %w", err)
	}
	if err := checkK(o.Predictions); err != nil {
		return nil, fmt.Errorf("autotune predictions: %w", err)
	}
	if args.Label == "" {
		args.Label = "__label__"
	}
	at := &autotuner{opts: o, metricLabel: metricLabel, modelSize: modelSize, args: args}
	return at.run(ctx, input, progress)
}

// parseAutotuneMetric returns the label of an f1:LABEL metric ("" for f1).
func parseAutotuneMetric(metric string) (string, error) {
	switch {
	case metric == "f1":
		return "", nil
	case strings.HasPrefix(metric, "f1:"):
		if metric == "f1:" {
			return "", fmt.Errorf("autotune metric %q: empty label", metric)
		}
		return metric[3:], nil
	}
	return "", fmt.Errorf("unknown autotune metric %q (want f1 or f1:LABEL)", metric)
}

// ParseModelSize parses a size such as "2M" (k, m and g are powers of 1000,
// either case). An empty string means unlimited and returns 0.
func ParseModelSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = 1000
	case 'm', 'M':
		mult = 1000000
	case 'g', 'G':
		mult = 1000000000
	}
	num := s
	if mult != 1 {
		num = s[:len(s)-1]
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("unable to parse model size %q (e.g. 2M, 500K)", s)
	}
	return v * mult, nil
}

type autotuner struct {
	opts        AutotuneOptions
	metricLabel string
	modelSize   int64
	args        Args

	rng           minstd
	best          Args
	bestMinnIndex int
	bestDsubExp   int
	bestBucket    int
	trials        int
}

var minnChoices = []int{0, 2, 3}

// gauss perturbs val with a normal draw whose spread shrinks from
// startSigma to endSigma over the second quarter to the third quarter of
// the search (t in [0, 1]); linear adds the draw, otherwise val is scaled
// by 2^draw.
func (at *autotuner) gauss(val, startSigma, endSigma, t float64, linear bool) float64 {
	stddev := startSigma - ((startSigma-endSigma)/0.5)*math.Min(0.5, math.Max(t-0.25, 0))
	coeff := at.rng.normal(0, stddev)
	if linear {
		return coeff + val
	}
	return math.Pow(2, coeff) * val
}

func (at *autotuner) gaussInt(val, lo, hi int, startSigma, endSigma, t float64, linear bool) int {
	v := int(at.gauss(float64(val), startSigma, endSigma, t, linear))
	return min(max(v, lo), hi)
}

func (at *autotuner) updateBest(a Args, dsub int) {
	at.best = a
	at.bestMinnIndex = 0
	for i, c := range minnChoices {
		if c == a.Minn {
			at.bestMinnIndex = i
			break
		}
	}
	at.bestDsubExp = int(math.Log2(float64(dsub)))
	if a.Bucket != 0 {
		at.bestBucket = a.Bucket
	}
}

// ask returns the next candidate (AutotuneStrategy::ask): the user's
// arguments first, then random perturbations of the best so far.
func (at *autotuner) ask(t float64) (Args, int) {
	at.trials++
	dsub := 1 << at.bestDsubExp
	if at.trials == 1 {
		return at.best, dsub
	}
	a := at.best
	man := at.opts.Manual
	if !man["epoch"] {
		a.Epoch = at.gaussInt(a.Epoch, 1, 100, 2.8, 2.5, t, false)
	}
	if !man["lr"] {
		a.LR = min(max(at.gauss(a.LR, 1.9, 1.0, t, false), 0.01), 5.0)
	}
	if !man["dim"] {
		a.Dim = at.gaussInt(a.Dim, 1, 1000, 1.4, 0.3, t, false)
	}
	if !man["wordNgrams"] {
		a.WordNgrams = at.gaussInt(a.WordNgrams, 1, 5, 4.3, 2.4, t, true)
	}
	if !man["dsub"] {
		dsub = 1 << at.gaussInt(at.bestDsubExp, 1, 4, 2.0, 1.0, t, true)
	}
	if !man["minn"] {
		a.Minn = minnChoices[at.gaussInt(at.bestMinnIndex, 0, len(minnChoices)-1, 4.0, 1.4, t, true)]
	}
	if !man["maxn"] {
		if a.Minn == 0 {
			a.Maxn = 0
		} else {
			a.Maxn = a.Minn + 3
		}
	}
	if !man["bucket"] {
		a.Bucket = at.gaussInt(at.bestBucket, 10000, 10000000, 2.0, 1.5, t, false)
	} else {
		a.Bucket = at.args.Bucket
	}
	if a.WordNgrams <= 1 && a.Maxn == 0 {
		a.Bucket = 0
	}
	if !man["loss"] {
		a.Loss = LossSoftmax
	}
	return a, dsub
}

func (at *autotuner) run(ctx context.Context, input string, progress func(AutotuneProgress)) (*AutotuneResult, error) {
	at.rng = newMinstd(int64(at.args.Seed))
	at.bestBucket = 2000000
	at.bestDsubExp = 1
	dsub0 := at.opts.DSub
	if dsub0 <= 0 {
		dsub0 = 2
	}
	at.updateBest(at.args, dsub0)
	start := time.Now()
	searchCtx, cancel := context.WithTimeout(ctx, at.opts.Duration)
	defer cancel()
	bestScore := math.NaN()
	bestArgs, bestDsub := at.args, dsub0
	sizeFailed := 0
	for searchCtx.Err() == nil {
		elapsed := time.Since(start)
		cand, dsub := at.ask(math.Min(1, elapsed.Seconds()/at.opts.Duration.Seconds()))
		m, err := Train(searchCtx, input, cand, nil)
		if err != nil {
			if searchCtx.Err() != nil {
				break
			}
			if errors.Is(err, ErrDiverged) {
				continue
			}
			return nil, err
		}
		_, ok, err := at.quantize(searchCtx, m, cand, dsub, input)
		if err != nil {
			if searchCtx.Err() != nil {
				break
			}
			ok = false // e.g. too few rows to quantize: the candidate cannot meet the size
		}
		if !ok {
			sizeFailed++
		} else {
			score, err := at.score(m)
			if err != nil {
				return nil, err
			}
			if !math.IsNaN(score) && (math.IsNaN(bestScore) || score > bestScore) {
				bestScore, bestArgs, bestDsub = score, cand, dsub
				at.updateBest(cand, dsub)
			}
		}
		if progress != nil {
			progress(AutotuneProgress{Elapsed: time.Since(start), Duration: at.opts.Duration, Trials: at.trials, BestScore: bestScore})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("autotune: %w", err)
	}
	if math.IsNaN(bestScore) {
		if at.trials > 10 && sizeFailed > at.trials/2 {
			return nil, fmt.Errorf("autotune: couldn't fulfil model size constraint: please increase -autotune-modelsize")
		}
		return nil, fmt.Errorf("autotune: didn't have enough time to train once: please increase -autotune-duration")
	}
	m, err := Train(ctx, input, bestArgs, nil)
	if err != nil {
		return nil, fmt.Errorf("autotune: final training: %w", err)
	}
	q, _, err := at.quantize(ctx, m, bestArgs, bestDsub, input)
	if err != nil {
		return nil, fmt.Errorf("autotune: final quantization: %w", err)
	}
	return &AutotuneResult{Model: m, Args: bestArgs, Trials: at.trials, Score: bestScore, Quantize: q}, nil
}

// quantize applies the model size constraint (Autotune::quantize); ok is
// false when no cutoff can meet it.
func (at *autotuner) quantize(ctx context.Context, m *Model, a Args, dsub int, input string) (*QuantizeOptions, bool, error) {
	if at.modelSize == 0 {
		return nil, true, nil
	}
	outRows, outCols := m.outputShape()
	q := &QuantizeOptions{DSub: dsub, QNorm: true, QOut: outRows >= autotuneCutoffLimit, Retrain: true,
		Input: input, Epoch: a.Epoch, LR: a.LR, Thread: a.Thread}
	var outSize int64
	if q.QOut {
		pqSize := 16 + 4*(outCols*(1<<8))
		outSize = 21 + outRows*((outCols+2-1)/2) + pqSize + outRows
	} else {
		outSize = 16 + 4*(outRows*outCols)
	}
	dim := int64(m.args.Dim)
	target := int32(at.modelSize - 107 - 4*(1<<8)*dim - outSize)
	cutoff := int(target) / int((dim+int64(dsub)-1)/int64(dsub)+1+10)
	q.Cutoff = max(cutoff, autotuneCutoffLimit)
	if q.Cutoff == autotuneCutoffLimit {
		return q, false, nil
	}
	if err := m.Quantize(ctx, *q, nil); err != nil {
		return nil, false, err
	}
	return q, true, nil
}

func (at *autotuner) score(m *Model) (float64, error) {
	f, err := os.Open(at.opts.Validation)
	if err != nil {
		return 0, fmt.Errorf("autotune validation file: %w", err)
	}
	defer f.Close()
	res, err := m.Test(f, at.opts.Predictions, 0)
	if err != nil {
		return 0, fmt.Errorf("autotune validation file %s: %w", at.opts.Validation, err)
	}
	if at.metricLabel == "" {
		return res.F1(), nil
	}
	id := m.dict.id(at.metricLabel)
	if id < 0 || id < m.dict.nwords {
		return 0, fmt.Errorf("autotune metric label %q is not a label of the model", at.metricLabel)
	}
	return res.Labels[id-m.dict.nwords].F1(), nil
}
