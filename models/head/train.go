package head

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/winnowlabs/winnow/models/evaluate"
	"github.com/winnowlabs/winnow/models/gomlxbackend"
)

// Dataset holds rows of pooled features and their labels.
type Dataset struct {
	// X holds the rows, InputDim values each, row-major.
	X []float32
	// Classes are a classification set's class indices, in [0, Outputs).
	Classes []int
	// Targets are a regression or ranking set's numeric labels.
	Targets []float32
}

// Train trains a head of shape cfg on the pooled features of train,
// selecting the best epoch on valid (carved out of train when valid has no
// rows), on backend. Classification minimises the (class-weighted)
// cross-entropy, regression the mean squared error, ranking the pairwise
// hinge loss within k-means clusters (see the package documentation for
// the recipes and for determinism).
//
// Cancelling ctx stops training between steps and returns ctx's error.
func Train(ctx context.Context, backend compute.Backend, cfg Config, train, valid Dataset, opts Options) (*Head, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, opts: opts, backend: backend, mode: "features"}
	validGiven := len(valid.X) > 0 || len(valid.Classes) > 0 || len(valid.Targets) > 0
	err := r.setData(&featureSource{x: train.X, dim: cfg.InputDim}, &featureSource{x: valid.X, dim: cfg.InputDim},
		labels{train.Classes, train.Targets}, labels{valid.Classes, valid.Targets}, validGiven)
	if err != nil {
		return nil, err
	}
	if cfg.Task == Ranking {
		r.mode = "ranking"
		if err := r.opts.resolve(&r.cfg, r.src.rows()); err != nil {
			return nil, err
		}
		if err := r.clusterRows(r.src.(*featureSource), r.vsrc.(*featureSource)); err != nil {
			return nil, err
		}
	}
	return r.fit(ctx)
}

// labels are a set's classes or targets.
type labels struct {
	classes []int
	targets []float32
}

func (l labels) subset(rows []int) labels {
	var s labels
	for _, i := range rows {
		if l.classes != nil {
			s.classes = append(s.classes, l.classes[i])
		} else {
			s.targets = append(s.targets, l.targets[i])
		}
	}
	return s
}

// setData checks the training and validation sets and, when no
// validation set is given, carves one out of the training rows.
func (r *run) setData(ts, vs source, tl, vl labels, validGiven bool) error {
	tl, err := checkSet("training", r.cfg, ts, tl)
	if err != nil {
		return err
	}
	if validGiven {
		if vl, err = checkSet("validation", r.cfg, vs, vl); err != nil {
			return err
		}
		r.src, r.vsrc, r.train, r.valid = ts, vs, tl, vl
		return nil
	}
	if ts.rows() < 2 {
		return fmt.Errorf("head: training set has %d row, too few to carve a validation set from", ts.rows())
	}
	frac := r.opts.ValidFraction
	if frac == 0 {
		frac = 0.1
	}
	tr, va := carve(ts.rows(), tl.classes, r.cfg.Outputs, frac)
	r.src, r.vsrc, r.train, r.valid = ts.subset(tr), ts.subset(va), tl.subset(tr), tl.subset(va)
	r.carved = true
	return nil
}

// checkSet checks a set's rows and that its labels fit the task: one per
// row, classes in range, targets finite. It returns the labels the task
// uses.
func checkSet(name string, cfg Config, src source, l labels) (labels, error) {
	n, err := src.check()
	if err != nil {
		return labels{}, fmt.Errorf("head: %s set: %w", name, err)
	}
	if n == 0 {
		return labels{}, fmt.Errorf("head: %s set is empty", name)
	}
	if cfg.Task == Classification {
		if len(l.classes) != n {
			return labels{}, fmt.Errorf("head: %s set has %d rows but %d classes", name, n, len(l.classes))
		}
		for i, c := range l.classes {
			if c < 0 || c >= cfg.Outputs {
				return labels{}, fmt.Errorf("head: %s row %d has class %d, outside [0, %d)", name, i, c, cfg.Outputs)
			}
		}
		return labels{classes: l.classes}, nil
	}
	if len(l.targets) != n {
		return labels{}, fmt.Errorf("head: %s set has %d rows but %d targets", name, n, len(l.targets))
	}
	for i, t := range l.targets {
		if math.IsNaN(float64(t)) || math.IsInf(float64(t), 0) {
			return labels{}, fmt.Errorf("head: %s row %d has target %v", name, i, t)
		}
	}
	return labels{targets: l.targets}, nil
}

// source gives a training mode's model inputs.
type source interface {
	// check validates the rows and returns their number.
	check() (int, error)
	rows() int
	// inputs returns the model inputs of rows, padded to size rows.
	inputs(rows []int, size int) []*tensors.Tensor
	// batches cuts rows, in order, into batches of at most b rows.
	batches(rows []int, b int) [][]int
	subset(rows []int) source
}

// featureSource holds pooled features.
type featureSource struct {
	x   []float32
	dim int
}

func (s *featureSource) rows() int { return len(s.x) / s.dim }

func (s *featureSource) check() (int, error) {
	if len(s.x)%s.dim != 0 {
		return 0, fmt.Errorf("%d feature values are not rows of the input dimension %d", len(s.x), s.dim)
	}
	for i, v := range s.x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("row %d has feature %d = %v", i/s.dim, i%s.dim, v)
		}
	}
	return len(s.x) / s.dim, nil
}

func (s *featureSource) inputs(rows []int, size int) []*tensors.Tensor {
	t := tensors.FromShape(shapes.Make(dtypes.Float32, size, s.dim))
	tensors.MustMutableFlatData(t, func(flat []float32) {
		for i, r := range rows {
			copy(flat[i*s.dim:(i+1)*s.dim], s.x[r*s.dim:(r+1)*s.dim])
		}
		clear(flat[len(rows)*s.dim:])
	})
	return []*tensors.Tensor{t}
}

func (s *featureSource) batches(rows []int, b int) [][]int { return chunks(rows, b) }

func (s *featureSource) subset(rows []int) source {
	x := make([]float32, 0, len(rows)*s.dim)
	for _, r := range rows {
		x = append(x, s.x[r*s.dim:(r+1)*s.dim]...)
	}
	return &featureSource{x: x, dim: s.dim}
}

func chunks(rows []int, b int) [][]int {
	var out [][]int
	for len(rows) > 0 {
		n := min(b, len(rows))
		out = append(out, rows[:n:n])
		rows = rows[n:]
	}
	return out
}

// run is one training run.
type run struct {
	cfg     Config
	opts    Options
	backend compute.Backend
	mode    string
	carved  bool

	src, vsrc    source
	train, valid labels
	// trainBatches returns an epoch's batches and the number of batches
	// skipped (ranking); nil means shuffled rows cut by src.batches.
	trainBatches func(r *rand.Rand) ([][]int, int)
	validBatches [][]int
	// validGroups are a ranking head's validation clusters cut into
	// batches, the pairs of its validation loss.
	validGroups [][]int
	clusters    int

	// embed is the fine-tuned embedding model, nil when training on
	// features.
	embed *Embeddings

	store      *model.Store
	headVars   []*model.Variable
	embedVars  []*model.Variable
	lrVar      *model.Variable
	trainExec  *model.Exec
	evalExec   *model.Exec
	weightsCls []float32
}

func (r *run) task() Task { return r.cfg.Task }

// fit trains and returns the best epoch's head.
func (r *run) fit(ctx context.Context) (*Head, error) {
	if err := r.opts.resolve(&r.cfg, r.src.rows()); err != nil {
		return nil, err
	}
	o := &r.opts
	if r.task() == Classification {
		w, err := classWeights(o.ClassWeight, r.train.classes, r.cfg.Outputs)
		if err != nil {
			return nil, err
		}
		o.ClassWeights = w
		r.weightsCls = make([]float32, len(w))
		for i, v := range w {
			r.weightsCls[i] = float32(v)
		}
	} else if o.Range == nil {
		lo, hi := slices.Min(r.train.targets), slices.Max(r.train.targets)
		o.Range = &[2]float64{float64(lo), float64(hi)}
	}
	if r.validBatches == nil {
		r.validBatches = r.vsrc.batches(seq(r.vsrc.rows()), o.BatchSize)
	}
	if err := gomlxbackend.Recover(r.build); err != nil {
		return nil, fmt.Errorf("head: build the training graph: %w", err)
	}
	defer func() {
		r.trainExec.Finalize()
		r.evalExec.Finalize()
		r.store.Finalize()
	}()

	rng := rand.New(rand.NewPCG(o.Seed, 0x7368756666)) // "shuff"
	mon := newMonitor(o.Metric != Loss, o.MinDelta)
	plat := newPlateau(o.PlateauFactor, o.PlateauThreshold, o.MinLearningRate, o.PlateauPatience)
	lr := o.LearningRate
	rec := &Record{Mode: r.mode, Backend: r.backend.Name(), TrainRows: r.src.rows(), ValidRows: r.vsrc.rows(), ValidCarved: r.carved, Clusters: r.clusters}
	var best [][]float32
	start := time.Now()
	step := 0
	for epoch := 1; ; epoch++ {
		t0 := time.Now()
		if err := r.setLR(lr); err != nil {
			return nil, err
		}
		batches, skipped := r.epochBatches(rng)
		if len(batches) == 0 {
			return nil, errors.New("head: no training batch has two rows with different labels in one cluster, so there is nothing to rank")
		}
		var lossSum float64
		var lossRows int
		for i, b := range batches {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if o.LinearDecay && i > 0 {
				total := float64(o.MaxEpochs * len(batches))
				if err := r.setLR(o.LearningRate * max(0, 1-float64(step)/total)); err != nil {
					return nil, err
				}
			}
			step++
			l, err := r.step(b)
			if err != nil {
				return nil, fmt.Errorf("head: epoch %d: %w", epoch, err)
			}
			lossSum += l * float64(len(b))
			lossRows += len(b)
		}
		trainSecs := time.Since(t0).Seconds()
		out, err := r.predict(r.vsrc, r.validBatches)
		if err != nil {
			return nil, fmt.Errorf("head: epoch %d: %w", epoch, err)
		}
		vloss, metric, err := r.validate(out)
		if err != nil {
			return nil, fmt.Errorf("head: epoch %d: %w", epoch, err)
		}
		trainLoss := lossSum / float64(lossRows)
		if math.IsNaN(trainLoss) || math.IsNaN(vloss) || math.IsInf(vloss, 0) {
			return nil, fmt.Errorf("head: training diverged at epoch %d (train loss %v, validation loss %v)", epoch, trainLoss, vloss)
		}
		e := Epoch{Epoch: epoch, TrainLoss: Number(trainLoss), ValidLoss: Number(vloss), Metric: Number(metric), LearningRate: lr, SkippedBatches: skipped}
		if e.Best = mon.update(metric); e.Best || best == nil {
			if best, err = r.snapshot(); err != nil {
				return nil, err
			}
			rec.BestEpoch = epoch
		}
		e.Seconds = time.Since(t0).Seconds()
		if trainSecs > 0 {
			e.RowsPerSecond = float64(lossRows) / trainSecs
		}
		if o.MaxEpochs > 0 {
			e.ETA = time.Duration(float64(time.Since(start)) / float64(epoch) * float64(o.MaxEpochs-epoch))
		}
		rec.History = append(rec.History, e)
		if o.Progress != nil {
			o.Progress(e)
		}
		switch {
		case o.Patience > 0 && mon.wait >= o.Patience:
			rec.Stopped = "early stopping"
		case o.MaxEpochs > 0 && epoch >= o.MaxEpochs:
			rec.Stopped = "max epochs"
		}
		if rec.Stopped != "" {
			break
		}
		switch {
		case o.LinearDecay:
			lr = o.LearningRate * max(0, 1-float64(step)/float64(o.MaxEpochs*len(batches)))
		case !o.NoPlateau:
			lr = plat.step(vloss, lr)
		}
	}
	rec.Options = *o
	rec.Options.Progress, rec.Options.Init, rec.Options.Labels = nil, nil, nil
	h := &Head{Config: r.cfg, Range: o.Range, Training: rec}
	if r.task() == Classification {
		h.Labels = o.Labels
		if h.Labels == nil {
			for i := range r.cfg.Outputs {
				h.Labels = append(h.Labels, strconv.Itoa(i))
			}
		}
	}
	for i, l := range r.cfg.dims() {
		h.Layers = append(h.Layers, Layer{In: l[0], Out: l[1], W: best[2*i], B: best[2*i+1]})
	}
	if r.embed != nil {
		r.embed.fromTrained(best[len(h.Layers)*2], best[len(h.Layers)*2+1])
	}
	return h, h.check()
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// epochBatches returns an epoch's training batches.
func (r *run) epochBatches(rng *rand.Rand) ([][]int, int) {
	if r.trainBatches != nil {
		return r.trainBatches(rng)
	}
	order := rng.Perm(r.src.rows())
	batches := r.src.batches(order, r.opts.BatchSize)
	// Buckets of the token source come out grouped: mix them.
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	return batches, 0
}

// build creates the variables and the training and evaluation graphs.
// It panics on GoMLX errors (the caller recovers).
func (r *run) build() error {
	r.store = model.NewStore()
	layers := initLayers(r.cfg, r.opts.Seed)
	for i, l := range r.opts.Init {
		if l != nil {
			layers[i] = *l // the variables copy the values
		}
	}
	for i, l := range layers {
		w, err := r.store.CreateVariable(fmt.Sprintf("/head/w%d", i), tensors.FromFlatDataAndDimensions(l.W, l.Out, l.In))
		if err != nil {
			return err
		}
		b, err := r.store.CreateVariable(fmt.Sprintf("/head/b%d", i), tensors.FromFlatDataAndDimensions(l.B, l.Out))
		if err != nil {
			return err
		}
		r.headVars = append(r.headVars, w, b)
	}
	if r.embed != nil {
		table, err := r.store.CreateVariable("/embed/table", tensors.FromFlatDataAndDimensions(r.embed.Table, r.embed.Vocab, r.embed.Dim))
		if err != nil {
			return err
		}
		logits, err := r.store.CreateVariable("/embed/weight_logits", tensors.FromFlatDataAndDimensions(r.embed.logits(), r.embed.Vocab))
		if err != nil {
			return err
		}
		r.embedVars = []*model.Variable{table, logits}
	}
	lr := r.opts.LearningRate
	r.lrVar = optimizer.LearningRateVar(r.store.RootScope(), dtypes.Float32, lr)
	opt := optimizer.Adam().LearningRate(lr).Epsilon(1e-8).WeightDecay(r.opts.WeightDecay).Done()
	var err error
	r.trainExec, err = model.NewExec(r.backend, r.store, func(scope *model.Scope, in []*graph.Node) *graph.Node {
		g := in[0].Graph()
		n := len(in) - 2
		out := r.forwardGraph(g, in[:n])
		loss := r.lossGraph(out, in[n], in[n+1])
		opt.UpdateGraph(scope, g, loss)
		return loss
	})
	if err != nil {
		return err
	}
	r.evalExec, err = model.NewExec(r.backend, r.store, func(scope *model.Scope, in []*graph.Node) *graph.Node {
		return r.forwardGraph(in[0].Graph(), in)
	})
	return err
}

// forwardGraph maps the model inputs to the head's outputs [B, Outputs].
func (r *run) forwardGraph(g *graph.Graph, in []*graph.Node) *graph.Node {
	params := make([]*graph.Node, len(r.headVars))
	for i, v := range r.headVars {
		params[i] = v.NodeValue(g)
	}
	x := in[0]
	if r.embed != nil {
		x = pooledGraph(in[0], in[1], r.embedVars[0].NodeValue(g), r.embedVars[1].NodeValue(g), r.embed.Normalize)
	}
	return mlpGraph(&r.cfg, x, params)
}

// lossGraph is the task's loss of outputs out [B, Outputs] against the
// labels (class indices or targets) with per-row weights rw (0 for the
// padding rows).
func (r *run) lossGraph(out, labels, rw *graph.Node) *graph.Node {
	switch r.task() {
	case Classification:
		logp := graph.LogSoftmax(out, -1)
		nll := graph.Neg(graph.ReduceSum(graph.Mul(logp, graph.OneHot(labels, r.cfg.Outputs, dtypes.Float32)), -1))
		return graph.Div(graph.ReduceAllSum(graph.Mul(nll, rw)), graph.ReduceAllSum(rw))
	case Regression:
		d := graph.Sub(graph.Reshape(out, out.Shape().Dim(0)), labels)
		return graph.Div(graph.ReduceAllSum(graph.Mul(graph.Square(d), rw)), graph.ReduceAllSum(rw))
	default:
		return pairwiseHingeGraph(graph.Reshape(out, out.Shape().Dim(0)), labels, rw, r.opts.Margin)
	}
}

// step runs one training step on a batch and returns its loss.
func (r *run) step(rows []int) (loss float64, err error) {
	size := r.opts.BatchSize
	in := r.src.inputs(rows, size)
	lab, rw := r.labelTensors(r.train, rows, size)
	args := make([]any, 0, len(in)+2)
	for _, t := range in {
		args = append(args, t)
	}
	args = append(args, lab, rw)
	err = gomlxbackend.Recover(func() error {
		out, err := r.trainExec.Exec(args...)
		if err != nil {
			return err
		}
		defer out[0].FinalizeAll()
		loss = float64(tensors.MustCopyFlatData[float32](out[0])[0])
		return nil
	})
	return loss, err
}

// labelTensors returns the labels of rows padded to size, and the row
// weights: the class weight (classification) or 1, and 0 for padding.
func (r *run) labelTensors(l labels, rows []int, size int) (lab, rw *tensors.Tensor) {
	w := make([]float32, size)
	if l.classes != nil {
		c := make([]int32, size)
		for i, row := range rows {
			c[i] = int32(l.classes[row])
			w[i] = r.weightsCls[l.classes[row]]
		}
		return tensors.FromFlatDataAndDimensions(c, size), tensors.FromFlatDataAndDimensions(w, size)
	}
	t := make([]float32, size)
	for i, row := range rows {
		t[i] = l.targets[row]
		w[i] = 1
	}
	return tensors.FromFlatDataAndDimensions(t, size), tensors.FromFlatDataAndDimensions(w, size)
}

// predict returns the outputs of every row of src (rows × Outputs) from
// its batches.
func (r *run) predict(src source, batches [][]int) ([]float32, error) {
	k := r.cfg.Outputs
	out := make([]float32, src.rows()*k)
	for _, b := range batches {
		in := src.inputs(b, r.opts.BatchSize)
		args := make([]any, len(in))
		for i, t := range in {
			args[i] = t
		}
		err := gomlxbackend.Recover(func() error {
			res, err := r.evalExec.Exec(args...)
			if err != nil {
				return err
			}
			defer res[0].FinalizeAll()
			return tensors.ConstFlatData(res[0], func(flat []float32) {
				for i, row := range b {
					copy(out[row*k:(row+1)*k], flat[i*k:(i+1)*k])
				}
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// validate computes the validation loss (as the training loss defines it,
// over the whole set) and the selection metric from the outputs.
func (r *run) validate(out []float32) (loss, metric float64, err error) {
	k := r.cfg.Outputs
	switch r.task() {
	case Classification:
		var num, den float64
		correct := 0
		pred := make([]string, len(r.valid.classes))
		truth := make([]string, len(r.valid.classes))
		for i, c := range r.valid.classes {
			z := out[i*k : (i+1)*k]
			top := 0
			m := float64(z[0])
			for j, v := range z {
				m = max(m, float64(v))
				if v > z[top] {
					top = j
				}
			}
			var s float64
			for _, v := range z {
				s += math.Exp(float64(v) - m)
			}
			w := float64(r.weightsCls[c])
			num += w * (m + math.Log(s) - float64(z[c]))
			den += w
			if top == c {
				correct++
			}
			pred[i], truth[i] = strconv.Itoa(top), strconv.Itoa(c)
		}
		loss = num / den
		switch r.opts.Metric {
		case Accuracy:
			return loss, float64(correct) / float64(len(pred)), nil
		case MacroF1:
			rep, err := evaluate.Classify(truth, pred, nil)
			if err != nil {
				return 0, 0, err
			}
			return loss, rep.MacroAvg.F1, nil
		}
		return loss, loss, nil
	case Regression:
		preds := make([]float64, len(out))
		truth := make([]float64, len(out))
		for i, p := range out {
			d := float64(p) - float64(r.valid.targets[i])
			loss += d * d
			preds[i], truth[i] = float64(p), float64(r.valid.targets[i])
		}
		loss /= float64(len(out))
		switch r.opts.Metric {
		case MacroF1:
			rep, err := evaluate.Regress(truth, preds, r.opts.Range[0], r.opts.Range[1])
			if err != nil {
				return 0, 0, err
			}
			return loss, rep.MacroF1(), nil
		case Spearman:
			return loss, evaluate.Spearman(preds, truth), nil
		}
		return loss, loss, nil
	default:
		var sum float64
		var pairs int
		for _, b := range r.validGroups {
			s, t := make([]float32, len(b)), make([]float32, len(b))
			for i, row := range b {
				s[i], t[i] = out[row], r.valid.targets[row]
			}
			bs, bp := pairwiseHinge(s, t, r.opts.Margin)
			sum += bs
			pairs += bp
		}
		if pairs == 0 {
			return 0, 0, errors.New("no validation cluster has two rows with different labels, so the ranking loss is undefined")
		}
		loss = sum / float64(pairs)
		if r.opts.Metric == Spearman {
			preds := make([]float64, len(out))
			truth := make([]float64, len(out))
			for i := range out {
				preds[i], truth[i] = float64(out[i]), float64(r.valid.targets[i])
			}
			return loss, evaluate.Spearman(preds, truth), nil
		}
		return loss, loss, nil
	}
}

// setLR sets the optimizer's learning rate variable.
func (r *run) setLR(lr float64) error {
	return gomlxbackend.Recover(func() error {
		return r.lrVar.SetValue(tensors.FromScalar(float32(lr)))
	})
}

// snapshot copies the trainable variables' values: the head's layers
// (weight, bias, …), then the embedding table and weight logits.
func (r *run) snapshot() ([][]float32, error) {
	vars := append(slices.Clone(r.headVars), r.embedVars...)
	out := make([][]float32, len(vars))
	err := gomlxbackend.Recover(func() error {
		for i, v := range vars {
			t, err := v.Value()
			if err != nil {
				return err
			}
			if out[i], err = tensors.CopyFlatData[float32](t); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
