package ftcli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/winnowlabs/winnow/models/fasttext"
)

// cliArgs are the arguments of fastText's training and quantization
// commands, with the C++ tool's names.
type cliArgs struct {
	input, output         string
	lr                    float64
	lrUpdateRate, dim, ws int
	epoch, minCount       int
	minCountLabel, neg    int
	wordNgrams            int
	loss                  string
	bucket, minn, maxn    int
	thread                int
	t                     float64
	label                 string
	verbose               int
	pretrainedVectors     string
	saveOutput            bool
	seed                  int
	qout, qnorm, retrain  bool
	cutoff, dsub          int
	autotuneValidation    string
	autotuneMetric        string
	autotunePredictions   int
	autotuneDuration      int
	autotuneModelSize     string
	exact                 bool
	manual                map[string]bool
	flags                 *flag.FlagSet
}

// float32Value parses a float as std::stof does (to float precision) and
// stores it widened to float64, as the C++ tool keeps -lr and -t.
type float32Value struct{ p *float64 }

func (v float32Value) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatFloat(*v.p, 'g', 6, 64)
}

func (v float32Value) Set(s string) error {
	f, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*v.p = float64(float32(f))
	return nil
}

// newCLIArgs returns the argument set of a command with fastText's defaults
// for it: supervised training changes lr, minCount, minn, maxn and loss.
func newCLIArgs(command string) *cliArgs {
	a := &cliArgs{
		lr: 0.05, dim: 100, ws: 5, epoch: 5, minCount: 5, neg: 5, wordNgrams: 1,
		loss: "ns", bucket: 2000000, minn: 3, maxn: 6, thread: 12, lrUpdateRate: 100,
		t: 1e-4, label: "__label__", verbose: 2, dsub: 2,
		autotuneMetric: "f1", autotunePredictions: 1, autotuneDuration: 300,
	}
	if command == "supervised" {
		a.loss, a.minCount, a.minn, a.maxn, a.lr = "softmax", 1, 0, 0, 0.1
	}
	fs := flag.NewFlagSet("fasttext "+command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.input, "input", "", "training file path")
	fs.StringVar(&a.output, "output", "", "output file path")
	fs.IntVar(&a.verbose, "verbose", a.verbose, "verbosity level")
	fs.IntVar(&a.minCount, "minCount", a.minCount, "minimal number of word occurences")
	fs.IntVar(&a.minCountLabel, "minCountLabel", a.minCountLabel, "minimal number of label occurences")
	fs.IntVar(&a.wordNgrams, "wordNgrams", a.wordNgrams, "max length of word ngram")
	fs.IntVar(&a.bucket, "bucket", a.bucket, "number of buckets")
	fs.IntVar(&a.minn, "minn", a.minn, "min length of char ngram")
	fs.IntVar(&a.maxn, "maxn", a.maxn, "max length of char ngram")
	fs.Var(float32Value{&a.t}, "t", "sampling threshold")
	fs.StringVar(&a.label, "label", a.label, "labels prefix")
	fs.Var(float32Value{&a.lr}, "lr", "learning rate")
	fs.IntVar(&a.lrUpdateRate, "lrUpdateRate", a.lrUpdateRate, "change the rate of updates for the learning rate")
	fs.IntVar(&a.dim, "dim", a.dim, "size of word vectors")
	fs.IntVar(&a.ws, "ws", a.ws, "size of the context window")
	fs.IntVar(&a.epoch, "epoch", a.epoch, "number of epochs")
	fs.IntVar(&a.neg, "neg", a.neg, "number of negatives sampled")
	fs.StringVar(&a.loss, "loss", a.loss, "loss function {ns, hs, softmax, one-vs-all}")
	fs.IntVar(&a.thread, "thread", a.thread, "number of threads (set to 1 to ensure reproducible results)")
	fs.StringVar(&a.pretrainedVectors, "pretrainedVectors", "", "pretrained word vectors for supervised learning")
	fs.BoolVar(&a.saveOutput, "saveOutput", false, "whether output params should be saved")
	fs.IntVar(&a.seed, "seed", 0, "random generator seed")
	fs.StringVar(&a.autotuneValidation, "autotune-validation", "", "validation file to be used for evaluation")
	fs.StringVar(&a.autotuneMetric, "autotune-metric", a.autotuneMetric, "metric objective {f1, f1:labelname}")
	fs.IntVar(&a.autotunePredictions, "autotune-predictions", a.autotunePredictions, "number of predictions used for evaluation")
	fs.IntVar(&a.autotuneDuration, "autotune-duration", a.autotuneDuration, "maximum duration in seconds")
	fs.StringVar(&a.autotuneModelSize, "autotune-modelsize", "", "constraint model file size (empty = do not quantize)")
	fs.IntVar(&a.cutoff, "cutoff", 0, "number of words and ngrams to retain")
	fs.BoolVar(&a.retrain, "retrain", false, "whether embeddings are finetuned if a cutoff is applied")
	fs.BoolVar(&a.qnorm, "qnorm", false, "whether the norm is quantized separately")
	fs.BoolVar(&a.qout, "qout", false, "whether the classifier is quantized")
	fs.IntVar(&a.dsub, "dsub", a.dsub, "size of each sub-vector")
	fs.BoolVar(&a.exact, "exact", false, "sum dot products in the C++ order without fused multiply-add: with -thread 1, the model file is byte-identical to fastText 0.9.2's (slower)")
	a.flags = fs
	return a
}

// parse reads fastText's argument syntax: -name value pairs and the
// boolean switches -saveOutput, -qnorm, -qout, -retrain.
func (a *cliArgs) parse(args []string) error {
	if err := a.flags.Parse(args); err != nil {
		return err
	}
	if rest := a.flags.Args(); len(rest) > 0 {
		return fmt.Errorf("provided argument without a dash: %q", rest[0])
	}
	a.manual = map[string]bool{}
	a.flags.Visit(func(f *flag.Flag) { a.manual[f.Name] = true })
	if a.input == "" || a.output == "" {
		return errors.New("empty input or output path")
	}
	if a.wordNgrams <= 1 && a.maxn == 0 && a.autotuneValidation == "" {
		a.bucket = 0
	}
	return nil
}

// help prints the argument help with this command's defaults, as fastText
// does.
func (a *cliArgs) help(w io.Writer) {
	fmt.Fprintf(w, `
The following arguments are mandatory:
  -input              training file path
  -output             output file path

The following arguments are optional:
  -verbose            verbosity level [%d]

The following arguments for the dictionary are optional:
  -minCount           minimal number of word occurences [%d]
  -minCountLabel      minimal number of label occurences [%d]
  -wordNgrams         max length of word ngram [%d]
  -bucket             number of buckets [%d]
  -minn               min length of char ngram [%d]
  -maxn               max length of char ngram [%d]
  -t                  sampling threshold [%g]
  -label              labels prefix [%s]

The following arguments for training are optional:
  -lr                 learning rate [%g]
  -lrUpdateRate       change the rate of updates for the learning rate [%d]
  -dim                size of word vectors [%d]
  -ws                 size of the context window [%d]
  -epoch              number of epochs [%d]
  -neg                number of negatives sampled [%d]
  -loss               loss function {ns, hs, softmax, one-vs-all} [%s]
  -thread             number of threads (set to 1 to ensure reproducible results) [%d]
  -pretrainedVectors  pretrained word vectors for supervised learning []
  -saveOutput         whether output params should be saved [false]
  -seed               random generator seed  [0]
  -exact              sum in the C++ tool's order: with -thread 1 the model is
                      byte-identical to fastText 0.9.2's (slower) [false]

The following arguments are for autotune:
  -autotune-validation            validation file to be used for evaluation
  -autotune-metric                metric objective {f1, f1:labelname} [f1]
  -autotune-predictions           number of predictions used for evaluation  [1]
  -autotune-duration              maximum duration in seconds [300]
  -autotune-modelsize             constraint model file size [] (empty = do not quantize)

The following arguments for quantization are optional:
  -cutoff             number of words and ngrams to retain [0]
  -retrain            whether embeddings are finetuned if a cutoff is applied [false]
  -qnorm              whether the norm is quantized separately [false]
  -qout               whether the classifier is quantized [false]
  -dsub               size of each sub-vector [2]
`, a.verbose, a.minCount, a.minCountLabel, a.wordNgrams, a.bucket, a.minn, a.maxn, a.t, a.label,
		a.lr, a.lrUpdateRate, a.dim, a.ws, a.epoch, a.neg, a.loss, a.thread)
}

// parseOrHelp parses args, printing the help on errors and -h.
func (a *cliArgs) parseOrHelp(args []string, stderr io.Writer) error {
	err := a.parse(args)
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		a.help(stderr)
		return fmt.Errorf("%w: help requested", ErrUsage)
	}
	fmt.Fprintln(stderr, err)
	a.help(stderr)
	return fmt.Errorf("%w: %v", ErrUsage, err)
}

// trainArgs converts the command line into fasttext.Args.
func (a *cliArgs) trainArgs() (fasttext.Args, error) {
	loss, err := fasttext.ParseLoss(a.loss)
	if err != nil {
		return fasttext.Args{}, err
	}
	return fasttext.Args{
		Dim: a.dim, WS: a.ws, Epoch: a.epoch, MinCount: a.minCount, Neg: a.neg,
		WordNgrams: a.wordNgrams, Loss: loss, Model: fasttext.ModelSupervised, Bucket: a.bucket,
		Minn: a.minn, Maxn: a.maxn, LRUpdateRate: a.lrUpdateRate, T: a.t, LR: a.lr,
		MinCountLabel: a.minCountLabel, Label: a.label, Thread: a.thread, Seed: a.seed,
		PretrainedVectors: a.pretrainedVectors, Exact: a.exact,
	}, nil
}

func supervised(ctx context.Context, args []string, io IO) error {
	a := newCLIArgs("supervised")
	if err := a.parseOrHelp(args, io.Stderr); err != nil {
		return err
	}
	if a.input == "-" {
		return errors.New("cannot use stdin for training")
	}
	ta, err := a.trainArgs()
	if err != nil {
		return err
	}
	var progress fasttext.ProgressFunc
	if a.verbose > 1 {
		progress = fasttext.ProgressPrinter(io.Stderr)
	} else if a.verbose > 0 {
		pp := fasttext.ProgressPrinter(io.Stderr)
		progress = func(p fasttext.Progress) {
			if p.Start || p.Done {
				pp(p)
			}
		}
	}
	outName := a.output + ".bin"
	var m *fasttext.Model
	if a.autotuneValidation != "" {
		size, err := fasttext.ParseModelSize(a.autotuneModelSize)
		if err != nil {
			return err
		}
		if size > 0 {
			outName = a.output + ".ftz"
		}
		if err := checkWritable(outName); err != nil {
			return err
		}
		for _, name := range []string{"epoch", "lr", "dim", "wordNgrams", "loss", "bucket", "minn", "maxn", "dsub"} {
			if a.manual[name] {
				fmt.Fprintf(io.Stderr, "Warning : %s is manually set to a specific value. It will not be automatically optimized.\n", name)
			}
		}
		res, err := fasttext.Autotune(ctx, a.input, ta, fasttext.AutotuneOptions{
			Validation: a.autotuneValidation, Metric: a.autotuneMetric, Predictions: a.autotunePredictions,
			Duration: time.Duration(a.autotuneDuration) * time.Second, ModelSize: a.autotuneModelSize,
			DSub: a.dsub, Manual: a.manual,
		}, func(p fasttext.AutotuneProgress) {
			if a.verbose > 1 {
				printAutotune(io.Stderr, p)
			}
		})
		if err != nil {
			return err
		}
		if a.verbose > 1 {
			fmt.Fprintf(io.Stderr, "\nTraining again with best arguments\n")
		}
		if a.verbose > 2 {
			b := res.Args
			fmt.Fprintf(io.Stderr, "Best selected args = 0\nepoch = %d\nlr = %g\ndim = %d\nminCount = %d\nwordNgrams = %d\nminn = %d\nmaxn = %d\nbucket = %d\nloss = %s\n",
				b.Epoch, b.LR, b.Dim, b.MinCount, b.WordNgrams, b.Minn, b.Maxn, b.Bucket, b.Loss)
		}
		m = res.Model
	} else {
		if err := checkWritable(outName); err != nil {
			return err
		}
		m, err = fasttext.Train(ctx, a.input, ta, progress)
		if err != nil {
			return err
		}
	}
	if err := m.Save(outName); err != nil {
		return err
	}
	if err := writeFile(a.output+".vec", m.WriteVectors); err != nil {
		return err
	}
	if a.saveOutput {
		if err := writeFile(a.output+".output", m.WriteOutputVectors); err != nil {
			return err
		}
	}
	return nil
}

func printAutotune(w io.Writer, p fasttext.AutotuneProgress) {
	progress := math.Min(100, 100*p.Elapsed.Seconds()/p.Duration.Seconds())
	best := "  unknown"
	if !math.IsNaN(p.BestScore) {
		best = fmt.Sprintf("%9.6f", p.BestScore)
	}
	left := max(p.Duration-p.Elapsed, 0)
	s := int64(left / time.Second)
	fmt.Fprintf(w, "\rProgress: %5.1f%% Trials: %4d Best score: %s ETA: %3dh%2dm%2ds", progress, p.Trials, best, s/3600, (s%3600)/60, s%60)
}

// checkWritable fails early, as fastText does, when the model file cannot
// be created.
func checkWritable(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("%s cannot be opened for saving: %w", path, err)
	}
	return f.Close()
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func quantize(ctx context.Context, args []string, io IO) error {
	a := newCLIArgs("quantize")
	if len(args) == 0 {
		fmt.Fprint(io.Stderr, "usage: fasttext quantize <args>\n")
		a.help(io.Stderr)
		return fmt.Errorf("%w: quantize needs -input and -output", ErrUsage)
	}
	if err := a.parseOrHelp(args, io.Stderr); err != nil {
		return err
	}
	m, err := fasttext.Load(a.output + ".bin")
	if err != nil {
		return err
	}
	var progress fasttext.ProgressFunc
	if a.verbose > 1 {
		progress = fasttext.ProgressPrinter(io.Stderr)
	}
	err = m.Quantize(ctx, fasttext.QuantizeOptions{
		DSub: a.dsub, QNorm: a.qnorm, QOut: a.qout, Cutoff: a.cutoff, Retrain: a.retrain,
		Input: a.input, Epoch: a.epoch, LR: a.lr, Thread: a.thread, Exact: a.exact,
	}, progress)
	if err != nil {
		return err
	}
	return m.Save(a.output + ".ftz")
}
