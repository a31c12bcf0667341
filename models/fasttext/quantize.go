package fasttext

import (
	"context"
	"fmt"
)

// QuantizeOptions are the settings of `fasttext quantize`.
type QuantizeOptions struct {
	// DSub is the length of the sub-vectors quantized together (default 2).
	DSub int
	// QNorm quantizes each row's norm separately from its direction.
	QNorm bool
	// QOut also quantizes the output matrix (sub-vectors of 2).
	QOut bool
	// Cutoff, when positive and smaller than the input matrix, keeps only
	// the Cutoff input rows (words and n-gram buckets) with the largest
	// norms, always keeping the end-of-sentence word.
	Cutoff int
	// Retrain fine-tunes the kept rows on Input after a cutoff, for Epoch
	// epochs at learning rate LR over Thread goroutines.
	Retrain bool
	Input   string
	Epoch   int
	LR      float64
	Thread  int
	// Exact retrains with the C++ tool's arithmetic (see Args.Exact).
	Exact bool
}

// Quantize turns m into a product-quantized model (FastText::quantize), in
// place: the dense input matrix (and output matrix, with QOut) is released.
// It must not run concurrently with predictions, and Predictors made before
// it must not be used after it. progress reports the retraining, if any; it
// may be nil.
func (m *Model) Quantize(ctx context.Context, o QuantizeOptions, progress ProgressFunc) error {
	if m.args.Model != ModelSupervised {
		return fmt.Errorf("quantize: only supervised models can be quantized")
	}
	if m.qinput != nil {
		return fmt.Errorf("quantize: the model is already quantized")
	}
	if o.DSub <= 0 {
		o.DSub = 2
	}
	input := m.input
	if o.Cutoff > 0 && int64(o.Cutoff) < input.m {
		idx, err := m.selectEmbeddings(o.Cutoff)
		if err != nil {
			return fmt.Errorf("quantize: %w", err)
		}
		idx = m.dict.prune(idx)
		pruned := newDenseMatrix(int64(len(idx)), input.n)
		for i, row := range idx {
			copy(pruned.row(int32(i)), input.row(row))
		}
		m.input = pruned
		input = pruned
		if o.Retrain {
			if o.Input == "" {
				return fmt.Errorf("quantize: retraining needs the training data (-input)")
			}
			ra := m.args
			ra.Epoch, ra.LR, ra.Thread, ra.Exact = o.Epoch, o.LR, o.Thread, o.Exact
			if err := ra.Validate(); err != nil {
				return fmt.Errorf("quantize: retraining arguments: %w", err)
			}
			info, err := statRegular(o.Input)
			if err != nil {
				return fmt.Errorf("quantize: %w", err)
			}
			m.buildLoss()
			t := &trainer{m: m, args: &ra, input: o.Input, size: info, progress: progress}
			if err := t.run(ctx); err != nil {
				return fmt.Errorf("quantize: retrain: %w", err)
			}
		}
	}
	qin, err := quantize(input, int32(o.DSub), o.QNorm)
	if err != nil {
		return fmt.Errorf("quantize input matrix: %w", err)
	}
	m.qinput, m.input = qin, nil
	m.qout = o.QOut
	if o.QOut {
		qo, err := quantize(m.output, 2, o.QNorm)
		if err != nil {
			return fmt.Errorf("quantize output matrix: %w", err)
		}
		m.qoutput, m.output = qo, nil
	}
	m.buildLoss()
	return nil
}

// selectEmbeddings returns the cutoff input rows with the largest norms,
// the end-of-sentence word first, ordered as std::sort orders them in
// FastText::selectEmbeddings.
func (m *Model) selectEmbeddings(cutoff int) ([]int32, error) {
	norms, err := m.input.l2NormRows()
	if err != nil {
		return nil, err
	}
	idx := make([]int32, m.input.m)
	for i := range idx {
		idx[i] = int32(i)
	}
	eos := m.dict.id(EOS)
	stlSort(idx, func(a, b *int32) bool {
		i1, i2 := *a, *b
		if i1 == eos && i2 == eos {
			return false
		}
		return eos == i1 || (eos != i2 && norms[i1] > norms[i2])
	})
	return idx[:cutoff], nil
}

// prune keeps the words and n-gram buckets of idx (Dictionary::prune) and
// returns the input rows to keep, in their new order: kept words by id,
// then kept buckets.
func (d *dictionary) prune(idx []int32) []int32 {
	var words, ngrams []int32
	for _, i := range idx {
		if i < d.nwords {
			words = append(words, i)
		} else {
			ngrams = append(ngrams, i)
		}
	}
	stlSort(words, func(a, b *int32) bool { return *a < *b })
	rows := append(append([]int32(nil), words...), ngrams...)
	d.prunePairs = d.prunePairs[:0]
	d.pruneIndex = newInt32Map(len(ngrams), d.bucket)
	for j, ng := range ngrams {
		p := prunePair{bucket: ng - d.nwords, row: int32(j)}
		d.prunePairs = append(d.prunePairs, p)
		d.pruneIndex.put(p.bucket, p.row)
	}
	d.pruneSize = int64(len(ngrams))
	j := 0
	for i := range d.words {
		if d.words[i].typ == typeLabel || (j < len(words) && words[j] == int32(i)) {
			d.words[j] = d.words[i]
			j++
		}
	}
	d.nwords = int32(len(words))
	d.words = d.words[:int(d.nwords)+int(d.nlabels)]
	d.rebuildTable(len(d.words))
	d.initSubwords()
	return rows
}
